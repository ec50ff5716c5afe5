"""The generate stage without orchestration: work items in, candidate shards out.

* :func:`generate` -- items -> :class:`GenerationResult` (samples, failures, stats). Uses the LLM
  generator when ``config.teacher.model`` is set, else the offline template generator. Synchronous
  (it runs its own event loop; from inside a running loop it uses a worker thread).
* :func:`generate_shard` -- the same for one shard, written to ``<run>/candidates/shard-NNNNN.parquet``
  and ``<run>/candidates/failures-NNNNN.parquet`` (failures first, so an existing sample shard means a
  complete shard). Pure: no Prefect; ``flows`` calls it once per shard from a task.
* :func:`write_plan` / :func:`read_plan` -- ``<run>/plan/items.jsonl``; :func:`settled_item_ids` --
  the work-item ids a rerun skips: those with a sample, and those whose failure another try would
  not change (a bad answer, unless ``retry_failed``); items that got no answer are retried.
* One record per item: a shard that regenerates items removes their older failure records
  (:func:`supersede_failures`; :func:`reconcile_failures` repairs a run killed in between).
* :func:`outcome_problem` -- why a stage's outcome must not count as a success (nothing generated,
  too many failures, the teacher's circuit breaker), or None.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from generators.config import GenerateConfig
from generators.llm import LLMGenerator, retried_by_default
from generators.offline import OfflineGenerator
from generators.plan import WorkItem
from generators.prompts import PROMPT_VERSION
from generators.seed_pool import SeedPool
from generators.stats import TeacherStats
from generators.teacher import OpenAITeacher, RequestGate
from schemas import atomic, shards
from schemas.catalog import Catalog
from schemas.errors import RecordError
from schemas.models import Sample

CANDIDATES = "candidates"
PLAN_FILE = Path("plan") / "items.jsonl"
T = TypeVar("T")
Progress = Callable[[int], None]


@dataclass
class GenerationResult:
    """What a batch of work items produced. ``stats`` is plain JSON (counts and teacher statistics)."""

    samples: list[Sample] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def summarize(
    items: Sequence[WorkItem], samples: Sequence[Sample], failures: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Counts by style, language and tier (samples) and by code (failures)."""
    return {
        "items": len(items),
        "samples": len(samples),
        "failures": len(failures),
        "by_style": dict(sorted(Counter(s.style.value for s in samples).items())),
        "by_language": dict(sorted(Counter(s.language for s in samples).items())),
        "by_tier": dict(sorted(Counter(str(s.tier) for s in samples).items())),
        "failures_by_code": dict(sorted(Counter(f["code"] for f in failures).items())),
    }


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end from synchronous code, inside a running event loop or not."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from inside an event loop (an async task, a notebook): run ours on a worker thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def agenerate(
    items: Sequence[WorkItem],
    catalog: Catalog,
    config: GenerateConfig,
    *,
    progress: Progress | None = None,
    gate: RequestGate | None = None,
) -> GenerationResult:
    """:func:`generate` for callers already in an event loop (``gate``: a limit shared with other
    senders to the teacher, see ``generators.teacher.RequestGate``)."""
    teacher_stats: TeacherStats | None = None
    if config.teacher.enabled:
        teacher_stats = TeacherStats()
        async with OpenAITeacher(
            config.teacher, prompt_version=PROMPT_VERSION, stats=teacher_stats, gate=gate
        ) as teacher:
            pool = SeedPool.with_accepted(config.teacher.few_shot_samples)
            generator = LLMGenerator(
                teacher,
                catalog,
                teacher_model=str(config.teacher.model),
                seed_pool=pool,
                few_shot=config.teacher.few_shot,
                temperature=config.teacher.temperature,
                structured_output=config.teacher.structured_output,
            )
            samples, failures = await generator.generate(items, progress=progress)
    else:
        samples, failures = OfflineGenerator(catalog, config.offline).generate(items, progress=progress)
    stats = summarize(items, samples, failures)
    stats["generator"] = "llm" if config.teacher.enabled else "template"
    if teacher_stats is not None:
        stats["teacher"] = teacher_stats.as_dict()
    return GenerationResult(samples=samples, failures=failures, stats=stats)


def generate(
    items: Sequence[WorkItem],
    catalog: Catalog,
    config: GenerateConfig,
    *,
    progress: Progress | None = None,
    gate: RequestGate | None = None,
) -> GenerationResult:
    """Every item becomes a sample or a failure record; nothing is dropped, no item stops the rest."""
    return run_sync(agenerate(list(items), catalog, config, progress=progress, gate=gate))


def candidates_dir(run_dir: Path) -> Path:
    """``<run>/candidates``; a path that already is a ``candidates`` directory is taken as it is."""
    run_dir = Path(run_dir)
    return run_dir if run_dir.name == CANDIDATES else run_dir / CANDIDATES


def shard_paths(run_dir: Path, shard_index: int) -> tuple[Path, Path]:
    """(samples, failures) paths of one candidate shard of a run."""
    base = candidates_dir(run_dir)
    return base / shards.shard_name(shard_index), base / f"failures-{shard_index:05d}.parquet"


