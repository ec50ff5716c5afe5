"""Assemble a run's verified samples into a split, exported, versioned dataset.

    result = assemble(Path("data/runs/nightly"), AssembleConfig(split={"seed": 7}), store=SampleStore(Path("data/store")))
    result.dataset_dir        # data/runs/nightly/dataset (hf/, trl/, xlam/, flat/, README.md, manifest.json)
    result.version_dir        # data/datasets/callforge/versions/<version> (with a store)
    print(result.report.table())

In: ``run_dir/catalog/`` and ``run_dir/verified/shard-*.parquet`` (plus verdicts, rejections and
generation failures for the card; ``plan/items.jsonl`` when present, to know each sample's subject).
Out: ``run_dir/dataset/`` replaced atomically (a failure leaves the previous dataset as it was), the
run manifest's ``assemble`` stage, and with a store, a new dataset version whose ``LATEST`` pointer
moves only once the version is complete (none when the content is already published, see ``assemble``). No Prefect here; ``flows`` wraps this function.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from schemas import atomic
from schemas.catalog import Catalog
from schemas.errors import RecordError
from schemas.manifest import utc_now
from schemas.models import Sample
from schemas.shards import read_samples
from trainer.dataset.card import (
    attached_summary,
    build_manifest,
    build_report,
    export_hash,
    provenance_counts,
    render_card,
    run_statistics,
)
from trainer.dataset.changes import SAMPLE_IDS_FILE, VersionChanges, split_ids, version_changes
from trainer.dataset.config import DEFAULT_MAX_LENGTH, AssembleConfig
from trainer.dataset.encoders import Encoders
from trainer.dataset.exports import write_exports
from trainer.dataset.lengths import LengthReport, Meter, fit_training_rows
from trainer.dataset.quotas import quota_report
from trainer.dataset.splits import (
    Clusterer,
    SplitReport,
    SplitResult,
    default_clusterer,
    finish_split,
    prepare_split,
)
from trainer.dataset.store import DatasetVersions, SampleStore, StoreDiff

log = logging.getLogger(__name__)


@dataclass
class AssembleResult:
    """Where the dataset went and what it holds."""

    dataset_dir: Path
    version: str
    report: SplitReport
    manifest: dict[str, Any]
    version_dir: Path | None = None
    diff: StoreDiff | None = None  # the catalog against the store, before this run's samples were added
    added: int = 0  # samples this run added to the store
    retired: dict[str, int] = field(default_factory=dict)  # reason -> samples retired from the store
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase
    # What publishing did (with a store): "new" (a version was written and LATEST moved to it),
    # "unchanged" (LATEST already holds this content: nothing written), "restored" (an older version
    # holds it: LATEST moved back to it), "off" (publish=False: nothing written); "none" without a store.
    publication: str = "none"
    dataset_name: str | None = None
    previous_version: str | None = None  # LATEST before this assembly
    changes: VersionChanges | None = None  # against previous_version (with a store)

    @property
    def published(self) -> bool:
        """A version was written or LATEST moved: what the dataset event and its trigger should follow."""
        return self.publication in ("new", "restored")

    def stage_counts(self) -> dict[str, int]:
        """Samples per split, as the run manifest's ``assemble`` stage records them."""
        return {name: int(n) for name, n in self.report.totals().items()}

    def stage_details(self) -> dict[str, Any]:
        """What the run manifest's ``assemble`` stage records besides counts (the caller writes it:
        the run manifest has one writer, ``flows.run_record``)."""
        return {
            "version": self.version,
            "version_dir": str(self.version_dir) if self.version_dir else None,
            "held_out_tools": self.report.held_out_tools,
            "dropped": self.report.dropped,
            "redrawn": self.report.redrawn,
            "added_to_store": self.added,
            "retired": self.retired,
            "publication": self.publication,
            "dataset_name": self.dataset_name,
            "previous_version": self.previous_version,
            "changes": self.changes.to_dict() if self.changes else None,
        }


def load_verified(run_dir: Path) -> list[Sample]:
    """Every sample in ``run_dir/verified/shard-*.parquet``, in shard order."""
    shards = sorted((run_dir / "verified").glob("shard-*.parquet"))
    return [sample for shard in shards for sample in read_samples(shard)]


def _queries(records: pl.LazyFrame) -> list[str]:
    return records.select(pl.col("record").str.json_path_match("$.query")).collect().to_series().to_list()


