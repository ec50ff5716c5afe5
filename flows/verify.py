"""The ``verify`` flow: one sandbox per flow run, one cached, retried task per candidate shard.

    verify_flow(config, shard_paths)   # -> {"samples": 790, "accepted": 701, "summary": {...}, ...}

Each shard is verified as ``callforge verify`` verifies it (``flows.shard_verification``: repeats
dropped first, a fresh context per shard); the sandbox serves every shard of the run. The merged
``VerdictSummary`` feeds the artifact tables and is recorded in the run manifest, where the report
and the dataset card read it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.futures import as_completed, wait

from flows import caching, monitoring, tables
from flows.config import RunConfig
from flows.ingest import CATALOG_DIR, catalog_fingerprint
from flows.run_record import RunRecord
from flows.shard_verification import verify_candidate_shard
from flows.stage_support import load_catalog, require_input, submit_shards
from schemas.canonical import content_hash
from schemas.shards import shard_name
from verifiers import registry
from verifiers.summary import summarise_shard_results

log = logging.getLogger("callforge.flows.verify")


def candidate_rows(path: Path) -> int:
    """Rows in a candidate shard, from its Parquet footer (no rows are read)."""
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, ValueError):
        return 0  # a missing shard fails in its task, with the error that names it


@task(
    name="verify-shard",
    # Prefect's protocol for a callback taking `parameters` also has a classmethod no function has.
    task_run_name=monitoring.shard_task_run_name,  # type: ignore[arg-type]
    cache_key_fn=caching.shard_cache_key,
    persist_result=True,  # retries and result storage are set per run (flows.stage_support.submit_shards)
)
def verify_shard_task(
    job: caching.ShardJob,
    verifier_names: list[str] | None,
    verifier_options: dict[str, Any],
    sandbox_url: str | None,
) -> dict[str, Any]:
    """Verify one candidate shard; return its counts and its ``VerdictSummary`` dict."""
    run_dir = Path(job.run_dir)
    shard = run_dir / job.inputs["candidates"]
    require_input(shard, job)  # first: a worker that cannot see the run fails here, not on the catalog
    catalog = load_catalog(run_dir / CATALOG_DIR)
    verifiers = registry.load_verifiers(verifier_names, verifier_options)
    return verify_candidate_shard(
        run_dir, shard, job.shard_index, catalog, verifiers, sandbox_url=sandbox_url
    )


@contextlib.contextmanager
def sandbox_for(config: RunConfig, *, needed: bool = True) -> Iterator[str | None]:
    """The spec-driven sandbox for this flow run (its base URL); None when off or nothing is verified.

    Supervised: a sandbox process that dies (killed, OOM) is started again on the same port, and the
    shards that lost requests fail without verdicts and are retried (``verifiers.execution``).
    """
    if not (config.sandbox and needed):
        yield None
        return
    from verifiers.sandbox import SandboxServer

    with SandboxServer([str(Path(p).resolve()) for p in config.specs]) as server:
        server.supervise()
        yield server.base_url
        if server.restarts:
            log.warning("sandbox restarted %d time(s) during verification", server.restarts)


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
    progress = monitoring.ShardProgress(
        config.slug, "verify", len(jobs), sum(candidate_rows(Path(p)) for p in shard_paths), "samples"
    )
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
        try:
            for future in as_completed(futures):
                result = future.result()
                results.append(result)
                progress.advance(
                    int(result["samples"]) + int(result.get("repeated", 0)),
                    accepted=int(result["accepted"]),
                    rejected=int(result["rejected"]),
                )
        finally:
            # The sandbox outlives every shard using it: a failed shard does not stop the others
            # mid-request (they would lose their answers, not record them).
            wait(futures)
    results.sort(key=lambda r: r["shard"])
    summary = summarise_shard_results(results)
    monitoring.publish_table(
        config.slug,
        "verifier-pass-rates",
        tables.pass_rate_rows(summary),
        description=f"{config.run_name}: pass rates per verifier and tier",
    )
    monitoring.publish_table(
        config.slug,
        "rejection-reasons",
        tables.rejection_rows(summary),
        description=f"{config.run_name}: top {tables.TOP_REASONS} rejection reasons per tier",
    )
    monitoring.publish_table(
        config.slug,
        "verifier-warnings",
        tables.warning_rows(summary),
        description=f"{config.run_name}: samples per verifier warning class (warnings do not reject)",
    )
    counts = {
        k: sum(int(r[k]) for r in results)
        for k in ("samples", "accepted", "rejected", "undecided", "repeated")
    }
    monitoring.log_info(
        f"verify: {counts['samples']} samples in {len(jobs)} shards -> {counts['accepted']} accepted, "
        f"{counts['rejected']} rejected, {counts['undecided']} undecided, {counts['repeated']} repeats dropped"
    )
    record.finish(
        "verify",
        counts={**counts, "shards": len(jobs)},
        paths={
            "verified": run_dir / "verified",
            "rejected": run_dir / "rejected",
            "verdicts": run_dir / "verdicts",
        },
        details={"summary": summary.to_dict()},
    )
    return {
        **counts,
        "shards": len(jobs),
        "summary": summary.to_dict(),
        "verified_paths": [r["paths"]["verified"] for r in results],
    }
