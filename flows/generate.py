"""The ``generate`` flow: plan the work items, then one cached, retried task per candidate shard.

    generate_flow(config)   # -> {"shards": [...], "items": 812, "samples": 790, "failures": 22, ...}

The plan skips what the sample store already holds (``satisfied``), so a refresh after a spec edit
plans only the changed tools' samples. A full plan (no ``limit``) also writes ``plan/quotas.json``
(``flows.top_up_ledger``), which the top-up rounds (``flows.top_up``) and the dataset card read. The plan is written to ``plan/items.jsonl``; each task reads
its slice of that file (tasks get paths and a range, never rows) and writes
``candidates/shard-NNNNN.parquet``. A shard's cache key covers the spec fingerprint, the teacher
model, the prompt version, the shard id and its items' ids, so a killed run resumes at the first
unfinished shard.

The flow fails (``GenerationFailed``, so ``refresh`` stops before publishing anything and exits
non-zero) when the teacher's circuit breaker stopped a shard, when nothing was generated, or when
more than ``generate.max_failure_share`` of the items failed. Shards written before stay on disk.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.futures import as_completed

from flows import caching, monitoring, tables
from flows.attempts import AttemptLedger, attempt_context
from flows.config import RunConfig
from flows.ingest import CATALOG_DIR, catalog_fingerprint
from flows.run_record import RunRecord
from flows.stage_support import load_catalog, require_input, submit_shards
from flows.teacher_limit import ensure_limits, teacher_gate
from flows.top_up_ledger import TopUpLedger, write_quotas
from generators import pipeline, plan
from generators.config import GenerateConfig, PlanConfig
from generators.prompts import PROMPT_VERSION
from generators.stats import merge_stats
from generators.teacher_errors import GenerationFailed
from schemas.canonical import content_hash
from schemas.catalog import Catalog
from schemas.shards import shard_name
from trainer.dataset.quotas import QUOTAS_FILE

PLAN_FILE = "plan/items.jsonl"
CANDIDATES_DIR = "candidates"
OFFLINE_TEACHER = "offline-templates"


def limit_items(
    items: list[plan.WorkItem], limit: int | None, config: PlanConfig | None = None
) -> list[plan.WorkItem]:
    """At most ``limit`` items over every style and language in proportion (``generators.plan.limit_items``)."""
    config = config or PlanConfig()
    return plan.limit_items(items, limit, styles=config.styles, languages=config.languages)


def teacher_name(config: GenerateConfig) -> str:
    return config.teacher.model or OFFLINE_TEACHER


def generation_settings(config: GenerateConfig) -> dict[str, Any]:
    """The generate settings that decide what is generated (cache keys, attempt contexts).

    Where the teacher cache lives is not one of them: the data root is absolute (``RunConfig``), and
    moving it, or starting from another directory, must not make every shard and item look new.
    """
    return config.model_dump(mode="json", exclude={"teacher": {"cache_dir"}})


def attempt_context_of(config: RunConfig) -> str:
    """What an item's outcome depends on besides its tools: the generator and the verifiers."""
    gen = config.generate
    return attempt_context(
        {
            "teacher": teacher_name(gen),
            "prompt_version": PROMPT_VERSION,
            "config": generation_settings(gen),
        },
        {"names": config.verifiers, "options": config.verifier_options},
    )


@task(
    name="generate-shard",
    # Prefect's protocol for a callback taking `parameters` also has a classmethod no function has.
    task_run_name=monitoring.shard_task_run_name,  # type: ignore[arg-type]
    cache_key_fn=caching.shard_cache_key,
    persist_result=True,  # retries and result storage are set per run (flows.stage_support.submit_shards)
)
def generate_shard_task(job: caching.ShardJob, gen: GenerateConfig) -> dict[str, Any]:
    """Generate one shard's candidates from its slice of the plan; return the stage's summary dict."""
    run_dir = Path(job.run_dir)
    start, stop = job.inputs["start"], job.inputs["stop"]
    require_input(run_dir / PLAN_FILE, job)
    with (run_dir / PLAN_FILE).open(encoding="utf-8") as handle:
        items = [plan.WorkItem.model_validate_json(line) for line in itertools.islice(handle, start, stop)]
    catalog = load_catalog(run_dir / CATALOG_DIR)
    gate = teacher_gate(gen.teacher)  # one limit per endpoint for every shard, run and worker
    summary = pipeline.generate_shard(items, catalog, gen, run_dir, job.shard_index, gate=gate)
    stopped = (summary.get("teacher") or {}).get("circuit_open")
    if stopped:
        # A CallforgeError: the task runner does not retry it, and the flow fails with the reason.
        raise GenerationFailed(
            f"shard {job.shard_index} stopped: {stopped}. Its failed items are retried by the next run."
        )
    return {**summary, "path": str(job.output_path)}