def load_subjects(run_dir: Path, samples: list[Sample]) -> dict[str, str]:
    """sample id -> the plan's subject tool, from ``plan/items.jsonl`` (empty without a plan)."""
    path = run_dir / "plan" / "items.jsonl"
    if not path.exists():
        return {}
    try:
        items = pl.read_ndjson(path).select("id", "subject")
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise RecordError(f"{path}: expected one work item per line with 'id' and 'subject': {exc}") from exc
    subject_of = dict(items.iter_rows())
    return {
        s.id: subject_of[s.provenance.work_item]
        for s in samples
        if s.provenance.work_item and s.provenance.work_item in subject_of
    }


class _Clock:
    """Wall time per phase, for the result and the debug log."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = round(now - self._last, 3)
        self._last = now


@contextlib.contextmanager
def _bulk() -> Iterator[None]:
    """Pause the cyclic garbage collector while ~10 objects per sample are built.

    With it running, full collections walk every live sample again and again: reading 100,000 samples
    took 18 s instead of 8 s (measured). Samples hold no reference cycles, so nothing piles up.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def assemble(
    run_dir: Path,
    config: AssembleConfig,
    *,
    store: SampleStore | None = None,
    clusterer: Clusterer | None = None,
    meter: Meter | None = None,
    publish: bool = True,
    attachments: Mapping[str, Path] | None = None,
) -> AssembleResult:
    """Split, export and (with a store) version the run's verified samples. See the module docstring.

    With ``store`` the dataset is built from the store's active samples after this run's are added
    and the samples of changed or removed tools are retired. ``clusterer`` overrides the near-duplicate
    clustering (default ``verifiers.dedup.near_duplicate_clusters``). ``meter`` counts a TRL record's
    tokens (``trainer.row_lengths.row_meter``): with it and ``config.lengths.check``, training rows are
    fitted to ``config.lengths.max_length`` (``trainer.dataset.lengths``) and the card reports lengths.

    Publishing (with a store) goes to ``<datasets_root>/<dataset_name>/``: exports that hash like a
    published version *are* that version (nothing is written, ``LATEST`` stays or moves back to it);
    new content becomes a new version. ``publish=False`` writes only ``run_dir/dataset`` (a quick or
    on-demand run that should not move ``LATEST``); the changes are still computed against it.

    ``attachments`` (name -> folder) are folders other stages wrote for the dataset (the multi-turn
    stage's ``multi_turn``): each is copied in under its name before the dataset is hashed, so it is part
    of the version's content and of what a published version carries. A folder that is missing is an
    error, not a dataset without it.
    """
    with _bulk():
        return _assemble(Path(run_dir), config, store, clusterer, meter, publish, attachments or {})


def _fit_lengths(
    split: SplitResult, catalog: Catalog, config: AssembleConfig, meter: Meter
) -> tuple[SplitResult, LengthReport]:
    """Training rows fitted to max_length, and the split report recounted over the fitted splits."""
    splits, lengths = fit_training_rows(
        split.splits,
        {t.name: t for t in catalog},
        config.export,
        meter,
        config.lengths,
        max_length=config.lengths.max_length or DEFAULT_MAX_LENGTH,
    )
    if splits is split.splits:
        return split, lengths
    dropped = dict(split.dropped)
    if lengths.dropped_ids:
        dropped["longer_than_max_length"] = lengths.dropped_ids
    frame = pl.DataFrame(
        [
            {"split": name, "tier": s.tier, "style": s.style.value, "language": s.language}
            for name, samples in splits.items()
            for s in samples
        ],
        schema={"split": pl.String, "tier": pl.Int64, "style": pl.String, "language": pl.String},
    )
    old = split.report
    report = build_report(
        frame,
        splits,
        held_out=old.held_out_tools,
        holdout=old.holdout,
        seed=old.seed,
        dropped={reason: len(ids) for reason, ids in dropped.items()},
        redrawn=old.redrawn,
    )
    return SplitResult(splits=splits, held_out=split.held_out, report=report, dropped=dropped), lengths


