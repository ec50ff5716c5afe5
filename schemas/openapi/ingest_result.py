"""What one ingestion produces: the catalog and its report (read back from the ingest cache as well)."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.catalog import Catalog
from schemas.openapi.report import IngestReport


@dataclass(frozen=True)
class IngestResult:
    """The catalog (tools + manifest) and the report of one ingestion."""

    catalog: Catalog
    report: IngestReport
