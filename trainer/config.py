"""The typed training configuration: ``TrainerConfig``, read from YAML and validated strictly.

    config = TrainerConfig.load("trainer/configs/qwen2_5_1_5b_qlora.yaml")
    config = TrainerConfig.model_validate({"mode": "lora", "lora": {"r": 16}, "sft": {"max_steps": 100}})

Sections: ``model`` (what to load and how), ``quantization`` (4-bit NF4 for QLoRA), ``lora`` (the adapter),
``throughput`` (batch fitted to the GPU, padding-free packing, fused kernels), ``mode`` (``qlora`` | ``lora`` | ``full``), ``early_stopping_patience`` and ``sft``. ``sft`` is handed to
TRL's ``SFTConfig`` as is, over ``DEFAULT_SFT``: TRL's options are passed through rather than mirrored here,
but every key is checked against ``SFTConfig``'s fields so a typo fails with the closest valid name.

Unknown keys anywhere are an error naming the key; values out of range (``lora.r: 0``) name the field.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from schemas.config_errors import closest, describe_validation_error
from schemas.config_files import load_yaml
from schemas.errors import ConfigError

CONFIGS_DIR = Path(__file__).parent / "configs"
DEFAULT_CONFIG = CONFIGS_DIR / "qwen2_5_1_5b_qlora.yaml"

Dtype = Literal["auto", "bfloat16", "float16", "float32"]

# The GEN NX seed's recipe (Qwen2.5-1.5B-Instruct, QLoRA r 8): sized to fit a 1.5B model in 6 GB of GPU
# memory. Each value is what SFTConfig receives unless the config's `sft` section overrides it.
DEFAULT_SFT: dict[str, Any] = {
    "learning_rate": 2e-4,  # the seed's; usual for LoRA (10x full fine-tuning)
    "per_device_train_batch_size": 1,  # 1 x 8 accumulation: an effective batch of 8 in 6 GB
    "per_device_eval_batch_size": 1,
    "gradient_accumulation_steps": 8,
    "num_train_epochs": 3,
    "max_length": 2048,  # a longer row is refused (long_rows); assembly fits rows to it (assemble.lengths)
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.03,  # a float below 1 is a ratio of the total steps
    "optim": "paged_adamw_8bit",  # pages optimizer state to CPU on memory spikes (CUDA only)
    "max_grad_norm": 0.3,  # the QLoRA paper's clip
    "activation_checkpointing": True,  # gradient checkpointing: ~30% slower, far less activation memory; needed for 6 GB
    "activation_checkpointing_kwargs": {"use_reentrant": False},
    "assistant_only_loss": True,  # loss on the assistant's turns (the tool calls), not on prompts
    "eval_strategy": "steps",
    "eval_steps": 50,
    "save_strategy": "steps",
    "save_steps": 50,
    "save_total_limit": 2,
    "load_best_model_at_end": True,  # with early stopping: keep the best validation loss, not the last
    "metric_for_best_model": "eval_loss",
    "greater_is_better": False,
    "logging_steps": 10,
    "report_to": "none",  # nothing leaves the machine unless asked
    "seed": 42,
}

# Validation context key: check everything but the names of `sft` keys, which need trl imported.
DEFER_SFT_KEYS = "defer_sft_keys"

_RENAMED_SFT = {
    "gradient_checkpointing": "activation_checkpointing",
    "gradient_checkpointing_kwargs": "activation_checkpointing_kwargs",
}

# Set by the trainer itself; allowing them in `sft` would silently be overridden.
_RESERVED_SFT = {
    "output_dir": "checkpoints go to OUT/checkpoints; choose OUT with `--out`",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSection(_Section):
    """Which base model to load and how."""

    base_model: str | None = Field(default=None, description="hub id or local path; `--base-model` overrides")
    revision: str | None = Field(default=None, description="hub branch, tag or commit")
    trust_remote_code: bool = Field(
        default=False, description="run code shipped with the model (off: unsafe)"
    )
    torch_dtype: Dtype = Field(
        default="auto", description="weights dtype when not quantised; auto = by device"
    )
    attn_implementation: str | None = Field(default=None, description="eager, sdpa, flash_attention_2, …")
    pad_token: str | None = Field(default=None, description="pad token to set when the tokenizer has none")
    add_tokens: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="tokens to add when the vocabulary lacks them (e.g. <tool_call>, </tool_call> for Llama); "
        "the embeddings are then trained with the adapter (modules_to_save)",
    )


class QuantizationSection(_Section):
    """4-bit loading for QLoRA (bitsandbytes)."""

    load_in_4bit: bool = True
    quant_type: Literal["nf4", "fp4"] = "nf4"
    double_quant: bool = Field(
        default=True, description="quantise the quantisation constants too (~0.4 bit/param)"
    )
    compute_dtype: Dtype = Field(
        default="auto", description="matmul dtype; auto = bf16 where supported, else fp16"
    )
    on_cpu: bool = Field(
        default=False,
        description="also quantise when training on CPU (bitsandbytes >= 0.50 can); off: CPU trains LoRA in fp32",
    )


class LoraSection(_Section):
    """The LoRA adapter (PEFT)."""

    r: int = Field(default=8, ge=1, description="rank of the update matrices")
    alpha: int = Field(default=16, ge=1, description="scaling numerator: the update is scaled by alpha / r")
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    target_modules: str | list[str] = Field(default="all-linear", description="'all-linear' or module names")
    bias: Literal["none", "all", "lora_only"] = "none"

    @field_validator("target_modules")
    @classmethod
    def _non_empty(cls, value: str | list[str]) -> str | list[str]:
        if not value:
            raise ValueError("target_modules must be 'all-linear' or a non-empty list of module names")
        return value


class ThroughputSection(_Section):
    """How the batch is fitted to the device and fed to it (``trainer.fitting``, ``trainer.packing``)."""

    profile: Literal["auto", "laptop_6gb", "as_configured"] = Field(
        default="auto",
        description=(
            "auto: micro-batch, accumulation and checkpointing fitted to the GPU's free memory and the data's "
            "lengths, the effective batch kept; laptop_6gb: the GEN NX seed's 1 x N with checkpointing; "
            "as_configured: sft exactly as written"
        ),
    )
    memory_budget_gb: float | None = Field(
        default=None, gt=0, description="GPU memory the fit may plan for (default: what is free at start)"
    )
    padding_free: bool | Literal["auto"] = Field(
        default="auto",
        description=(
            "concatenate a micro-batch's records with position-id boundaries instead of padding them; auto: "
            "where the attention kernel takes the boundaries natively (flash attention 2), not with SDPA, "
            "which needs an explicit mask (measured 25% slower on CPU)"
        ),
    )
    liger: bool = Field(
        default=False, description="Liger's fused kernels (RMSNorm, RoPE, SwiGLU) when installed"
    )


class TrainerConfig(_Section):
    """Everything `train()` needs besides the dataset, the base model and the output directory."""

    model: ModelSection = Field(default_factory=ModelSection)
    quantization: QuantizationSection = Field(default_factory=QuantizationSection)
    lora: LoraSection = Field(default_factory=LoraSection)
    throughput: ThroughputSection = Field(default_factory=ThroughputSection)
    mode: Literal["qlora", "lora", "full"] = "qlora"
    device: Literal["auto", "cuda", "cpu"] = Field(
        default="auto",
        description="auto: CUDA when present; cpu trains on the CPU even on a GPU machine (a busy or small GPU)",
    )
    early_stopping_patience: int | None = Field(
        default=3,
        ge=1,
        description="evaluations without a better validation loss before stopping; null = off",
    )
    keep_checkpoints: bool = Field(default=False, description="keep OUT/checkpoints after a successful run")
    long_rows: Literal["error", "drop", "truncate"] = Field(
        default="error",
        description="a training record longer than sft.max_length: error (refuse before training: cutting "
        "it would lose its tool call), drop (leave it out) or truncate (cut it, as TRL would silently)",
    )
    multi_turn: bool = Field(
        default=False,
        description="also train on the dataset's multi-turn rows (multi_turn/hf train and validation, written "
        "by the refresh's multi-turn stage); they run longer than single-turn rows: set sft.max_length to "
        "the run config's multi_turn.max_length (5120)",
    )
    sft: dict[str, Any] = Field(default_factory=dict, description="trl.SFTConfig fields, over DEFAULT_SFT")

    @field_validator("sft")
    @classmethod
    def _sft_keys(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if not (info.context or {}).get(DEFER_SFT_KEYS):  # the run config defers: the names need trl
            check_sft_keys(value)
        return value

    def resolved_sft(self) -> dict[str, Any]:
        """``DEFAULT_SFT`` with this config's ``sft`` section on top (before device adjustments)."""
        given = dict(self.sft)
        # transformers 5 renamed gradient_checkpointing*; the new name wins there, so a user's old-name
        # setting would be silently beaten by the default's new name unless carried over.
        for old, new in _RENAMED_SFT.items():
            if old in given and new not in given:
                given[new] = given.pop(old)
        return {**DEFAULT_SFT, **given}

    @classmethod
    def load(cls, path: str | Path) -> TrainerConfig:
        """Read a YAML (or JSON) file; errors name the file and the offending key."""
        file = Path(path)
        try:
            raw = load_yaml(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{file}: no such trainer config file") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file}: not valid YAML: {exc}") from exc
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{file}: expected a mapping of sections at the top, got {type(raw).__name__}")
        return cls.from_dict(raw, source=str(file))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, source: str = "trainer config") -> TrainerConfig:
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(f"{source}: {describe_validation_error(exc, cls)}") from None

    @classmethod
    def default(cls) -> TrainerConfig:
        """The packaged default (Qwen2.5-1.5B-Instruct QLoRA)."""
        return cls.load(DEFAULT_CONFIG)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


@functools.cache
def sft_field_names() -> frozenset[str]:
    """The init fields of the installed ``trl.SFTConfig`` (imports trl, so only when needed)."""
    from trl import SFTConfig

    return frozenset(f.name for f in dataclasses.fields(SFTConfig) if f.init)


def check_sft_keys(sft: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the first key of ``sft`` that ``SFTConfig`` does not have."""
    if not sft:
        return  # nothing to check: spares importing trl
    fields = sft_field_names()
    for key in sft:
        if key in _RESERVED_SFT:
            raise ValueError(f"sft.{key} is set by the trainer ({_RESERVED_SFT[key]})")
        if key not in fields:
            close = closest(key, sorted(fields))
            hint = f"; did you mean {close!r}?" if close else ""
            raise ValueError(f"sft.{key} is not a field of trl.SFTConfig{hint}")
