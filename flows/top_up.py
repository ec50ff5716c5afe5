"""Quotas that close: after a refresh's plan is generated and verified, tools still below their quota get
more items (``generators.plan.top_up_items``), in up to ``plan.top_up_rounds`` generate + verify rounds.

    top_up_flow(config, satisfied)   # -> {"items": 57, "shard_paths": [...], "tools": 21}

Why a top-up is needed at all: a tool's planned items are tried once (the attempts ledger skips them
afterwards, since the same item gives the same sample and the same rejection), so without new items a
tool that lost some to rejection would stay short on every later refresh.

The count per tool is bounded over all refreshes (``plan.top_up_max``) and recorded in
``<store>/attempts/<slug>.top-up.json`` (``TopUpLedger``: tool -> fingerprint and top-up items tried;
a changed tool starts from zero). This file is separate from the attempts ledger on purpose: that one
records item keys, this one a count per tool. The run's ``plan/quotas.json`` (each tool's quota and its
top-up count) lets assembly list the tools still under quota, with why, in the dataset card.

Top-up items are appended to ``plan/items.jsonl`` and generated as the next candidate shards, so the
store, the ledger and the card see them like any planned item.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prefect import flow

from flows import monitoring
from flows.config import RunConfig
from flows.stage_support import load_catalog
from generators import plan
from generators.config import PlanConfig
from schemas import atomic
from schemas.catalog import Catalog
from trainer.dataset.quotas import QUOTAS_FILE, run_accepted

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


def _read_plan(path: Path) -> list[plan.WorkItem]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [plan.WorkItem.model_validate_json(line) for line in handle if line.strip()]


def run_top_ups(run_dir: Path, catalog: Catalog, config: PlanConfig) -> dict[str, int]:
    """tool -> top-up items in this run's plan (highest index past the quota)."""
    quotas = plan.tool_quotas(catalog, config)
    out: dict[str, int] = {}
    for item in _read_plan(run_dir / PLAN_FILE):
        quota = quotas.get(item.subject)
        if quota is not None and item.index >= quota:
            out[item.subject] = max(out.get(item.subject, 0), item.index - quota + 1)
    return out


@flow(
    name="top-up",
    flow_run_name=functools.partial(monitoring.stage_run_name, "top-up"),
    on_failure=[monitoring.log_failure_url],
)
def top_up_flow(
    config: RunConfig, satisfied: dict[str, int] | None = None, round_: int = 1
) -> dict[str, Any]:
    """Plan and generate top-up round ``round_`` (1, 2, ...) for the tools below quota after the plan and
    the earlier rounds were verified; ``satisfied`` is what the store held before this run."""
    from flows.generate import run_shards

    config = config.with_run_name()
    run_dir = config.run_dir
    catalog = load_catalog(run_dir / "catalog")
    gen = config.generate.plan
    items_so_far = _read_plan(run_dir / PLAN_FILE)
    accepted = dict(satisfied or {})
    for subject, n in run_accepted(run_dir).items():
        accepted[subject] = accepted.get(subject, 0) + n
    ledger = TopUpLedger(config.store_path, config.slug)
    before = ledger.tried(catalog)
    in_run = run_top_ups(run_dir, catalog, gen)
    tried = {name: max(before.get(name, 0), in_run.get(name, 0)) for name in before.keys() | in_run.keys()}
    items = plan.top_up_items(catalog, gen, accepted=accepted, tried=tried)
    if not items:
        return {"items": 0, "tools": 0, "shard_paths": []}
    atomic.write_text(
        run_dir / PLAN_FILE, "".join(item.model_dump_json() + "\n" for item in [*items_so_far, *items])
    )
    for item in items:
        tried[item.subject] = tried.get(item.subject, 0) + 1
    write_quotas(run_dir, catalog, gen, tried)
    # Shard numbers follow from the plan alone, so a resumed run reuses them: round k starts at
    # ceil(lines before / size) + k - 1, past every earlier round's last shard (ceil(a) + ceil(b) <=
    # ceil(a + b) + 1).
    size = config.generate.plan.shard_size
    first_shard = -(-len(items_so_far) // size) + round_ - 1
    summaries, _stats, _jobs = run_shards(
        config, catalog, items, first_line=len(items_so_far), first_shard=first_shard
    )
    return {
        "items": len(items),
        "tools": len({item.subject for item in items}),
        "samples": sum(int(s.get("samples", 0)) for s in summaries),
        "shard_paths": [s["path"] for s in summaries],
    }
