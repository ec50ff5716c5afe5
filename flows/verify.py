"""The ``verify`` flow: one sandbox per flow run, one cached, retried task per candidate shard.

    verify_flow(config, shard_paths)   # -> {"samples": 790, "accepted": 701, "summary": {...}, ...}

Repeated sample ids in a candidate shard are verified once (``flows.candidates``). Each task builds
its own ``VerifyContext`` (verifiers write per-shard state into ``ctx.resources``,
such as execution results and the dedup keys seen), so shards are independent: the same shard gives
the same verdicts whichever order shards run in, and a cached shard stays valid on resume. Duplicates
across shards are removed when the dataset is assembled. The sandbox serves every shard of the run.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.futures import as_completed

from flows import caching, monitoring, tables
from flows.candidates import REPEAT_REASON, unique_candidates
from flows.config import RunConfig
from flows.ingest import CATALOG_DIR, catalog_fingerprint
from flows.run_record import RunRecord
from flows.stage_support import load_catalog, submit_shards
from schemas.canonical import content_hash
from schemas.shards import shard_name
from verifiers import pipeline, registry
from verifiers.base import VerifyContext

SANDBOX_URL_KEY = "sandbox_url"


@task(
    name="verify-shard",
    cache_key_fn=caching.shard_cache_key,
    persist_result=True,  # retries and result storage are set per run (flows.stage_support.submit_shards)
)
def verify_shard_task(
    job: caching.ShardJob,
    verifier_names: list[str] | None,
    verifier_options: dict[str, Any],
    sandbox_url: str | None,
) -> dict[str, Any]:
    """Verify one candidate shard; return its counts plus per-tier pass/reject breakdowns."""
    run_dir = Path(job.run_dir)
    catalog = load_catalog(run_dir / CATALOG_DIR)
    verifiers = registry.load_verifiers(verifier_names, verifier_options)
    resources: dict[str, Any] = {SANDBOX_URL_KEY: sandbox_url} if sandbox_url else {}
    ctx = VerifyContext(catalog=catalog, resources=resources)
    in_path, repeats = unique_candidates(run_dir / job.inputs["candidates"], run_dir)
    result = pipeline.verify_shard(in_path, catalog, verifiers, ctx, run_dir, job.shard_index)
    breakdown = tables.tier_breakdown(Path(result["paths"]["verdicts"]), in_path)
    for tier, n in repeats.items():
        breakdown["rejections"].setdefault(tier, {})[REPEAT_REASON] = n
    return {**result, "tiers": breakdown, "repeated": sum(repeats.values())}


@contextlib.contextmanager
def sandbox_for(config: RunConfig, *, needed: bool = True) -> Iterator[str | None]:
    """The spec-driven sandbox for this flow run (its base URL); None when off or nothing is verified."""
    if not (config.sandbox and needed):
        yield None
        return
    from verifiers.sandbox import SandboxServer

    with SandboxServer([str(Path(p).resolve()) for p in config.specs]) as server:
        yield server.base_url


@flow(
    name="verify",
    flow_run_name=functools.partial(monitoring.stage_run_name, "verify"),
    on_failure=[monitoring.log_failure_url],
)
def verify_flow(config: RunConfig, shard_paths: list[str] | None = None) -> dict[str, Any]:
    """Verify the run's candidate shards (``shard_paths``, else every ``candidates/shard-*.parquet``)."""
    config = config.with_run_name()
    run_dir = config.run_dir
    record = RunRecord.open(run_dir, config.run_name or "")
    record.begin("verify")
    if shard_paths is None:
        shard_paths = [str(p) for p in sorted((run_dir / "candidates").glob("shard-*.parquet"))]
    catalog = load_catalog(run_dir / CATALOG_DIR)
    names = config.verifiers
    options = config.verifier_options
    registry.load_verifiers(names, options)  # fail on a bad verifier config before any shard starts
    key_common = {
        "spec_fingerprint": catalog_fingerprint(catalog),
        "verifiers": content_hash({"names": names, "options": options}, length=32),
    }
    jobs = []
    for path in map(Path, shard_paths):
        index = int(path.stem.split("-")[-1])
        jobs.append(
            caching.ShardJob(
                stage="verify",
                run_dir=str(run_dir),
                shard_index=index,
                output=f"verdicts/{shard_name(index)}",  # written last by verify_shard: it marks completion
                inputs={"candidates": str(path.resolve().relative_to(run_dir.resolve()))},
                key_parts={**key_common, "input_sha256": caching.file_digest(path)},
            )
        )
    progress = monitoring.ShardProgress(config.slug, "verify", len(jobs))
    results = []
    with sandbox_for(config, needed=bool(jobs)) as sandbox_url:
        futures = submit_shards(
            verify_shard_task,
            jobs,
            config,
            verifier_names=names,
            verifier_options=options,
            sandbox_url=sandbox_url,
        )
        for future in as_completed(futures):
            results.append(future.result())
            progress.advance()
    results.sort(key=lambda r: r["shard"])
    breakdown = tables.merge_breakdowns([r["tiers"] for r in results])
    monitoring.publish_table(
        config.slug,
        "verifier-pass-rates",
        tables.pass_rate_rows(breakdown),
        description=f"{config.run_name}: pass rates per verifier and tier",
    )
    monitoring.publish_table(
        config.slug,
        "rejection-reasons",
        tables.rejection_rows(breakdown),
        description=f"{config.run_name}: top {tables.TOP_REASONS} rejection reasons per tier",
    )
    counts = {
        k: sum(int(r[k]) for r in results)
        for k in ("samples", "accepted", "rejected", "undecided", "repeated")
    }
    record.finish(
        "verify",
        counts={**counts, "shards": len(jobs)},
        paths={
            "verified": run_dir / "verified",
            "rejected": run_dir / "rejected",
            "verdicts": run_dir / "verdicts",
        },
        details={"breakdown": breakdown},
    )
    return {
        **counts,
        "shards": len(jobs),
        "breakdown": breakdown,
        "verified_paths": [r["paths"]["verified"] for r in results],
    }
