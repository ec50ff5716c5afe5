"""The ``ingest`` flow: OpenAPI spec(s) -> ``runs/<run>/catalog/`` plus the ingest summary artifact.

    ingest_flow(RunConfig(specs=["specs/gennx/openapi.yaml"], run_name="gennx-test"))

Ingestion is one pass over a few MB of YAML, so it runs inline in the flow (no task: there is
nothing to fan out, and a task would only add a state round-trip).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from prefect import flow

from flows import monitoring, tables
from flows.config import RunConfig
from flows.run_record import RunRecord
from schemas import openapi
from schemas.canonical import content_hash
from schemas.catalog import Catalog
from schemas.manifest import SpecEntry

CATALOG_DIR = "catalog"


def catalog_fingerprint(catalog: Catalog) -> str:
    """The spec fingerprint shard caches key on: every tool's fingerprint and tier, in order."""
    return content_hash([[t.fingerprint, t.tier] for t in catalog], length=32)


@flow(
    name="ingest",
    flow_run_name=functools.partial(monitoring.stage_run_name, "ingest"),
    on_failure=[monitoring.log_failure_url],
    log_prints=True,
)
def ingest_flow(config: RunConfig) -> dict[str, Any]:
    """Read the config's specs into a tool catalog; return its path, size and fingerprint."""
    config = config.with_run_name()
    run_dir = config.run_dir
    record = RunRecord.open(run_dir, config.run_name or "")
    record.begin("ingest")
    result = openapi.ingest(
        [Path(p) for p in config.specs],
        naming=config.naming,
        tier_rules=config.tier_rules,
        include_deprecated=config.include_deprecated,
    )
    catalog_dir = openapi.write_ingest(result, run_dir / CATALOG_DIR)
    report = result.report
    monitoring.publish_table(
        config.slug,
        "ingest-summary",
        tables.ingest_rows(report),
        description=f"{config.run_name}: {report.tools} tools on {report.endpoints} endpoints",
    )
    record.set_specs(
        [
            SpecEntry(
                file=s.file,
                title=s.title,
                version=s.version,
                openapi=s.openapi,
                sha256=s.sha256,
                operations=s.operations,
                tools=s.tools,
            )
            for s in report.specs
        ]
    )
    fingerprint = catalog_fingerprint(result.catalog)
    record.finish(
        "ingest",
        counts={"tools": report.tools, "endpoints": report.endpoints, "warnings": len(report.warnings)},
        paths={"catalog": catalog_dir},
        details={"spec_fingerprint": fingerprint, "tiers": {k: v.tools for k, v in report.tiers.items()}},
    )
    print(report.summary())
    return {
        "run_dir": str(run_dir),
        "catalog_dir": str(catalog_dir),
        "tools": report.tools,
        "spec_fingerprint": fingerprint,
    }
