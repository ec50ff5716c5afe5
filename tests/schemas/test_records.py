"""Sample <-> TRL / xLAM / flat records round-trip, and foreign records are read with clear errors."""

from __future__ import annotations

import json

import pytest

from schemas.errors import RecordError
from schemas.models import ToolCall
from schemas.records import from_flat, from_trl, from_xlam, guess_language, to_flat, to_trl, to_xlam
from tests.schemas.contract_fixtures import make_sample, make_tool, node_call

TOOLS = {t.name: t for t in (make_tool(), make_tool("get_db_node", description="Read nodes"))}

SAMPLES = {
    "simple": make_sample(),
    "multiple": make_sample(style="multiple", tools=["get_db_node", "post_db_node"], language="ko"),
    "parallel": make_sample(style="parallel", calls=[node_call("1"), node_call("2", x=3.5)]),
    "parallel_multiple": make_sample(
        style="parallel_multiple",
        tools=["post_db_node", "get_db_node"],
        calls=[node_call("1"), ToolCall(name="get_db_node", arguments={})],
    ),
    "irrelevance": make_sample(
        style="irrelevance", calls=[], query="What's the weather in Seoul?", language="en"
    ),
}


@pytest.mark.parametrize("style", sorted(SAMPLES))
def test_trl_round_trip_keeps_id(style):
    sample = SAMPLES[style]
    assert from_trl(to_trl(sample, TOOLS)).id == sample.id


@pytest.mark.parametrize("style", sorted(SAMPLES))
def test_trl_round_trip_through_json_lines(style):
    sample = SAMPLES[style]
    line = json.dumps(to_trl(sample, TOOLS), ensure_ascii=False)
    assert from_trl(json.loads(line)).id == sample.id


@pytest.mark.parametrize("style", sorted(SAMPLES))
def test_xlam_round_trip_keeps_id(style):
    sample = SAMPLES[style]
    assert from_xlam(to_xlam(sample, TOOLS)).id == sample.id


def test_flat_round_trip_keeps_id():
    sample = SAMPLES["multiple"]
    assert from_flat(to_flat(sample)).id == sample.id


def test_flat_refuses_parallel():
    with pytest.raises(RecordError, match="exactly one call"):
        to_flat(SAMPLES["parallel"])


def test_trl_assistant_turn_carries_dict_arguments():
    record = to_trl(SAMPLES["simple"], TOOLS)
    call = record["messages"][2]["tool_calls"][0]["function"]
    assert call == {"name": "post_db_node", "arguments": {"Assign": {"1": {"X": 0, "Y": 0, "Z": 0}}}}


def test_trl_tools_are_openai_schemas_in_offered_order():
    record = to_trl(SAMPLES["multiple"], TOOLS)
    assert [t["function"]["name"] for t in record["tools"]] == ["get_db_node", "post_db_node"]


def test_trl_with_tool_response_and_final_answer():
    record = to_trl(SAMPLES["simple"], TOOLS, tool_responses=['{"NODE": {"1": {}}}'], final_answer="Done.")
    roles = [m["role"] for m in record["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    assert from_trl(record).id == SAMPLES["simple"].id


def test_trl_tool_response_count_must_match_calls():
    with pytest.raises(RecordError, match="2 tool responses for 1 calls"):
        to_trl(SAMPLES["simple"], TOOLS, tool_responses=["a", "b"])


def test_irrelevance_record_answers_without_calls():
    record = to_trl(SAMPLES["irrelevance"], TOOLS)
    assert "tool_calls" not in record["messages"][-1]
    assert record["messages"][-1]["content"]


def test_unknown_offered_tool_is_an_error():
    with pytest.raises(RecordError, match="not in the catalog"):
        to_trl(make_sample(tools=["post_db_node", "ghost"], style="multiple"), TOOLS)


def test_reads_seed_style_record_with_string_arguments_and_tools():
    """The GEN NX seed stores tools and arguments as JSON strings and carries no style column."""
    record = {
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "절점 1번을 원점에 추가해줘"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "type": "function",
                        "function": {"name": "POST /db/node", "arguments": '{"Assign":{"1":{"X":0}}}'},
                    }
                ],
            },
        ],
        "tools": json.dumps([{"type": "function", "function": {"name": "POST /db/node", "parameters": {}}}]),
    }
    sample = from_trl(record)
    assert sample.style.value == "simple"
    assert sample.language == "ko"
    assert sample.calls[0].arguments == {"Assign": {"1": {"X": 0}}}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"role": "system", "content": "x"}]}, "no message with role 'user'"),
        (
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {
                        "role": "assistant",
                        "tool_calls": [{"function": {"name": "f", "arguments": "{not json"}}],
                    },
                ],
                "tools": [{"function": {"name": "f"}}],
            },
            "not valid JSON",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "[1]"}}]},
                ],
                "tools": [{"function": {"name": "f"}}],
            },
            "must be a JSON object",
        ),
    ],
)
def test_malformed_trl_records_are_refused(record, expected):
    with pytest.raises(RecordError, match=expected):
        from_trl(record)


def test_xlam_malformed_answers_are_refused():
    with pytest.raises(RecordError, match="'answers' is not valid JSON"):
        from_xlam({"query": "q", "tools": "[]", "answers": "[{"})


@pytest.mark.parametrize(
    ("text", "language"), [("절점 추가", "ko"), ("add a node", "en"), ("node 1 추가", "ko")]
)
def test_guess_language(text, language):
    assert guess_language(text) == language
