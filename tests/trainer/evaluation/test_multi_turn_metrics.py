"""Multi-turn scoring without a sandbox: the turn checks in their order, entries with errors, pass^k,
and the variant groups of generated trajectories."""

from __future__ import annotations

import math

import pytest

from schemas.trajectories import parse_trajectory
from tests.generators.test_trajectory_generator import _draw
from tests.verifiers.trajectory_fixtures import records
from trainer.evaluation.multi_turn_metrics import (
    EntryScore,
    aggregate,
    pass_hat_k,
    score_entry,
    score_turn,
    variant_group,
)
from trainer.evaluation.rollout import RolloutResult, TurnRollout

BEAM = parse_trajectory(next(r for r in records() if r["id"] == "en-good-beam"))  # 3 turns


def _turn(index: int, **kw) -> TurnRollout:
    return TurnRollout(index, finished=kw.pop("finished", True), **kw)


def test_a_turn_fails_on_the_first_check_in_order() -> None:
    read = {"NODE": {"1": {"X": 0}}}
    assert score_turn(
        _turn(0, results=[read], gold_results=[read], said=["Node 1 is at 0"]), ["node 1"]
    ).passed
    # the gold's read is missing even though the state is right
    assert score_turn(_turn(0, results=[], gold_results=[read]), []).reason == "missing_gold_result"
    # the words do not carry the required output; a number said counts as that number
    assert score_turn(_turn(0, said=["done"]), ["two elements"]).reason == "missing_output"
    assert score_turn(_turn(0, said=["there are 2.0 of them"]), ["2"]).passed
    # a withheld tool fails the turn before anything else, even when the state happens to match
    failing = _turn(0, not_offered=["post_db_elem"], state_difference="NODE row 4: ...", said=["x"])
    assert score_turn(failing, ["y"]).reason == "tool_not_offered"
    assert score_turn(_turn(0, hit_step_limit=True, steps=20), []).reason == "step_limit"
    assert score_turn(_turn(0, state_difference="NODE row 4: expected absent"), []).reason == "state_mismatch"


def test_an_entry_passes_only_if_every_turn_does_and_names_its_first_failing_turn() -> None:
    good = [_turn(0), _turn(1), _turn(2, said=["two elements"])]
    assert score_entry(RolloutResult(BEAM, turns=good)).passed
    bad = [_turn(0), _turn(1, state_difference="ELEM row 2: ..."), _turn(2, said=["nothing"])]
    entry = score_entry(RolloutResult(BEAM, turns=bad))
    assert not entry.passed and entry.first_failed_turn == 1 and entry.reason == "state_mismatch"
    assert [t.passed for t in entry.turns] == [True, False, False]


def test_an_error_is_never_a_pass_and_blames_the_turn_it_happened_in() -> None:
    # two turns passed, then the backend failed in the third: no pass, even with nothing else wrong
    turns = [_turn(0), _turn(1), _turn(2, finished=False)]
    result = RolloutResult(BEAM, turns=turns, error="backend_error", error_message="<error>APIError")
    entry = score_entry(result)
    assert not entry.passed and entry.first_failed_turn == 2 and entry.error == "backend_error"
    # a seed the sandbox refused: no turn ran at all
    refused = score_entry(RolloutResult(BEAM, error="invalid_seed", error_message="bad row"))
    assert not refused.passed and refused.first_failed_turn == 0 and refused.reason == "invalid_seed"
    # a rollout cut short without an error still cannot pass: a turn that was not scored is not a pass
    assert not score_entry(RolloutResult(BEAM, turns=[_turn(0)])).passed
    figures = aggregate([entry, refused])
    assert figures["errors"] == {"backend_error": 1, "invalid_seed": 1} and figures["reasons"] == {}
    assert figures["accuracy"]["value"] == 0.0


def _entry(group: str, passed: bool, category: str = "base") -> EntryScore:
    return EntryScore(id=f"{group}-{passed}", category=category, language="en", group=group, passed=passed)


def test_pass_hat_k_is_the_chance_that_k_variants_of_a_group_all_pass() -> None:
    entries = [_entry("a", True), _entry("a", True), _entry("a", False), _entry("b", True), _entry("b", True)]
    got = pass_hat_k(entries)
    # group a: 2 of 3 pass; group b: 2 of 2
    assert got["1"] == {"value": pytest.approx((2 / 3 + 1) / 2), "groups": 2}
    assert got["2"] == {"value": pytest.approx((math.comb(2, 2) / math.comb(3, 2) + 1) / 2), "groups": 2}
    assert got["3"] == {"value": 0.0, "groups": 1}  # a pass^3 needs all three of group a
    assert "4" not in got


def test_category_mean_is_unweighted_as_bfcl_reports_it() -> None:
    entries = [_entry(str(i), i < 9) for i in range(10)] + [_entry("m", False, "miss_func")]
    figures = aggregate(entries)
    assert figures["by_category"]["base"]["value"] == 0.9 and figures["by_category"]["base"]["n"] == 10
    assert figures["category_mean"]["value"] == pytest.approx((0.9 + 0.0) / 2)
    assert figures["accuracy"]["value"] == pytest.approx(9 / 11)


def test_surface_variants_of_one_generated_blueprint_share_a_group_and_blueprints_do_not() -> None:
    drawn = _draw(24)  # two variants per blueprint (the generator's default)
    groups = [variant_group(t) for t in drawn]
    assert len({t.id for t in drawn}) == len(drawn)  # the ids differ per variant: no use as a key
    assert groups[0::2] == groups[1::2]
    assert len(set(groups)) == len(drawn) // 2
    assert all(drawn[i].messages != drawn[i + 1].messages for i in range(0, len(drawn), 2))
