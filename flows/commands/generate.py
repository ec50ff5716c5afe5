"""``callforge generate``: plan work items from a catalog and generate candidate shards.

    callforge generate --catalog data/runs/r1/catalog --out data/runs/r1                # offline templates
    callforge generate --catalog data/runs/r1/catalog --out data/runs/r1 \\
        --teacher-model gpt-4o-mini --teacher-base-url http://localhost:8000/v1 --concurrency 32

Writes ``OUT/plan/items.jsonl`` and ``OUT/candidates/shard-NNNNN.parquet`` (+ ``failures-NNNNN``).
Rerunning resumes: items already in ``OUT/candidates`` are skipped (``--retry-failed`` retries the
failed ones), and teacher answers come from the response cache (``--cache-dir``; default
``<data root>/cache/teacher`` when OUT is ``<data root>/runs/<name>``, else ``OUT/cache/teacher``).
The API key is read from ``$CALLFORGE_TEACHER_API_KEY`` (or ``--api-key-env``), else ``$OPENAI_API_KEY``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

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
    parser.add_argument("--retry-failed", action="store_true", help="regenerate items that failed before")
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
    try:
        return GenerateConfig.model_validate({**data, "plan": plan, "teacher": teacher})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise ConfigError(f"generate config: {where}: {error['msg']} (got {error.get('input')!r})") from exc


def spread(items: list[Any], limit: int | None) -> list[Any]:
    """At most ``limit`` items taken evenly over the list, so a quick run still covers many tools."""
    if limit is None or len(items) <= limit:
        return items
    if limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {limit}")
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def run(args: argparse.Namespace) -> int:
    from generators import pipeline
    from generators.plan import build_plan, shards
    from schemas.catalog import Catalog

    config = build_config(args)
    catalog = Catalog.load(args.catalog)
    out: Path = args.out
    items = spread(build_plan(catalog, config.plan), args.limit)
    pipeline.write_plan(out / pipeline.PLAN_FILE, items)
    done = pipeline.generated_item_ids(out, include_failures=not args.retry_failed)
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
            summaries.append(
                pipeline.generate_shard(batch, catalog, config, out, first + offset, progress=advance)
            )
    print(format_summary(summaries))
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
    teacher: dict[str, Any] = {}
    for summary in summaries:
        samples += summary["samples"]
        failures += summary["failures"]
        for key, table in totals.items():
            for name, count in summary[key].items():
                table[name] = table.get(name, 0) + count
        for key, value in (summary.get("teacher") or {}).items():
            if (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and not key.startswith("latency")
            ):
                teacher[key] = teacher.get(key, 0) + value
            elif isinstance(value, dict):
                merged = teacher.setdefault(key, {})
                for name, count in value.items():
                    merged[name] = merged.get(name, 0) + count
            else:
                teacher[key] = value  # latency percentiles: the last shard's (per-shard figures)
    lines = [f"samples {samples}, failures {failures}"]
    for key, table in totals.items():
        lines.append(f"{key.replace('_', ' ')}: " + (", ".join(f"{k} {v}" for k, v in table.items()) or "-"))
    if teacher:
        lines.append("teacher: " + json.dumps(teacher, sort_keys=True))
    return "\n".join(lines)
