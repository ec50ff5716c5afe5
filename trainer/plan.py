"""Turning a ``TrainerConfig`` into what actually runs on this machine: a ``TrainingPlan``.

The same config trains on a GPU and on a CPU. On CUDA, QLoRA loads the base model in 4-bit NF4 and
computes in bf16 (fp16 on GPUs without bf16). Without CUDA, the pipeline stays the same but the LoRA
trains in fp32 (``bf16=False``, ``use_cpu=True``), CUDA-only optimizers (paged / 8-bit) become
``adamw_torch``, and 4-bit loading happens only when ``quantization.on_cpu`` asks for it. Every such
adjustment is recorded in ``notes`` (and logged), so the resolved config says what really ran.

Speed: attention is SDPA (flash attention 2 when ``flash_attn`` is installed on CUDA) unless
``model.attn_implementation`` names one; Liger's kernels are used when ``throughput.liger`` asks and
the package is installed on CUDA; records are packed without padding (``trainer.packing``) where the
attention kernel reads the boundaries natively (flash attention 2) or when ``throughput.padding_free``
says so. Once the data is tokenised, ``fit_plan`` sets micro-batch, accumulation and checkpointing for
the device (``trainer.fitting``), keeping the effective batch.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.config import TrainerConfig
from trainer.fitting import GB, BatchFit, ModelShape, budget_from_free, fit_batch, laptop_fit
from trainer.loading import DeviceInfo, torch_dtype

log = logging.getLogger(__name__)

_CPU_OPTIMIZER = "adamw_torch"


@dataclass
class TrainingPlan:
    """The resolved choices for one run."""

    device: DeviceInfo
    mode: str  # qlora | lora | full, after device adjustments
    quantize: bool
    model_dtype: str  # float32 | bfloat16 | float16
    compute_dtype: str
    sft: dict[str, Any]  # the SFTConfig keyword arguments, output_dir included
    early_stopping_patience: int | None
    notes: list[str] = field(default_factory=list)
    attn_implementation: str | None = None
    padding_free: bool = False
    fit: BatchFit | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": {"kind": self.device.kind, "name": self.device.name, "bf16": self.device.bf16},
            "mode": self.mode,
            "quantize": self.quantize,
            "model_dtype": self.model_dtype,
            "compute_dtype": self.compute_dtype,
            "early_stopping_patience": self.early_stopping_patience,
            "attn_implementation": self.attn_implementation,
            "padding_free": self.padding_free,
            "fit": self.fit.as_dict() if self.fit else None,
            "sft": self.sft,
            "notes": self.notes,
        }


def checkpointing(sft: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    """Whether gradient (activation) checkpointing is on, and its kwargs; the pre-5 names are honoured."""
    enabled = sft.get("activation_checkpointing", sft.get("gradient_checkpointing"))
    kwargs = sft.get("activation_checkpointing_kwargs", sft.get("gradient_checkpointing_kwargs"))
    return bool(enabled), kwargs


def _dtype_name(name: str, device: DeviceInfo) -> str:
    return str(torch_dtype(name, device)).removeprefix("torch.")


def plan_training(
    config: TrainerConfig, device: DeviceInfo, *, checkpoint_dir: Path, has_validation: bool
) -> TrainingPlan:
    """Resolve ``config`` for ``device``; ``has_validation`` says whether a non-empty validation split exists."""
    notes: list[str] = []
    sft = config.resolved_sft()
    mode = config.mode
    quantize = mode == "qlora" and config.quantization.load_in_4bit
    if mode == "qlora" and not config.quantization.load_in_4bit:
        mode = "lora"
        notes.append("mode qlora with quantization.load_in_4bit false: training a plain LoRA")
    if quantize and device.kind == "cpu" and not config.quantization.on_cpu:
        quantize, mode = False, "lora"
        notes.append(
            "no CUDA: training the LoRA in fp32 on CPU (set quantization.on_cpu: true to keep 4-bit)"
        )

    if device.kind == "cpu":
        for key in ("bf16", "fp16"):
            if sft.get(key):
                notes.append(f"sft.{key} ignored on CPU: fp32 is used (faster than bf16 autocast on CPU)")
        sft.update(bf16=False, fp16=False, use_cpu=True)
        optim = str(sft.get("optim", ""))
        if "paged" in optim or "8bit" in optim:
            notes.append(f"sft.optim {optim!r} needs CUDA: using {_CPU_OPTIMIZER!r} on CPU")
            sft["optim"] = _CPU_OPTIMIZER
    elif "bf16" not in config.sft and "fp16" not in config.sft:
        sft.update(bf16=device.bf16, fp16=not device.bf16)
        if not device.bf16:
            notes.append(f"{device.name} has no bf16: computing in fp16")

    patience = config.early_stopping_patience
    if not has_validation:
        if sft.get("eval_strategy", "no") != "no" or sft.get("load_best_model_at_end"):
            notes.append("no validation split: evaluation, early stopping and best-model selection are off")
        sft.update(eval_strategy="no", load_best_model_at_end=False)
        patience = None
    elif sft.get("eval_strategy", "no") == "no":
        if patience is not None:
            notes.append(
                "early stopping needs evaluation: set sft.eval_strategy to 'steps' or 'epoch'; it is off"
            )
            patience = None
        if sft.get("load_best_model_at_end"):
            notes.append("sft.load_best_model_at_end needs evaluation (sft.eval_strategy is 'no'); it is off")
            sft["load_best_model_at_end"] = False

    sft["output_dir"] = str(checkpoint_dir)
    model_dtype = "float32" if device.kind == "cpu" else _dtype_name(config.model.torch_dtype, device)
    if mode == "full" and model_dtype == "float16":
        # fp16 AMP refuses fp16 master weights; keep them in fp32 and let autocast compute in fp16.
        model_dtype = "float32"
    compute_dtype = (
        _dtype_name(config.quantization.compute_dtype, device) if device.kind == "cuda" else "float32"
    )
    if config.throughput.liger:
        if device.kind != "cuda":
            notes.append("throughput.liger: Liger's kernels need CUDA (Triton); off on CPU")
        elif importlib.util.find_spec("liger_kernel") is None:
            notes.append("throughput.liger: liger-kernel is not installed (pip install liger-kernel); off")
        else:
            sft["use_liger_kernel"] = True
    attention = config.model.attn_implementation or _attention(device, model_dtype)
    padding_free = config.throughput.padding_free
    for note in notes:
        log.warning(note)
    return TrainingPlan(
        device=device,
        mode=mode,
        quantize=quantize,
        model_dtype=model_dtype,
        compute_dtype=compute_dtype,
        sft=sft,
        early_stopping_patience=patience,
        notes=notes,
        attn_implementation=attention,
        padding_free=attention == "flash_attention_2" if padding_free == "auto" else bool(padding_free),
    )


def _attention(device: DeviceInfo, model_dtype: str) -> str:
    """Flash attention 2 where it is installed and can run (CUDA, 16-bit), else PyTorch's SDPA."""
    if device.kind == "cuda" and model_dtype != "float32" and importlib.util.find_spec("flash_attn"):
        return "flash_attention_2"
    return "sdpa"