@flow(
    name="generate",
    flow_run_name=functools.partial(monitoring.stage_run_name, "generate"),
    on_failure=[monitoring.log_failure_url],
)
def generate_flow(config: RunConfig, satisfied: dict[str, int] | None = None) -> dict[str, Any]:
    """Plan and generate candidate shards for ``config``'s run (its catalog must exist)."""
    config = config.with_run_name()
    run_dir = config.run_dir
    record = RunRecord.open(run_dir, config.run_name or "")
    record.begin("generate")
    catalog = load_catalog(run_dir / CATALOG_DIR)
    gen = config.generate
    ensure_limits(gen.teacher)  # the endpoint's shared limits, as this config sets them
    planned = plan.build_plan(catalog, gen.plan, satisfied=satisfied)
    # Items tried before with the same tools, generator and verifiers would give the same result.
    untried, _ = AttemptLedger(config.store_path, config.slug).untried(
        planned, catalog, attempt_context_of(config)
    )
    items = limit_items(untried, config.limit, gen.plan)
    # An empty plan (the store holds everything) leaves no plan file: readers take none as "no plan".
    (run_dir / PLAN_FILE).unlink(missing_ok=True)
    if items:
        pipeline.write_plan(run_dir / PLAN_FILE, items)
    # Quotas are reported (and topped up) only for a full plan: a --limit run never meant to fill them.
    (run_dir / QUOTAS_FILE).unlink(missing_ok=True)
    if config.limit is None:
        write_quotas(run_dir, catalog, gen.plan, TopUpLedger(config.store_path, config.slug).tried(catalog))
    summaries, stats, jobs = run_shards(config, catalog, items, first_line=0, first_shard=0)
    counts = {
        "planned": len(planned),
        "tried_before": len(planned) - len(untried),
        "items": len(items),
        "shards": jobs,
        "samples": sum(int(s.get("samples", 0)) for s in summaries),
        "failures": sum(int(s.get("failures", 0)) for s in summaries),
    }
    problem = pipeline.outcome_problem(
        items=counts["items"],
        samples=counts["samples"],
        failures=counts["failures"],
        max_failure_share=gen.max_failure_share,
    )
    monitoring.log_info(
        f"generate: {counts['items']} items in {counts['shards']} shards -> {counts['samples']} samples, "
        f"{counts['failures']} failures ({counts['planned']} planned, {counts['tried_before']} tried before)"
    )
    if problem:
        raise GenerationFailed(f"generate {config.run_name}: {problem}")
    record.finish(
        "generate",
        counts=counts,
        paths={"plan": run_dir / PLAN_FILE, "candidates": run_dir / CANDIDATES_DIR},
        details={"teacher": teacher_name(gen), "prompt_version": PROMPT_VERSION, "teacher_stats": stats},
    )
    return {**counts, "shard_paths": [s["path"] for s in summaries], "teacher_stats": stats}


def run_shards(
    config: RunConfig, catalog: Catalog, items: list[plan.WorkItem], *, first_line: int, first_shard: int
) -> tuple[list[dict[str, Any]], dict[str, Any], int]:
    """Generate ``items`` (lines ``first_line..`` of the plan file) as shards ``first_shard..``; returns the
    shard summaries in order, the merged teacher statistics and the number of shards."""
    run_dir, gen = config.run_dir, config.generate
    size = gen.plan.shard_size
    key_common = {
        "spec_fingerprint": catalog_fingerprint(catalog),
        "teacher_model": teacher_name(gen),
        "prompt_version": PROMPT_VERSION,
        "config_hash": content_hash(generation_settings(gen), length=32),
    }
    jobs = [
        caching.ShardJob(
            stage="generate",
            run_dir=str(run_dir),
            shard_index=first_shard + number,
            output=f"{CANDIDATES_DIR}/{shard_name(first_shard + number)}",
            inputs={"start": first_line + start, "stop": first_line + min(start + size, len(items))},
            key_parts={
                **key_common,
                "items_hash": caching.items_hash([i.id for i in items[start : start + size]]),
            },
        )
        for number, start in enumerate(range(0, len(items), size))
    ]
    progress = monitoring.ShardProgress(config.slug, "generate", len(jobs), len(items), "items")
    futures = submit_shards(generate_shard_task, jobs, config, gen=gen)
    summaries = []
    jobs_by_shard = {job.shard_index: job for job in jobs}
    for future in as_completed(futures):
        summary = future.result()
        summaries.append(summary)
        shard_items = jobs_by_shard[summary["shard"]].inputs
        progress.advance(
            int(shard_items["stop"]) - int(shard_items["start"]),
            samples=int(summary.get("samples", 0)),
            failures=int(summary.get("failures", 0)),
        )
    summaries.sort(key=lambda s: s["shard"])
    stats = merged_teacher_stats(summaries)
    monitoring.publish_table(
        config.slug,
        "teacher-stats",
        tables.teacher_rows(stats, model=teacher_name(gen)),
        description=f"{config.run_name}: teacher statistics over {len(jobs)} shard(s)",
    )
    return summaries, stats, len(jobs)


def merged_teacher_stats(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's teacher statistics (``generators.stats.merge_stats``: counters summed, latency
    percentiles over every shard's requests) without the histogram they came from.

    Shards report ``TeacherStats.as_dict()`` (absent for the offline generator, which sends no
    request: its row is all zeros).
    """
    merged = merge_stats([s["teacher"] for s in summaries if s.get("teacher")])
    merged.pop("latency_histogram")
    return merged
