"""What a dataset holds, for people and machines: the split report, the dataset card
(``dataset/README.md``) and ``dataset/manifest.json``.

    stats = run_statistics(run_dir)                        # verifier pass rates, rejection reasons
    manifest = build_manifest(version=..., report=..., ...)
    text = render_card(manifest, report, stats)

Everything tabular (verdicts, rejections, provenance) is counted with polars straight from the run's
Parquet shards; nothing here re-validates records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import polars as pl

from schemas.canonical import content_hash
from schemas.catalog import Catalog
from schemas.errors import RecordError
from schemas.models import Sample
from schemas.shards import verdicts_policy
from trainer.dataset.card_quality import render_quality
from verifiers.summary import UndecidedPolicy, VerdictSummary

SPLITS = ("train", "validation", "test_seen", "test_unseen")
MANIFEST_KIND = "callforge.dataset"
# state.json of a saved Hugging Face dataset holds a random per-build fingerprint; hashing it would give
# two identical exports different content hashes.
# sample_ids.json lists what the exports hold (trainer.dataset.changes): derived, so not hashed.
_UNHASHED = {"state.json", "README.md", "manifest.json", "sample_ids.json"}
_TOP_REASONS = 10


def _scan(paths: Sequence[Path]) -> pl.LazyFrame | None:
    return pl.scan_parquet([str(p) for p in paths]) if paths else None


@dataclass
class SplitReport:
    """What the split did: counts by split × tier × style × language, tools per split, drops."""

    seed: int
    held_out_tools: list[str]
    counts: list[dict[str, Any]]  # rows {split, tier, style, language, samples}
    offered_tools: dict[str, list[str]]  # split -> every tool offered (targets and distractors)
    target_tools: dict[str, list[str]]  # split -> tools called
    dropped: dict[str, int]  # reason -> samples dropped
    redrawn: int  # seen samples whose held-out distractors were replaced
    holdout: dict[str, Any] = field(default_factory=dict)  # HoldOut.to_dict(): families, tiers, categories
    unseen_mix: dict[str, int] = field(
        default_factory=dict
    )  # what test_unseen is made of (unseen_composition)

    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(SPLITS, 0)
        for row in self.counts:
            out[row["split"]] += row["samples"]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "totals": self.totals()}

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            self.counts,
            schema={
                "split": pl.String,
                "tier": pl.Int64,
                "style": pl.String,
                "language": pl.String,
                "samples": pl.Int64,
            },
        )

    def table(self) -> str:
        """A plain-text table: one row per split, samples by tier and by style, distinct tools called."""
        frame = self.frame().with_columns(
            tier=pl.format("tier {}", pl.col("tier").cast(pl.String).fill_null("none"))
        )
        table = pl.DataFrame(
            {"split": list(SPLITS), "tools": [len(self.target_tools.get(s, [])) for s in SPLITS]}
        )
        for column in ("tier", "style"):
            counts = frame.pivot(
                on=column, index="split", values="samples", aggregate_function="sum", sort_columns=True
            )
            table = table.join(counts, on="split", how="left", maintain_order="left")
        table = table.fill_null(0).with_columns(samples=pl.sum_horizontal(pl.selectors.starts_with("tier ")))
        table = table.select("split", "samples", pl.exclude("split", "samples", "tools"), "tools")
        cells = [table.columns, *([str(v) for v in row] for row in table.iter_rows())]
        widths = [max(len(row[i]) for row in cells) for i in range(table.width)]
        lines = [
            "  ".join(
                c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in cells
        ]
        lines.append(
            f"held out: {len(self.held_out_tools)} tools; redrawn distractors: {self.redrawn} samples"
        )
        lines += [f"dropped ({reason}): {n}" for reason, n in sorted(self.dropped.items())]
        return "\n".join(lines)


def build_report(
    frame: pl.DataFrame,
    splits: dict[str, list[Sample]],
    *,
    held_out: list[str],
    seed: int,
    dropped: dict[str, int],
    redrawn: int,
    holdout: dict[str, Any] | None = None,
) -> SplitReport:
    """Count the splits with polars; ``frame`` has one row per kept sample: split, tier, style, language."""
    counts = (
        frame.group_by("split", "tier", "style", "language")
        .agg(samples=pl.len().cast(pl.Int64))
        .with_columns(order=pl.col("split").replace_strict(list(SPLITS), list(range(len(SPLITS)))))
        .sort("order", "tier", "style", "language", nulls_last=True)
        .drop("order")
    )
    offered = {name: sorted(set().union(*(s.tools for s in splits[name]))) for name in SPLITS}
    targets = {name: sorted({c.name for s in splits[name] for c in s.calls}) for name in SPLITS}
    return SplitReport(
        seed=seed,
        held_out_tools=list(held_out),
        counts=counts.to_dicts(),
        offered_tools=offered,
        target_tools=targets,
        dropped=dict(sorted(dropped.items())),
        redrawn=redrawn,
        holdout=holdout or {},
        unseen_mix=unseen_composition(splits["test_unseen"], set(held_out)),
    )


def unseen_composition(samples: Sequence[Sample], held: set[str]) -> dict[str, int]:
    """What ``test_unseen`` holds: irrelevance samples, samples whose held-out targets sit among seen
    distractors, and calls to held-out vs seen tools (a ``parallel_multiple`` may call both)."""
    return {
        "samples": len(samples),
        "irrelevance": sum(1 for s in samples if not s.calls),
        "unseen_targets_with_seen_distractors": sum(
            1 for s in samples if s.calls and any(c.name in held for c in s.calls) and set(s.tools) - held
        ),
        "calls_to_held_out_tools": sum(1 for s in samples for c in s.calls if c.name in held),
        "calls_to_seen_tools": sum(1 for s in samples for c in s.calls if c.name not in held),
    }


def run_statistics(run_dir: Path) -> dict[str, Any]:
    """Counts from a run directory: shard rows per stage, verifier pass rates, top rejection reasons.

    Returns ``{"stages": {...}, "verifiers": [{verifier, passed, failed, undecided, pass_rate}],
    "rejection_reasons": [{verifier, code, samples}], "generation_failures": [{code, items}]}``.
    """
    stages: dict[str, int] = {}
    for stage, pattern in (
        ("candidates", "candidates/shard-*.parquet"),
        ("verified", "verified/shard-*.parquet"),
        ("rejected", "rejected/shard-*.parquet"),
    ):
        frame = _scan(sorted(run_dir.glob(pattern)))
        stages[stage] = int(frame.select(pl.len()).collect().item()) if frame is not None else 0
    out: dict[str, Any] = {
        "stages": stages,
        "verifiers": [],
        "rejection_reasons": [],
        "generation_failures": [],
    }
    summary = _verdict_summary(run_dir)
    if summary is not None:
        out["verifiers"] = [
            {
                "verifier": name,
                **{k: row[k] for k in ("passed", "failed", "undecided")},
                "pass_rate": _round(row),
            }
            for name, row in summary.per_verifier().items()
        ]
        out["rejection_reasons"] = summary.top_rejections(_TOP_REASONS)
    failures = _scan(sorted(run_dir.glob("candidates/failures-*.parquet")))
    if failures is not None:
        out["generation_failures"] = (
            failures.group_by("code")
            .agg(items=pl.len())
            .sort(["items", "code"], descending=[True, False])
            .collect()
            .to_dicts()
        )
    return out


def _verdict_summary(run_dir: Path) -> VerdictSummary | None:
    """The run's ``VerdictSummary``, read from its verdict shards and the samples they judged.

    The same counts the CLI prints and the Prefect tables show (``verifiers.summary``); repeats dropped
    before verification come from the verify stage's record in the run manifest, when there is one.
    """
    paths = sorted(run_dir.glob("verdicts/shard-*.parquet"))
    verdicts = _scan(paths)
    if verdicts is None:
        return None
    policies = {verdicts_policy(p) for p in paths}
    if len(policies) > 1:
        raise RecordError(
            f"{run_dir}/verdicts: shards were verified with different undecided policies {policies}"
        )
    judged = _scan(
        sorted(run_dir.glob("verified/shard-*.parquet")) + sorted(run_dir.glob("rejected/shard-*.parquet"))
    )
    samples = (
        judged.select("id", "tier").collect() if judged is not None else pl.DataFrame({"id": [], "tier": []})
    )
    summary = VerdictSummary.from_frames(
        verdicts.select("sample_id", "verifier", "passed", "code").collect(),
        samples,
        undecided=cast(UndecidedPolicy, policies.pop()),  # from_frames rejects any other value
    )
    try:
        recorded = json.loads((run_dir / "manifest.json").read_text("utf-8"))["stages"]["verify"]["details"]
        summary.add_repeats(VerdictSummary.from_dict(recorded["summary"]).repeated)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # a run verified outside the flow has no recorded repeats
    return summary


def _round(row: dict[str, Any]) -> float | None:
    return round(row["pass_rate"], 4) if row["pass_rate"] is not None else None


def provenance_counts(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """Samples per (generator, teacher_model, prompt_version), most first."""
    frame = pl.DataFrame(
        {
            "generator": [s.provenance.generator for s in samples],
            "teacher_model": [s.provenance.teacher_model for s in samples],
            "prompt_version": [s.provenance.prompt_version for s in samples],
        },
        schema={"generator": pl.String, "teacher_model": pl.String, "prompt_version": pl.String},
    )
    return (
        frame.group_by("generator", "teacher_model", "prompt_version")
        .agg(samples=pl.len())
        .sort(["samples", "generator"], descending=[True, False], nulls_last=True)
        .to_dicts()
    )


def export_hash(directory: Path) -> str:
    """sha256 over every export file's relative path and bytes (card, manifest and HF state excluded)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.name not in _UNHASHED):
        file_digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                file_digest.update(block)
        digest.update(f"{path.relative_to(directory).as_posix()}\0{file_digest.hexdigest()}\n".encode())
    return digest.hexdigest()


