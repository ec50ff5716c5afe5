"""Stage results as table rows: what the artifacts and ``report.md`` show. No Prefect here.

Each function takes what a stage returned (or wrote) and gives a list of flat dicts, one per row,
with the same columns in every row (the Prefect UI and the markdown renderer both need that).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from schemas.models import Sample
from schemas.openapi.report import IngestReport

TOP_REASONS = 5  # rejection reasons shown per tier: enough to act on, short enough to read


def ingest_rows(report: IngestReport) -> list[dict[str, Any]]:
    """One row per spec file: operations, tools, skipped operations and warnings, tiers."""
    tiers = ", ".join(f"{tier}: {c.tools}" for tier, c in sorted(report.tiers.items()))
    return [
        {
            "spec": spec.file,
            "title": spec.title,
            "version": spec.version,
            "openapi": spec.openapi,
            "operations": spec.operations,
            "tools": spec.tools,
            "skipped": len(spec.skipped),
            "warnings": spec.warnings,
            "tiers (tools)": tiers,
            "naming": report.naming,
        }
        for spec in report.specs
    ]


def teacher_rows(stats: Mapping[str, Any], *, model: str) -> list[dict[str, Any]]:
    """One row: a ``TeacherStats.as_dict()`` flattened (counters become ``code: n`` strings)."""
    row: dict[str, Any] = {"teacher": model}
    for key, value in stats.items():
        row[key] = _flat(value)
    return [row]


def pass_rate_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per verifier and tier: judged, passed, failed, undecided and the pass rate.

    ``summary["verifiers"]`` is ``{verifier: {tier: {"passed": n, "failed": n, "undecided": n}}}``
    (the shape ``verifiers.pipeline.summarise`` gives; missing counts read as 0).
    """
    rows = []
    for verifier, by_tier in (summary.get("verifiers") or {}).items():
        for tier, counts in sorted(by_tier.items(), key=lambda kv: str(kv[0])):
            passed, failed = int(counts.get("passed", 0)), int(counts.get("failed", 0))
            undecided = int(counts.get("undecided", 0))
            judged = passed + failed + undecided
            rows.append(
                {
                    "verifier": verifier,
                    "tier": str(tier),
                    "judged": judged,
                    "passed": passed,
                    "failed": failed,
                    "undecided": undecided,
                    "pass_rate": round(passed / judged, 4) if judged else None,
                }
            )
    return rows


def rejection_rows(summary: Mapping[str, Any], *, top: int = TOP_REASONS) -> list[dict[str, Any]]:
    """The ``top`` rejection reason codes per tier, most frequent first.

    ``summary["rejections"]`` is ``{tier: {"verifier/code": n}}`` or ``{tier: {code: n}}``.
    """
    rows = []
    for tier, codes in sorted((summary.get("rejections") or {}).items(), key=lambda kv: str(kv[0])):
        ranked = sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        for rank, (code, count) in enumerate(ranked, 1):
            rows.append({"tier": str(tier), "rank": rank, "reason": code, "samples": int(count)})
    return rows


def tier_breakdown(verdicts_path: Path, samples_path: Path) -> dict[str, Any]:
    """Per-tier verdict counts of one verified shard, in the shape ``pass_rate_rows`` reads.

    Joins the shard's verdicts to its candidates' ``tier`` column (polars; no sample is parsed).
    """
    verdicts = pl.read_parquet(verdicts_path, columns=["sample_id", "verifier", "passed", "code"])
    tiers = pl.read_parquet(samples_path, columns=["id", "tier"]).rename({"id": "sample_id"})
    joined = verdicts.join(tiers, on="sample_id", how="left").with_columns(
        pl.col("tier").cast(pl.String).fill_null("none").alias("tier"),
        pl.when(pl.col("passed").is_null())
        .then(pl.lit("undecided"))
        .when(pl.col("passed"))
        .then(pl.lit("passed"))
        .otherwise(pl.lit("failed"))
        .alias("state"),
    )
    out: dict[str, Any] = {"verifiers": {}, "rejections": {}}
    for row in joined.group_by(["verifier", "tier", "state"]).len().iter_rows(named=True):
        by_tier = out["verifiers"].setdefault(row["verifier"], {}).setdefault(row["tier"], {})
        by_tier[row["state"]] = int(row["len"])
    failed = joined.filter(pl.col("state") != "passed")
    for row in failed.group_by(["tier", "verifier", "code"]).len().iter_rows(named=True):
        reasons = out["rejections"].setdefault(row["tier"], {})
        reasons[f"{row['verifier']}/{row['code']}"] = int(row["len"])
    return out


def merge_breakdowns(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Sum several shards' ``tier_breakdown`` dicts."""
    out: dict[str, Any] = {"verifiers": {}, "rejections": {}}
    for part in parts:
        for verifier, by_tier in part.get("verifiers", {}).items():
            for tier, states in by_tier.items():
                into = out["verifiers"].setdefault(verifier, {}).setdefault(tier, {})
                for state, n in states.items():
                    into[state] = into.get(state, 0) + n
        for tier, reasons in part.get("rejections", {}).items():
            into = out["rejections"].setdefault(tier, {})
            for reason, n in reasons.items():
                into[reason] = into.get(reason, 0) + n
    return out


def split_rows(splits: Mapping[str, int]) -> list[dict[str, Any]]:
    total = sum(splits.values()) or 1
    return [{"split": name, "samples": int(n), "share": round(n / total, 4)} for name, n in splits.items()]


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A GitHub-flavoured markdown table (pipes in cells escaped); empty rows give a dash."""
    if not rows:
        return "_none_\n"
    columns = list(rows[0].keys())
    for row in rows[1:]:
        columns += [c for c in row if c not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [_cell(row.get(c)) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def example_block(samples: Iterable[Sample], *, limit: int = 3) -> str:
    """A few samples as markdown: the query and the calls that answer it."""
    parts = []
    for sample in list(samples)[:limit]:
        calls = (
            "\n".join(f"{c.name}({_compact(c.arguments)})" for c in sample.calls) or "(no call: irrelevant)"
        )
        parts.append(
            f"- **{sample.style.value}**, {sample.language}, tier {sample.tier}: {sample.query}\n"
            f"  ```\n  {calls.replace(chr(10), chr(10) + '  ')}\n  ```"
        )
    return "\n".join(parts) + ("\n" if parts else "_no samples_\n")


def _flat(value: Any) -> Any:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _compact(arguments: Mapping[str, Any]) -> str:
    from schemas.canonical import canonical_json

    text = canonical_json(dict(arguments))
    return text if len(text) <= 300 else text[:297] + "…"
