"""The top-up ledger: top-up items tried per tool, bounded over refreshes, reset when a tool changes."""

from __future__ import annotations

import json

from flows.top_up_ledger import TopUpLedger, run_top_ups, write_quotas
from generators.config import PlanConfig
from generators.pipeline import write_plan
from generators.plan import build_plan, tool_quotas, top_up_items
from schemas.catalog import Catalog
from tests.generators.catalog_fixtures import synthetic_tools


def test_recording_is_idempotent_and_keeps_the_highest_count(tmp_path) -> None:
    catalog = Catalog(synthetic_tools(3))
    ledger = TopUpLedger(tmp_path / "store", "gennx")
    assert ledger.record({"post_res0000": 4}, catalog) == 1
    assert ledger.record({"post_res0000": 4}, catalog) == 0  # a resumed run records the same reach
    ledger.record({"post_res0000": 2, "post_res0001": 1}, catalog)
    assert ledger.tried(catalog) == {"post_res0000": 4, "post_res0001": 1}


def test_a_changed_tool_starts_its_top_up_from_zero(tmp_path) -> None:
    tools = synthetic_tools(2)
    ledger = TopUpLedger(tmp_path / "store", "gennx")
    ledger.record({"post_res0000": 5, "post_res0001": 5}, Catalog(tools))
    changed = {**tools[0].model_dump(exclude={"fingerprint"}), "description": "Create resource 0, edited."}
    edited = [type(tools[0]).model_validate(changed), tools[1]]
    assert TopUpLedger(tmp_path / "store", "gennx").tried(Catalog(edited)) == {"post_res0001": 5}


def test_run_top_ups_counts_items_past_the_quota_and_quotas_file_records_them(tmp_path) -> None:
    catalog, config = Catalog(synthetic_tools(4)), PlanConfig(seed=2)
    quotas = tool_quotas(catalog, config)
    accepted = dict(quotas) | {"post_res0002": quotas["post_res0002"] - 2}
    items = [*build_plan(catalog, config), *top_up_items(catalog, config, accepted=accepted, tried={})]
    write_plan(tmp_path / "plan" / "items.jsonl", items)
    reach = run_top_ups(tmp_path, catalog, config)
    assert reach == {"post_res0002": 2}
    write_quotas(tmp_path, catalog, config, reach)
    written = json.loads((tmp_path / "plan" / "quotas.json").read_text("utf-8"))
    assert written["quotas"] == quotas
    assert written["top_up"] == {"max_per_tool": config.top_up_max, "tried": {"post_res0002": 2}}
