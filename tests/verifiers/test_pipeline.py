"""run_verifiers: gating by earlier verdicts, the undecided policy, contract errors, shards on disk."""

from __future__ import annotations

import json

import pytest

from schemas.errors import ConfigError
from schemas.models import ExecutionResult, Verdict
from schemas.shards import read_samples, read_verdicts, write_samples
from tests.verifiers.verifier_fixtures import ReplayTeacher, call, fixture_ctx, node, sample
from verifiers.base import EXECUTION_RESULTS_KEY, VerifierBugError, VerifierOptions
from verifiers.dedup import DedupVerifier
from verifiers.format import FormatVerifier
from verifiers.pipeline import run_verifiers, verify_shard
from verifiers.semantic import SemanticVerifier
from verifiers.summary import VerdictSummary

T = ["post_db_node", "put_db_node"]
GOOD = sample("Add node 1 at (0, 0, 0)", [node("1", 0, 0, 0)], T)
BAD_FORMAT = sample("Add node 2 at (1, 0, 0)", [call("post_db_node", Assign={"2": {"X": "1"}})], T)
UNGROUNDED = sample("Add node 3 at (0, 0, 0)", [node("3", 0, 0, 9)], T)


def lexical_semantic(**options):
    return SemanticVerifier(SemanticVerifier.Options(similarity="lexical", **options))


def test_a_sample_failing_format_never_reaches_semantic_but_keeps_its_verdict():
    result = run_verifiers([GOOD, BAD_FORMAT], [FormatVerifier(), lexical_semantic()], fixture_ctx())
    got = [(v.sample_id, v.verifier) for v in result.verdicts]
    assert (BAD_FORMAT.id, "format") in got and (BAD_FORMAT.id, "semantic") not in got


def test_accepted_only_when_every_verifier_reached_passed():
    result = run_verifiers(
        [GOOD, BAD_FORMAT, UNGROUNDED], [FormatVerifier(), lexical_semantic()], fixture_ctx()
    )
    assert ([s.id for s in result.accepted], [s.id for s in result.rejected]) == (
        [GOOD.id],
        [BAD_FORMAT.id, UNGROUNDED.id],
    )


def test_gate_all_skips_samples_that_failed_an_unrelated_earlier_verifier():
    twin = sample("add node 1 at (0, 0, 0)!", [node("1", 0, 0, 0)], T)
    result = run_verifiers(
        [GOOD, twin], [FormatVerifier(), DedupVerifier(), lexical_semantic()], fixture_ctx()
    )
    assert [v.verifier for v in result.verdicts if v.sample_id == twin.id] == ["format", "dedup"]


def test_gate_requires_sends_samples_on_when_only_their_requirements_passed():
    twin = sample("add node 1 at (0, 0, 0)!", [node("1", 0, 0, 0)], T)
    verifiers = [FormatVerifier(), DedupVerifier(), lexical_semantic()]
    result = run_verifiers([GOOD, twin], verifiers, fixture_ctx(), gate="requires")
    assert [v.verifier for v in result.verdicts if v.sample_id == twin.id] == ["format", "dedup", "semantic"]
    assert [s.id for s in result.rejected] == [twin.id]


def judged(reply: str, policy: str):
    ctx = fixture_ctx()
    ctx.resources["teacher"] = ReplayTeacher([reply])
    return run_verifiers(
        [GOOD],
        [FormatVerifier(), SemanticVerifier(SemanticVerifier.Options(mode="judge"))],
        ctx,
        undecided=policy,
    )


def test_undecided_is_rejected_by_default():
    result = judged("not json at all", "reject")
    assert ([s.id for s in result.rejected], [s.id for s in result.undecided]) == ([GOOD.id], [GOOD.id])


def test_undecided_policy_accept_accepts_it():
    result = judged("not json at all", "accept")
    assert ([s.id for s in result.accepted], [s.id for s in result.undecided]) == ([GOOD.id], [GOOD.id])


def test_unknown_policy_is_a_config_error():
    with pytest.raises(ConfigError, match="undecided"):
        run_verifiers([GOOD], [], fixture_ctx(), undecided="maybe")