def _assemble(
    run_dir: Path,
    config: AssembleConfig,
    store: SampleStore | None,
    clusterer: Clusterer | None,
    meter: Meter | None,
    publish: bool,
    attachments: Mapping[str, Path],
) -> AssembleResult:
    clock = _Clock()
    for name, folder in attachments.items():
        if not (folder / "manifest.json").is_file():
            raise RecordError(
                f"{folder}: nothing to attach to the dataset as {name}/ "
                "(no manifest.json: the stage that writes this folder has not finished)"
            )
    catalog = Catalog.load(run_dir / "catalog")
    cluster = clusterer or default_clusterer(config.split.near_duplicate_threshold)
    diff: StoreDiff | None = None
    added = 0
    retired: dict[str, int] = {}
    if store is None:
        shards = sorted((run_dir / "verified").glob("shard-*.parquet"))
        records = (
            pl.scan_parquet([str(p) for p in shards])
            if shards
            else pl.LazyFrame(schema={"record": pl.String})
        )
        queries = _queries(records)
        load: Callable[[], list[Sample]] = functools.partial(load_verified, run_dir)
    else:
        run_samples = load_verified(run_dir)
        diff = store.diff(catalog)
        added = store.add(
            run_samples, catalog, run=run_dir.name, subjects=load_subjects(run_dir, run_samples)
        )
        retired = store.retire(catalog)
        active = store.active_records(catalog)
        known = {s.id: s for s in run_samples}
        queries = _queries(active.lazy())
        load = functools.partial(store.parse, active, known)
    encoders = Encoders(catalog, config.export)
    # The near-duplicate clusters are the slowest input of the split and need only the queries: they
    # are computed on a second thread while the samples load, the split is prepared and every sample
    # is encoded for export (numpy releases the GIL, so on two cores the two overlap).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="callforge-cluster") as pool:
        pending = pool.submit(cluster, queries)
        samples = load()
        if not samples:
            raise RecordError(
                f"{run_dir / 'verified'}: no verified samples to assemble (run `callforge verify` first)"
            )
        prepared = prepare_split(samples, catalog, config.split)
        encoders.warm(prepared.kept)
        # Neither needs the split: counted while the clusters are still being computed.
        stats = run_statistics(run_dir)
        provenance = provenance_counts(samples)
        clusters = pending.result()
    if [s.query for s in samples] != queries:  # the records and the parsed samples must agree
        clusters = cluster([s.query for s in samples])
    clock.lap("load_cluster_encode")
    split = finish_split(prepared, clusters, config.split)
    clock.lap("split")
    lengths: LengthReport | None = None
    if meter is not None and config.lengths.check:
        split, lengths = _fit_lengths(split, catalog, config, meter)
        clock.lap("lengths")
    quotas = quota_report(run_dir, catalog, store.satisfied(catalog) if store is not None else None)
    created_at = utc_now()
    versions = (
        DatasetVersions((config.datasets_root or store.root.parent / "datasets") / config.name)
        if store is not None
        else None
    )
    previous = versions.latest() if versions else None
    ids = split_ids(split.splits)
    changes = (
        version_changes(
            diff, ids, previous=previous, previous_dir=versions.path(previous) if previous else None
        )
        if versions
        else None
    )
    with atomic.directory(run_dir / "dataset") as out:
        rows = write_exports(out, split.splits, catalog, config.export, encoders)
        for name, folder in attachments.items():
            if (out / name).exists():
                raise RecordError(f"{folder}: cannot attach as {name}/: the dataset's exports use that name")
            shutil.copytree(folder, out / name)
        clock.lap("export")
        content = export_hash(out)
        same = versions.find(content) if versions else None
        # The same content is the same version: the name (and so the dataset a trainer reads) stays.
        version = same or f"{created_at.replace('-', '').replace(':', '')}-{content[:8]}"
        atomic.write_text(out / SAMPLE_IDS_FILE, json.dumps(ids) + "\n")
        manifest = build_manifest(
            version=version,
            created_at=created_at,
            run=run_dir.name,
            seed=config.split.seed,
            catalog=catalog,
            report=split.report,
            rows=rows,
            content=content,
            provenance=provenance,
            options=config.options(),
        )
        if diff is not None:
            manifest["store"] = {"diff": diff.to_dict(), "added": added, "retired": retired}
        if lengths is not None:
            manifest["lengths"] = lengths.to_dict()
        if quotas is not None:
            manifest["quotas"] = quotas
        if changes is not None:
            manifest["changes"] = changes.to_dict()
        if attachments:
            manifest["attached"] = {name: attached_summary(out / name) for name in attachments}
        atomic.write_text(out / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        atomic.write_text(out / "README.md", render_card(manifest, split.report, stats))
    clock.lap("card")

    version_dir, publication = None, "none"
    if versions is not None:
        if not publish:
            publication = "off"
        elif same is not None and same == previous:
            publication, version_dir = "unchanged", versions.path(same)
        elif same is not None:
            versions.point_latest(same)
            publication, version_dir = "restored", versions.path(same)
        else:
            publication, version_dir = "new", versions.publish(run_dir / "dataset", version)
        clock.lap("publish")
    result = AssembleResult(
        dataset_dir=run_dir / "dataset",
        version=version,
        report=split.report,
        manifest=manifest,
        version_dir=version_dir,
        diff=diff,
        added=added,
        retired=retired,
        seconds=clock.seconds,
        publication=publication,
        dataset_name=config.name if versions else None,
        previous_version=previous,
        changes=changes,
    )
    log.debug("assemble %s: %s", run_dir, clock.seconds)
    return result
