"""Loss curves of a training run: extracted from the trainer's log history, saved as JSON and a PNG.

curves = loss_curves(trainer.state.log_history)
# {"train": [{"step": 10, "epoch": 0.5, "loss": 2.1, "learning_rate": 1.9e-4}, …],
#  "eval": [{"step": 50, "epoch": 2.5, "eval_loss": 1.7}, …], "summary": {…}}
plot_losses(curves, out / "loss.png")
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from schemas import atomic

_TRAIN_KEYS = ("loss", "learning_rate", "grad_norm")


def _finite(value: Any) -> float | None:
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def loss_curves(log_history: list[dict[str, Any]]) -> dict[str, Any]:
    """Split a ``TrainerState.log_history`` into train and eval points plus the run's summary entry."""
    train: list[dict[str, Any]] = []
    evals: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for entry in log_history:
        step = entry.get("step")
        if "loss" in entry:
            point = {"step": step, "epoch": entry.get("epoch")}
            point.update({k: _finite(entry[k]) for k in _TRAIN_KEYS if k in entry})
            train.append(point)
        elif "eval_loss" in entry:
            evals.append(
                {"step": step, "epoch": entry.get("epoch"), "eval_loss": _finite(entry["eval_loss"])}
            )
        elif "train_runtime" in entry:
            summary = {k: v for k, v in entry.items() if isinstance(v, int | float | str)}
    return {"train": train, "eval": evals, "summary": summary}


def plot_losses(curves: dict[str, Any], path: Path, *, title: str = "training loss") -> Path | None:
    """Draw train and eval loss against the step into a PNG (matplotlib's Agg backend: no display)."""
    train = [(p["step"], p["loss"]) for p in curves["train"] if p.get("loss") is not None]
    evals = [(p["step"], p["eval_loss"]) for p in curves["eval"] if p.get("eval_loss") is not None]
    if not train and not evals:
        return None
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), dpi=100)
    axes = figure.subplots()
    if train:
        axes.plot(*zip(*train, strict=True), label="train", marker="." if len(train) < 30 else None)
    if evals:
        axes.plot(*zip(*evals, strict=True), label="validation", marker="o")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("loss")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return atomic.write_bytes(path, buffer.getvalue())
