"""The top-up bookkeeping (no Prefect): per-tool top-up counts across refreshes and a run's quota file.

``TopUpLedger`` keeps ``<store>/attempts/<slug>.top-up.json`` (tool -> fingerprint and top-up items
tried; a changed tool starts from zero), separate from the item ledger (``flows.attempts``) on purpose:
that one records item keys, this one a bounded count per tool. ``write_quotas`` writes the run's
``plan/quotas.json`` (each tool's quota and its top-up count) that assembly reads to list the tools still
under quota. ``flows.top_up`` runs the rounds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from generators import plan
from generators.config import PlanConfig
from schemas import atomic
from schemas.catalog import Catalog
from trainer.dataset.quotas import QUOTAS_FILE

LEDGER_DIR = "attempts"
PLAN_FILE = "plan/items.jsonl"


class TopUpLedger:
    """Top-up items tried per tool, for one spec under a store directory."""

    def __init__(self, store_dir: str | Path, slug: str) -> None:
        self.path = Path(store_dir) / LEDGER_DIR / f"{slug}.top-up.json"

    def _read(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text("utf-8"))
            return {str(k): dict(v) for k, v in data["tools"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}  # a damaged ledger only means top-ups are tried again (bounded per run)

    def tried(self, catalog: Catalog) -> dict[str, int]:
        """tool -> top-up items tried for it under its current fingerprint."""
        fingerprints = {t.name: t.fingerprint for t in catalog}
        return {
            name: int(entry.get("tried", 0))
            for name, entry in self._read().items()
            if fingerprints.get(name) == entry.get("fingerprint")
        }

    def record(self, reach: Mapping[str, int], catalog: Catalog) -> int:
        """Record a finished run's top-ups (``run_top_ups``: tool -> top-up items reached). Idempotent: a
        tool's count becomes the larger of the recorded one and ``reach``. Returns the tools updated."""
        if not reach:
            return 0
        fingerprints = {t.name: t.fingerprint for t in catalog}
        entries = self._read()
        current = self.tried(catalog)
        updated = 0
        for name, count in reach.items():
            if name in fingerprints and count > current.get(name, 0):
                entries[name] = {"fingerprint": fingerprints[name], "tried": count}
                updated += 1
        if updated:
            payload = {"tools": dict(sorted(entries.items()))}
            atomic.write_text(self.path, json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
        return updated


def write_quotas(run_dir: Path, catalog: Catalog, config: PlanConfig, tried: Mapping[str, int]) -> Path:
    """``plan/quotas.json``: each tool's quota and the top-up items it has had (this run's included)."""
    payload = {
        "quotas": plan.tool_quotas(catalog, config),
        "top_up": {"max_per_tool": config.top_up_max, "tried": dict(sorted(tried.items()))},
    }
    return atomic.write_text(run_dir / QUOTAS_FILE, json.dumps(payload, indent=1, ensure_ascii=False) + "\n")


def read_plan(path: Path) -> list[plan.WorkItem]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [plan.WorkItem.model_validate_json(line) for line in handle if line.strip()]


def run_top_ups(run_dir: Path, catalog: Catalog, config: PlanConfig) -> dict[str, int]:
    """tool -> top-up items in this run's plan (highest index past the quota)."""
    quotas = plan.tool_quotas(catalog, config)
    out: dict[str, int] = {}
    for item in read_plan(run_dir / PLAN_FILE):
        quota = quotas.get(item.subject)
        if quota is not None and item.index >= quota:
            out[item.subject] = max(out.get(item.subject, 0), item.index - quota + 1)
    return out
