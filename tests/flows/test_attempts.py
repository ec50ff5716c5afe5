"""The attempt ledger: tried items are skipped until their tools, generator or verifiers change."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.attempts import AttemptLedger, attempt_context
from generators.config import PlanConfig
from generators.plan import WorkItem, build_plan
from schemas.catalog import Catalog
from schemas.models import Tool
from schemas.openapi import ingest

DATA = Path(__file__).resolve().parents[1] / "data" / "flows"
CONTEXT = attempt_context({"teacher": "offline-templates"}, {"names": None})


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return ingest([DATA / "mini.yaml"], tier_rules=DATA / "tiers.yaml").catalog


@pytest.fixture
def items(catalog: Catalog) -> list[WorkItem]:
    return build_plan(catalog, PlanConfig(seed=0))


def test_nothing_is_tried_in_a_new_ledger(tmp_path: Path, catalog: Catalog, items: list[WorkItem]) -> None:
    untried, keys = AttemptLedger(tmp_path, "mini").untried(items, catalog, CONTEXT)
    assert untried == items and len(set(keys)) == len(items)


def test_recorded_items_are_not_tried_again(tmp_path: Path, catalog: Catalog, items: list[WorkItem]) -> None:
    ledger = AttemptLedger(tmp_path, "mini")
    _, keys = ledger.untried(items, catalog, CONTEXT)
    assert ledger.record(keys) == len(items)
    assert ledger.untried(items, catalog, CONTEXT)[0] == []


def test_an_edited_tool_makes_its_items_new(tmp_path: Path, catalog: Catalog, items: list[WorkItem]) -> None:
    ledger = AttemptLedger(tmp_path, "mini")
    ledger.record(ledger.untried(items, catalog, CONTEXT)[1])
    edited = Catalog(
        [
            Tool.model_validate({**t.model_dump(), "description": "edited", "fingerprint": ""})
            if t.name == "post_db_node"
            else t
            for t in catalog
        ],
        catalog.manifest,
    )
    untried, _ = ledger.untried(items, edited, CONTEXT)
    naming = [i for i in items if "post_db_node" in {i.subject, *i.targets, *i.offered}]
    assert untried == naming and naming


def test_another_generator_or_verifier_config_tries_everything(
    tmp_path: Path, catalog: Catalog, items: list[WorkItem]
) -> None:
    ledger = AttemptLedger(tmp_path, "mini")
    ledger.record(ledger.untried(items, catalog, CONTEXT)[1])
    other = attempt_context({"teacher": "offline-templates"}, {"names": ["format"]})
    assert ledger.untried(items, catalog, other)[0] == items


def test_record_plan_reads_the_run_plan(tmp_path: Path, catalog: Catalog, items: list[WorkItem]) -> None:
    plan_file = tmp_path / "plan" / "items.jsonl"
    plan_file.parent.mkdir()
    plan_file.write_text("".join(i.model_dump_json() + "\n" for i in items[:5]), "utf-8")
    ledger = AttemptLedger(tmp_path / "store", "mini")
    assert ledger.record_plan(plan_file, catalog, CONTEXT) == 5
    assert ledger.record_plan(tmp_path / "absent.jsonl", catalog, CONTEXT) == 0
    assert len(ledger.untried(items, catalog, CONTEXT)[0]) == len(items) - 5


def test_items_to_retry_are_not_recorded(tmp_path: Path, catalog: Catalog, items: list[WorkItem]) -> None:
    """Items that got no answer (a dead teacher) must be planned again by the next refresh."""
    plan_file = tmp_path / "plan" / "items.jsonl"
    plan_file.parent.mkdir()
    plan_file.write_text("".join(i.model_dump_json() + "\n" for i in items[:5]), "utf-8")
    ledger = AttemptLedger(tmp_path / "store", "mini")
    skip = {items[1].id, items[3].id}
    assert ledger.record_plan(plan_file, catalog, CONTEXT, skip=skip) == 3
    untried = ledger.untried(items[:5], catalog, CONTEXT)[0]
    assert untried == [items[1], items[3]]