def spec_fingerprints(catalog: Catalog) -> dict[str, Any]:
    """The specs' sha256 (from the catalog manifest) and a hash of every tool fingerprint."""
    return {
        "specs": [
            {"file": s.file, "title": s.title, "version": s.version, "sha256": s.sha256}
            for s in catalog.manifest.specs
        ],
        "catalog": content_hash(sorted(t.fingerprint for t in catalog)),
    }


def build_manifest(
    *,
    version: str,
    created_at: str,
    run: str,
    seed: int,
    catalog: Catalog,
    report: SplitReport,
    rows: dict[str, int],
    content: str,
    provenance: list[dict[str, Any]],
    options: dict[str, Any],
) -> dict[str, Any]:
    """``manifest.json``: what this dataset version holds and what produced it."""
    return {
        "kind": MANIFEST_KIND,
        "format_version": 1,
        "version": version,
        "created_at": created_at,
        "run": run,
        "seed": seed,
        "counts": report.totals(),
        "rows": rows,
        "held_out_tools": report.held_out_tools,
        "fingerprints": spec_fingerprints(catalog),
        "provenance": provenance,
        "dropped": report.dropped,
        "redrawn": report.redrawn,
        "split_report": report.to_dict(),
        "content_hash": content,
        "options": options,
    }


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "_none_\n"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += [
        "| " + " | ".join("" if r.get(c) is None else str(r.get(c)) for c in columns) + " |" for r in rows
    ]
    return "\n".join(lines) + "\n"


