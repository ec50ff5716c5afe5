"""The incremental sample store and the versioned datasets built from it.

    store = SampleStore(Path("data/store"))
    store.diff(catalog)                  # tools added / changed / removed since the last add, samples that move
    plan = build_plan(catalog, config, satisfied=store.satisfied(catalog))   # only what is missing
    store.add(accepted, catalog, run="nightly-42")
    store.retire(catalog)                # samples of changed or removed tools: kept on disk, never exported
    samples = store.active_samples(catalog)

**Keying.** A sample is keyed by the fingerprints of the tools it *calls*: those decide whether it is
still right (a changed schema can make its arguments wrong; a changed description can make its query
point elsewhere). Its distractors only need to still exist — a distractor whose description changed
is rendered with the new schema and the sample stays valid, since no call depends on it. An
``irrelevance`` sample calls nothing and its label ("none of these fits") depends on every offered
tool, so it is keyed by all of them. ``satisfied`` counts active samples per *subject* (the tool a
sample counts for in the generation plan: its first call, or for ``irrelevance`` the tool its query is
about when the caller passes ``subjects``).

**On disk** (``root/``): ``samples/part-NNNNNN.parquet`` (one per ``add``), ``retired/part-*.parquet``
(one per ``retire``), ``tools/part-*.parquet`` (the catalog's fingerprints as of each ``add``), and
``index.json``, rewritten atomically after each new part. A part is only read when the index lists it,
so a crash between the two leaves an orphan file that is ignored, never a half-read store. Existing
parts are never rewritten. One writer at a time.

**Versions** (``DatasetVersions``): each build is published to ``versions/<version>/`` through a
temporary directory, and only then is ``LATEST`` (a one-line file naming the version) replaced
atomically. A file rather than a symlink: it works on every filesystem and in object-store syncs, and
readers need no link semantics. An interrupted build leaves ``LATEST`` and every published version as
they were.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from schemas import atomic
from schemas.canonical import content_hash
from schemas.catalog import Catalog
from schemas.errors import RecordError
from schemas.manifest import utc_now
from schemas.models import Sample

INDEX_FILE = "index.json"
LATEST_FILE = "LATEST"
_LISTED = 10  # added tools named in a diff summary (a first run adds the whole catalog)
_KINDS = ("samples", "retired", "tools")
_SCHEMAS: dict[str, dict[str, Any]] = {
    "samples": {
        "id": pl.String,
        "key": pl.String,
        "key_tools": pl.List(pl.String),
        "key_fingerprints": pl.List(pl.String),
        "subject": pl.String,
        "offered": pl.List(pl.String),
        "tier": pl.Int64,
        "style": pl.String,
        "language": pl.String,
        "run": pl.String,
        "added_at": pl.String,
        "record": pl.String,
    },
    "retired": {"id": pl.String, "key": pl.String, "reason": pl.String, "retired_at": pl.String},
    "tools": {"name": pl.String, "fingerprint": pl.String, "seen_at": pl.String},
}


@dataclass
class StoreDiff:
    """How a catalog differs from the one the store last saw, and which samples that moves."""

    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: int
    retiring: dict[str, int]  # changed/removed tool -> stored samples keyed on its old fingerprint
    samples_retiring: int  # distinct samples that leave the active set under this catalog
    samples_kept: int  # distinct samples still active under this catalog

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        lines = [
            f"tools: {len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{self.unchanged} unchanged; samples: {self.samples_kept} kept, {self.samples_retiring} retiring"
        ]
        if self.added:
            shown = ", ".join(self.added[:_LISTED])
            more = f" and {len(self.added) - _LISTED} more" if len(self.added) > _LISTED else ""
            lines.append(f"  added: {shown}{more}")
        for label, names in (("changed", self.changed), ("removed", self.removed)):
            lines += [f"  {label}: {name} ({self.retiring.get(name, 0)} samples retiring)" for name in names]
        return "\n".join(lines)


def sample_key(sample: Sample, fingerprints: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(tool names, their fingerprints) that decide the sample's validity (see the module docstring)."""
    names = sorted({c.name for c in sample.calls}) if sample.calls else sorted(set(sample.tools))
    return names, [fingerprints[n] for n in names]


