"""Manifests: what a catalog or a run contains, where it lives, and what produced it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field

from schemas.errors import RecordError
from schemas.models import Strict

RUN_MANIFEST_FILE = "manifest.json"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SpecEntry(Strict):
    """One ingested spec file."""

    file: str
    title: str = ""
    version: str = ""
    openapi: str = ""
    sha256: str = Field(description="sha256 of the spec's bytes (all files, when split over several)")
    operations: int = 0
    tools: int = 0


class CatalogManifest(Strict):
    """Written beside ``catalog.jsonl``."""

    kind: str = "callforge.catalog"
    format_version: int = 1
    created_at: str = Field(default_factory=utc_now)
    naming: str = "snake"
    specs: list[SpecEntry] = Field(default_factory=list)
    tool_count: int = 0
    tiers: dict[str, int] = Field(default_factory=dict, description="tier ('1','2','3','none') -> tools")
    tier_rules: str | None = Field(default=None, description="path of the tier rules applied, if any")
    quotas: dict[str, list[int]] = Field(default_factory=dict, description="tier -> [min, max] samples")


class StageRecord(Strict):
    """One stage of a run: when it ran, its counts and the files it wrote (relative to the run)."""

    stage: str
    started_at: str = Field(default_factory=utc_now)
    finished_at: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    paths: dict[str, str] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)


class RunManifest(Strict):
    """``runs/<run-name>/manifest.json``: the state of one run, updated after each stage."""

    kind: str = "callforge.run"
    format_version: int = 1
    run_name: str
    created_at: str = Field(default_factory=utc_now)
    specs: list[SpecEntry] = Field(default_factory=list)
    stages: dict[str, StageRecord] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict, description="package -> version")

    @classmethod
    def load_or_new(cls, run_dir: str | Path, **new: Any) -> RunManifest:
        """``run_dir/manifest.json``, or a new (unsaved) manifest built from ``new`` when there is none.

        An existing manifest that does not match the contract is a ``RecordError`` naming the file.
        """
        path = Path(run_dir) / RUN_MANIFEST_FILE
        if not path.exists():
            return cls(**new)
        try:
            return cls.model_validate_json(path.read_text("utf-8"))
        except ValueError as exc:
            raise RecordError(f"{path}: invalid run manifest: {exc}") from exc
