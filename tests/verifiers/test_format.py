"""The format verifier: one reason code per kind of schema-level problem, with a JSON pointer."""

from __future__ import annotations

import pytest

from schemas.models import Sample, ToolCall
from tests.verifiers.verifier_fixtures import call, fixture_ctx, make_tool, node, sample
from verifiers.arguments import argument_issues, compiled
from verifiers.format import FormatVerifier, check_call
from verifiers.testing import check_verifier

NODE_TOOLS = ["post_db_node", "put_db_node"]
USER = ["create_user", "get_weather"]


def verdict_of(s: Sample):
    return FormatVerifier().verify([s], fixture_ctx())[0]


# (case, sample, expected code, expected pointer); test_format_fast_path.py runs these through a warm
# catalog (the fast path) as well.
FAILING = [
    (
        "hallucinated tool",
        sample("q", [call("post_db_nodes", Assign={})], NODE_TOOLS),
        "unknown_tool",
        "",
    ),
    (
        "offered, not in catalog",
        sample("q", [call("ghost_tool", x=1)], ["ghost_tool", "post_db_node"]),
        "tool_not_in_catalog",
        "",
    ),
    (
        "missing required",
        sample("q", [call("create_user", name="Ann")], USER),
        "missing_required",
        "/email",
    ),
    (
        "missing nested required",
        sample("q", [call("post_db_node", Assign={"1": {"X": 0, "Y": 0}})], NODE_TOOLS),
        "missing_required",
        "/Assign/1/Z",
    ),
    (
        "extra argument",
        sample("q", [call("create_user", name="A", email="a@b.co", role="x")], USER),
        "unexpected_argument",
        "/role",
    ),
    (
        "wrong type",
        sample("q", [call("post_db_node", Assign={"1": {"X": "0", "Y": 0, "Z": 0}})], NODE_TOOLS),
        "type_error",
        "/Assign/1/X",
    ),
    (
        "bool is not a number",
        sample("q", [call("create_user", name="A", email="a@b.co", age=True)], USER),
        "type_error",
        "/age",
    ),
    (
        "enum",
        sample("q", [call("get_weather", city="Oslo", unit="kelvin")], USER),
        "enum_violation",
        "/unit",
    ),
    (
        "format",
        sample("q", [call("create_user", name="A", email="not-an-email")], USER),
        "format_violation",
        "/email",
    ),
    (
        "pattern",
        sample("q", [call("create_user", name="A", email="a@b.co", zip="12ab")], USER),
        "pattern_violation",
        "/zip",
    ),
    (
        "map key pattern",
        sample("q", [call("post_db_node", Assign={"one": {"X": 0, "Y": 0, "Z": 0}})], NODE_TOOLS),
        "pattern_violation",
        "/Assign/one",
    ),
    ("range", sample("q", [call("get_weather", city="Oslo", days=30)], USER), "range_violation", "/days"),
    (
        "style: parallel with one call",
        sample("q", [node("1", 0, 0, 0)], NODE_TOOLS, style="parallel"),
        "style_mismatch",
        "",
    ),
    (
        "style: simple with two tools offered",
        sample("q", [node("1", 0, 0, 0)], NODE_TOOLS, style="simple"),
        "style_mismatch",
        "",
    ),
    (
        "duplicate call",
        sample("q", [node("1", 0, 0, 0), node("1", 0, 0, 0)], NODE_TOOLS),
        "duplicate_call",
        "",
    ),
]


@pytest.mark.parametrize(("case", "s", "code", "pointer"), FAILING, ids=[c[0] for c in FAILING])
def test_each_problem_gets_its_code_and_pointer(case, s, code, pointer):
    verdict = verdict_of(s)
    assert (verdict.passed, verdict.code, verdict.details["pointer"]) == (False, code, pointer), case


PASSING = [
    sample("q", [node("1", 0, 0, 0)], ["post_db_node"]),
    sample("q", [node("1", 0, 0, 0), node("2", 3, 0, 0)], NODE_TOOLS),
    sample("q", [node("1", 0, 0, 0), call("get_weather", city="Oslo")], ["post_db_node", "get_weather"]),
    sample("q", [], USER),
    sample("q", [call("create_user", name="A", email="a@b.co", zip="12345", age=3.0)], USER),
]
PASSING_IDS = ["simple", "parallel", "parallel_multiple", "irrelevance", "integer written 3.0"]


