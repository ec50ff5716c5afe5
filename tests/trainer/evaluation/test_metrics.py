"""Metric cases that trip naive scorers (issue: evaluation, 'Done means')."""

from __future__ import annotations

import pytest

from schemas.models import HttpBinding, Tool, ToolCall, ToolSource
from trainer.evaluation.metrics import aggregate, match_call, score_example, values_match, wilson_interval


def _tool(name: str, properties: dict, required: list[str]) -> Tool:
    return Tool(
        name=name,
        parameters={"type": "object", "properties": properties, "required": required},
        binding=HttpBinding(method="POST", path=f"/{name}"),
        source=ToolSource(file="t.yaml"),
    )


TOOLS = {
    t.name: t
    for t in (
        _tool(
            "set_load",
            {
                "node": {"type": "integer"},
                "force": {"type": "number"},
                "unit": {"type": "string", "default": "kN"},
                "case": {"type": "string"},
                "point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}},
                "ids": {"type": "array", "items": {"type": "integer"}},
                "active": {"type": "boolean"},
            },
            ["node", "force"],
        ),
        _tool("get_node", {"id": {"type": "integer"}}, ["id"]),
    )
}


def call(name: str = "set_load", **arguments) -> ToolCall:
    return ToolCall(name=name, arguments=arguments)


@pytest.mark.parametrize(
    ("predicted", "expected", "schema", "ok"),
    [
        (10, 10.0, {"type": "number"}, True),  # an int may stand for a float
        (10.0, 10, {"type": "integer"}, False),  # …not the reverse
        (True, 1, {"type": "integer"}, False),  # a bool is not an int
        (1, True, {"type": "boolean"}, False),
        ("Dead Load", "dead-load", {"type": "string"}, True),  # case and punctuation
        ("DEAD LOAD.", "dead load", {"type": "string"}, True),
        ("DEAD LOAD", "dead load", None, False),  # no declared string: exact (never more lenient than BFCL)
        ("dead load!", "dead load", {"type": "string"}, False),  # BFCL's rule strips no "!"
        ("dead\tload", "dead load", {"type": "string"}, False),  # …and no tabs
        (1234567891, 1234567890, {"type": "integer"}, False),  # no tolerance on integers
        (0.30000000000000004, 0.3, {"type": "number"}, False),  # …nor on floats
        ("dead", "live", None, False),
        ([1, 2], [1, 2], {"type": "array"}, True),
        ([2, 1], [1, 2], {"type": "array"}, False),  # lists keep their order
        ({"x": 1, "y": 2}, {"y": 2.0, "x": 1.0}, {"type": "object"}, True),  # nested object
        ({"x": 1}, {"x": 1, "y": 2}, {"type": "object"}, False),
        (None, None, None, True),
        ("1", 1, None, False),
    ],
)
def test_values_match(predicted, expected, schema, ok):
    assert values_match(predicted, expected, schema) is ok


def test_argument_order_does_not_matter():
    m = match_call(call(force=5.0, node=1), call(node=1, force=5.0), TOOLS["set_load"])
    assert m.ast_ok


def test_omitted_optional_argument_with_default_is_fine():
    assert match_call(call(node=1, force=5), call(node=1, force=5, unit="kN"), TOOLS["set_load"]).ast_ok


def test_omitted_optional_argument_without_default_fails():
    m = match_call(call(node=1, force=5), call(node=1, force=5, case="DL"), TOOLS["set_load"])
    assert not m.ast_ok and m.reason == "missing_argument:case"


def test_extra_argument_fails():
    m = match_call(call(node=1, force=5, case="DL"), call(node=1, force=5), TOOLS["set_load"])
    assert not m.ast_ok and m.reason == "unexpected_argument:case"


def test_argument_outside_schema_fails():
    m = match_call(call(node=1, force=5, colour="red"), call(node=1, force=5), TOOLS["set_load"])
    assert m.reason == "unexpected_argument:colour"


def test_missing_required_fails():
    assert (
        match_call(call(force=5), call(node=1, force=5), TOOLS["set_load"]).reason == "missing_required:node"
    )


def test_several_acceptable_values():
    m = match_call(
        call(node=1, force=5, case="dead"),
        call(node=1, force=5, case="DL"),
        TOOLS["set_load"],
        acceptable={"case": ["dead", "D"]},
    )
    assert m.ast_ok


def test_nested_object_compared_deeply():
    good = match_call(
        call(node=1, force=1, point={"x": 1, "y": 2}), call(node=1, force=1, point={"x": 1.0, "y": 2.0})
    )
    bad = match_call(
        call(node=1, force=1, point={"x": 1, "y": 3}), call(node=1, force=1, point={"x": 1, "y": 2})
    )
    assert good.ast_ok and not bad.ast_ok


def test_parallel_calls_in_another_order_match():
    expected = [call("get_node", id=1), call("get_node", id=2), call(node=3, force=1.5)]
    predicted = [call(node=3, force=1.5), call("get_node", id=2), call("get_node", id=1)]
    s = score_example(predicted, expected, ["get_node", "set_load"], TOOLS)
    assert s.ast and s.exact and s.name_hits == 3


def test_pairing_is_optimal_not_greedy():
    """A greedy pairing would match predicted[0] (name right, value wrong) with expected[0] and then
    fail predicted[1]; the optimal pairing finds both exact matches."""
    expected = [call("get_node", id=1), call("get_node", id=2)]
    predicted = [call("get_node", id=2), call("get_node", id=1)]
    s = score_example(predicted, expected, ["get_node"], TOOLS)
    assert s.ast and s.values_ok == 2


