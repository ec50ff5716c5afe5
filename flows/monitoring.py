"""What a person watching the Prefect UI sees: names, tags, artifacts, the failure URL and events.

Artifact keys (lowercase-dash; the same key across runs is that table's history in the UI), for a
spec slug ``S`` (``gennx`` for the bundled spec):

    S-ingest-summary        table: per spec file, operations, tools and tiers, skipped operations
    S-generate-progress     progress: candidate shards generated / planned (updated per shard)
    S-verify-progress       progress: candidate shards verified / total (updated per shard)
    S-verifier-pass-rates   table: per verifier and tier, judged / passed / failed / undecided / rate
    S-rejection-reasons     table: the top rejection reason codes per tier
    S-teacher-stats         table: requests, cache hits, retries, 429s, latency, tokens
    S-split-sizes           table: samples per split (train / validation / test_seen / test_unseen)
    S-run-summary           markdown: the run's report with a few example samples
    S-dataset               link: file:// URI of the assembled dataset (stored by Prefect as markdown)
    S-training              table: steps, losses, device and runtime of a fine-tune (train flow)
    S-evaluation            table: evaluation metrics per model and split (evaluate flow)

The event ``callforge.dataset.published`` (resource ``callforge.dataset.S``) carries the dataset path
in its payload (``dataset_dir``); the fine-tune deployment's trigger starts a training run with it.
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
log = logging.getLogger(__name__)


def artifact_key(slug: str, what: str) -> str:
    """``gennx`` + ``verifier pass rates`` -> ``gennx-verifier-pass-rates`` (Prefect allows [a-z0-9-])."""
    return slugify(f"{slug}-{what}")


def dated_name(stage: str, slug: str) -> str:
    """``refresh-gennx-2026-11-20``: what ran, on which spec, on which day (UTC)."""
    return f"{stage}-{slug}-{datetime.now(UTC):%Y-%m-%d}"


def stage_run_name(stage: str) -> str:
    """``flow_run_name`` callable for flows taking ``config`` (a RunConfig, or its dict after a deployment)."""
    config = (runtime_flow_run.parameters or {}).get("config")
    if isinstance(config, dict):
        config = RunConfig.model_validate(config)
    return dated_name(stage, config.slug if isinstance(config, RunConfig) else "callforge")


class ShardProgress:
    """A progress artifact (and the terminal bar) for one stage's shards, advanced as each finishes."""

    def __init__(self, slug: str, stage: str, total: int) -> None:
        self.stage, self.total, self.done = stage, total, 0
        # Prefect's sync_compatible typing says "UUID or coroutine"; called from sync code it is a UUID.
        self._artifact: UUID | None = create_progress_artifact(  # type: ignore[assignment]
            progress=100.0 if total == 0 else 0.0,
            key=artifact_key(slug, f"{stage}-progress"),
            description=f"{stage}: shards finished of {total}",
        )
        progress.report(stage, 0, total)

    def advance(self, n: int = 1) -> None:
        self.done += n
        percent = 100.0 * self.done / self.total if self.total else 100.0
        if self._artifact is not None:
            update_progress_artifact(artifact_id=self._artifact, progress=min(percent, 100.0))
        progress.report(self.stage, self.done, self.total)


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
    slug: str, run_name: str, dataset_dir: Path, payload: dict[str, Any], *, emit: bool
) -> None:
    """The dataset's link artifact and, with ``emit``, the ``callforge.dataset.published`` event."""
    uri = dataset_dir.resolve().as_uri()
    create_link_artifact(
        link=uri,
        link_text=f"{run_name} dataset",
        key=artifact_key(slug, "dataset"),
        description=str(dataset_dir),
    )
    if not emit:
        return
    emit_event(
        event=PUBLISHED_EVENT,
        resource={
            "prefect.resource.id": f"callforge.dataset.{slug}",
            "prefect.resource.name": run_name,
            "callforge.dataset.dir": str(dataset_dir.resolve()),
        },
        payload={"dataset_dir": str(dataset_dir.resolve()), "run_name": run_name, "spec": slug, **payload},
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
