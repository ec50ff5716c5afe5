"""Quotas that close: after a refresh's plan is generated and verified, tools still below their quota get
more items (``generators.plan.top_up_items``), in up to ``plan.top_up_rounds`` generate + verify rounds.

    top_up_flow(config, satisfied)   # -> {"items": 57, "shard_paths": [...], "tools": 21}

Why a top-up is needed at all: a tool's planned items are tried once (the attempts ledger skips them
afterwards, since the same item gives the same sample and the same rejection), so without new items a
tool that lost some to rejection would stay short on every later refresh.

The count per tool is bounded over all refreshes (``plan.top_up_max``) and recorded by
``flows.top_up_ledger.TopUpLedger`` (with the run's ``plan/quotas.json``, from which assembly lists the
tools still under quota, with why, in the dataset card).

Top-up items are appended to ``plan/items.jsonl`` and generated as the next candidate shards, so the
store, the ledger and the card see them like any planned item.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from prefect import flow

from flows import monitoring
from flows.config import RunConfig
from flows.generate import PLAN_FILE, run_shards
from flows.stage_support import load_catalog
from flows.top_up_ledger import TopUpLedger, read_plan, run_top_ups, write_quotas
from generators import plan
from schemas import atomic
from trainer.dataset.quotas import run_accepted


def plan_top_up(
    config: RunConfig, satisfied: Mapping[str, int] | None
) -> tuple[list[plan.WorkItem], dict[str, int]]:
    """The next round's top-up items, and the top-up items each tool had before them (this store's
    earlier refreshes and this run's earlier rounds). Empty when every tool reached its quota."""
    run_dir = config.run_dir
    catalog = load_catalog(run_dir / "catalog")
    gen = config.generate.plan
    accepted = dict(satisfied or {})
    for subject, n in run_accepted(run_dir).items():
        accepted[subject] = accepted.get(subject, 0) + n
    before = TopUpLedger(config.store_path, config.slug).tried(catalog)
    in_run = run_top_ups(run_dir, catalog, gen)
    tried = {name: max(before.get(name, 0), in_run.get(name, 0)) for name in before.keys() | in_run.keys()}
    return plan.top_up_items(catalog, gen, accepted=accepted, tried=tried), tried


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
    config = config.with_run_name()
    run_dir = config.run_dir
    catalog = load_catalog(run_dir / "catalog")
    gen = config.generate.plan
    items_so_far = read_plan(run_dir / PLAN_FILE)
    items, tried = plan_top_up(config, satisfied)
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