_LOADING = """\
```python
# Hugging Face DatasetDict: messages/tools are List(Json()), so every call's arguments stay exact.
from datasets import load_from_disk
ds = load_from_disk("dataset/hf")
ds["train"][0]["messages"]

# TRL Parquet: messages/tools are stored as JSON values with the Hugging Face feature metadata,
# so load_dataset decodes them to dicts (polars/pyarrow see plain JSON strings).
from datasets import load_dataset
ds = load_dataset("parquet", data_files={s: f"dataset/trl/{s}.parquet" for s in SPLITS})

# TRL JSONL: pass the features, or Arrow merges the argument structs of different tools.
from datasets import Features, Json, List, Value, load_dataset
features = Features({"messages": List(Json()), "tools": List(Json()), "id": Value("string"),
                     "style": Value("string"), "language": Value("string"), "tier": Value("int64"),
                     "reference": Value("string")})
ds = load_dataset("json", data_files={"train": "dataset/trl/train.jsonl"}, features=features)

# xLAM / APIGen (tools and answers are JSON strings) and flat (single-call samples only).
import polars as pl
xlam = pl.read_parquet("dataset/xlam/train.parquet")
flat = pl.read_ndjson("dataset/flat/train.jsonl")

# Back to callforge samples (same ids):
from schemas.records import from_trl, from_xlam, from_flat
samples = [from_xlam(row) for row in xlam.iter_rows(named=True)]
```
"""


