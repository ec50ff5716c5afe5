"""OpenAPI ingestion: Swagger 2.0 / OpenAPI 3.0 / 3.1 specs (JSON or YAML, one or several files) -> Tools.

    from schemas.openapi import ingest, write_ingest
    result = ingest(["petstore.yaml"], naming="snake")
    write_ingest(result, "data/runs/x/catalog")

Modules, in the order data flows through them: ``files`` (the allowed root), ``budgets`` (limits
on untrusted input), ``load`` (files), ``refs`` ($ref and pointers),
``spec`` (an opened document), ``convert`` (schemas -> JSON Schema 2020-12), ``parameters`` and
``bodies`` (arguments), ``servers`` and ``security`` (binding), ``operations`` (one tool's parts),
``naming``, ``ingestion`` (the whole catalog) and ``report``.
"""

from schemas.openapi.budgets import SpecBudgets
from schemas.openapi.ingestion import REPORT_FILE, IngestResult, ingest, write_ingest
from schemas.openapi.report import IngestReport, IngestWarning, SkippedOperation, SpecReport

__all__ = [
    "REPORT_FILE",
    "IngestReport",
    "IngestResult",
    "IngestWarning",
    "SkippedOperation",
    "SpecBudgets",
    "SpecReport",
    "ingest",
    "write_ingest",
]
