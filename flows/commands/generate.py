"""``callforge generate``: plan work items from a catalog and generate candidate shards.

    callforge generate --catalog data/runs/r1/catalog --out data/runs/r1                # offline templates
    callforge generate --catalog data/runs/r1/catalog --out data/runs/r1 \\
        --teacher-model gpt-4o-mini --teacher-base-url http://localhost:8000/v1 --concurrency 32

Writes ``OUT/plan/items.jsonl`` and ``OUT/candidates/shard-NNNNN.parquet`` (+ ``failures-NNNNN``).
Rerunning resumes: items with a sample are skipped, items that got no answer (connection, 5xx, 429,
timeout, 401) are retried, items the teacher answered badly are retried with ``--retry-failed`` (a
fresh request: refused replies are never served from the cache), and good teacher answers come from
the response cache (``--cache-dir``; default ``<data root>/cache/teacher`` when OUT is
``<data root>/runs/<name>``, else ``OUT/cache/teacher``). Each item keeps one record: its latest.
The API key is read from ``$CALLFORGE_TEACHER_API_KEY`` (or ``--api-key-env``), else ``$OPENAI_API_KEY``.

Exit codes: 0 when the run succeeded; 1 when the configuration is wrong, nothing was generated, more
than ``--max-failure-share`` of the items failed, or the teacher was unusable (the circuit breaker:
``teacher.breaker_failures`` connection failures in a row, or a 401/403). What was generated is kept.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from generators.stats import merge_stats
from schemas.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="plan work items and generate candidate samples (teacher LLM or offline templates)",
        description="Plan work items from a tool catalog and generate candidates/ shards.",
    )
    parser.add_argument("--catalog", required=True, type=Path, help="catalog directory (catalog.jsonl)")
    parser.add_argument(
        "--out", required=True, type=Path, help="run directory to write plan/ and candidates/ into"
    )
    parser.add_argument("--config", type=Path, default=None, help="JSON or YAML file with a GenerateConfig")
    parser.add_argument("--teacher-model", default=None, help="teacher model; omit for the offline generator")
    parser.add_argument(
        "--teacher-base-url", default=None, help="OpenAI-compatible base URL (default: OpenAI)"
    )
    parser.add_argument("--api-key-env", default=None, help="environment variable holding the teacher's key")
    parser.add_argument("--concurrency", type=int, default=None, help="teacher requests in flight at once")
    parser.add_argument("--cache-dir", type=Path, default=None, help="teacher response cache directory")
    parser.add_argument("--seed", type=int, default=None, help="plan seed (same seed + catalog = same plan)")
    parser.add_argument("--limit", type=int, default=None, help="at most N work items, spread over the plan")
    parser.add_argument("--shard-size", type=int, default=None, help="work items per candidate shard")
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="also regenerate items the teacher answered badly (items without an answer are always retried)",
    )
    parser.add_argument(
        "--max-failure-share",
        type=float,
        default=None,
        help="exit 1 when more than this share of the items failed (default 0.25)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _read_config(path: Path | None) -> dict[str, Any]:
    from schemas.config_files import read_mapping

    if path is None:
        return {}
    return read_mapping(path, what="--config", expected="a mapping with plan/teacher/offline sections")


def default_cache_dir(out: Path) -> Path:
    """``<data root>/cache/teacher`` for ``<data root>/runs/<name>``, else ``OUT/cache/teacher``."""
    return out.parent.parent / "cache" / "teacher" if out.parent.name == "runs" else out / "cache" / "teacher"


def build_config(args: argparse.Namespace) -> Any:
    """The GenerateConfig from ``--config`` plus flags; errors name the key."""
    from pydantic import ValidationError

    from generators.config import GenerateConfig

    data = _read_config(args.config)
    plan = dict(data.get("plan") or {})
    teacher = dict(data.get("teacher") or {})
    for key, value in (("seed", args.seed), ("shard_size", args.shard_size)):
        if value is not None:
            plan[key] = value
    flags = {
        "model": args.teacher_model,
        "base_url": args.teacher_base_url,
        "api_key_env": args.api_key_env,
        "concurrency": args.concurrency,
        "cache_dir": args.cache_dir,
    }
    teacher.update({k: v for k, v in flags.items() if v is not None})
    if teacher.get("model") and not teacher.get("cache_dir"):
        teacher["cache_dir"] = default_cache_dir(args.out)
    if args.max_failure_share is not None:
        data["max_failure_share"] = args.max_failure_share
    try:
        return GenerateConfig.model_validate({**data, "plan": plan, "teacher": teacher})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        raise ConfigError(f"generate config: {where}: {message} (got {error.get('input')!r})") from exc


def spread(items: list[Any], limit: int | None, plan_config: Any = None) -> list[Any]:
    """At most ``limit`` work items over every style and language in proportion to the plan's mix
    (``generators.plan.limit_items``), so a quick run still covers every style and many tools."""
    from generators.plan import limit_items

    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {limit}")
    if plan_config is None:
        return limit_items(items, limit)
    return limit_items(items, limit, styles=plan_config.styles, languages=plan_config.languages)


def run(args: argparse.Namespace) -> int:
    from generators import pipeline
    from generators.plan import build_plan, shards
    from generators.teacher_errors import GenerationFailed
    from schemas.catalog import Catalog

    config = build_config(args)
    catalog = Catalog.load(args.catalog)
    out: Path = args.out
    items = spread(build_plan(catalog, config.plan), args.limit, config.plan)
    pipeline.write_plan(out / pipeline.PLAN_FILE, items)
    stale = pipeline.reconcile_failures(out)
    if stale:
        print(f"removed {stale} failure record(s) of items a later try answered (left by an interrupted run)")
    done = pipeline.settled_item_ids(out, retry_failed=args.retry_failed)
    pending = [item for item in items if item.id not in done]
    first = pipeline.next_shard_index(out)
    batches = shards(pending, config.plan.shard_size)
    mode = f"teacher {config.teacher.model}" if config.teacher.enabled else "offline templates"
    print(
        f"plan: {len(items)} items ({len(items) - len(pending)} already generated), {len(batches)} shard(s), {mode}"
    )

    summaries = []
    with _progress(len(pending), disabled=args.no_progress) as advance:
        for offset, batch in enumerate(batches):
            summary = pipeline.generate_shard(batch, catalog, config, out, first + offset, progress=advance)
            summaries.append(summary)
            if (summary.get("teacher") or {}).get("circuit_open"):
                break  # the teacher is unusable: the remaining shards would only fail the same way
    print(format_summary(summaries))
    teacher = merge_stats([s["teacher"] for s in summaries if s.get("teacher")])
    problem = pipeline.outcome_problem(
        items=sum(s["items"] for s in summaries),
        samples=sum(s["samples"] for s in summaries),
        failures=sum(s["failures"] for s in summaries),
        max_failure_share=config.max_failure_share,
        circuit_open=teacher["circuit_open"],
    )
    if problem:
        raise GenerationFailed(problem)
    return 0


class _progress:
    """A rich progress bar on stderr (or nothing), as a context manager yielding ``advance(n)``."""

    def __init__(self, total: int, *, disabled: bool) -> None:
        self.total = total
        self.disabled = disabled or total == 0
        self._bar: Any = None

    def __enter__(self) -> Any:
        if self.disabled:
            return lambda n: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self._bar = Progress(
            "generate", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=Console(stderr=True)
        )
        self._bar.start()
        task = self._bar.add_task("generate", total=self.total)
        return lambda n: self._bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def format_summary(summaries: list[dict[str, Any]]) -> str:
    """Counts by style, language and tier, failures by code, and teacher statistics."""
    totals: dict[str, dict[str, int]] = {
        "by_style": {},
        "by_language": {},
        "by_tier": {},
        "failures_by_code": {},
    }
    samples = failures = 0
    for summary in summaries:
        samples += summary["samples"]
        failures += summary["failures"]
        for key, table in totals.items():
            for name, count in summary[key].items():
                table[name] = table.get(name, 0) + count
    lines = [f"samples {samples}, failures {failures}"]
    for key, table in totals.items():
        lines.append(f"{key.replace('_', ' ')}: " + (", ".join(f"{k} {v}" for k, v in table.items()) or "-"))
    shown = [s["teacher"] for s in summaries if s.get("teacher")]
    if shown:
        # The run's figures (latency percentiles from the merged histogram), without the histogram.
        teacher = {k: v for k, v in merge_stats(shown).items() if k != "latency_histogram"}
        lines.append("teacher: " + json.dumps(teacher, sort_keys=True))
    return "\n".join(lines)
