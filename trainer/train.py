"""Supervised fine-tuning on a callforge dataset: QLoRA on CUDA, LoRA in fp32 on CPU, or full fine-tuning.

    from trainer.config import TrainerConfig
    from trainer.train import train
    result = train(Path("data/runs/gennx/dataset"), "Qwen/Qwen2.5-1.5B-Instruct",
                   TrainerConfig.default(), Path("data/runs/gennx/model"))
    result.adapter_path, result.metrics_path, result.train_loss, result.eval_loss

Each record's ``messages`` and ``tools`` are rendered through the base model's chat template (swapped for
a variant with ``{% generation %}`` markers, see ``trainer.chat_templates``) and tokenised with labels on
the assistant's turns only (``trainer.packing``); TRL's ``SFTTrainer`` trains on those rows, padded or
packed without padding (``throughput.padding_free``). The batch is fitted to the GPU
(``trainer.plan.fit_plan``, ``trainer.fitting``).
Early stopping watches the validation loss; the best checkpoint is the one kept. ``OUT`` receives:

    adapter/          the LoRA adapter (safetensors) and the tokenizer with the chat template used
    model/            instead of adapter/ in mode "full": the whole fine-tuned model
    config.yaml       the config as given plus what was resolved for this machine (device, dtypes, SFT args)
    metrics.json      loss curves (train and validation) and the run's summary; loss.png draws them
    dataset.json      which dataset: its path, a hash of its files, rows per split, its manifest
    result.json       the TrainResult below
    checkpoints/      intermediate checkpoints, removed after success unless keep_checkpoints

``adapter/`` (or ``model/``) is replaced atomically at the end, so a crash leaves the last good one.
No Prefect here: the ``train`` flow wraps this function.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from schemas import atomic
from schemas.errors import ConfigError
from trainer.chat_templates import training_template
from trainer.config import TrainerConfig
from trainer.curves import loss_curves, plot_losses
from trainer.loading import (
    TRAINING_RECORD,
    DeviceInfo,
    add_missing_tokens,
    detect_device,
    load_model,
    load_tokenizer,
    match_vocabulary,
    resolve_source,
)
from trainer.packing import TokenizedRows, tokenize_records
from trainer.plan import TrainingPlan, fit_plan, plan_training
from trainer.plan import checkpointing as plan_checkpointing
from trainer.trainset import (
    DatasetVersion,
    add_multi_turn,
    dataset_version,
    load_training_splits,
    locate_dataset_dict,
)

log = logging.getLogger(__name__)


class TrainResult(BaseModel):
    """What a training run produced and how it went. Paths are absolute strings."""

    out_dir: str
    base_model: str
    mode: str
    device: str
    adapter_path: str | None  # mode qlora / lora
    model_path: str | None  # mode full
    config_path: str
    metrics_path: str
    plot_path: str | None
    dataset: DatasetVersion
    global_step: int
    epochs: float
    train_loss: float | None  # the last logged training loss
    eval_loss: float | None  # the last validation loss
    best_eval_loss: float | None
    best_step: int | None
    stopped_early: bool
    truncated_examples: int  # training records longer than sft.max_length (their ends were cut)
    runtime_s: float
    notes: list[str] = []  # what the plan changed for this machine (e.g. fp32 LoRA instead of 4-bit on CPU)
    batch: str | None = None  # the micro-batch x accumulation that ran, and why

    @property
    def weights_path(self) -> str:
        """The adapter for LoRA runs, the model for full fine-tunes: what inference loads."""
        return self.adapter_path or self.model_path or ""


def _prepare_model(
    base_model: str, config: TrainerConfig, plan: TrainingPlan, tokenizer: Any | None = None
) -> Any:
    """Load the base model as the plan says and wrap it in a LoRA unless fine-tuning fully.

    With ``tokenizer``, the embeddings grow to its size when ``model.add_tokens`` added tokens, and the
    adapter trains the embedding matrices too (``modules_to_save``, saved with the adapter): new rows that
    stay at their initial mean could be read but never written. PEFT's cheaper ``trainable_token_indices``
    is not used because TRL's fused LM head reads the head's weight directly and would miss its rows."""
    import torch

    quantization = None
    if plan.quantize:
        from transformers import BitsAndBytesConfig

        quantization = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=config.quantization.quant_type,
            bnb_4bit_use_double_quant=config.quantization.double_quant,
            bnb_4bit_compute_dtype=getattr(torch, plan.compute_dtype),
        )
    model = load_model(
        base_model,
        device=plan.device,
        dtype=getattr(torch, plan.model_dtype),
        quantization=quantization,
        revision=config.model.revision,
        trust_remote_code=config.model.trust_remote_code,
        attn_implementation=plan.attn_implementation,
    )
    new_ids: list[int] = []
    if tokenizer is not None:
        rows = model.get_input_embeddings().weight.shape[0]
        new_ids = [i for i in tokenizer.convert_tokens_to_ids(config.model.add_tokens) if i >= rows]
        match_vocabulary(model, tokenizer)
    checkpointing, checkpointing_kwargs = plan_checkpointing(plan.sft)
    if checkpointing:
        model.config.use_cache = False  # the KV cache is useless in training and conflicts with checkpointing
    if plan.mode == "full":
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if plan.quantize:
        # Casts norms to fp32 and enables input gradients so checkpointed 4-bit layers backpropagate.
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=checkpointing,
            gradient_checkpointing_kwargs=checkpointing_kwargs,
        )
    elif checkpointing:
        model.enable_input_require_grads()
    lora = LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=config.lora.target_modules,
        bias=config.lora.bias,
        task_type="CAUSAL_LM",
        **(_embedding_training(model) if new_ids else {}),
    )
    return get_peft_model(model, lora)


def _embedding_training(model: Any) -> dict[str, Any]:
    """LoRA settings that train the input and output embeddings (tied ones once, kept tied)."""
    names = {id(module): name.rsplit(".", 1)[-1] for name, module in model.named_modules()}
    embed = names[id(model.get_input_embeddings())]
    head = model.get_output_embeddings()
    tied = head is None or head.weight is model.get_input_embeddings().weight
    if tied:
        return {"modules_to_save": [embed], "ensure_weight_tying": True}
    return {"modules_to_save": [embed, names[id(head)]]}


def _prepare_tokenizer(base_model: str, config: TrainerConfig, plan: TrainingPlan) -> Any:
    tokenizer = load_tokenizer(
        base_model, revision=config.model.revision, trust_remote_code=config.model.trust_remote_code
    )
    if config.model.pad_token:
        if config.model.pad_token not in tokenizer.get_vocab():
            raise ConfigError(
                f"model.pad_token: {config.model.pad_token!r} is not in the tokenizer's vocabulary"
            )
        tokenizer.pad_token = config.model.pad_token
    added = add_missing_tokens(tokenizer, config.model.add_tokens)
    if added:
        log.info("added %d token(s) the vocabulary lacked: %s", len(added), config.model.add_tokens)
    template_path = plan.sft.get("chat_template_path")
    if template_path:
        try:
            tokenizer.chat_template = Path(template_path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"sft.chat_template_path: cannot read {template_path}: {exc}") from exc
    elif plan.sft.get("assistant_only_loss"):
        tokenizer.chat_template = training_template(tokenizer)
    tokenizer.padding_side = "right"  # training pads right; inference sets left itself
    return tokenizer


def _sft_config(plan: TrainingPlan) -> Any:
    """TRL's config for rows tokenised here: labels already carry the assistant-only mask and the
    truncation, so TRL neither re-renders nor cuts them; with ``plan.padding_free`` a micro-batch is
    one sequence of its records instead of a padded matrix."""
    from trl import SFTConfig

    kwargs = dict(plan.sft)
    kwargs.update(assistant_only_loss=False, max_length=None, padding_free=plan.padding_free)
    kwargs.pop("chat_template_path", None)
    try:
        return SFTConfig(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"sft: trl.SFTConfig rejected the settings: {exc}") from exc


def train(dataset_dir: Path, base_model: str, config: TrainerConfig, out_dir: Path) -> TrainResult:
    """Fine-tune ``base_model`` on the DatasetDict under ``dataset_dir``; write everything into ``out_dir``.

    ``base_model`` is a hub id or a local directory (``config.model.base_model`` is only the default
    the CLI falls back on). Raises ``ConfigError`` for a bad config, a missing model or dataset.
    """
    started = time.monotonic()
    out = Path(out_dir).resolve()
    root = locate_dataset_dict(Path(dataset_dir))
    splits = load_training_splits(root)
    if config.multi_turn:
        splits = add_multi_turn(splits, Path(dataset_dir), root)
    version = dataset_version(Path(dataset_dir), root, splits["rows"])
    device: DeviceInfo = detect_device(config.device)  # fails fast when cuda is asked for and absent
    plan = plan_training(
        config, device, checkpoint_dir=out / "checkpoints", has_validation=splits["validation"] is not None
    )
    _sft_config(plan)  # a bad sft value fails here, before anything is loaded
    tokenizer = _prepare_tokenizer(base_model, config, plan)
    rows = _tokenize(tokenizer, splits["train"], plan, config)
    eval_rows = (
        _tokenize(tokenizer, splits["validation"], plan, config) if splits["validation"] is not None else None
    )
    fit_plan(plan, config, _model_shape(base_model, config), rows.lengths, free_bytes=_free_gpu_bytes(device))
    args = _sft_config(plan)
    truncated = rows.truncated
    model = _prepare_model(base_model, config, plan, tokenizer)

    from transformers import EarlyStoppingCallback, TrainerCallback
    from trl import SFTTrainer

    callbacks: list[TrainerCallback] = []
    if plan.early_stopping_patience is not None:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=plan.early_stopping_patience))
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=rows.dataset,
        eval_dataset=eval_rows.dataset if eval_rows is not None else None,
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    log.info("training %s (%s on %s) on %s", base_model, plan.mode, device.name, root)
    trainer.train()
    return _write_outputs(trainer, tokenizer, base_model, config, plan, version, out, started, truncated)


def _tokenize(tokenizer: Any, dataset: Any, plan: TrainingPlan, config: TrainerConfig) -> TokenizedRows:
    return tokenize_records(
        tokenizer,
        dataset,
        max_length=plan.sft.get("max_length"),
        assistant_only=bool(plan.sft.get("assistant_only_loss")),
        long_rows=config.long_rows,
    )


def _model_shape(base_model: str, config: TrainerConfig) -> Any:
    """The architecture the memory fit sizes for (config.json only; no weights are read)."""
    from transformers import AutoConfig

    from trainer.fitting import ModelShape

    if config.throughput.profile == "as_configured":
        return None
    model_config = AutoConfig.from_pretrained(
        resolve_source(base_model),
        revision=config.model.revision,
        trust_remote_code=config.model.trust_remote_code,
    )
    return ModelShape.from_config(model_config)


def _free_gpu_bytes(device: DeviceInfo) -> int | None:
    if device.kind != "cuda":
        return None
    import torch

    free, _total = torch.cuda.mem_get_info()
    return int(free)


def count_truncated(tokenizer: Any, dataset: Any, max_length: int | None) -> int:
    """How many records render longer than ``max_length`` tokens (their ends, the tool calls, are cut);
    logs a warning when any do."""
    return tokenize_records(
        tokenizer, dataset, max_length=max_length, assistant_only=False, long_rows="truncate"
    ).truncated


def _write_outputs(
    trainer: Any,
    tokenizer: Any,
    base_model: str,
    config: TrainerConfig,
    plan: TrainingPlan,
    version: DatasetVersion,
    out: Path,
    started: float,
    truncated: int,
) -> TrainResult:
    weights_name = "model" if plan.mode == "full" else "adapter"
    with atomic.directory(out / weights_name) as tmp:
        # For a PeftModel this writes the adapter only (adapter_model.safetensors + adapter_config.json).
        trainer.model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        # How the base was loaded, so inference and evaluation load it the same way (4-bit for QLoRA).
        record = {
            "base_model": base_model,
            "mode": plan.mode,
            "quantize": plan.quantize,
            "quant_type": config.quantization.quant_type,
            "double_quant": config.quantization.double_quant,
            "compute_dtype": plan.compute_dtype,
            "added_tokens": config.model.add_tokens,
        }
        (tmp / TRAINING_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    curves = loss_curves(trainer.state.log_history)
    metrics_path = atomic.write_text(out / "metrics.json", json.dumps(curves, indent=2) + "\n")
    plot_path = plot_losses(curves, out / "loss.png", title=f"{Path(base_model).name} ({plan.mode})")
    resolved = {
        "config": config.model_dump(mode="json"),
        "base_model": base_model,
        "resolved": plan.as_dict(),
    }
    config_path = atomic.write_text(out / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))
    atomic.write_text(out / "dataset.json", version.model_dump_json(indent=2) + "\n")

    state = trainer.state
    train_points = [p for p in curves["train"] if p.get("loss") is not None]
    eval_points = [p for p in curves["eval"] if p.get("eval_loss") is not None]
    best_step = None
    if state.best_model_checkpoint:
        best_step = int(Path(state.best_model_checkpoint).name.rsplit("-", 1)[-1])
    result = TrainResult(
        out_dir=str(out),
        base_model=base_model,
        mode=plan.mode,
        device=plan.device.name,
        adapter_path=str(out / "adapter") if weights_name == "adapter" else None,
        model_path=str(out / "model") if weights_name == "model" else None,
        config_path=str(config_path),
        metrics_path=str(metrics_path),
        plot_path=str(plot_path) if plot_path else None,
        dataset=version,
        global_step=state.global_step,
        epochs=float(state.epoch or 0.0),
        train_loss=train_points[-1]["loss"] if train_points else None,
        eval_loss=eval_points[-1]["eval_loss"] if eval_points else None,
        best_eval_loss=float(state.best_metric) if state.best_metric is not None else None,
        best_step=best_step,
        stopped_early=state.max_steps > 0 and state.global_step < state.max_steps,
        truncated_examples=truncated,
        runtime_s=round(time.monotonic() - started, 3),
        notes=plan.notes,
        batch=plan.fit.reason
        if plan.fit
        else f"micro-batch {plan.sft.get('per_device_train_batch_size')} x "
        f"{plan.sft.get('gradient_accumulation_steps')} accumulation, as configured",
    )
    atomic.write_text(out / "result.json", result.model_dump_json(indent=2) + "\n")
    if not config.keep_checkpoints:
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return result
