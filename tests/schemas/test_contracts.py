"""The contract models reject malformed records with a message naming the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.models import HttpBinding, Sample, Style, Tool, ToolCall, Verdict, infer_style
from tests.schemas.contract_fixtures import make_sample, make_tool, node_call


def test_tool_fingerprint_is_filled_and_stable():
    assert make_tool().fingerprint == make_tool().fingerprint
    assert len(make_tool().fingerprint) == 64


def test_tool_fingerprint_ignores_tier():
    assert make_tool(tier=1).fingerprint == make_tool(tier=3).fingerprint


def test_tool_fingerprint_changes_with_description():
    assert make_tool(description="a").fingerprint != make_tool(description="b").fingerprint


def test_tool_rejects_edited_fingerprint():
    data = make_tool().model_dump()
    data["description"] = "edited after the fingerprint was taken"
    with pytest.raises(ValidationError, match="fingerprint"):
        Tool.model_validate(data)


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"type": "array"}, "type 'object'"),
        ({"type": "object", "properties": [], "required": []}, "properties must be an object"),
        ({"type": "object", "properties": {}, "required": ["ghost"]}, "ghost"),
    ],
)
def test_tool_rejects_bad_parameters(parameters, expected):
    data = make_tool().model_dump(exclude={"fingerprint"})
    data["parameters"] = parameters
    with pytest.raises(ValidationError, match=expected):
        Tool.model_validate(data)


def test_tool_rejects_unknown_field():
    data = make_tool().model_dump(exclude={"fingerprint"})
    data["colour"] = "blue"
    with pytest.raises(ValidationError, match="colour"):
        Tool.model_validate(data)


@pytest.mark.parametrize("tier", [0, 4, -1])
def test_tool_rejects_bad_tier(tier):
    data = make_tool().model_dump(exclude={"fingerprint"})
    data["tier"] = tier
    with pytest.raises(ValidationError, match="tier"):
        Tool.model_validate(data)


def test_binding_normalises_method_and_rejects_unknown():
    assert HttpBinding(method="post", path="/x").method == "POST"
    with pytest.raises(ValidationError, match="HTTP method"):
        HttpBinding(method="FETCH", path="/x")


def test_binding_rejects_relative_path():
    with pytest.raises(ValidationError, match="must start with '/'"):
        HttpBinding(method="GET", path="pets")


def test_tool_call_rejects_json_string_arguments():
    with pytest.raises(ValidationError, match="arguments must be a dict"):
        ToolCall(name="f", arguments='{"a": 1}')


def test_tool_call_none_arguments_become_empty():
    assert ToolCall(name="f", arguments=None).arguments == {}


def test_sample_id_is_a_content_hash():
    assert make_sample().id == make_sample().id
    assert make_sample().id != make_sample(query="절점 2번을 추가해줘").id


def test_sample_id_ignores_provenance_and_tier():
    a = make_sample(tier=1, provenance={"generator": "template", "seed": 1})
    b = make_sample(tier=2, provenance={"generator": "llm", "teacher_model": "m", "seed": 9})
    assert a.id == b.id


def test_sample_rejects_mismatched_id():
    data = make_sample().model_dump()
    data["query"] = "changed"
    with pytest.raises(ValidationError, match="does not match its content"):
        Sample.model_validate(data)


def test_sample_round_trips_through_json():
    sample = make_sample()
    assert Sample.model_validate_json(sample.model_dump_json()) == sample


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"style": "irrelevance"}, "irrelevance"),
        ({"calls": []}, "needs at least one call"),
        ({"tools": []}, "at least 1"),
        ({"tools": ["a", "a"]}, "offered twice"),
        ({"query": ""}, "at least 1 character"),
        ({"language": "korean"}, "language"),
        ({"style": "chatty"}, "style"),
    ],
)
def test_sample_rejects_malformed(overrides, expected):
    with pytest.raises(ValidationError, match=expected):
        make_sample(**overrides)


@pytest.mark.parametrize(
    ("tools", "calls", "style"),
    [
        (["a"], [], Style.IRRELEVANCE),
        (["a"], [ToolCall(name="a")], Style.SIMPLE),
        (["a", "b"], [ToolCall(name="a")], Style.MULTIPLE),
        (
            ["a"],
            [ToolCall(name="a", arguments={"x": 1}), ToolCall(name="a", arguments={"x": 2})],
            Style.PARALLEL,
        ),
        (["a", "b"], [ToolCall(name="a"), ToolCall(name="b")], Style.PARALLEL_MULTIPLE),
    ],
)
def test_infer_style(tools, calls, style):
    assert infer_style(tools, calls) is style


def test_verdict_requires_snake_case_code():
    with pytest.raises(ValidationError, match="snake_case"):
        Verdict(sample_id="s", verifier="format", passed=False, code="Unknown-Tool")


def test_verdict_details_must_be_json():
    with pytest.raises(ValidationError, match="JSON-serialisable"):
        Verdict(sample_id="s", verifier="format", passed=False, code="x", details={"obj": object()})


def test_verdict_allows_undecided():
    assert Verdict(sample_id="s", verifier="execution", passed=None, code="http_503").passed is None


def test_openai_schema_shape():
    schema = make_tool().openai_schema()
    assert schema["type"] == "function"
    assert schema["function"]["name"] == "post_db_node"
    assert schema["function"]["parameters"]["required"] == ["Assign"]


def test_node_call_helper_is_canonical():
    assert node_call().canonical() == {
        "name": "post_db_node",
        "arguments": {"Assign": {"1": {"X": 0, "Y": 0, "Z": 0}}},
    }


def test_verdict_constructors_set_pass_state_code_and_details() -> None:
    ok = Verdict.ok("s1", "query_length", length=42)
    failed = Verdict.fail("s1", "query_length", "query_too_short", "query has 3 characters", length=3)
    unsure = Verdict.undecided("s1", "execution", "transport_error")
    assert (ok.passed, ok.code, ok.details) == (True, "ok", {"length": 42})
    assert (failed.passed, failed.code, failed.message, failed.details) == (
        False,
        "query_too_short",
        "query has 3 characters",
        {"length": 3},
    )
    assert (unsure.passed, unsure.code) == (None, "transport_error")


def test_verdict_constructors_keep_the_contract_checks() -> None:
    with pytest.raises(ValidationError, match="snake_case"):
        Verdict.fail("s1", "v", "Not Snake")
    with pytest.raises(ValidationError, match="JSON-serialisable"):
        Verdict.ok("s1", "v", when=object())