def attached_summary(folder: Path) -> dict[str, Any]:
    """What the manifest records of a folder attached to the dataset: its hash and the records of each
    top-level ``*.jsonl`` (for the multi-turn folder, trajectories per split)."""
    records = {}
    for path in sorted(folder.glob("*.jsonl")):
        with path.open("rb") as handle:
            records[path.stem] = sum(1 for line in handle if line.strip())
    return {"content_hash": export_hash(folder), "records": records}


def render_attached(attached: dict[str, Any]) -> str:
    """Card lines for the attached folders (``multi_turn/``: trajectory records and their exports)."""
    lines = []
    for name, summary in attached.items():
        counts = ", ".join(f"{stem} {n}" for stem, n in summary["records"].items()) or "no JSONL records"
        lines.append(f"`{name}/` (written by its own stage, described by its `manifest.json`): {counts}.\n\n")
    return "".join(lines)


def render_card(manifest: dict[str, Any], report: SplitReport, stats: dict[str, Any]) -> str:
    """The dataset card as Markdown."""
    totals = manifest["counts"]
    fingerprints = manifest["fingerprints"]
    parts = [
        f"# callforge dataset `{manifest['version']}`\n\n",
        f"Run `{manifest['run']}`, created {manifest['created_at']}, seed {manifest['seed']}. "
        f"Content hash `{manifest['content_hash']}`.\n\n",
        "## Splits\n\n",
        _table(
            [{"split": s, "samples": totals[s], "tools": len(report.target_tools[s])} for s in SPLITS],
            ["split", "samples", "tools"],
        ),
        "\nBy split, tier, style and language:\n\n",
        _table(report.counts, ["split", "tier", "style", "language", "samples"]),
        f"\n`test_unseen` holds out {len(report.held_out_tools)} tools entirely (not even offered as "
        f"distractors elsewhere): {', '.join(f'`{t}`' for t in report.held_out_tools) or '_none_'}.\n"
        f"Seen samples whose held-out distractors were replaced: {report.redrawn}.\n",
        render_quality(manifest, report),
        "\nDropped:\n\n",
        _table([{"reason": k, "samples": v} for k, v in report.dropped.items()], ["reason", "samples"]),
        "\n## Specs and fingerprints\n\n",
        _table(fingerprints["specs"], ["file", "title", "version", "sha256"]),
        f"\nCatalog fingerprint (hash of every tool fingerprint): `{fingerprints['catalog']}`.\n",
        "\n## Provenance\n\n",
        _table(manifest["provenance"], ["generator", "teacher_model", "prompt_version", "samples"]),
        "\n## Verification\n\n",
        _table([{"stage": k, "samples": v} for k, v in stats["stages"].items()], ["stage", "samples"]),
        "\nVerifier pass rates (passed / all verdicts of that verifier):\n\n",
        _table(stats["verifiers"], ["verifier", "passed", "failed", "undecided", "pass_rate"]),
        "\nMain rejection reasons:\n\n",
        _table(stats["rejection_reasons"], ["verifier", "code", "samples"]),
        "\nGeneration failures:\n\n",
        _table(stats["generation_failures"], ["code", "items"]),
        "\n## Files and loading\n\n",
        "`hf/` (DatasetDict), `trl/`, `xlam/`, `flat/` with one `SPLIT.jsonl` and `SPLIT.parquet` per split.\n\n",
        render_attached(manifest.get("attached") or {}),
        _LOADING.replace("SPLITS", json.dumps(list(SPLITS))),
    ]
    return "".join(parts)