class SampleStore:
    """Accepted samples kept across runs, keyed by tool fingerprint (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # ----------------------------------------------------------------------------------- index, parts

    def _index(self) -> dict[str, Any]:
        path = self.root / INDEX_FILE
        if not path.exists():
            return {"format_version": 1, "next_part": 0, **{kind: [] for kind in _KINDS}}
        try:
            index = json.loads(path.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            raise RecordError(f"{path}: the store index is not valid JSON: {exc}") from exc
        if index.get("format_version") != 1 or any(not isinstance(index.get(k), list) for k in _KINDS):
            raise RecordError(
                f"{path}: expected a callforge store index (format_version 1 with {list(_KINDS)})"
            )
        return index

    def _scan(self, kind: str) -> pl.LazyFrame:
        files = [str(self.root / entry["file"]) for entry in self._index()[kind]]
        if not files:
            return pl.LazyFrame(schema=_SCHEMAS[kind])
        return pl.scan_parquet(files)

    def _append(self, kind: str, frame: pl.DataFrame) -> None:
        """Write ``frame`` as a new part, then list it in the index (the commit point)."""
        index = self._index()
        number = index["next_part"]
        relative = f"{kind}/part-{number:06d}.parquet"
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd")
        atomic.write_bytes(self.root / relative, buffer.getvalue())
        index[kind].append({"file": relative, "rows": frame.height, "written_at": utc_now()})
        index["next_part"] = number + 1
        atomic.write_text(self.root / INDEX_FILE, json.dumps(index, indent=2) + "\n")

    def _snapshot(self) -> dict[str, str]:
        """tool name -> fingerprint of the catalog the store last saw (empty for a new store)."""
        parts = self._index()["tools"]
        if not parts:
            return {}
        frame = pl.read_parquet(self.root / parts[-1]["file"])
        return dict(zip(frame["name"].to_list(), frame["fingerprint"].to_list(), strict=True))

    # ---------------------------------------------------------------------------------------- status

    def _status(self, catalog: Catalog) -> pl.LazyFrame:
        """Every stored, unretired (id, key) with ``active`` and, when inactive, the ``reason``."""
        rows = self._scan("samples").join(
            self._scan("retired").select("id", "key"), on=["id", "key"], how="anti"
        )
        current = pl.LazyFrame(
            {"name": [t.name for t in catalog], "current": [t.fingerprint for t in catalog]},
            schema={"name": pl.String, "current": pl.String},
        )
        keyed = (
            rows.select("id", "key", "key_tools", "key_fingerprints")
            .explode("key_tools", "key_fingerprints")
            .join(current, left_on="key_tools", right_on="name", how="left")
            .group_by("id", "key")
            .agg(
                removed=pl.col("current").is_null().any(),
                changed=(pl.col("current") != pl.col("key_fingerprints")).fill_null(False).any(),
            )
        )
        offered = (
            rows.select("id", "key", "offered")
            .explode("offered")
            .group_by("id", "key")
            .agg(offered_missing=(~pl.col("offered").is_in([t.name for t in catalog])).any())
        )
        return (
            rows.drop("record")
            .join(keyed, on=["id", "key"], how="left")
            .join(offered, on=["id", "key"], how="left")
            .with_columns(
                reason=pl.when(pl.col("removed"))
                .then(pl.lit("tool_removed"))
                .when(pl.col("changed"))
                .then(pl.lit("tool_changed"))
                .when(pl.col("offered_missing"))
                .then(pl.lit("offered_tool_removed"))
                .otherwise(pl.lit(None, dtype=pl.String))
            )
            .with_columns(active=pl.col("reason").is_null())
        )

    def satisfied(self, catalog: Catalog) -> dict[str, int]:
        """tool name -> active samples held for it as subject, under the tools' current fingerprints."""
        counts = (
            self._status(catalog)
            .filter(pl.col("active") & pl.col("subject").is_not_null())
            .unique("id")
            .group_by("subject")
            .agg(samples=pl.len())
            .sort("subject")
            .collect()
        )
        return {name: n for name, n in counts.iter_rows() if name in catalog}

    def diff(self, catalog: Catalog) -> StoreDiff:
        """Compare ``catalog`` with the catalog of the last ``add`` and count the samples that move."""
        before = self._snapshot()
        now = {t.name: t.fingerprint for t in catalog}
        added = sorted(set(now) - set(before))
        removed = sorted(set(before) - set(now))
        changed = sorted(n for n in set(now) & set(before) if now[n] != before[n])
        status = self._status(catalog).collect()
        moved = (
            status.filter(~pl.col("active"))
            .select("id", "key_tools", "key_fingerprints")
            .explode("key_tools", "key_fingerprints")
            .filter(pl.col("key_tools").is_in([*changed, *removed]))
            .group_by("key_tools")
            .agg(samples=pl.col("id").n_unique())
        )
        return StoreDiff(
            added=added,
            changed=changed,
            removed=removed,
            unchanged=len(set(now) & set(before)) - len(changed),
            retiring=dict(moved.sort("key_tools").iter_rows()),
            samples_retiring=status.filter(~pl.col("active"))["id"].n_unique(),
            samples_kept=status.filter(pl.col("active"))["id"].n_unique(),
        )

    # --------------------------------------------------------------------------------------- changes

    def add(
        self,
        samples: Iterable[Sample],
        catalog: Catalog,
        *,
        run: str | None = None,
        subjects: Mapping[str, str] | None = None,
    ) -> int:
        """Store accepted samples (one new part) and the catalog's fingerprints; returns how many were new.

        Samples already held under the same key, and samples whose key tools are not in ``catalog``, are
        skipped. ``subjects`` maps sample id -> the plan's subject tool (see the module docstring).
        """
        fingerprints = {t.name: t.fingerprint for t in catalog}
        existing = set(
            self._scan("samples").select(pl.concat_str("id", "key", separator="\0")).collect().to_series()
        )
        now = utc_now()
        rows: list[dict[str, Any]] = []
        for sample in samples:
            if any(c.name not in fingerprints for c in sample.calls) or any(
                t not in fingerprints for t in sample.tools
            ):
                continue
            names, prints = sample_key(sample, fingerprints)
            key = content_hash([names, prints], length=24)
            if f"{sample.id}\0{key}" in existing:
                continue
            existing.add(f"{sample.id}\0{key}")
            subject = (subjects or {}).get(sample.id) or (sample.calls[0].name if sample.calls else None)
            rows.append(
                {
                    "id": sample.id,
                    "key": key,
                    "key_tools": names,
                    "key_fingerprints": prints,
                    "subject": subject,
                    "offered": list(sample.tools),
                    "tier": sample.tier,
                    "style": sample.style.value,
                    "language": sample.language,
                    "run": run,
                    "added_at": now,
                    "record": sample.model_dump_json(),
                }
            )
        if rows:
            self._append("samples", pl.DataFrame(rows, schema=_SCHEMAS["samples"]))
        if self._snapshot() != fingerprints:
            tools = pl.DataFrame(
                {
                    "name": list(fingerprints),
                    "fingerprint": list(fingerprints.values()),
                    "seen_at": [now] * len(fingerprints),
                },
                schema=_SCHEMAS["tools"],
            )
            self._append("tools", tools)
        return len(rows)

    def retire(self, catalog: Catalog) -> dict[str, int]:
        """Mark every stored sample that is invalid under ``catalog`` as retired; returns reason -> count.

        Retired samples stay on disk (for audit) and are never active again.
        """
        inactive = self._status(catalog).filter(~pl.col("active")).select("id", "key", "reason").collect()
        if inactive.height:
            self._append(
                "retired",
                inactive.with_columns(retired_at=pl.lit(utc_now())).select(list(_SCHEMAS["retired"])),
            )
        return dict(inactive.group_by("reason").agg(pl.len()).sort("reason").iter_rows())

    def active_records(self, catalog: Catalog) -> pl.DataFrame:
        """``(id, record)`` of the samples valid under ``catalog``: one per id (the latest added), in the
        order they were added; ``record`` is the sample's JSON."""
        active = self._status(catalog).filter(pl.col("active")).select("id", "key")
        return (
            self._scan("samples")
            .with_row_index("order")
            .join(active, on=["id", "key"], how="semi")
            .sort("order")
            .unique("id", keep="last", maintain_order=True)
            .select("id", "record")
            .collect()
        )

    def parse(self, records: pl.DataFrame, known: Mapping[str, Sample] | None = None) -> list[Sample]:
        """Samples from ``active_records`` rows (``known`` ones reused by id); a record that is no longer
        a valid sample is an error naming its id."""
        known = known or {}
        out: list[Sample] = []
        for sample_id, record in records.select("id", "record").iter_rows():
            if sample_id in known:
                out.append(known[sample_id])
                continue
            try:
                out.append(Sample.model_validate_json(record))
            except ValueError as exc:
                raise RecordError(f"{self.root}: stored sample {sample_id}: invalid record: {exc}") from exc
        return out

    def active_samples(self, catalog: Catalog) -> list[Sample]:
        """The samples valid under ``catalog`` (one per id, the latest added), in the order they were added."""
        return self.parse(self.active_records(catalog))


