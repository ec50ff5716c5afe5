"""``runs/<run>/report.md``: the run for people, rendered from its manifest (no Prefect here).

The same markdown is the ``<spec>-run-summary`` artifact. Every section comes from what the stages
recorded in ``manifest.json`` (counts, paths, details), plus a few example samples read from the
first verified shard, so the report can be re-rendered at any time from the run directory alone.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from flows import tables
from schemas.errors import RecordError
from schemas.manifest import RunManifest, StageRecord
from schemas.models import Sample
from schemas.shards import read_samples
from trainer.dataset.changes import VersionChanges
from verifiers.summary import VerdictSummary

STAGE_ORDER = ("ingest", "generate", "verify", "assemble", "train", "evaluate")
EXAMPLES = 3


def render_report(manifest: RunManifest, run_dir: Path, *, examples: bool = True) -> str:
    """The whole report: header, stage table, then one section per stage that recorded details.

    ``examples=False`` leaves out the example samples (the refresh run's summary artifact while the
    run is going: it is re-rendered after every stage and must stay cheap).
    """
    stages = [manifest.stages[s] for s in STAGE_ORDER if s in manifest.stages]
    stages += [r for name, r in manifest.stages.items() if name not in STAGE_ORDER]
    specs = (
        ", ".join(f"{s.title or s.file} {s.version}".strip() for s in manifest.specs) or "(not ingested yet)"
    )
    parts = [
        f"# callforge run `{manifest.run_name}`\n",
        f"- spec: {specs}\n- created: {manifest.created_at}\n- run directory: `{run_dir}`\n",
        "## Stages\n",
        tables.markdown_table([_stage_row(r) for r in stages]),
    ]
    details = {r.stage: r.details for r in stages}
    if "ingest" in details:
        tiers = details["ingest"].get("tiers", {})
        parts += [
            "## Catalog\n",
            tables.markdown_table([{"tier": t, "tools": n} for t, n in sorted(tiers.items())]),
        ]
    if stats := details.get("generate", {}).get("teacher_stats"):
        teacher = str(details["generate"].get("teacher", ""))
        parts += ["## Teacher\n", tables.markdown_table(tables.teacher_rows(stats, model=teacher))]
    if recorded := details.get("verify", {}).get("summary"):
        summary = VerdictSummary.from_dict(recorded)
        parts += [
            "## Verifier pass rates (per tier)\n",
            tables.markdown_table(tables.pass_rate_rows(summary)),
        ]
        parts += [
            "## Top rejection reasons (per tier)\n",
            tables.markdown_table(tables.rejection_rows(summary)),
        ]
        parts += [
            "## Verifier warnings (samples per class; a warning does not reject)\n",
            tables.markdown_table(tables.warning_rows(summary)),
        ]
    assembled = details.get("assemble", {})
    if splits := assembled.get("splits"):
        parts += ["## Splits\n", tables.markdown_table(tables.split_rows(splits))]
    if changes := assembled.get("changes"):
        parts += [changes_section(VersionChanges.from_dict(changes))]
    if "assemble" in manifest.stages and manifest.stages["assemble"].finished_at:
        parts += ["## Dataset\n", dataset_section(manifest.stages["assemble"], run_dir)]
    shown = example_samples(run_dir) if examples else []
    if shown:
        parts += ["## Examples\n", tables.example_block(shown, limit=EXAMPLES)]
    return "\n".join(parts)


def changes_section(changes: VersionChanges) -> str:
    """The section on changes since the previous version: tools added / changed / removed, samples per split."""
    against = f"version `{changes.previous}`" if changes.previous else "nothing (the first version)"
    return "\n".join(
        [
            "## Changes since the previous version\n",
            f"Compared with {against}.\n",
            tables.markdown_table(changes.tool_rows()),
            tables.markdown_table(changes.split_rows()),
        ]
    )


PUBLICATION_TEXT = {
    "new": "published as a new version; LATEST points at it",
    "unchanged": "unchanged: the same content as LATEST, nothing published",
    "restored": "the same content as an older version: LATEST moved back to it, nothing copied",
    "off": "not published (a limited or on-demand run; pass publish=true to publish)",
    "none": "not published (no store)",
}


def dataset_section(record: StageRecord, run_dir: Path) -> str:
    """Where the dataset is: the run's copy, the published version and what publishing did."""
    details = record.details
    publication = str(details.get("publication") or "none")
    lines = [
        f"- run copy: `{(run_dir / record.paths.get('dataset', 'dataset')).resolve()}`",
        f"- dataset: `{details.get('dataset_name') or '-'}`, version `{details.get('version')}`",
        f"- publishing: {PUBLICATION_TEXT.get(publication, publication)}",
    ]
    if version := record.paths.get("version"):
        lines.append(f"- published version: `{(run_dir / version).resolve()}`")
    return "\n".join(lines) + "\n"


def example_samples(run_dir: Path, limit: int = EXAMPLES) -> list[Sample]:
    """A few accepted samples of the run, one per style where possible (first verified shards)."""
    picked: dict[str, Sample] = {}
    for path in sorted((run_dir / "verified").glob("shard-*.parquet"))[:4]:
        try:
            samples = read_samples(path)
        except (RecordError, OSError):
            continue
        for sample in samples:
            picked.setdefault(sample.style.value, sample)
        if len(picked) >= limit:
            break
    return list(picked.values())[:limit]


def _stage_row(record: StageRecord) -> dict[str, Any]:
    return {
        "stage": record.stage,
        "started": record.started_at,
        "seconds": _seconds(record),
        "counts": ", ".join(f"{k} {v}" for k, v in record.counts.items()),
    }


def _seconds(record: StageRecord) -> str:
    if not record.finished_at:
        return "running or stopped"
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    try:
        delta = datetime.strptime(record.finished_at, fmt) - datetime.strptime(record.started_at, fmt)
    except ValueError:
        return ""
    return str(int(delta.total_seconds()))
