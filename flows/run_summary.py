"""The ``refresh`` run tells its own story: its name, its tags, a summary artifact and a closing line.

    summary = RunSummary.start(config)     # names the run after its folder, tags it, creates the artifact
    out["ingest"] = ingest_flow(config)
    summary.update()                       # re-rendered from runs/<run>/manifest.json after each stage
    ...
    summary.finish()                       # the final report (with examples) and the closing log line

The artifact (key ``<spec>-run-summary``, markdown) lives on the refresh run itself, so the run's
Artifacts tab shows it without opening a stage; it is one artifact, updated in place, whose text is
``report.md`` (``flows.report``) under a status line. A failed run's summary says which stage failed
(``on_refresh_failure``, an ``on_failure`` hook). Everything shown comes from the run manifest, so the
summary, ``report.md`` and the closing line always agree.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import ArtifactUpdate
from prefect.context import FlowRunContext
from prefect.exceptions import PrefectHTTPStatusError

from flows import monitoring
from flows.config import RunConfig
from flows.generate import teacher_name
from flows.report import PUBLICATION_TEXT, STAGE_ORDER, render_report
from schemas.manifest import RunManifest
from trainer.dataset.changes import VersionChanges
from verifiers.summary import VerdictSummary

_open: dict[str, RunSummary] = {}  # flow-run id -> its summary, for the failure hook
_lock = threading.Lock()


def run_tags(config: RunConfig) -> list[str]:
    """The refresh run's own tags: what it ran on, with which teacher, into which dataset, publishing or not."""
    return [
        f"spec:{config.slug}",
        f"teacher:{teacher_name(config.generate)}",
        f"dataset:{config.dataset_name}",
        "publish" if config.publishes else "no-publish",
        *(["limited"] if config.limit is not None else []),
    ]