# ------------------------------------------------------------------------------------------ versions


def _link_or_copy(source: str, target: str) -> None:
    # Hard links cost nothing and are safe: published files are never modified in place.
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


class DatasetVersions:
    """``root/versions/<version>/`` plus a ``LATEST`` file naming the current one."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def latest(self) -> str | None:
        path = self.root / LATEST_FILE
        return (path.read_text("utf-8").strip() or None) if path.exists() else None

    def path(self, version: str) -> Path:
        return self.root / "versions" / version

    def versions(self) -> list[str]:
        folder = self.root / "versions"
        return (
            sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
            if folder.exists()
            else []
        )

    def content_hash(self, version: str) -> str | None:
        """The ``content_hash`` a published version's ``manifest.json`` records (None if unreadable)."""
        try:
            manifest = json.loads((self.path(version) / "manifest.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        value = manifest.get("content_hash") if isinstance(manifest, dict) else None
        return value if isinstance(value, str) else None

    def find(self, content: str) -> str | None:
        """The published version whose exports hash to ``content``: ``LATEST`` first, then newest first.

        This is what makes an unchanged refresh publish nothing: the same content is the same version.
        """
        latest = self.latest()
        candidates = ([latest] if latest else []) + [v for v in reversed(self.versions()) if v != latest]
        return next((v for v in candidates if self.content_hash(v) == content), None)

    def publish(self, source: Path, version: str) -> Path:
        """Copy (hard-link) ``source`` to ``versions/<version>/``, then point ``LATEST`` at it."""
        target = self.path(version)
        with atomic.directory(target) as tmp:
            shutil.copytree(source, tmp, dirs_exist_ok=True, copy_function=_link_or_copy)
        self.point_latest(version)
        return target

    def point_latest(self, version: str) -> None:
        """Make ``version`` (already published) the current one."""
        if not self.path(version).is_dir():
            raise RecordError(f"{self.path(version)}: no such published version")
        atomic.write_text(self.root / LATEST_FILE, version + "\n")
