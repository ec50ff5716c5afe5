"""The generate stage without orchestration: work items in, candidate shards out.

* :func:`generate` -- items -> :class:`GenerationResult` (samples, failures, stats). Uses the LLM
  generator when ``config.teacher.model`` is set, else the offline template generator. Synchronous
  (it runs its own event loop; from inside a running loop it uses a worker thread).
* :func:`generate_shard` -- the same for one shard, written to ``<run>/candidates/shard-NNNNN.parquet``
  and ``<run>/candidates/failures-NNNNN.parquet`` (failures first, so an existing sample shard means a
  complete shard). Pure: no Prefect; ``flows`` calls it once per shard from a task.
* :func:`write_plan` / :func:`read_plan` -- ``<run>/plan/items.jsonl``; :func:`generated_item_ids` --
  the work-item ids already in a run's candidate shards, for resuming.
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
from generators.llm import LLMGenerator
from generators.offline import OfflineGenerator
from generators.plan import WorkItem
from generators.prompts import PROMPT_VERSION
from generators.stats import TeacherStats
from generators.teacher import OpenAITeacher
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


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from inside an event loop (an async task, a notebook): run ours on a worker thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def agenerate(
    items: Sequence[WorkItem], catalog: Catalog, config: GenerateConfig, *, progress: Progress | None = None
) -> GenerationResult:
    """:func:`generate` for callers already in an event loop."""
    teacher_stats: TeacherStats | None = None
    if config.teacher.enabled:
        teacher_stats = TeacherStats()
        async with OpenAITeacher(
            config.teacher, prompt_version=PROMPT_VERSION, stats=teacher_stats
        ) as teacher:
            generator = LLMGenerator(
                teacher,
                catalog,
                teacher_model=str(config.teacher.model),
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
    items: Sequence[WorkItem], catalog: Catalog, config: GenerateConfig, *, progress: Progress | None = None
) -> GenerationResult:
    """Every item becomes a sample or a failure record; nothing is dropped, no item stops the rest."""
    return _run(agenerate(list(items), catalog, config, progress=progress))


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
) -> dict[str, Any]:
    """Generate one shard into ``out_dir/candidates`` (``out_dir`` is the run directory, or its
    ``candidates`` directory itself); returns a JSON-able summary with the written paths."""
    result = generate(items, catalog, config, progress=progress)
    samples_path, failures_path = shard_paths(Path(out_dir), shard_index)
    shards.write_failures(failures_path, result.failures)
    shards.write_samples(samples_path, result.samples)
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


def generated_item_ids(run_dir: Path, *, include_failures: bool = True) -> set[str]:
    """Work-item ids already in ``<run>/candidates`` (samples' provenance, and failures unless told not)."""
    base = candidates_dir(run_dir)
    done: set[str] = set()
    for path in sorted(base.glob("shard-*.parquet")):
        done.update(s.provenance.work_item for s in shards.read_samples(path) if s.provenance.work_item)
    if include_failures:
        for path in sorted(base.glob("failures-*.parquet")):
            done.update(f["item_id"] for f in shards.read_failures(path))
    return done


def next_shard_index(run_dir: Path) -> int:
    """One past the highest shard index in ``<run>/candidates`` (0 when there is none)."""
    indices = [int(p.stem.split("-")[1]) for p in candidates_dir(run_dir).glob("shard-*.parquet")]
    return max(indices, default=-1) + 1
