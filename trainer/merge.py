"""Folding a LoRA adapter into its base model, for serving without PEFT (vLLM, llama.cpp conversion…).

    merged = merge_adapter("Qwen/Qwen2.5-1.5B-Instruct", Path("runs/x/model/adapter"), Path("runs/x/merged"))

The base is loaded unquantised (bf16 on CUDA, fp32 on CPU unless ``dtype`` says otherwise): merging into
4-bit weights would round the update away. The result is saved as safetensors with the tokenizer — the
adapter's own when it has one, since it carries the chat template used in training — and replaces
``out_dir`` atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

from schemas import atomic
from schemas.errors import ConfigError
from trainer.loading import (
    detect_device,
    load_model,
    load_tokenizer,
    match_vocabulary,
    tokenizer_source,
    torch_dtype,
)


def adapter_base_model(adapter_dir: Path) -> str | None:
    """The base model an adapter records in its ``adapter_config.json`` (``None`` when unrecorded)."""
    config = Path(adapter_dir) / "adapter_config.json"
    if not config.is_file():
        raise ConfigError(f"{adapter_dir}: not a LoRA adapter directory (no adapter_config.json)")
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("base_model_name_or_path") or None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{config}: not valid JSON: {exc}") from exc


def merge_adapter(
    base_model: str | None,
    adapter_dir: Path,
    out_dir: Path,
    *,
    dtype: str = "auto",
    device: str = "auto",
    trust_remote_code: bool = False,
    revision: str | None = None,
) -> Path:
    """Merge ``adapter_dir`` into ``base_model`` (default: the base the adapter records); return ``out_dir``."""
    from peft import PeftModel

    adapter_dir = Path(adapter_dir)
    recorded = adapter_base_model(adapter_dir)
    base = base_model or recorded
    if not base:
        raise ConfigError(f"{adapter_dir}: the adapter records no base model; pass --base-model")
    info = detect_device(device)
    model = load_model(
        base,
        device=info,
        dtype=torch_dtype(dtype, info),
        revision=revision,
        trust_remote_code=trust_remote_code,
    )
    source = tokenizer_source(base, adapter_dir)
    tokenizer = load_tokenizer(
        source, revision=revision if source == base else None, trust_remote_code=trust_remote_code
    )
    match_vocabulary(model, tokenizer)  # tokens added in training: their rows come with the adapter
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    with atomic.directory(out_dir) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return Path(out_dir)
