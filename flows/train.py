"""The ``train`` flow: fine-tune a base model on an assembled dataset (the GPU work pool runs it).

    train_flow(dataset_dir="data/runs/gennx-20261120-020000/dataset", base_model="Qwen/Qwen2.5-1.5B-Instruct")

The fine-tune deployment's trigger starts it with ``dataset_dir`` from the
``callforge.dataset.published`` event of one spec's dataset (GEN NX in ``prefect.yaml``). When it has
trained, it emits ``callforge.model.trained`` with the models to compare (fine-tuned and base), which
the ``evaluate-after-training`` deployment's trigger turns into an evaluation run. The training stack is
imported inside the flow, so loading this module (``prefect deploy`` does) stays cheap.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.runtime import flow_run as runtime_flow_run

from flows import monitoring
from flows.config import deep_merge, slugify
from schemas.errors import ConfigError

# What flows.config.new_run_name appends to the spec slug: UTC second and a short id (older runs: no id).
_RUN_STAMP = re.compile(r"-\d{8}-\d{6}(-[0-9a-f]{6})?$")


def dataset_slug(dataset_dir: str | Path) -> str:
    """``data/runs/gennx-20261120-020000-3fa9c1/dataset`` -> ``gennx`` (the run name without its stamp)."""
    path = Path(dataset_dir)
    run = path.parent.name if path.name == "dataset" else path.name
    return slugify(_RUN_STAMP.sub("", run))


def dataset_name_of(dataset_dir: str | Path) -> str:
    """The dataset's name as its ``manifest.json`` records it (``options.dataset_name``), else its slug."""
    try:
        manifest = json.loads((Path(dataset_dir) / "manifest.json").read_text("utf-8"))
        name = manifest["options"]["dataset_name"]
    except (OSError, ValueError, KeyError, TypeError):
        return dataset_slug(dataset_dir)
    return slugify(name) if isinstance(name, str) and name else dataset_slug(dataset_dir)


def trained_models(result: dict[str, Any]) -> list[dict[str, Any]]:
    """What to evaluate after a fine-tune: the fine-tuned model and its base (``ModelSpec`` fields)."""
    return [
        {
            "label": "fine-tuned",
            "model": result["model_path"] or result["base_model"],
            "adapter": result["adapter_path"],
        },
        {"label": "base", "model": result["base_model"]},
    ]


def train_run_name() -> str:
    params = runtime_flow_run.parameters or {}
    return monitoring.dated_name("train", dataset_name_of(params.get("dataset_dir") or "dataset"))


@flow(name="train", flow_run_name=train_run_name, on_failure=[monitoring.log_failure_url], log_prints=True)
def train_flow(
    dataset_dir: str,
    base_model: str | None = None,
    config_file: str | None = None,
    settings: dict[str, Any] | None = None,
    out_dir: str | None = None,
    announce: bool = True,
) -> dict[str, Any]:
    """Fine-tune ``base_model`` (else the config's) on ``dataset_dir``; write into ``out_dir``.

    ``config_file`` is a trainer YAML (default: the packaged QLoRA recipe); ``settings`` overrides its
    keys (``{"sft": {"max_steps": 50}}``). ``out_dir`` defaults to ``<run>/model`` beside the dataset.
    ``announce`` emits ``callforge.model.trained`` (the evaluation trigger follows it); ``refresh``
    turns it off because it evaluates inline.
    """
    from trainer.config import TrainerConfig
    from trainer.train import train

    base = TrainerConfig.load(config_file) if config_file else TrainerConfig.default()
    config = TrainerConfig.from_dict(deep_merge(base.model_dump(mode="json"), settings or {}))
    model = base_model or config.model.base_model
    if not model:
        raise ConfigError("train: no base model; pass base_model or set model.base_model in the config")
    dataset = Path(dataset_dir)
    out = Path(out_dir) if out_dir else dataset.parent / "model"
    result = train(dataset, model, config, out)
    slug = dataset_name_of(dataset)
    monitoring.publish_table(
        slug,
        "training",
        [
            {
                "base_model": result.base_model,
                "mode": result.mode,
                "device": result.device,
                "steps": result.global_step,
                "epochs": round(result.epochs, 3),
                "train_loss": result.train_loss,
                "eval_loss": result.eval_loss,
                "best_eval_loss": result.best_eval_loss,
                "stopped_early": result.stopped_early,
                "runtime_s": round(result.runtime_s, 1),
            }
        ],
        description=f"fine-tune of {result.base_model} on {dataset}",
    )
    print(f"weights: {result.weights_path}")
    trained = result.model_dump(mode="json")
    if announce:
        monitoring.emit_trained(
            dataset_name_of(dataset),
            str(dataset.resolve()),
            trained_models(trained),
            runtime_flow_run.name or "",
        )
    return trained
