"""The attempt ledger: tried items are skipped until their tools, generator or verifiers change."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from flows.attempts import AttemptLedger, attempt_context, final_item_ids
from generators import pipeline
from generators.config import GenerateConfig, PlanConfig
from generators.plan import WorkItem, build_plan
from schemas import shards
from schemas.catalog import Catalog
from schemas.models import Tool, Verdict
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


def _plan(tmp_path: Path, items: list[WorkItem]) -> Path:
    plan_file = tmp_path / "plan" / "items.jsonl"
    plan_file.parent.mkdir(parents=True, exist_ok=True)
    plan_file.write_text("".join(i.model_dump_json() + "\n" for i in items), "utf-8")
    return plan_file


def test_record_plan_records_only_final_items(
    tmp_path: Path, catalog: Catalog, items: list[WorkItem]
) -> None:
    plan_file = _plan(tmp_path, items[:5])
    ledger = AttemptLedger(tmp_path / "store", "mini")
    final = {items[0].id, items[2].id, items[4].id}
    assert ledger.record_plan(plan_file, catalog, CONTEXT, final=final) == 3
    assert ledger.record_plan(tmp_path / "absent.jsonl", catalog, CONTEXT, final=final) == 0
    assert ledger.untried(items[:5], catalog, CONTEXT)[0] == [items[1], items[3]]


def _verdict(sample_id: str, passed: bool) -> Verdict:
    return Verdict(
        sample_id=sample_id, verifier="format", passed=passed, code="ok" if passed else "type_error"
    )


def test_final_items_are_judged_samples_and_failures_a_retry_repeats(
    tmp_path: Path, catalog: Catalog, items: list[WorkItem]
) -> None:
    """A crash or an outage decides nothing: unverified shards and unanswered items stay untried."""
    samples = pipeline.generate(items[:6], catalog, GenerateConfig()).samples
    assert [s.provenance.work_item for s in samples] == [i.id for i in items[:6]]
    run = tmp_path / "run"
    shards.write_samples(run / "candidates" / "shard-00000.parquet", samples[:3])  # verified
    shards.write_samples(run / "candidates" / "shard-00001.parquet", samples[3:6])  # crashed mid-verify
    # One accepted, one rejected; the third sample was a repeat dropped before verification, but its
    # id (the same sample) was judged, so it is final too.
    shards.write_verdicts(
        run / "verdicts" / "shard-00000.parquet",
        [_verdict(samples[0].id, True), _verdict(samples[1].id, False)],
    )
    failures = [
        {"item_id": items[6].id, "code": "malformed_json", "message": "m", "details": {}},  # repeats
        {"item_id": items[7].id, "code": "teacher_http_429", "message": "m", "details": {}},  # no answer
        {"item_id": items[8].id, "code": "teacher_error_connection", "message": "m", "details": {}},
    ]
    shards.write_failures(run / "candidates" / "failures-00002.parquet", failures)
    assert final_item_ids(run) == {items[0].id, items[1].id, items[6].id}


def test_other_record_kinds_survive_item_records(tmp_path: Path) -> None:
    ledger = AttemptLedger(tmp_path, "mini")
    assert ledger.record(["k1"]) == 1
    assert ledger.record_entries("top_up", [{"tool": "post_db_node", "round": 1}]) == 1
    assert ledger.record(["k0", "k1"]) == 1
    assert ledger.record_entries("top_up", [{"tool": "post_db_node", "round": 1}]) == 0
    assert ledger.keys() == {"k0", "k1"}
    assert ledger.entries("top_up") == [{"kind": "top_up", "round": 1, "tool": "post_db_node"}]
    with pytest.raises(ValueError, match="record\\(\\)"):
        ledger.record_entries("item", [{"key": "x"}])


def test_concurrent_writers_lose_no_keys(tmp_path: Path) -> None:
    ledger = AttemptLedger(tmp_path, "mini")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: AttemptLedger(tmp_path, "mini").record([f"k{n}"]), range(64)))
    assert ledger.keys() == {f"k{n}" for n in range(64)}
