"""The teacher replay set (tests/data/teacher_replay): hand-written replies to the real client's prompts for a
60-item GEN NX plan, replayed over loopback through the real ``openai`` client.

Good replies must all become samples and pass the default verifiers; plausible-but-wrong ones (invented
codes, wrong units, swapped fields, a per-record delete, the wrong tool) must be rejected with the code
recorded beside them. When a prompt changes, the first test fails: re-record as
``tests/generators/replay.py`` says (``PYTHONPATH=. python -m tests.generators.replay capture``) and
check the replies against the new prompts.
"""

from __future__ import annotations

from typing import Any

import pytest

from schemas.catalog import Catalog
from schemas.models import Sample
from tests.generators.replay import (
    GOOD,
    PROMPTS,
    WRONG,
    captured,
    read_jsonl,
    rejection,
    replay_items,
    run_client,
    verify,
)

RERECORD = (
    "the prompts the client sends differ from tests/data/teacher_replay/prompts.jsonl: re-record with "
    "`PYTHONPATH=. python -m tests.generators.replay capture`, then check every reply in good.jsonl and "
    "wrong.jsonl still answers its prompt (see tests/generators/replay.py)"
)


@pytest.fixture(scope="module")
def items(gennx_catalog: Catalog) -> list[Any]:
    return replay_items(gennx_catalog)


@pytest.fixture(scope="module")
def good(gennx_catalog: Catalog, items: list[Any]) -> tuple[list[Sample], list[dict[str, Any]]]:
    replies = {row["item_id"]: row["reply"] for row in read_jsonl(GOOD)}
    samples, failures, _ = run_client(gennx_catalog, items, replies)
    return samples, failures


@pytest.fixture(scope="module")
def wrong(gennx_catalog: Catalog, items: list[Any]) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    """Each wrong row and what became of it: ``generation:<code>``, ``<verifier>:<code>`` or None."""
    rows = read_jsonl(WRONG)
    by_id = {row["item_id"]: row for row in rows}
    subset = [item for item in items if item.id in by_id]
    samples, failures, _ = run_client(gennx_catalog, subset, {i: r["reply"] for i, r in by_id.items()})
    outcome: dict[str, str | None] = {f["item_id"]: f"generation:{f['code']}" for f in failures}
    verdicts = verify(gennx_catalog, samples, reject_codes_not_in_spec=True)
    for sample in samples:
        outcome[sample.provenance.work_item or ""] = rejection(verdicts[sample.id])
    return rows, outcome


def test_the_stored_prompts_are_what_the_client_sends_now(gennx_catalog: Catalog) -> None:
    stored = {row["item_id"]: row["sha256"] for row in read_jsonl(PROMPTS)}
    now = {row["item_id"]: row["sha256"] for row in captured(gennx_catalog)}
    assert now == stored, RERECORD


def test_the_set_covers_every_style_and_language_with_one_reply_per_prompt(items: list[Any]) -> None:
    assert len(items) == 60
    assert {(i.style.value, i.language) for i in items} == {
        (s, lang)
        for s in ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
        for lang in ("en", "ko")
    }
    assert sorted(row["item_id"] for row in read_jsonl(GOOD)) == sorted(i.id for i in items)


def test_every_good_reply_becomes_a_sample(good: tuple[list[Sample], list[dict[str, Any]]]) -> None:
    samples, failures = good
    assert failures == [] and len(samples) == 60


@pytest.mark.slow
def test_every_good_sample_passes_the_default_verifiers(
    gennx_catalog: Catalog, good: tuple[list[Sample], list[dict[str, Any]]]
) -> None:
    """Every recorded good teacher reply through the default verifiers (the embedding model loads once:
    ~5-10 s)."""
    samples, _ = good
    verdicts = verify(gennx_catalog, samples)
    rejected = {s.query: rejection(verdicts[s.id]) for s in samples if rejection(verdicts[s.id])}
    assert rejected == {}


@pytest.mark.slow
def test_every_wrong_reply_is_rejected_with_its_recorded_code(
    wrong: tuple[list[dict[str, Any]], dict[str, str | None]],
) -> None:
    rows, outcome = wrong
    assert {row["item_id"]: outcome.get(row["item_id"]) for row in rows} == {
        row["item_id"]: row["rejected_by"] for row in rows
    }
    # every flaw kind is there, and only listed known misses get through
    assert {row["flaw"] for row in rows} >= {"invented_code", "wrong_unit", "swapped_fields"}
    assert all(row.get("known_miss") for row in rows if row["rejected_by"] is None)


@pytest.mark.slow
def test_invented_codes_for_fields_with_allowed_values_are_rejected_by_the_default_chain(
    gennx_catalog: Catalog, items: list[Any]
) -> None:
    rows = [
        r
        for r in read_jsonl(WRONG)
        if r["flaw"] == "invented_code" and r["rejected_by"] == "format:enum_violation"
    ]
    subset = [item for item in items if item.id in {r["item_id"] for r in rows}]
    samples, failures, _ = run_client(gennx_catalog, subset, {r["item_id"]: r["reply"] for r in rows})
    assert failures == [] and len(samples) == len(rows) >= 6
    verdicts = verify(gennx_catalog, samples)  # the default chain: no reject_codes_not_in_spec
    assert {rejection(verdicts[s.id]) for s in samples} == {"format:enum_violation"}


@pytest.mark.slow
def test_invented_codes_for_example_only_fields_are_warnings_in_the_default_chain(
    gennx_catalog: Catalog, items: list[Any]
) -> None:
    rows = [r for r in read_jsonl(WRONG) if r["rejected_by"] == "format:code_not_in_spec"]
    subset = [item for item in items if item.id in {r["item_id"] for r in rows}]
    samples, failures, _ = run_client(gennx_catalog, subset, {r["item_id"]: r["reply"] for r in rows})
    # SDIS_DEV_TYPE (the manual's examples say SLD, the schema's sub-object SB) and CSCS TYPE (one
    # example, no list): the fields whose allowed values no source settles (specs/gennx/README.md).
    assert failures == [] and len(samples) == len(rows) >= 2
    verdicts = verify(gennx_catalog, [s for s in samples])
    for sample in samples:
        (format_verdict,) = [v for v in verdicts[sample.id] if v.verifier == "format"]
        assert format_verdict.passed is True
        assert {w["code"] for w in format_verdict.details["warnings"]} == {"code_not_in_spec"}
