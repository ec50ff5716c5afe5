"""The ``evaluate`` flow: score models on a dataset's test splits and publish the metrics table.

    evaluate_flow("data/runs/gennx-20261120-020000/dataset",
                  models=[{"label": "base", "model": "Qwen/Qwen2.5-1.5B-Instruct"}])

A thin wrapper over ``trainer.evaluation.evaluate.evaluate``; the evaluation stack is imported inside the flow
so that loading this module (``prefect deploy`` does) stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow
from prefect.runtime import flow_run as runtime_flow_run

from flows import monitoring
from flows.train import dataset_name_of


def evaluate_run_name() -> str:
    params = runtime_flow_run.parameters or {}
    return monitoring.dated_name("evaluate", dataset_name_of(params.get("dataset_dir") or "dataset"))


def metric_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per model and split: each overall metric's value, plus the example count."""
    rows = []
    for label, entry in metrics.get("models", {}).items():
        for split, values in entry.get("splits", {}).items():
            overall = values.get("overall", {})
            row: dict[str, Any] = {"model": label, "split": split}
            for name, metric in overall.items():
                if isinstance(metric, dict) and "value" in metric:
                    row[name] = None if metric["value"] is None else round(float(metric["value"]), 4)
                    row.setdefault("n", metric.get("n"))
            rows.append(row)
        for name, figures in entry.get("multi_turn", {}).items():
            row = {"model": label, "split": f"multi_turn:{name}", "n": figures["entries"]}
            row["multi_turn_accuracy"] = round(float(figures["accuracy"]["value"]), 4)
            for category, rate in figures["by_category"].items():
                row[f"multi_turn_{category}"] = round(float(rate["value"]), 4)
            row["errors"] = sum(figures["errors"].values())
            rows.append(row)
    return rows


@flow(
    name="evaluate", flow_run_name=evaluate_run_name, on_failure=[monitoring.log_failure_url], log_prints=True
)
def evaluate_flow(
    dataset_dir: str,
    models: list[dict[str, Any]],
    settings: dict[str, Any] | None = None,
    out_dir: str | None = None,
) -> dict[str, Any]:
    """Evaluate ``models`` on ``dataset_dir``'s test splits; write into ``out_dir`` (default ``<run>/evaluation``).

    ``models`` are ``trainer.evaluation.backends.ModelSpec`` fields, e.g. ``{"label": "fine-tuned", "model":
    "Qwen/Qwen2.5-1.5B-Instruct", "adapter": ".../model/adapter"}``; ``settings`` are
    ``trainer.evaluation.config.EvaluateConfig`` fields (``splits``, ``limit``, ``execution``, …). With
    ``execution`` the run's catalog (``<run>/catalog``) is loaded for the sandbox.
    """
    from schemas.catalog import Catalog
    from trainer.evaluation.evaluate import evaluate

    dataset = Path(dataset_dir)
    out = Path(out_dir) if out_dir else dataset.parent / "evaluation"
    catalog_dir = dataset.parent / "catalog"
    settings = settings or {}
    # the sandbox of execution and of the multi-turn rollouts is built from the run's catalog
    wants_catalog = (
        settings.get("execution") or settings.get("multi_turn") or (dataset / "multi_turn").is_dir()
    )
    catalog = Catalog.load(catalog_dir) if wants_catalog and catalog_dir.exists() else None
    # catalog_path lets execution resolve the spec files the catalog names relative to where it lives.
    result = evaluate(
        dataset, models, settings, out, catalog=catalog, catalog_path=catalog_dir if catalog else None
    )
    monitoring.publish_table(
        dataset_name_of(dataset),
        "evaluation",
        metric_rows(result.metrics),
        description=f"evaluation of {len(models)} model(s) on {dataset}",
    )
    print(f"evaluation report: {result.report}")
    return {"out_dir": str(result.out_dir), "report": str(result.report), "metrics": result.metrics}
