"""Loading a base model and its tokenizer from a hub id or a local directory.

    device = detect_device()
    tokenizer = load_tokenizer("Qwen/Qwen2.5-1.5B-Instruct")
    model = load_model("/models/qwen2.5-1.5b", dtype=torch.bfloat16, quantization=bnb_config, device=device)

Rules: weights come from safetensors only (``use_safetensors=True``: no pickle files are unpickled);
code shipped with a model runs only when ``trust_remote_code`` is asked for; ``HF_HUB_OFFLINE=1`` is
honoured by the Hugging Face libraries, and a model that is neither a local directory nor in the local
cache fails at once with a ``ConfigError`` that names the id and the fix (download it with network
access, or pass a local path) instead of a network timeout or a bare ``OSError``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from schemas.errors import ConfigError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class DeviceInfo:
    """Where training or inference runs and what it supports."""

    kind: Literal["cuda", "cpu"]
    name: str
    bf16: bool  # native bfloat16 matmuls (Ampere or newer); fp16 is used otherwise on CUDA


def detect_device(prefer: str = "auto") -> DeviceInfo:
    """``cuda`` when available (or asked for), else ``cpu``. ``prefer``: auto, cuda or cpu."""
    import torch

    if prefer not in ("auto", "cuda", "cpu"):
        raise ConfigError(f"device must be 'auto', 'cuda' or 'cpu', got {prefer!r}")
    if prefer == "cpu" or (prefer == "auto" and not torch.cuda.is_available()):
        return DeviceInfo(kind="cpu", name="cpu", bf16=False)
    if not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but torch sees no CUDA device (a CPU build of torch?)")
    return DeviceInfo(kind="cuda", name=torch.cuda.get_device_name(0), bf16=torch.cuda.is_bf16_supported())


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def resolve_source(id_or_path: str, *, marker: str = "config.json") -> str:
    """An existing local model directory as an absolute path, or the hub id unchanged.

    Something that can only be a path (absolute, ``./``, ``~``) and does not exist is an error here,
    rather than a confusing "repo id must be in the form namespace/name" from the hub client. A local
    directory must hold ``marker`` (``config.json`` for a model, ``tokenizer_config.json`` for a tokenizer).
    """
    if not id_or_path or not id_or_path.strip():
        raise ConfigError(
            "base model: expected a hub id (org/name) or a local directory, got an empty string"
        )
    path = Path(id_or_path).expanduser()
    if path.is_dir():
        if not (path / marker).exists():
            raise ConfigError(
                f"{path}: not a model directory (no {marker}); expected a save_pretrained output"
            )
        return str(path.resolve())
    if path.exists():
        raise ConfigError(f"{path}: expected a model directory, found a file")
    if id_or_path.startswith(("/", "./", "../", "~")) or id_or_path.count("/") > 1:
        raise ConfigError(
            f"{id_or_path}: no model directory at this path (and it is not a hub id like org/name)"
        )
    return id_or_path


def _not_available(source: str, exc: Exception) -> ConfigError:
    if hub_offline():
        why = "is not a local directory and is not in the Hugging Face cache, and HF_HUB_OFFLINE=1 forbids downloading it"
    else:
        why = f"could not be loaded ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    return ConfigError(
        f"model {source!r} {why}. Fix: download it once with network access "
        f"(`huggingface-cli download {source}`), or pass a local directory made by save_pretrained "
        "(e.g. --base-model /models/NAME)"
    )


def tokenizer_source(model: str, adapter: Path | None) -> str:
    """Where to load the tokenizer from: the adapter directory when it holds one (training saves the
    tokenizer and the chat template it used there), else the model."""
    if adapter is not None and (Path(adapter) / "tokenizer_config.json").is_file():
        return str(adapter)
    return model


def load_tokenizer(id_or_path: str, *, revision: str | None = None, trust_remote_code: bool = False) -> Any:
    """The tokenizer of a model; padding side left as the model ships it (training pads right)."""
    from transformers import AutoTokenizer

    source = resolve_source(id_or_path, marker="tokenizer_config.json")
    try:
        return AutoTokenizer.from_pretrained(source, revision=revision, trust_remote_code=trust_remote_code)
    except OSError as exc:  # includes huggingface_hub's LocalEntryNotFoundError and offline misses
        raise _not_available(source, exc) from exc


def load_model(
    id_or_path: str,
    *,
    device: DeviceInfo,
    dtype: torch.dtype | None = None,
    quantization: Any | None = None,
    revision: str | None = None,
    trust_remote_code: bool = False,
    attn_implementation: str | None = None,
) -> Any:
    """A causal LM on ``device``; 4-bit when ``quantization`` (a ``BitsAndBytesConfig``) is given."""
    from transformers import AutoModelForCausalLM

    source = resolve_source(id_or_path)
    kwargs: dict[str, Any] = {
        "revision": revision,
        "trust_remote_code": trust_remote_code,
        "use_safetensors": True,
        "dtype": dtype if dtype is not None else "auto",
    }
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if quantization is not None:
        kwargs["quantization_config"] = quantization
        # bitsandbytes quantises while placing the weights, so the device is fixed at load time.
        kwargs["device_map"] = {"": 0} if device.kind == "cuda" else {"": "cpu"}
    try:
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except OSError as exc:
        if "safetensors" in str(exc).lower() and Path(source).is_dir():
            raise ConfigError(
                f"{source}: no safetensors weights (only pickle .bin files?); convert the model with "
                "save_pretrained(safe_serialization=True) — pickle weights are refused because loading them runs code"
            ) from exc
        raise _not_available(source, exc) from exc
    if quantization is None and device.kind == "cuda":
        # transformers types PreTrainedModel.to through a decorator that drops its signature.
        model = model.to("cuda")  # type: ignore[arg-type]
    return model


TRAINING_RECORD = "callforge_training.json"  # written into each adapter by training: how the base was loaded


def training_record(adapter: Path | None) -> dict[str, Any]:
    """What training recorded in an adapter about its base (``{}`` for adapters made elsewhere)."""
    import json

    if adapter is None or not (Path(adapter) / TRAINING_RECORD).is_file():
        return {}
    try:
        record = json.loads((Path(adapter) / TRAINING_RECORD).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return record if isinstance(record, dict) else {}


def add_missing_tokens(tokenizer: Any, tokens: list[str]) -> list[int]:
    """Add each of ``tokens`` the vocabulary lacks, as a normal (not special) token so decoding keeps it;
    return the new ids. ``<tool_call>`` is five tokens in Llama 3's vocabulary and one after this."""
    from tokenizers import AddedToken

    missing = [t for t in dict.fromkeys(tokens) if t not in tokenizer.get_vocab()]
    if not missing:
        return []
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in missing])
    return [tokenizer.convert_tokens_to_ids(t) for t in missing]


def match_vocabulary(model: Any, tokenizer: Any) -> None:
    """Grow the model's embeddings to the tokenizer's size when tokens were added in training (their trained
    rows come with the adapter); new rows start at the mean embedding, not at random."""
    rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > rows:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)


def torch_dtype(name: str, device: DeviceInfo) -> torch.dtype:
    """A config dtype name as a torch dtype; ``auto`` is bf16 or fp16 on CUDA and fp32 on CPU."""
    import torch

    if name == "auto":
        if device.kind == "cpu":
            return torch.float32  # measured: fp32 beats bf16 autocast on CPU here
        return torch.bfloat16 if device.bf16 else torch.float16
    return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[name]
