"""What a person watching the Prefect UI sees: names, tags, artifacts, the failure URL and events.

Artifact keys (lowercase-dash; the same key across runs is that table's history in the UI), for a
spec slug ``S`` (``gennx`` for the bundled spec; ``D`` is the dataset's name, by default ``S``):

    S-run-summary           markdown, on the refresh run: stages, pass rates, rejections, splits, changes,
                            where the dataset is; rewritten as each stage finishes (the final report.md)
    S-ingest-summary        table: per spec file, operations, tools and tiers, skipped operations
    S-generate-progress     progress: work items generated / planned, with shard and sample counts
    S-verify-progress       progress: candidate samples verified / total, with accepted and rejected
    S-verifier-pass-rates   table: per verifier and tier, judged / passed / failed / undecided / rate
    S-rejection-reasons     table: the top rejection reason codes per tier
    S-verifier-warnings     table: samples per verifier warning class (code_not_in_spec …), not rejections
    S-teacher-stats         table: requests, cache hits, retries, 429s, latency, tokens
    S-split-sizes           table: samples per split (train / validation / test_seen / test_unseen)
    S-dataset-changes       table: tools added / changed / removed, samples added / retired per split
    S-dataset               link: file:// URI of the assembled dataset (stored by Prefect as markdown)
    D-training              table: steps, losses, device and runtime of a fine-tune (train flow)
    D-evaluation            table: evaluation metrics per model and split (evaluate flow)

Flow runs are named after the run folder (``gennx-20261205-020000``; stages ``verify-gennx-…``),
shard task runs after the shard file (``verify-shard-00003`` writes ``shard-00003.parquet``).

Events: ``callforge.dataset.published`` (resource ``callforge.dataset.D``), only when a run publishes
a new or restored version, carries ``dataset_dir`` (the published version); the fine-tune deployment's
trigger starts a training run with it. ``callforge.model.trained`` (resource ``callforge.model.D``)
carries ``dataset_dir`` and ``models``; the evaluate deployment's trigger follows it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.events import emit_event
from prefect.logging import get_run_logger
from prefect.runtime import flow_run as runtime_flow_run
from prefect.utilities.urls import url_for

from flows import progress
from flows.config import RunConfig, slugify

PUBLISHED_EVENT = "callforge.dataset.published"
TRAINED_EVENT = "callforge.model.trained"
log = logging.getLogger(__name__)


def artifact_key(slug: str, what: str) -> str:
    """``gennx`` + ``verifier pass rates`` -> ``gennx-verifier-pass-rates`` (Prefect allows [a-z0-9-])."""
    return slugify(f"{slug}-{what}")


def dated_name(stage: str, slug: str) -> str:
    """``refresh-gennx-2026-11-20``: what ran, on which spec, on which day (UTC)."""
    return f"{stage}-{slug}-{datetime.now(UTC):%Y-%m-%d}"


def stage_run_name(stage: str) -> str:
    """``flow_run_name`` callable for flows taking ``config`` (a RunConfig, or its dict after a deployment):
    ``verify-gennx-20261205-020000`` (the run folder's name), else ``verify-gennx-2026-12-05``."""
    config = (runtime_flow_run.parameters or {}).get("config")
    if isinstance(config, dict):
        config = RunConfig.model_validate(config)
    if isinstance(config, RunConfig) and config.run_name:
        return f"{stage}-{config.run_name}"
    return dated_name(stage, config.slug if isinstance(config, RunConfig) else "callforge")


def shard_task_run_name(parameters: dict[str, Any]) -> str:
    """``task_run_name`` of shard tasks: ``verify-shard-00003``, the stage and the shard file it writes."""
    job = parameters.get("job")
    stage = job.get("stage") if isinstance(job, dict) else getattr(job, "stage", "shard")
    index = job.get("shard_index") if isinstance(job, dict) else getattr(job, "shard_index", 0)
    return f"{stage}-shard-{int(index or 0):05d}"


class ShardProgress:
    """One progress artifact (and the terminal bar) for a stage, advanced as each shard finishes.

    The percentage counts ``units`` (work items, candidate samples) rather than shards, so shards of
    different sizes move it by what they did; the description carries the running counts across every
    shard (``verify: 3 of 6 shards, 412 of 812 samples: 380 accepted, 32 rejected``).
    """

    def __init__(self, slug: str, stage: str, shards: int, units: int, unit: str) -> None:
        self.stage, self.shards, self.units, self.unit = stage, shards, units, unit
        self.shards_done, self.units_done = 0, 0
        self.counts: dict[str, int] = {}
        # Prefect's sync_compatible typing says "UUID or coroutine"; called from sync code it is a UUID.
        self._artifact: UUID | None = create_progress_artifact(  # type: ignore[assignment]
            progress=100.0 if units == 0 else 0.0,
            key=artifact_key(slug, f"{stage}-progress"),
            description=self.description(),
        )
        progress.report(stage, 0, shards)

    def description(self) -> str:
        counts = ", ".join(f"{n} {name}" for name, n in self.counts.items())
        return (
            f"{self.stage}: {self.shards_done} of {self.shards} shards, "
            f"{self.units_done} of {self.units} {self.unit}" + (f": {counts}" if counts else "")
        )

    def advance(self, units: int, **counts: int) -> None:
        """One more shard finished, having done ``units`` and these ``counts`` (summed across shards)."""
        self.shards_done += 1
        self.units_done += units
        for name, n in counts.items():
            self.counts[name] = self.counts.get(name, 0) + int(n)
        percent = 100.0 * self.units_done / self.units if self.units else 100.0
        if self.shards_done >= self.shards:
            percent = 100.0
        if self._artifact is not None:
            update_progress_artifact(
                artifact_id=self._artifact, progress=min(percent, 100.0), description=self.description()
            )
        progress.report(self.stage, self.shards_done, self.shards)


def log_info(message: str) -> None:
    """A line in the current run's log (the UI's Logs tab), or this module's log outside a run."""
    try:
        get_run_logger().info(message)
    except Exception:  # no run context (a stage called directly in a test or a script)
        log.info(message)


def publish_table(slug: str, what: str, rows: list[dict[str, Any]], description: str) -> None:
    """A keyed table artifact; an empty table still records that the stage ran with nothing to show."""
    create_table_artifact(
        table=rows or [{"note": "nothing to report"}],
        key=artifact_key(slug, what),
        description=description,
    )


def publish_markdown(slug: str, what: str, markdown: str, description: str) -> None:
    create_markdown_artifact(markdown=markdown, key=artifact_key(slug, what), description=description)


def publish_dataset(
    slug: str,
    run_name: str,
    dataset_dir: Path,
    payload: dict[str, Any],
    *,
    dataset_name: str,
    emit: bool,
) -> None:
    """The dataset's link artifact and, with ``emit``, the ``callforge.dataset.published`` event.

    The event's resource is ``callforge.dataset.<dataset_name>``: a deployment trigger matches the
    dataset of one spec (prefect.yaml: GEN NX's) rather than every dataset.
    """
    uri = dataset_dir.resolve().as_uri()
    create_link_artifact(
        link=uri,
        link_text=f"{run_name} dataset ({dataset_dir.resolve()})",
        key=artifact_key(slug, "dataset"),
        description=str(dataset_dir.resolve()),
    )
    if not emit:
        return
    emit_event(
        event=PUBLISHED_EVENT,
        resource={
            "prefect.resource.id": f"callforge.dataset.{dataset_name}",
            "prefect.resource.name": run_name,
            "callforge.dataset.dir": str(dataset_dir.resolve()),
        },
        payload={
            "dataset_dir": str(dataset_dir.resolve()),
            "run_name": run_name,
            "spec": slug,
            "dataset": dataset_name,
            **payload,
        },
    )


def emit_trained(dataset_name: str, dataset_dir: str, models: list[dict[str, Any]], run_name: str) -> None:
    """``callforge.model.trained``: the evaluate deployment's trigger starts an evaluation of ``models``."""
    emit_event(
        event=TRAINED_EVENT,
        resource={
            "prefect.resource.id": f"callforge.model.{dataset_name}",
            "prefect.resource.name": run_name,
        },
        payload={"dataset_dir": dataset_dir, "models": models, "dataset": dataset_name},
    )


def flow_run_ui_url(flow_run: Any) -> str | None:
    """The UI page of a flow run (from PREFECT_UI_URL, derived from PREFECT_API_URL); None without a UI."""
    return url_for("flow-run", obj_id=flow_run.id)


def log_failure_url(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_failure`` hook: log where to look, so the person reading the log can click through."""
    url = flow_run_ui_url(flow_run)
    where = url or "(no UI: ephemeral mode; start `prefect server start` to browse runs)"
    message = f"flow run {flow_run.name!r} failed ({state.message}); details: {where}"
    try:
        get_run_logger().error(message)
    except Exception:  # hooks run after the run context may be gone
        log.error(message)