def effective_batch(sft: dict[str, Any]) -> int:
    return int(sft.get("per_device_train_batch_size", 1)) * int(sft.get("gradient_accumulation_steps", 1))


def fit_plan(
    plan: TrainingPlan,
    config: TrainerConfig,
    shape: ModelShape | None,
    lengths: list[int],
    *,
    free_bytes: int | None,
) -> TrainingPlan:
    """Set micro-batch, accumulation and checkpointing in ``plan.sft`` as ``throughput.profile`` says.

    ``lengths`` are the training rows' token counts; ``free_bytes`` the GPU memory free before the
    model is loaded (``None`` on CPU). The effective batch is never changed.
    """
    profile = config.throughput.profile
    if profile == "as_configured":
        return plan
    total = effective_batch(plan.sft)
    optimizer_bytes = 2 if "8bit" in str(plan.sft.get("optim", "")) else 8
    common = {"effective_batch": total, "lora_rank": config.lora.r, "optimizer_bytes": optimizer_bytes}
    if shape is None:
        raise ValueError(f"throughput.profile {profile} needs the model's shape")
    if profile == "laptop_6gb":
        fit = laptop_fit(shape, plan.mode, lengths, **common)
    elif plan.device.kind != "cuda" or free_bytes is None:
        log.info("throughput.profile auto: no GPU, so the batch stays as configured")
        return plan
    else:
        budget = (
            int(config.throughput.memory_budget_gb * GB)
            if config.throughput.memory_budget_gb
            else budget_from_free(free_bytes)
        )
        fit = fit_batch(
            shape, plan.mode, lengths, budget_bytes=budget, padding_free=plan.padding_free, **common
        )
    plan.fit = fit
    plan.sft.update(
        per_device_train_batch_size=fit.micro_batch,
        per_device_eval_batch_size=fit.micro_batch,
        gradient_accumulation_steps=fit.accumulation,
        activation_checkpointing=fit.checkpointing,
    )
    plan.sft.pop("gradient_checkpointing", None)  # the old name must not contradict the fitted one
    if fit.checkpointing:
        plan.sft.setdefault("activation_checkpointing_kwargs", {"use_reentrant": False})
    if not fit.fits:
        plan.notes.append(f"throughput.profile {profile}: {fit.reason}")
        log.warning(plan.notes[-1])
    else:
        log.info("throughput.profile %s: %s", profile, fit.reason)
    return plan
