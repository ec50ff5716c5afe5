"""Stage results as table rows: what the artifacts and ``report.md`` show. No Prefect here.

Each function takes what a stage returned (or wrote) and gives a list of flat dicts, one per row,
with the same columns in every row (the Prefect UI and the markdown renderer both need that).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from schemas.models import Sample
from schemas.openapi.report import IngestReport
from verifiers.summary import VerdictSummary

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


def pass_rate_rows(summary: VerdictSummary) -> list[dict[str, Any]]:
    """Per verifier and tier: judged, passed, failed, undecided and the pass rate (samples)."""
    return [
        {
            "verifier": verifier,
            "tier": tier,
            "judged": row["seen"],
            "passed": row["passed"],
            "failed": row["failed"],
            "undecided": row["undecided"],
            "pass_rate": round(row["pass_rate"], 4) if row["pass_rate"] is not None else None,
        }
        for (verifier, tier), row in summary.per_verifier_and_tier().items()
    ]


def rejection_rows(summary: VerdictSummary, *, top: int = TOP_REASONS) -> list[dict[str, Any]]:
    """The ``top`` rejection reasons per tier, most frequent first (``VerdictSummary.top_rejections``)."""
    return [
        {"tier": tier, "rank": rank, "reason": f"{r['verifier']}/{r['code']}", "samples": r["samples"]}
        for tier in summary.tiers_with_rejections()
        for rank, r in enumerate(summary.top_rejections(top, tier=tier), 1)
    ]


def warning_rows(summary: VerdictSummary) -> list[dict[str, Any]]:
    """Samples per warning class (``VerdictSummary.top_warnings``), most first; warnings do not reject."""
    return [
        {"warning": f"{w['verifier']}/{w['code']}", "samples": w["samples"]}
        for w in summary.top_warnings(None)
    ]


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
