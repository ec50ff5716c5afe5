"""``callforge train``: fine-tune a base model on an assembled dataset (QLoRA on CUDA, LoRA on CPU).

callforge train --dataset data/runs/gennx/dataset --base-model Qwen/Qwen2.5-1.5B-Instruct --out data/runs/gennx/model
callforge train --dataset DIR --base-model /models/llama-3.1-8b --config trainer/configs/llama3_1_8b_qlora.yaml --out OUT
callforge train --dataset DIR --base-model M --out OUT --set sft.max_steps=20 --set mode=lora
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="fine-tune a model on a dataset (QLoRA with TRL's SFTTrainer)",
        description=(
            "Fine-tune BASE on the DatasetDict under DIR (the assemble stage's dataset/ or dataset/hf/) and write "
            "OUT/adapter (or OUT/model for mode full), config.yaml, metrics.json, loss.png, dataset.json and "
            "result.json. The default config is QLoRA r 8 on Qwen2.5-1.5B-Instruct (trainer/configs/)."
        ),
    )
    parser.add_argument("--dataset", required=True, type=Path, help="dataset directory (DatasetDict inside)")
    parser.add_argument(
        "--base-model",
        default=None,
        help="hub id or local model directory (default: the config's model.base_model)",
    )
    parser.add_argument(
        "--config", type=Path, default=None, help="trainer YAML (default: the packaged Qwen2.5 QLoRA)"
    )
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value by dotted key, VALUE parsed as YAML (e.g. sft.max_steps=20); repeatable",
    )
    parser.set_defaults(func=run)


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set ``a.b.c=value`` entries into the nested dict ``raw`` (values parsed as YAML scalars)."""
    from schemas.config_files import load_yaml
    from schemas.errors import ConfigError

    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. sft.max_steps=20")
        node = raw
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is not a section")
            node = child
        node[parts[-1]] = load_yaml(value)
    return raw


def run(args: argparse.Namespace) -> int:
    import yaml

    from schemas.errors import ConfigError
    from trainer.config import DEFAULT_CONFIG, TrainerConfig
    from trainer.train import train

    config_path = args.config or DEFAULT_CONFIG
    base = TrainerConfig.load(config_path)  # validates the file itself, errors name it
    config = TrainerConfig.from_dict(
        apply_overrides(base.model_dump(mode="json", exclude_unset=True), args.overrides),
        source=f"{config_path} + --set",
    )
    base_model = args.base_model or config.model.base_model
    if not base_model:
        raise ConfigError("no base model: pass --base-model ID_OR_PATH or set model.base_model in the config")
    result = train(args.dataset, base_model, config, args.out)
    print(
        f"{result.mode} on {result.device}: {result.global_step} steps, {result.epochs:.2f} epochs, {result.runtime_s:.1f}s"
    )
    print(f"batch: {result.batch}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"losses: train {result.train_loss}, validation {result.eval_loss} (best {result.best_eval_loss})")
    print(f"weights: {result.weights_path}")
    print(f"metrics: {result.metrics_path}" + (f"  plot: {result.plot_path}" if result.plot_path else ""))
    print(yaml.safe_dump({"dataset": result.dataset.path, "fingerprint": result.dataset.fingerprint}).strip())
    return 0
