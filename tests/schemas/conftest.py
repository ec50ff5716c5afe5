"""Fixtures for the OpenAPI ingestion tests: copied real specs and a writer for hand-built ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA_SPECS = Path(__file__).resolve().parents[1] / "data" / "specs"


@pytest.fixture
def data_specs() -> Path:
    """tests/data/specs: small real specs copied from the shared corpus (see its README)."""
    return DATA_SPECS


def _document(version: str, paths: dict[str, Any], **extra: Any) -> dict[str, Any]:
    key = "swagger" if version == "2.0" else "openapi"
    return {key: version, "info": {"title": "Test API", "version": "1.0"}, "paths": paths, **extra}


@pytest.fixture
def make_doc() -> Callable[..., dict[str, Any]]:
    """``make_doc(paths, version="3.1.0", **top_level)``: a minimal valid document around ``paths``."""

    def build(paths: dict[str, Any], version: str = "3.1.0", **extra: Any) -> dict[str, Any]:
        return _document(version, paths, **extra)

    return build


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """``write_spec(doc, name="openapi.json")``: write ``doc`` (dict, or text as is) under tmp_path."""

    def write(doc: Any, name: str = "openapi.json") -> Path:
        path = tmp_path / "specs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(doc, str | bytes):
            path.write_bytes(doc.encode("utf-8") if isinstance(doc, str) else doc)
        elif name.endswith(".json"):
            path.write_text(json.dumps(doc), encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        return path

    return write