@pytest.mark.parametrize("s", PASSING, ids=PASSING_IDS)
def test_well_formed_samples_pass(s):
    verdict = verdict_of(s)
    assert (verdict.passed, verdict.code) == (True, "ok"), verdict.message


def test_every_issue_is_listed_with_its_call_index():
    s = sample("q", [node("1", 0, 0, 0), call("post_db_node", Assign={"2": {"X": "a"}})], NODE_TOOLS)
    issues = verdict_of(s).details["issues"]
    assert [(i["code"], i["pointer"], i["call_index"]) for i in issues] == [
        ("missing_required", "/Assign/2/Y", 1),
        ("missing_required", "/Assign/2/Z", 1),
        ("type_error", "/Assign/2/X", 1),
    ]


def test_check_call_flags_a_call_outside_the_offered_tools():
    tool = fixture_ctx().catalog["post_db_node"]
    issues = check_call(tool, node("1", 0, 0, 0), offered=["put_db_node"])
    assert [i.code for i in issues] == ["unknown_tool"]


def test_check_call_without_a_tool_is_unknown_tool():
    assert [i.code for i in check_call(None, call("nope", a=1))] == ["unknown_tool"]


def test_check_call_reports_malformed_arguments_instead_of_raising():
    odd = ToolCall.model_construct(name="post_db_node", arguments='{"Assign": {}}')
    assert [i.code for i in check_call(fixture_ctx().catalog["post_db_node"], odd)] == ["malformed_call"]


def test_validators_are_compiled_once_per_tool():
    tool = fixture_ctx().catalog["get_weather"]
    assert compiled(tool) is compiled(tool)


def test_schema_fastjsonschema_cannot_compile_falls_back_to_jsonschema():
    tool = make_tool(
        "strict_thing",
        "uses unevaluatedProperties",
        {"type": "object", "properties": {"a": {"type": "integer"}}, "unevaluatedProperties": False},
    )
    assert compiled(tool).fast is None
    assert [i.code for i in argument_issues(tool, {"a": "x"})] == ["type_error"]


def test_a_value_only_the_fast_check_refuses_gets_its_rule_and_pointer():
    # fastjsonschema's hostname check refuses "a_b.com", jsonschema's passes it: the issue then comes
    # from the fast validator's own failure, whose rule and path only a validator compiled with
    # detailed exceptions gives (the hot-path one is compiled without them, a third of the compile time).
    tool = make_tool(
        "connect",
        "a host in a list of servers",
        {
            "type": "object",
            "properties": {
                "servers": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"host": {"type": "string", "format": "hostname"}},
                    },
                }
            },
        },
    )
    issues = argument_issues(tool, {"servers": [{"host": "ok.example"}, {"host": "a_b.com"}]})
    assert [(i.code, i.pointer, i.message) for i in issues] == [
        ("format_violation", "/servers/1/host", "data.servers[1].host must be hostname")
    ]


def test_prefix_items_are_checked_in_the_fast_path():
    tool = make_tool(
        "point",
        "a 2-tuple",
        {
            "type": "object",
            "properties": {
                "p": {
                    "type": "array",
                    "prefixItems": [{"type": "number"}, {"type": "string"}],
                    "items": False,
                }
            },
        },
    )
    assert compiled(tool).fast is not None
    assert [(i.code, i.pointer) for i in argument_issues(tool, {"p": [1, 2]})] == [("type_error", "/p/1")]


def test_ref_siblings_are_not_dropped():
    tool = make_tool(
        "refd",
        "a $ref with a sibling constraint",
        {
            "type": "object",
            "$defs": {"N": {"type": "integer"}},
            "properties": {"n": {"$ref": "#/$defs/N", "maximum": 5}},
        },
    )
    assert [i.code for i in argument_issues(tool, {"n": 9})] == ["range_violation"]


def test_validation_never_writes_defaults_into_the_arguments():
    s = sample("q", [call("get_weather", city="Oslo")], USER)
    before = s.model_dump()
    verdict_of(s)
    assert s.model_dump() == before and s.calls[0].arguments == {"city": "Oslo"}


def test_unknown_formats_are_annotations():
    tool = make_tool(
        "f",
        "openapi formats",
        {"type": "object", "properties": {"n": {"type": "integer", "format": "int64"}}},
    )
    assert argument_issues(tool, {"n": 12}) == []


def test_format_verifier_conforms_to_the_plugin_contract():
    check_verifier(FormatVerifier, [sample("q", [node("1", 0, 0, 0)], ["post_db_node"])], fixture_ctx())