class RunSummary:
    """The summary artifact of one refresh run (see the module docstring)."""

    def __init__(self, config: RunConfig, artifact_id: UUID | None) -> None:
        self.config = config
        self.artifact_id = artifact_id
        self.started = time.monotonic()

    @classmethod
    def start(cls, config: RunConfig) -> RunSummary:
        """Name and tag the current flow run, create its summary artifact and log the opening line."""
        context = FlowRunContext.get()
        flow_run = context.flow_run if context else None
        if flow_run is not None:
            tags = sorted(set(flow_run.tags) | set(run_tags(config)))
            with _reported("name and tag the refresh run"), get_client(sync_client=True) as client:
                client.update_flow_run(flow_run.id, name=config.run_name, tags=tags)
                flow_run.name, flow_run.tags = config.run_name or flow_run.name, tags
        artifact_id: UUID | None = create_markdown_artifact(  # type: ignore[assignment]  # sync call: a UUID
            markdown=f"**starting** `{config.run_name}`\n",
            key=monitoring.artifact_key(config.slug, "run-summary"),
            description=f"{config.run_name}: refresh summary (updated as stages finish)",
        )
        summary = cls(config, artifact_id)
        if flow_run is not None:
            with _lock:
                _open[str(flow_run.id)] = summary
        return summary

    def manifest(self) -> RunManifest | None:
        try:
            return RunManifest.model_validate_json((self.config.run_dir / "manifest.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None

    def update(self, *, status: str | None = None, examples: bool = False) -> str:
        """Re-render the artifact from the manifest; returns the markdown."""
        manifest = self.manifest()
        if manifest is None:
            return ""
        status = status or running_status(manifest)
        markdown = f"**{status}**\n\n" + render_report(manifest, self.config.run_dir, examples=examples)
        if self.artifact_id is not None:
            with _reported("update the run summary"), get_client(sync_client=True) as client:
                client.update_artifact(self.artifact_id, ArtifactUpdate(data=markdown))
        return markdown

    def finish(self) -> str:
        """The final summary (with examples) and the closing log line; returns that line."""
        seconds = time.monotonic() - self.started
        self.update(status=f"finished in {seconds:.0f} s", examples=True)
        manifest = self.manifest()
        line = (
            closing_line(manifest, self.config.run_dir, seconds)
            if manifest
            else f"refresh {self.config.run_name}: finished"
        )
        monitoring.log_info(line)
        self._close()
        return line

    def fail(self, message: str) -> None:
        manifest = self.manifest()
        stage = running_stage(manifest) if manifest else None
        where = f" in {stage}" if stage else ""
        self.update(status=f"failed{where}: {message}")
        self._close()

    def _close(self) -> None:
        with _lock:
            for key in [k for k, v in _open.items() if v is self]:
                del _open[key]


@contextlib.contextmanager
def _reported(what: str) -> Iterator[None]:
    """Monitoring never fails a refresh: an API error here (after the client's own retries) is logged."""
    try:
        yield
    except (httpx.HTTPError, PrefectHTTPStatusError) as exc:
        monitoring.log.warning("could not %s: %s", what, exc)


def on_refresh_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_failure`` hook: the summary artifact says the run failed, where, and why."""
    with _lock:
        summary = _open.get(str(flow_run.id))
    if summary is not None:
        try:
            summary.fail(str(state.message or "failed"))
        except Exception as exc:  # a hook must not hide the run's own failure
            monitoring.log.warning("could not update the run summary: %s", exc)


def running_stage(manifest: RunManifest) -> str | None:
    """The stage that started and has not finished, if any."""
    return next((name for name, r in manifest.stages.items() if not r.finished_at), None)


def running_status(manifest: RunManifest) -> str:
    if stage := running_stage(manifest):
        return f"running: {stage}"
    done = [s for s in STAGE_ORDER if s in manifest.stages]
    return f"running: {done[-1]} finished" if done else "running"


def closing_line(manifest: RunManifest, run_dir: Path, seconds: float) -> str:
    """One log line with the summary's numbers (stages, pass rates, rejections, splits, changes, dataset)."""
    stages = manifest.stages
    parts = [f"refresh {manifest.run_name} finished in {seconds:.0f} s"]
    if ingest := stages.get("ingest"):
        parts.append(f"ingest {ingest.counts.get('tools', 0)} tools")
    if generate := stages.get("generate"):
        c = generate.counts
        parts.append(
            f"generate {c.get('items', 0)} items -> {c.get('samples', 0)} samples, {c.get('failures', 0)} failures"
        )
    if verify := stages.get("verify"):
        c = verify.counts
        parts.append(
            f"verify {c.get('accepted', 0)} of {c.get('samples', 0)} accepted, {c.get('rejected', 0)} rejected"
        )
        if recorded := verify.details.get("summary"):
            summary = VerdictSummary.from_dict(recorded)
            rates = ", ".join(
                f"{name} {row['pass_rate']:.0%}"
                for name, row in summary.per_verifier().items()
                if row["pass_rate"] is not None
            )
            if rates:
                parts.append(f"pass rates {rates}")
            top = summary.top_rejections(3)
            if top:
                parts.append(
                    "top rejections " + ", ".join(f"{r['verifier']}/{r['code']} {r['samples']}" for r in top)
                )
    if assemble := stages.get("assemble"):
        details = assemble.details
        parts.append("splits " + ", ".join(f"{k} {v}" for k, v in assemble.counts.items()))
        if changes := details.get("changes"):
            parts.append(changes_phrase(VersionChanges.from_dict(changes)))
        publication = str(details.get("publication") or "none")
        where = details.get("version_dir") or (run_dir / assemble.paths.get("dataset", "dataset")).resolve()
        parts.append(
            f"dataset {details.get('dataset_name') or '-'} {details.get('version')} "
            f"({PUBLICATION_TEXT.get(publication, publication)}): {where}"
        )
    return "; ".join(parts)


def changes_phrase(changes: VersionChanges) -> str:
    """``tools +3 ~1 -0, samples +41 -7 since <version>`` (samples unknown: ``?``)."""
    added = [r.added for r in changes.splits]
    retired = [r.retired for r in changes.splits]
    known = all(n is not None for n in added + retired)
    samples = f"+{sum(n or 0 for n in added)} -{sum(n or 0 for n in retired)}" if known else "?"
    since = changes.previous or "nothing (first version)"
    return (
        f"changes tools +{len(changes.tools_added)} ~{len(changes.tools_changed)} "
        f"-{len(changes.tools_removed)}, samples {samples} since {since}"
    )
