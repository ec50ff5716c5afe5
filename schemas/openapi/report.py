"""What an ingestion did: per-spec counts, skipped operations with reasons, and every warning.

``ingest_report.json`` is an :class:`IngestReport`; :meth:`IngestReport.summary` is what the CLI
prints. Warnings are things a spec got wrong that ingestion worked around (a missing definition
became ``{}``, an XML-only body was left out); each names the file and JSON pointer at fault and a
stable snake_case ``code`` so they can be counted and filtered.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import Field

from schemas.manifest import utc_now
from schemas.models import Strict


class IngestWarning(Strict):
    """Something a spec got wrong that ingestion worked around."""

    file: str
    pointer: str
    code: str = Field(description="stable snake_case reason, e.g. missing_ref, unsupported_media_type")
    message: str


class SkippedOperation(Strict):
    """An operation that produced no tool, and why."""

    method: str
    path: str
    pointer: str
    code: str = Field(description="deprecated | unsupported_media_type | invalid_operation")
    reason: str


class SpecReport(Strict):
    """One spec file: what it declared and what became of its operations."""

    file: str
    title: str = ""
    version: str = ""
    openapi: str = ""
    sha256: str = ""
    files: list[str] = Field(default_factory=list, description="every file read, root first")
    operations: int = Field(default=0, description="HTTP operations under paths (webhooks excluded)")
    tools: int = 0
    skipped: list[SkippedOperation] = Field(default_factory=list)
    warnings: int = 0


class Counts(Strict):
    tools: int = 0
    endpoints: int = Field(default=0, description="distinct path templates")


class IngestReport(Strict):
    """Written to ``ingest_report.json`` beside the catalog."""

    kind: str = "callforge.ingest_report"
    format_version: int = 1
    created_at: str = Field(default_factory=utc_now)
    naming: str = "snake"
    tier_rules: str | None = None
    include_deprecated: bool = True
    specs: list[SpecReport] = Field(default_factory=list)
    tools: int = 0
    endpoints: int = 0
    tiers: dict[str, Counts] = Field(default_factory=dict, description="'1', '2', '3' or 'none'")
    categories: dict[str, Counts] = Field(default_factory=dict)
    warnings: list[IngestWarning] = Field(default_factory=list)

    def summary(self, *, max_warnings: int = 5) -> str:
        """A few lines for people: totals, tiers, categories, skips and the first warnings."""
        lines = [f"ingested {len(self.specs)} spec(s): {self.tools} tools on {self.endpoints} endpoints"]
        for spec in self.specs:
            skipped = f", {len(spec.skipped)} skipped" if spec.skipped else ""
            kind = "swagger" if spec.openapi == "2.0" else "openapi"
            lines.append(
                f"  {spec.file}: {spec.title or '(untitled)'} {spec.version} ({kind} {spec.openapi or '?'}) "
                f"- {spec.operations} operations, {spec.tools} tools{skipped}"
            )
        lines.append("tiers: " + _counts_line(sorted(self.tiers.items())))
        largest_first = sorted(self.categories.items(), key=lambda kv: (-kv[1].tools, kv[0]))
        lines.append("categories: " + _counts_line(largest_first, limit=12))
        codes = Counter(w.code for w in self.warnings)
        by_code = ", ".join(f"{code} {n}" for code, n in sorted(codes.items()))
        lines.append(f"warnings: {len(self.warnings)}" + (f" ({by_code})" if by_code else ""))
        for warning in self.warnings[:max_warnings]:
            lines.append(f"  {warning.file}#{warning.pointer}: [{warning.code}] {warning.message}")
        if len(self.warnings) > max_warnings:
            lines.append(f"  … {len(self.warnings) - max_warnings} more in ingest_report.json")
        for spec in self.specs:
            for skip in spec.skipped[:max_warnings]:
                lines.append(f"  skipped {skip.method} {skip.path}: [{skip.code}] {skip.reason}")
        return "\n".join(lines)


def _counts_line(items: list[tuple[str, Counts]], *, limit: int | None = None) -> str:
    if not items:
        return "-"
    shown = items if limit is None else items[:limit]
    text = ", ".join(f"{key} {c.tools} tools/{c.endpoints} endpoints" for key, c in shown)
    if limit is not None and len(items) > limit:
        text += f", … {len(items) - limit} more"
    return text


class WarningLog:
    """Collects warnings during one ingestion; the same warning at the same place is kept once."""

    def __init__(self) -> None:
        self.items: list[IngestWarning] = []
        self._seen: set[tuple[str, str, str, str]] = set()

    def add(self, file: str, pointer: str, code: str, message: str) -> None:
        key = (file, pointer or "/", code, message)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(IngestWarning(file=file, pointer=pointer or "/", code=code, message=message))

    def count_for(self, files: Any) -> int:
        names = set(files)
        return sum(1 for w in self.items if w.file in names)