def test_call_to_tool_not_offered_is_a_hallucination():
    s = score_example([call("delete_everything")], [call("get_node", id=1)], ["get_node"], TOOLS)
    assert s.hallucinated_calls == 1 and not s.ast


def test_refusal_where_no_tool_fits_is_right():
    s = score_example([], [], ["get_node"], TOOLS)
    assert s.irrelevance_ok and s.ast


def test_calling_when_no_tool_fits_is_wrong():
    s = score_example([call("get_node", id=1)], [], ["get_node"], TOOLS)
    assert s.irrelevance_ok is False and not s.ast


def test_unparseable_output_counts_against_every_rate():
    s = score_example(None, [call("get_node", id=1)], ["get_node"], TOOLS)
    rates = aggregate([s])
    assert not s.parse_ok
    assert rates["parse_validity"].value == 0
    assert rates["ast_match"].value == 0


def test_missing_parallel_call_is_not_a_match():
    expected = [call("get_node", id=1), call("get_node", id=2)]
    s = score_example([call("get_node", id=1)], expected, ["get_node"], TOOLS)
    assert not s.ast and s.key_fn == 1


def test_schema_check_is_used_for_validity():
    s = score_example(
        [call("get_node", id="x")],
        [call("get_node", id=1)],
        ["get_node"],
        TOOLS,
        schema_check=lambda tool, c: isinstance(c.arguments.get("id"), int),
    )
    assert s.schema_valid_calls == 0


def test_key_f1_counts_missing_and_extra_keys():
    s = score_example(
        [call(node=1, force=2, case="x")], [call(node=1, force=2, unit="N")], ["set_load"], TOOLS
    )
    rates = aggregate([s])
    # tp=2 (node, force), fp=1 (case), fn=1 (unit): precision = recall = 2/3
    assert rates["argument_key_f1"].value == pytest.approx(2 / 3)


def test_wilson_interval_brackets_the_rate():
    low, high = wilson_interval(8, 10)
    assert low < 0.8 < high
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_aggregate_reports_n():
    scores = [
        score_example([call("get_node", id=i)], [call("get_node", id=i)], ["get_node"], TOOLS)
        for i in range(5)
    ]
    rates = aggregate(scores)
    assert rates["exact_match"].n == 5 and rates["exact_match"].value == 1.0


def test_unparseable_reply_counts_its_reference_keys_as_missed():
    expected = [call("get_node", id=1)]
    rates = aggregate(
        [
            score_example(None, expected, ["get_node"], TOOLS),
            score_example(expected, expected, ["get_node"], TOOLS),
        ]
    )
    assert rates["argument_key_f1"].n == 2
    assert rates["argument_key_f1"].value == pytest.approx(2 / 3)


def test_empty_reply_where_a_call_was_due_is_not_parseable():
    s = score_example([], [call("get_node", id=1)], ["get_node"], TOOLS)
    rates = aggregate([s])
    assert not s.parse_ok and not s.ast and s.reasons == ["no_call"]
    assert rates["parse_validity"].value == 0 and rates["call_rate"].value == 0


def test_unparseable_reply_where_none_was_due_is_an_abstention():
    s = score_example(None, [], ["get_node"], TOOLS)
    assert s.irrelevance_ok and s.ast


def test_a_model_that_never_calls_is_at_chance_on_relevance():
    due = score_example([], [call("get_node", id=1)], ["get_node"], TOOLS)
    not_due = score_example([], [], ["get_node"], TOOLS)
    rates = aggregate([due, not_due])
    assert rates["irrelevance_accuracy"].value == 1.0
    assert rates["relevance_balanced"].value == 0.5


def test_tool_choice_chance_is_one_over_tools_offered():
    one = score_example([call("get_node", id=1)], [call("get_node", id=1)], ["get_node"], TOOLS)
    two = score_example([call("get_node", id=1)], [call("get_node", id=1)], ["get_node", "set_load"], TOOLS)
    assert aggregate([one, two])["tool_choice_chance"].value == pytest.approx(0.75)


def test_zero_argument_stratum_is_marked():
    tools = {**TOOLS, "ping": _tool("ping", {}, [])}
    assert score_example([call("ping")], [call("ping")], ["ping"], tools).zero_arguments
    assert not score_example(
        [call("get_node", id=1)], [call("get_node", id=1)], ["get_node"], TOOLS
    ).zero_arguments


def test_bfcl_verdict_is_reported_beside_callforge():
    # Omitting an optional argument whose reference value is the schema default: callforge accepts,
    # BFCL (no "" marker in the reference) does not.
    s = score_example([call(node=1, force=5)], [call(node=1, force=5, unit="kN")], ["set_load"], TOOLS)
    assert s.ast and not s.ast_bfcl


def test_reference_with_acceptable_values_and_omittable_arguments():
    from trainer.evaluation.scoring import ReferenceCall

    ref = ReferenceCall.exact("set_load", {"node": 1, "force": 5, "case": "DL"}, {"case": ["dead"]}, ["case"])
    expected = [call(node=1, force=5, case="DL")]
    for predicted, ok in (
        (call(node=1, force=5, case="Dead"), True),
        (call(node=1, force=5), True),
        (call(node=1, force=5, case="live"), False),
    ):
        s = score_example([predicted], expected, ["set_load"], TOOLS, references=[ref])
        assert s.ast is ok and s.ast_bfcl is ok


def test_argument_values_never_exceed_their_total():
    # unit="kN" is the schema default: the reference accepts it given or left out; giving it must not
    # count a value the reference never asked for.
    s = score_example([call(node=1, force=5, unit="kN")], [call(node=1, force=5)], ["set_load"], TOOLS)
    assert s.ast and s.values_ok <= s.values_total
    assert aggregate([s])["argument_value_accuracy"].value == 1.0