class _Broken:
    """Fault fakes: verifiers that break the contract in one way each."""

    requires: tuple[str, ...] = ()
    cost = 1

    class Options(VerifierOptions):
        pass

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.name = f"broken_{mode}"

    def verify(self, samples, ctx):
        if self.mode == "raises":
            raise KeyError("boom")
        verdicts = [Verdict(sample_id=s.id, verifier=self.name, passed=True) for s in samples]
        if self.mode == "short":
            return verdicts[:-1]
        if self.mode == "reordered":
            return verdicts[::-1]
        return [v.model_copy(update={"verifier": "someone_else"}) for v in verdicts]


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("short", "returned 1 verdict"),
        ("raises", "raised KeyError"),
        ("reordered", "is for sample"),
        ("misnamed", "says verifier='someone_else'"),
    ],
)
def test_a_verifier_breaking_the_contract_raises_an_error_naming_it(mode, message):
    with pytest.raises(VerifierBugError, match=message) as info:
        run_verifiers([GOOD, UNGROUNDED], [_Broken(mode)], fixture_ctx())
    assert info.value.verifier == f"broken_{mode}"


class _Executes:
    """Stands in for the execution verifier's side channel (D2 owns the real one)."""

    name = "records_execution"
    requires: tuple[str, ...] = ()
    cost = 1

    class Options(VerifierOptions):
        pass

    def verify(self, samples, ctx):
        store = ctx.resources.setdefault(EXECUTION_RESULTS_KEY, {})
        for s in samples:
            store[s.id] = [ExecutionResult(call_index=0, method="POST", status_code=200, response="{}")]
        return [Verdict(sample_id=s.id, verifier=self.name, passed=s.id == GOOD.id) for s in samples]


def test_execution_results_are_copied_onto_accepted_and_rejected_samples():
    result = run_verifiers([GOOD, UNGROUNDED], [_Executes()], fixture_ctx())
    assert [s.execution[0].status_code for s in result.accepted + result.rejected] == [200, 200]


def test_later_verifiers_see_execution_results():
    ctx = fixture_ctx()
    teacher = ReplayTeacher(['{"passed": true, "reason": "fine"}'])
    ctx.resources["teacher"] = teacher
    run_verifiers([GOOD], [_Executes(), SemanticVerifier(SemanticVerifier.Options(mode="judge"))], ctx)
    payload = json.loads(teacher.requests[0]["messages"][1]["content"])
    assert payload["execution_results"][0]["status_code"] == 200


def test_summarise_counts_pass_rates_tiers_and_codes():
    tiered = [s.model_copy(update={"tier": 1}) for s in (GOOD, BAD_FORMAT, UNGROUNDED)]
    result = run_verifiers(tiered, [FormatVerifier(), lexical_semantic()], fixture_ctx())
    summary = VerdictSummary.from_verdicts(result.verdicts, tiered)
    assert summary.per_verifier()["format"]["pass_rate"] == pytest.approx(2 / 3)
    assert summary.per_tier()["1"] == {"samples": 3, "accepted": 1, "acceptance_rate": pytest.approx(1 / 3)}
    assert {(r["verifier"], r["code"]) for r in summary.top_rejections()} == {
        ("format", "missing_required"),
        ("semantic", "ungrounded_value"),
    }


def test_verify_shard_writes_three_shards_that_read_back(tmp_path):
    candidates = write_samples(tmp_path / "candidates" / "shard-00003.parquet", [GOOD, BAD_FORMAT])
    ctx = fixture_ctx()
    out = verify_shard(candidates, ctx.catalog, [FormatVerifier()], ctx, tmp_path, 3)
    assert [s.id for s in read_samples(out["paths"]["verified"])] == [GOOD.id]
    assert [s.id for s in read_samples(out["paths"]["rejected"])] == [BAD_FORMAT.id]
    assert len(read_verdicts(tmp_path / "verdicts" / "shard-00003.parquet")) == 2


def test_the_same_sample_twice_in_a_batch_is_rejected_once_by_dedup():
    result = run_verifiers([GOOD, GOOD], [FormatVerifier(), DedupVerifier()], fixture_ctx())
    assert ([s.id for s in result.accepted], [s.id for s in result.rejected]) == ([GOOD.id], [GOOD.id])
    assert [v.code for v in result.verdicts] == ["ok", "ok", "ok", "exact_duplicate"]
