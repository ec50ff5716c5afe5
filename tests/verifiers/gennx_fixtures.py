"""The bundled GEN NX catalog and the hand-written labelled sets, loaded once per test process."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from schemas.catalog import Catalog
from schemas.models import Sample, ToolCall, infer_style
from verifiers.base import VerifyContext
from verifiers.labelled import LabelledSample, read_labelled

ROOT = Path(__file__).resolve().parents[2]
LABELLED = ROOT / "tests" / "data" / "labelled"


@functools.lru_cache(maxsize=1)
def gennx_catalog() -> Catalog:
    from schemas.openapi import ingest

    spec = ROOT / "specs" / "gennx" / "openapi.yaml"
    return ingest([spec], naming="snake", tier_rules=ROOT / "specs" / "gennx" / "tiers.yaml").catalog


def gennx_ctx() -> VerifyContext:
    return VerifyContext(catalog=gennx_catalog())


@functools.lru_cache(maxsize=4)
def labelled(name: str) -> tuple[LabelledSample, ...]:
    return tuple(read_labelled(LABELLED / f"gennx_{name}.jsonl"))


def gennx_sample(
    query: str, calls: list[tuple[str, dict[str, Any]]], tools: list[str], language: str = "en"
) -> Sample:
    made = [ToolCall(name=n, arguments=a) for n, a in calls]
    return Sample.create(
        query=query, language=language, style=infer_style(tools, made), tools=tools, calls=made
    )
