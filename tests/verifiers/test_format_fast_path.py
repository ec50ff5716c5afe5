"""The format verifier's fast path (a catalog whose validators are resolved) agrees with its precise path.

A sample whose tools the verifier has not resolved yet goes to the precise path; once a catalog has been
seen, its samples take the fast path. Each test here warms the catalog first, so a fast path that
accepts what the precise path rejects (or a cache that leaks between catalogs) fails a test.
"""

from __future__ import annotations

import pickle

import pytest

from schemas.catalog import Catalog
from schemas.models import Sample, Style, Verdict
from tests.verifiers.test_format import FAILING, NODE_TOOLS, PASSING, PASSING_IDS, USER
from tests.verifiers.verifier_fixtures import call, fixture_ctx, fixture_tools, make_tool, node, sample
from verifiers import format as format_module
from verifiers.arguments import Issue
from verifiers.base import VerifyContext
from verifiers.format import FormatVerifier

ALL_TOOLS = [t.name for t in fixture_tools()]


def warm_ctx() -> VerifyContext:
    """A context whose catalog has every tool's validator resolved: a sample that offers them all and
    fails (a call to a tool not offered) takes the precise path, which resolves what it offers."""
    ctx = fixture_ctx()
    verdict = FormatVerifier().verify([sample("warm", [call("not_offered", a=1)], ALL_TOOLS)], ctx)[0]
    assert verdict.code == "unknown_tool"
    return ctx


def cold_and_warm(s: Sample) -> tuple[Verdict, Verdict]:
    cold = FormatVerifier().verify([s], fixture_ctx())[0]
    warm = FormatVerifier().verify([s], warm_ctx())[0]
    return cold, warm


@pytest.mark.parametrize(("case", "s", "code", "pointer"), FAILING, ids=[c[0] for c in FAILING])
def test_a_warm_catalog_gives_the_same_failing_verdict(case, s, code, pointer):
    cold, warm = cold_and_warm(s)
    assert warm.model_dump() == cold.model_dump(), case
    assert (warm.passed, warm.code, warm.details["pointer"]) == (False, code, pointer), case


@pytest.mark.parametrize("s", PASSING, ids=PASSING_IDS)
def test_a_warm_catalog_gives_the_same_passing_verdict(s):
    cold, warm = cold_and_warm(s)
    assert warm == cold and warm.model_fields_set == cold.model_fields_set
    assert (warm.passed, warm.code) == (True, "ok")


@pytest.mark.parametrize(
    ("case", "s", "code"),
    [
        # Dict equality ignores key order, as the precise path's canonical JSON does.
        (
            "parallel repeat, keys in another order",
            sample(
                "q",
                [call("get_weather", city="Oslo", days=2), call("get_weather", days=2, city="Oslo")],
                USER,
            ),
            "duplicate_call",
        ),
        (
            "a repeat among calls of several tools",
            sample(
                "q",
                [node("1", 0, 0, 0), call("get_weather", city="Oslo"), node("1", 0, 0, 0)],
                ["post_db_node", "get_weather"],
            ),
            "duplicate_call",
        ),
        (
            "parallel labelled parallel_multiple",
            sample("q", [node("1", 0, 0, 0), node("2", 0, 0, 0)], NODE_TOOLS, style="parallel_multiple"),
            "style_mismatch",
        ),
        (
            "irrelevance labelled simple",
            Sample.model_construct(id="x1", query="q", style=Style.SIMPLE, tools=["get_weather"], calls=[]),
            "style_mismatch",
        ),
        (
            "valid call, another offered tool not in the catalog",
            sample("q", [call("get_weather", city="Oslo")], ["get_weather", "ghost_tool"]),
            "tool_not_in_catalog",
        ),
        (
            "parallel calls, another offered tool not in the catalog",
            sample(
                "q",
                [call("get_weather", city="Oslo"), call("get_weather", city="Rome")],
                ["get_weather", "ghost_tool"],
            ),
            "tool_not_in_catalog",
        ),
        (
            "a valid second call to a tool not offered",
            sample(
                "q",
                [call("get_weather", city="Oslo"), call("create_user", name="A", email="a@b.co")],
                ["get_weather", "post_db_node"],
            ),
            "unknown_tool",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_sample_level_problems_are_caught_on_the_fast_path(case, s, code):
    cold, warm = cold_and_warm(s)
    assert (warm.passed, warm.code) == (False, code), case
    assert warm.model_dump() == cold.model_dump(), case


def test_parallel_calls_with_different_arguments_pass_warm():
    s = sample("q", [call("get_weather", city="Oslo"), call("get_weather", city="Bergen")], USER)
    assert FormatVerifier().verify([s], warm_ctx())[0].passed is True


def test_validators_belong_to_their_catalog():
    # Two catalogs with a tool of the same name and different schemas: a cache keyed by tool name alone
    # would judge the second catalog's samples with the first one's validator.
    def catalog(required: str) -> Catalog:
        schema = {
            "type": "object",
            "properties": {"city": {"type": "string"}, "town": {"type": "string"}},
            "required": [required],
        }
        return Catalog([make_tool("get_weather", "weather", schema)])

    by_city, by_town = VerifyContext(catalog=catalog("city")), VerifyContext(catalog=catalog("town"))
    s = sample("q", [call("get_weather", city="Oslo")], ["get_weather"])
    verifier = FormatVerifier()
    for _ in range(2):  # the second round runs on resolved validators
        assert verifier.verify([s], by_city)[0].passed is True
        assert verifier.verify([s], by_town)[0].code == "missing_required"


def test_passing_verdicts_are_independent_full_verdicts():
    ctx = warm_ctx()
    s1 = sample("q", [call("get_weather", city="Oslo")], USER)
    s2 = sample("q", [call("get_weather", city="Bergen")], USER)
    first, second = FormatVerifier().verify([s1, s2], ctx)
    public = Verdict.model_construct(
        sample_id=s1.id, verifier="format", passed=True, code="ok", message="", details={}
    )
    assert first == public and first.model_fields_set == public.model_fields_set
    first.details["note"] = "mine"
    first.message = "edited"
    assert second.details == {} and second.message == ""
    assert second.model_fields_set == set(Verdict.model_fields)
    assert pickle.loads(pickle.dumps(first)) == first
    assert Verdict.model_validate(first.model_dump()) == first


def test_a_per_sample_check_runs_on_the_fast_path(monkeypatch: pytest.MonkeyPatch):
    def no_placeholders(s: Sample) -> list[Issue]:
        return [Issue("placeholder_query", "", "the query has a TODO")] if "TODO" in s.query else []

    monkeypatch.setattr(format_module, "_SAMPLE_CHECKS", (no_placeholders,))
    ctx = warm_ctx()
    flagged = sample("TODO write the query", [call("get_weather", city="Oslo")], USER)
    fine = sample("weather in Oslo", [call("get_weather", city="Oslo")], USER)
    flagged_two = sample("TODO", [call("get_weather", city="Oslo"), call("get_weather", city="Rome")], USER)
    verdicts = FormatVerifier().verify([flagged, fine, flagged_two], ctx)
    assert [(v.passed, v.code) for v in verdicts] == [
        (False, "placeholder_query"),
        (True, "ok"),
        (False, "placeholder_query"),
    ]
