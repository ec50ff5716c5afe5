"""The run's own record on disk: ``runs/<run>/manifest.json`` after each stage, and ``report.md``.

    record = RunRecord.open(run_dir, "gennx-20261120-004000")
    record.begin("generate")
    record.finish("generate", counts={"samples": 812}, paths={"candidates": "candidates"})

``finish`` also re-renders ``report.md`` (``flows.report``). Both files are written atomically, so a crash mid-stage leaves the previous stage's record readable.
The manifest's ``finished_at`` of ``assemble`` is what marks a run complete (a run without it is
resumed by the next refresh, see ``flows.run_ownership``). Nothing here imports Prefect.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas import atomic
from schemas.manifest import RunManifest, SpecEntry, StageRecord, utc_now

if TYPE_CHECKING:
    from trainer.dataset.assembly import AssembleResult

MANIFEST_FILE = "manifest.json"
REPORT_FILE = "report.md"
_VERSIONED = ("callforge", "prefect", "pydantic", "polars", "transformers", "trl", "datasets")


def package_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in _VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


class RunRecord:
    """Load-modify-save access to one run's manifest (one writer: the flow driving the run)."""

    def __init__(self, run_dir: Path, manifest: RunManifest) -> None:
        self.run_dir = run_dir
        self.manifest = manifest

    @classmethod
    def open(cls, run_dir: str | Path, run_name: str) -> RunRecord:
        """The run's manifest, or a new one (not yet written) when the run is new."""
        manifest = RunManifest.load_or_new(run_dir, run_name=run_name, versions=package_versions())
        return cls(Path(run_dir), manifest)

    @property
    def path(self) -> Path:
        return self.run_dir / MANIFEST_FILE

    def save(self) -> Path:
        return atomic.write_text(self.path, self.manifest.model_dump_json(indent=2) + "\n")

    def set_specs(self, specs: list[SpecEntry]) -> None:
        self.manifest.specs = list(specs)
        self.save()

    def begin(self, stage: str) -> StageRecord:
        """Mark ``stage`` started (a rerun of a stage replaces its previous record)."""
        record = StageRecord(stage=stage)
        self.manifest.stages[stage] = record
        self.save()
        return record

    def finish(
        self,
        stage: str,
        *,
        counts: Mapping[str, int] | None = None,
        paths: Mapping[str, str | Path] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> StageRecord:
        """Mark ``stage`` finished with its counts, paths (made relative to the run) and details."""
        record = self.manifest.stages.get(stage) or StageRecord(stage=stage)
        record.finished_at = utc_now()
        record.counts = {k: int(v) for k, v in (counts or {}).items()}
        record.paths = {k: self._relative(v) for k, v in (paths or {}).items()}
        record.details = dict(details or {})
        self.manifest.stages[stage] = record
        self.save()
        self.write_report()
        return record

    def write_report(self) -> Path:
        """Re-render ``report.md`` from the manifest (done after every finished stage)."""
        from flows.report import render_report

        return atomic.write_text(self.run_dir / REPORT_FILE, render_report(self.manifest, self.run_dir))

    @property
    def report_path(self) -> Path:
        return self.run_dir / REPORT_FILE

    def _relative(self, value: str | Path) -> str:
        path = Path(value)
        try:
            return str(path.resolve().relative_to(self.run_dir.resolve()))
        except ValueError:
            return str(path)


def finish_assembly(record: RunRecord, result: AssembleResult) -> StageRecord:
    """Record a finished ``assemble`` stage (the flow and ``callforge assemble`` both call this)."""
    paths: dict[str, str | Path] = {"dataset": result.dataset_dir}
    if result.version_dir is not None:
        paths["version"] = result.version_dir
    counts = result.stage_counts()
    return record.finish(
        "assemble", counts=counts, paths=paths, details={**result.stage_details(), "splits": counts}
    )
