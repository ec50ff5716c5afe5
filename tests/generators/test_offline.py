"""The offline template generator: every style and language, grounded queries, valid arguments."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from generators.config import PlanConfig
from generators.offline import OfflineGenerator
from generators.plan import WorkItem, build_plan
from schemas.catalog import Catalog
from schemas.models import Sample, Style
from tests.generators.catalog_fixtures import make_tool
from tests.generators.checks import ungrounded
from verifiers.base import VerifyContext
from verifiers.format import FormatVerifier

HANGUL = re.compile(r"[가-힣]")
LANGUAGES = ("en", "ko")


def plan_for(catalog: Catalog, style: Style, language: str, seed: int = 1) -> list[WorkItem]:
    return build_plan(catalog, PlanConfig(seed=seed, styles={style.value: 1}, languages={language: 1}))


def generate(catalog: Catalog, items: list[WorkItem]) -> list[Sample]:
    samples, failures = OfflineGenerator(catalog).generate(items)
    assert failures == []
    return samples


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("style", list(Style))
def test_every_style_and_language_yields_samples_of_that_kind(
    catalog: Catalog, style: Style, language: str
) -> None:
    items = plan_for(catalog, style, language)
    samples = generate(catalog, items)
    assert len(samples) == len(items) > 0
    for item, sample in zip(items, samples, strict=True):
        assert sample.style is item.style and sample.language == language
        assert sample.tools == item.offered and [c.name for c in sample.calls] == item.targets
        assert sample.provenance.generator == "template" and sample.provenance.work_item == item.id
        assert sample.provenance.seed == item.seed and sample.tier == item.tier


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("style", [s for s in Style if s is not Style.IRRELEVANCE])
def test_every_leaf_value_is_stated_in_the_query(catalog: Catalog, style: Style, language: str) -> None:
    for sample in generate(catalog, plan_for(catalog, style, language, seed=2)):
        for call in sample.calls:
            assert ungrounded(sample.query, call.arguments) == [], sample.query


@pytest.mark.parametrize("language", LANGUAGES)
def test_queries_are_written_in_their_language(catalog: Catalog, language: str) -> None:
    for sample in generate(catalog, plan_for(catalog, Style.SIMPLE, language)):
        assert bool(HANGUL.search(sample.query)) is (language == "ko"), sample.query


def test_arguments_validate_against_their_tools_schemas(catalog: Catalog) -> None:
    items = build_plan(catalog, PlanConfig(seed=9, quotas={"1": (20, 20), "2": (20, 20), "3": (20, 20)}))
    samples = generate(catalog, items)
    for sample in samples:
        for call in sample.calls:
            validator = Draft202012Validator(
                catalog[call.name].parameters, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
            assert not [e.message for e in validator.iter_errors(call.arguments)], (call.name, call.arguments)


def test_samples_pass_the_format_verifier(catalog: Catalog) -> None:
    items = build_plan(catalog, PlanConfig(seed=10, quotas={"1": (20, 20), "2": (20, 20), "3": (20, 20)}))
    samples = generate(catalog, items)
    verdicts = FormatVerifier().verify(samples, VerifyContext(catalog=catalog))
    failed = [(v.code, v.message) for v in verdicts if not v.passed]
    assert failed == []


def test_irrelevance_queries_are_about_a_tool_that_is_not_offered(catalog: Catalog) -> None:
    generator = OfflineGenerator(catalog)
    for item in plan_for(catalog, Style.IRRELEVANCE, "en"):
        sample = generator.generate_item(item)
        assert isinstance(sample, Sample) and sample.calls == []
        assert item.subject not in sample.tools
        intent = generator.kit(item.subject).phrasebook.intent_en
        assert intent.lower() in sample.query.lower()


def test_parallel_calls_differ_from_each_other(catalog: Catalog) -> None:
    samples = [
        s for s in generate(catalog, plan_for(catalog, Style.PARALLEL, "ko")) if s.style is Style.PARALLEL
    ]
    assert samples
    for sample in samples:
        arguments = [repr(c.arguments) for c in sample.calls]
        assert len(set(arguments)) == len(arguments) >= 2


def test_the_same_items_give_the_same_samples(catalog: Catalog) -> None:
    items = build_plan(catalog, PlanConfig(seed=4))
    first = [s.id for s in generate(catalog, items)]
    second = [s.id for s in generate(catalog, items)]
    assert first == second and len(set(first)) > len(first) * 0.9


def _item(**fields: Any) -> WorkItem:
    base = {"style": "simple", "language": "en", "subject": "post_db_node", "targets": ["post_db_node"]}
    base |= {"offered": ["post_db_node"], "n_calls": 1, "seed": 1, "index": 0}
    return WorkItem(**(base | fields))


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"subject": "nope", "targets": ["nope"], "offered": ["nope"]}, "unknown_tool"),
        ({"language": "fr"}, "unsupported_language"),
    ],
)
def test_an_impossible_item_is_a_recorded_failure(
    catalog: Catalog, fields: dict[str, Any], code: str
) -> None:
    result = OfflineGenerator(catalog).generate_item(_item(**fields))
    assert isinstance(result, dict) and result["code"] == code and result["item_id"]


def test_parallel_needs_distinct_argument_sets_or_fails_visibly() -> None:
    flag = make_tool(
        "put_flag", "PUT", "/flag", {"type": "object", "properties": {"on": {"type": "boolean"}}, "required": ["on"]},
        description="Set the flag.", tier=1, category="x",
    )  # fmt: skip
    item = _item(
        style="parallel", subject="put_flag", targets=["put_flag"] * 3, offered=["put_flag"], n_calls=3
    )
    result = OfflineGenerator(Catalog([flag])).generate_item(item)
    assert isinstance(result, dict) and result["code"] == "no_distinct_arguments"


def test_compiled_tools_are_shared_across_generators_but_never_stale(catalog: Catalog) -> None:
    first, second = OfflineGenerator(catalog), OfflineGenerator(catalog)
    assert first.kit("post_db_node") is second.kit("post_db_node")
    tool = catalog["post_db_node"]
    changed = type(tool).model_validate({**tool.model_dump(exclude={"fingerprint"}), "description": "Other."})
    assert OfflineGenerator(Catalog([changed])).kit("post_db_node") is not first.kit("post_db_node")
