"""Evaluate models on the held-out splits: seen tools (``test_seen``) and unseen tools (``test_unseen``).

    result = evaluate(Path("data/runs/x/dataset"), [ModelSpec(label="fine-tuned", model=base,
                      adapter=adapter), ModelSpec(label="base", model=base)], EvaluateConfig(), out)

Every model sees the same prompts: the dataset's system and user turns and its offered tools, rendered
by each model's own chat template (or sent as native ``tools`` to an endpoint). Replies are parsed by
``trainer.replies.parse_tool_calls`` and scored by ``trainer.evaluation.metrics``; schema validity is the format
verifier's ``check_call`` and execution success is the execution verifier against the sandbox, so the
definitions are the dataset's own. Outputs: ``metrics.json``, ``predictions-<label>.jsonl``,
``report.md`` and PNG plots (``trainer.evaluation.report``). Multi-turn sets (a dataset's
``multi_turn/<split>.jsonl``, or ``EvaluateConfig.multi_turn``) are rolled out turn by turn in the
sandbox beside them (``trainer.evaluation.multi_turn``), into ``multi-turn-<label>.jsonl``. A model with ``constrained=True`` is also run with
schema-constrained decoding (``trainer.evaluation.constrained``) and reported as ``<label>+constrained``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from schemas import atomic
from schemas.catalog import Catalog
from schemas.config_errors import describe_validation_error
from schemas.errors import ConfigError
from schemas.models import Tool, ToolCall
from trainer.evaluation.backends import Backend, ModelSpec, backends_for, labels, request_failed
from trainer.evaluation.config import EvaluateConfig
from trainer.evaluation.examples import EvalExample, ModelRun, load_examples, tools_from_schemas
from trainer.evaluation.execution import attach_execution, check_models, execution_options_for
from trainer.evaluation.metrics import ExampleScore, aggregate, latency, score_example
from trainer.evaluation.multi_turn import (
    MULTI_TURN_DIR,
    check_tools,
    load_sets,
    multi_turn_sandbox,
    run_multi_turn,
)
from trainer.replies import parse_tool_calls
from verifiers.format import check_call

M = TypeVar("M", bound=BaseModel)  # the config class ``_validated`` returns an instance of


def _schema_valid(tool: Tool, call: ToolCall) -> bool:
    return not check_call(tool, call)


def run_model(
    backend: Backend,
    examples: Sequence[EvalExample],
    config: EvaluateConfig,
    tools: dict[str, Tool],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ModelRun:
    replies: list[str] = []
    latencies: list[float] = []
    budget_hits: list[bool | None] = []
    started = time.perf_counter()
    for start in range(0, len(examples), config.batch_size):
        batch = examples[start : start + config.batch_size]
        batch_started = time.perf_counter()
        batch_replies = backend.generate(
            [e.prompt for e in batch], [e.tools for e in batch], max_new_tokens=config.max_new_tokens
        )
        replies.extend(batch_replies)
        hits = getattr(backend, "last_budget_hits", None)
        budget_hits += list(hits) if hits is not None and len(hits) == len(batch) else [None] * len(batch)
        # A batch is generated together, so each of its examples waited the batch's time divided by
        # its size: the cost per example, which is what throughput and p50/p95 compare.
        latencies += [(time.perf_counter() - batch_started) / len(batch)] * len(batch)
        if progress:
            progress(len(replies), len(examples))
    seconds = time.perf_counter() - started
    scores: list[ExampleScore] = []
    for example, reply in zip(examples, replies, strict=True):
        parsed = parse_tool_calls(reply)
        failed = request_failed(reply)
        predicted = None if parsed.error or failed else parsed.calls
        offered = [t.get("function", t)["name"] for t in example.tools]
        score = score_example(
            predicted,
            example.expected,
            offered,
            tools,
            schema_check=_schema_valid,
            references=example.references or None,
        )
        score.latency_s = latencies[len(scores)]
        score.hit_budget = budget_hits[len(scores)]
        if failed:
            score.reasons.append("request_failed")
        scores.append(score)
    return ModelRun(label=backend.label, scores=scores, replies=replies, seconds=seconds)


def breakdown(
    scores: Sequence[ExampleScore], examples: Sequence[EvalExample], held_out: Collection[str] | None = None
) -> dict[str, Any]:
    """Rates per split, and within each split per tier, style, language and argument stratum.

    With ``held_out`` (the dataset's held-out tools), ``test_unseen`` is scored on the examples that call
    only held-out tools (or none: irrelevance); its examples that also call a seen tool (a
    ``parallel_multiple`` with a seen co-target) are reported apart, under ``seen_tool_examples``, so a
    figure about unseen tools is not lifted by calls the model trained on.
    """
    out: dict[str, Any] = {}
    by_split: dict[str, list[int]] = defaultdict(list)
    mixed: list[int] = []
    held = set(held_out) if held_out is not None else None
    for i, e in enumerate(examples):
        if held is not None and e.split == "test_unseen" and any(c.name not in held for c in e.expected):
            mixed.append(i)
            continue
        by_split[e.split].append(i)
    for split, indices in by_split.items():
        entry: dict[str, Any] = {
            "overall": _rates([scores[i] for i in indices]),
            "latency": latency([scores[i] for i in indices]),
        }
        for key, attr in (
            ("by_tier", "tier"),
            ("by_style", "style"),
            ("by_language", "language"),
            ("by_arguments", "arguments_stratum"),
        ):
            groups: dict[str, list[ExampleScore]] = defaultdict(list)
            for i in indices:
                value = getattr(examples[i], attr)
                groups["none" if value is None else str(value)].append(scores[i])
            entry[key] = {group: _rates(members) for group, members in sorted(groups.items())}
        out[split] = entry
    if mixed:
        out.setdefault("test_unseen", {})["seen_tool_examples"] = {
            "examples": len(mixed),
            "overall": _rates([scores[i] for i in mixed]),
        }
    return out


def held_out_tools(dataset_dir: Path) -> list[str] | None:
    """The held-out tools named by the dataset's ``manifest.json`` (beside or above it), if any."""
    for candidate in (Path(dataset_dir) / "manifest.json", Path(dataset_dir).parent / "manifest.json"):
        try:
            manifest = json.loads(candidate.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        tools = manifest.get("held_out_tools") if isinstance(manifest, dict) else None
        if isinstance(tools, list) and all(isinstance(t, str) for t in tools):
            return tools
    return None


def _rates(scores: Sequence[ExampleScore]) -> dict[str, Any]:
    return {name: rate.as_dict() for name, rate in aggregate(scores).items()}


@dataclass
class EvaluationResult:
    out_dir: Path
    metrics: dict[str, Any]
    report: Path


def evaluate(
    dataset_dir: Path | None,
    models: Sequence[ModelSpec | dict[str, Any]],
    config: EvaluateConfig | dict[str, Any],
    out_dir: Path,
    *,
    catalog: Catalog | None = None,
    catalog_path: Path | None = None,
    backends: Sequence[Backend] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> EvaluationResult:
    """Evaluate each model on the same examples and write metrics, predictions, report and plots.

    ``models`` and ``config`` may be given as plain dicts (what a Prefect deployment passes); unknown
    keys are an error (``ConfigError``, raised before any model loads). ``backends`` replaces ``models``
    with ready backends (tests, custom servers). ``out_dir`` is replaced as a whole, atomically.
    ``catalog_path`` (where ``catalog`` was read from) lets execution find the specs it names
    relative to the catalog; every prerequisite is checked before the first model loads.
    """
    from trainer.evaluation.report import write_report

    specs = [_validated(ModelSpec, m, f"models[{i}]") for i, m in enumerate(models)]
    settings = _validated(EvaluateConfig, config, "evaluate config")
    if not specs and not backends:
        raise ConfigError("evaluate: give at least one model")
    all_labels = [b.label for b in backends] if backends else [label for m in specs for label in labels(m)]
    if duplicates := sorted({label for label in all_labels if all_labels.count(label) > 1}):
        raise ConfigError(f"evaluate: model labels must be unique; {duplicates} appear more than once")
    if settings.execution:
        if catalog is None:
            raise ConfigError(
                "evaluate: execution=True needs the tool catalog (the sandbox is built from its specs)"
            )
        from verifiers.execution import ExecutionOptions

        _validated(ExecutionOptions, settings.execution_options, "evaluate config: execution_options")
        # Every spec the sandbox will serve is found now, before any model spends compute.
        execution_options = execution_options_for(catalog, settings.execution_options, catalog_path)
    # multi-turn sets: --multi-turn FILE, else the dataset's multi_turn/<split>.jsonl (trainer.evaluation.multi_turn)
    sets = load_sets(
        Path(dataset_dir) if dataset_dir is not None else None,
        settings,
        Path(settings.multi_turn) if settings.multi_turn else None,
    )
    check_tools(sets, catalog)
    sandbox_options: dict[str, Any] = {}
    if sets and catalog is not None:
        sandbox_options = execution_options_for(catalog, settings.execution_options, catalog_path)
    examples: list[EvalExample] = []
    if dataset_dir is not None and _has_single_turn(Path(dataset_dir)):
        examples = load_examples(Path(dataset_dir), settings.splits, settings.limit)
    if not examples and not any(s.trajectories for s in sets):
        raise ConfigError(f"{dataset_dir}: the splits {settings.splits} hold no examples")
    check_models(specs)
    tools = tools_from_schemas(examples, catalog)
    held = held_out_tools(Path(dataset_dir)) if dataset_dir is not None else None
    metrics: dict[str, Any] = {
        "dataset": str(dataset_dir if dataset_dir is not None else settings.multi_turn),
        "splits": settings.splits if examples else [],
        "models": {},
    }
    if sets:
        metrics["multi_turn"] = {
            s.name: {"file": str(s.path), "entries": len(s.trajectories), "malformed": s.malformed[:5]}
            for s in sets
        }
    out = Path(out_dir)
    # Everything is written into a fresh folder that replaces OUT only when every model has run: a
    # crash half-way leaves the previous evaluation as it was.
    with atomic.directory(out) as tmp, contextlib.ExitStack() as stack:
        replay = (
            stack.enter_context(multi_turn_sandbox(catalog, sandbox_options))
            if sets and catalog is not None
            else None
        )
        for backend in backends or backends_for(specs):
            tick = (
                (lambda done, total, label=backend.label: progress(label, done, total)) if progress else None
            )
            entry: dict[str, Any] = {"examples": len(examples), "examples_per_second": 0.0, "splits": {}}
            if examples:
                run = run_model(backend, examples, settings, tools, progress=tick)
                if settings.execution and catalog is not None:
                    attach_execution(run, examples, catalog, execution_options)
                entry["examples_per_second"] = run.examples_per_second
                entry["splits"] = breakdown(run.scores, examples, held)
                write_predictions(tmp / f"predictions-{_slug(run.label)}.jsonl", examples, run)
            if replay is not None:
                multi_tick = (
                    (lambda done, total, label=backend.label: progress(f"{label} multi-turn", done, total))
                    if progress
                    else None
                )
                entry["multi_turn"] = run_multi_turn(
                    backend, sets, replay, settings, tmp, _slug(backend.label), progress=multi_tick
                )
            metrics["models"][backend.label] = entry
        atomic.write_text(tmp / "metrics.json", json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
        write_report(metrics, tmp)
    return EvaluationResult(out_dir=out, metrics=metrics, report=out / "report.md")


def _has_single_turn(dataset_dir: Path) -> bool:
    """Whether the directory holds single-turn splits (a multi-turn-only folder holds none)."""
    from trainer.evaluation.examples import find_dataset_dict

    try:
        find_dataset_dict(dataset_dir)
    except ConfigError:
        return not (dataset_dir / MULTI_TURN_DIR).is_dir()  # no splits of either kind: say so, as before
    return True


def write_predictions(path: Path, examples: Sequence[EvalExample], run: ModelRun) -> None:
    """One JSON line per example: the reply, the reference calls and how the reply scored."""
    lines = [
        json.dumps(
            {
                "id": e.id,
                "split": e.split,
                "reply": r,
                "expected": [c.model_dump(mode="json") for c in e.expected],
                "ast": s.ast,
                "ast_bfcl": s.ast_bfcl,
                "latency_s": s.latency_s,
                "execution_ok": s.execution_ok,
                "reasons": s.reasons,
            },
            ensure_ascii=False,
        )
        for e, r, s in zip(examples, run.replies, run.scores, strict=True)
    ]
    atomic.write_text(path, "\n".join(lines) + "\n")


def _validated(model: type[M], value: Any, where: str) -> M:
    """``value`` as ``model`` (a dict from a deployment or the CLI); errors name the key and the fix."""
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {describe_validation_error(exc, model)}") from None


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in label).strip("-") or "model"