def generate_shard(
    items: Sequence[WorkItem],
    catalog: Catalog,
    config: GenerateConfig,
    out_dir: Path,
    shard_index: int,
    *,
    progress: Progress | None = None,
    gate: RequestGate | None = None,
) -> dict[str, Any]:
    """Generate one shard into ``out_dir/candidates`` (``out_dir`` is the run directory, or its
    ``candidates`` directory itself); returns a JSON-able summary with the written paths."""
    result = generate(items, catalog, config, progress=progress, gate=gate)
    samples_path, failures_path = shard_paths(Path(out_dir), shard_index)
    shards.write_failures(failures_path, result.failures)
    shards.write_samples(samples_path, result.samples)
    supersede_failures(Path(out_dir), {item.id for item in items}, shard_index)
    return {
        "shard": shard_index,
        **result.stats,
        "paths": {"samples": str(samples_path), "failures": str(failures_path)},
    }


def write_plan(path: Path, items: Iterable[WorkItem]) -> Path:
    """Work items as JSON lines, written atomically."""
    return atomic.write_text(path, "".join(item.model_dump_json() + "\n" for item in items))


def read_plan(path: Path) -> list[WorkItem]:
    """Work items from a JSON-lines file; errors name the file and line."""
    items: list[WorkItem] = []
    with Path(path).open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                items.append(WorkItem.model_validate(json.loads(line)))
            except ValueError as exc:
                raise RecordError(f"{path}:{lineno}: invalid work item: {exc}") from exc
    return items


def _failure_files(run_dir: Path) -> list[tuple[int, Path]]:
    files = [(int(p.stem.split("-")[1]), p) for p in candidates_dir(run_dir).glob("failures-*.parquet")]
    return sorted(files)


def generated_item_ids(run_dir: Path) -> set[str]:
    """Work-item ids that have a sample in ``<run>/candidates``."""
    done: set[str] = set()
    for path in sorted(candidates_dir(run_dir).glob("shard-*.parquet")):
        done.update(s.provenance.work_item for s in shards.read_samples(path) if s.provenance.work_item)
    return done


def settled_item_ids(run_dir: Path, *, retry_failed: bool = False) -> set[str]:
    """Work-item ids a rerun of ``run_dir`` skips.

    Items with a sample always; failed items only when another try would fail the same way or cost a
    request the user did not ask for: a bad answer (``malformed_json``, ``wrong_shape``, …) is
    settled unless ``retry_failed``; a failure without an answer (connection, 5xx, 429, timeout,
    401, a stopped circuit) is never settled, so fixing a URL or key and rerunning retries it.
    """
    done = generated_item_ids(run_dir)
    if not retry_failed:
        for _, path in _failure_files(run_dir):
            done.update(f["item_id"] for f in shards.read_failures(path) if not retried_by_default(f["code"]))
    return done


def retryable_failed_ids(run_dir: Path) -> set[str]:
    """Items of ``run_dir`` whose failure a later run retries by default (no sample, no answer)."""
    failed = {
        f["item_id"]
        for _, path in _failure_files(run_dir)
        for f in shards.read_failures(path)
        if retried_by_default(f["code"])
    }
    return failed - generated_item_ids(run_dir) if failed else failed


def supersede_failures(run_dir: Path, item_ids: set[str], shard_index: int) -> int:
    """Drop the failure records of ``item_ids`` from shards before ``shard_index`` (a newer try
    answered for them); returns how many records were dropped. Each file is rewritten atomically."""
    dropped = 0
    for index, path in _failure_files(run_dir):
        if index >= shard_index:
            continue
        records = shards.read_failures(path)
        kept = [f for f in records if f["item_id"] not in item_ids]
        if len(kept) != len(records):
            shards.write_failures(path, kept)
            dropped += len(records) - len(kept)
    return dropped


def reconcile_failures(run_dir: Path) -> int:
    """One record per item in ``run_dir``: a failure is dropped when the item has a sample or a later
    failure record (a run killed between writing a shard and superseding). Returns records dropped."""
    latest: dict[str, int] = {}
    files = _failure_files(run_dir)
    for index, path in files:
        for record in shards.read_failures(path):
            latest[record["item_id"]] = index
    if not latest:
        return 0
    with_sample = generated_item_ids(run_dir)
    dropped = 0
    for index, path in files:
        records = shards.read_failures(path)
        kept = [f for f in records if f["item_id"] not in with_sample and latest[f["item_id"]] == index]
        if len(kept) != len(records):
            shards.write_failures(path, kept)
            dropped += len(records) - len(kept)
    return dropped


def outcome_problem(
    *, items: int, samples: int, failures: int, max_failure_share: float, circuit_open: str | None = None
) -> str | None:
    """Why a generate run's outcome must fail the command, or None when it is a success.

    Failures are the items' final records; a run with nothing to do (``items == 0``) is a success.
    """
    if circuit_open:
        return f"stopped: {circuit_open}. The failed items are retried by the next run."
    if items == 0:
        return None
    if samples == 0:
        return f"nothing was generated: all {items} item(s) failed (candidates/failures-*.parquet says why)"
    if failures > max_failure_share * items:
        return (
            f"{failures} of {items} item(s) failed ({failures / items:.0%}), more than the allowed "
            f"{max_failure_share:.0%} (max_failure_share; --max-failure-share on the command line)"
        )
    return None


def next_shard_index(run_dir: Path) -> int:
    """One past the highest shard index in ``<run>/candidates`` (0 when there is none)."""
    indices = [int(p.stem.split("-")[1]) for p in candidates_dir(run_dir).glob("shard-*.parquet")]
    return max(indices, default=-1) + 1
