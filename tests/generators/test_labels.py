"""Labels that are right: queries tell tools apart, state what the call does, deletes clear tables, and
parallel calls touch no row twice (generators.plan ambiguity checks, generators.phrasing, generators.offline).
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from generators.config import PlanConfig
from generators.offline import OfflineGenerator
from generators.phrasing import Phrasebook
from generators.plan import WorkItem, build_plan
from schemas.catalog import Catalog
from schemas.models import Sample, Style, Tool
from tests.generators.catalog_fixtures import make_tool

EMPTY = {"type": "object", "properties": {}}
ROW = {
    "type": "object",
    "properties": {
        "NAME": {"type": "string"},
        "ITEMS": {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "items": {"type": "object", "properties": {"A": {"type": "integer"}, "B": {"type": "integer"}}},
        },
        "TYPE": {"type": "string", "enum": ["X", "Y"]},
    },
    "required": ["NAME", "ITEMS", "TYPE"],
}
CLEAR_BODY = {
    "type": "object",
    "required": ["Assign"],
    "properties": {
        "Assign": {
            "type": "object",
            "required": ["1"],
            "properties": {"1": {"type": "object", "maxProperties": 0}},
            "propertyNames": {"pattern": "^[0-9]+$"},
            "additionalProperties": {"type": ["object", "null"]},
        }
    },
}


def assign(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["Assign"],
        "properties": {
            "Assign": {
                "type": "object",
                "propertyNames": {"pattern": "^[0-9]+$"},
                "additionalProperties": row,
            }
        },
    }


def gennx_like(key: str, en: str, ko: str) -> list[Tool]:
    """The four methods of one GEN NX table, described the way the bundled spec describes them."""
    out = []
    for method, verb, params in (
        ("POST", "Create", assign(ROW)),
        ("PUT", "Update", assign(ROW)),
        ("GET", "Read all", EMPTY),
        ("DELETE", "Clear all", CLEAR_BODY),
    ):
        out.append(
            make_tool(
                f"{method.lower()}_db_{key.lower()}",
                method,
                f"/db/{key}",
                params,
                description=f"{verb} {en} ({key}) records\n\nKorean name: {ko}. Rows of the table.",
                tier=1,
                category="tables",
            )
        )
    return out


@pytest.fixture(scope="module")
def tables() -> Catalog:
    tools = [
        *gennx_like("LCOM-GEN", "Load Combinations - General", "일반 하중 조합"),
        *gennx_like("LCOM-STEEL", "Load Combinations - Steel Design", "강구조 설계용 하중 조합"),
        *gennx_like("NODE", "Node", "절점"),
        *gennx_like("NMAS", "Nodal Masses", "절점 질량"),
    ]
    return Catalog(tools)


def generate(catalog: Catalog, config: PlanConfig) -> list[Sample]:
    samples, failures = OfflineGenerator(catalog).generate(build_plan(catalog, config))
    assert failures == []
    return samples


# -- ambiguity: the plan never offers a tool a query could not tell from the target ----------------------


def _twins() -> list[Tool]:
    # two methods on one command path with one summary ("run the analysis"): a query cannot tell them apart
    arg = {"type": "object", "properties": {"Argument": {"type": "object", "properties": {}}}}
    return [
        make_tool("get_doc_anal", "GET", "/doc/ANAL", EMPTY, description="Run the analysis", tier=1, category="c"),
        make_tool("post_doc_anal", "POST", "/doc/ANAL", arg, description="Run the analysis", tier=1, category="c"),
        make_tool("post_doc_save", "POST", "/doc/SAVE", arg, description="Save the project", tier=1, category="c"),
        make_tool("post_doc_new", "POST", "/doc/NEW", arg, description="Start a new project", tier=1, category="c"),
    ]  # fmt: skip


def test_a_distractor_named_like_the_target_is_redrawn_and_counted() -> None:
    catalog = Catalog(_twins())
    stats: dict[str, int] = {}
    items = build_plan(catalog, PlanConfig(seed=3, styles={"multiple": 1}), stats=stats)
    for item in items:
        if item.subject in ("get_doc_anal", "post_doc_anal"):
            assert not {"get_doc_anal", "post_doc_anal"} <= set(item.offered), item
    assert stats["distractors_redrawn"] > 0


def test_an_irrelevance_item_without_a_distinguishable_tool_is_dropped_and_counted() -> None:
    catalog = Catalog(_twins()[:2])  # only the twins: nothing else to offer
    stats: dict[str, int] = {}
    items = build_plan(catalog, PlanConfig(seed=3, styles={"irrelevance": 1}), stats=stats)
    assert all(item.style is Style.SIMPLE for item in items)
    assert stats["items_without_distractor"] == len(items) > 0


@pytest.mark.parametrize("language", ["en", "ko"])
def test_multiple_queries_name_their_target_and_no_distractor(tables: Catalog, language: str) -> None:
    samples = generate(tables, PlanConfig(seed=5, styles={"multiple": 1}, languages={language: 1}))
    for sample in samples:
        target = sample.calls[0].name
        book = Phrasebook(tables[target])
        name = book.names.en if language == "en" else book.names.ko
        assert name in sample.query
        for other in sample.tools:
            other_names = Phrasebook(tables[other]).names
            other_name = other_names.en if language == "en" else other_names.ko
            # a distractor on the same table differs in what is asked (its verb), never only by chance
            if other_name == name and other != target:
                assert other_names.kind != book.names.kind


def test_korean_names_inside_longer_names_are_still_told_apart(tables: Catalog) -> None:
    # "절점" is inside "절점 질량": a query about nodal masses must not read as one about nodes
    generator = OfflineGenerator(tables)
    args = {"Assign": {"3": {"NAME": "m", "ITEMS": [{"A": 1}, {"B": 2}], "TYPE": "X"}}}
    clause = generator.kit("post_db_nmas").phrasebook.clause(args, "ko", random.Random(0))
    assert "절점 질량" in clause


# -- queries state what the call does -----------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "ko"])
def test_list_items_are_bracketed_so_later_keys_stay_with_their_row(tables: Catalog, language: str) -> None:
    book = Phrasebook(tables["post_db_node"])
    args = {"Assign": {"7": {"NAME": "g", "ITEMS": [{"A": 1}, {"A": 2, "B": 3}], "TYPE": "Y"}}}
    text = book.arguments(args, language)
    inside = re.search(r"ITEMS \[(.*?)\]", text)
    assert inside is not None, text
    assert "TYPE" not in inside.group(1)  # the row's TYPE is not read as the second item's
    assert text.index("TYPE") > text.index("]")
    first, second = ("first", "second") if language == "en" else ("첫째", "둘째")
    assert f"{first}: A 1" in inside.group(1) and f"{second}: A 2, B 3" in inside.group(1)


def test_an_empty_list_item_is_said_to_be_empty() -> None:
    tool = make_tool("post_x", "POST", "/x", {"type": "object", "properties": {"L": {"type": "array", "items": {"type": "object", "properties": {"A": {"type": "integer"}}}}}}, description="Create x", tier=1, category="c")  # fmt: skip
    assert Phrasebook(tool).arguments({"L": [{}, {"A": 1}]}, "en") == "L [first: an empty item; second: A 1]"


def test_a_row_key_not_in_the_schema_is_a_field_never_an_id() -> None:
    # the row declares X only; a value keyed Y_VAR (from a spec example) once printed "Y_VAR번(80)"
    row = {"type": "object", "properties": {"X": {"type": "number"}}}
    tool = make_tool(
        "post_t", "POST", "/db/T", assign(row), description="Create T records", tier=1, category="c"
    )
    text = Phrasebook(tool).arguments({"Assign": {"4": {"Y_VAR": 80}}}, "ko")
    assert text == "4번(Y_VAR 80)"


@pytest.mark.parametrize("language", ["en", "ko"])
def test_creates_and_updates_always_carry_row_values(tables: Catalog, language: str) -> None:
    samples = generate(tables, PlanConfig(seed=2, languages={language: 1}))
    rows = [
        r
        for s in samples
        for c in s.calls
        if c.name.startswith(("post", "put"))
        for r in c.arguments["Assign"].values()
    ]
    assert rows and all(rows)


# -- deletes as the live server does them -------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "words"), [("en", ("all", "every", "empty")), ("ko", ("모두", "전부", "전체"))]
)
def test_table_deletes_clear_the_whole_table_and_name_no_rows(
    tables: Catalog, language: str, words: tuple[str, ...]
) -> None:
    samples = generate(
        tables, PlanConfig(seed=4, languages={language: 1}, styles={"simple": 1, "multiple": 1})
    )
    deletes = [(s, c) for s in samples for c in s.calls if c.name.startswith("delete")]
    assert deletes
    for sample, call in deletes:
        assert call.arguments == {"Assign": {"1": {}}}
        assert any(w in sample.query.lower() for w in words), sample.query
        assert not re.search(r"\d", sample.query), sample.query  # no row ids in the request


# -- parallel: no row twice, several requests ------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "ko"])
def test_parallel_calls_never_write_one_row_twice(language: str) -> None:
    # ids are drawn from a short range, so a sampler that only compares whole argument sets collides often
    row = {
        "type": "object",
        "properties": {"X": {"type": "integer", "minimum": 0, "maximum": 9}},
        "required": ["X"],
    }
    body = {
        "type": "object",
        "required": ["Assign"],
        "properties": {
            "Assign": {
                "type": "object",
                "propertyNames": {"pattern": "^[0-9]+$"},
                "additionalProperties": row,
                "maxProperties": 3,
            }
        },
    }
    tool = make_tool("post_db_n", "POST", "/db/N", body, description="Create N records", tier=1, category="c")
    catalog = Catalog([tool])
    samples = generate(
        catalog, PlanConfig(seed=9, styles={"parallel": 1}, languages={language: 1}, parallel_calls=(3, 4))
    )
    assert samples
    for sample in samples:
        ids = [key for call in sample.calls for key in call.arguments["Assign"]]
        assert len(ids) == len(set(ids)), sample.calls
        assert "separate times" not in sample.query and "각각 따로 해줘" not in sample.query


def _parallel_item(tool: str, n: int, language: str) -> WorkItem:
    return WorkItem(
        style="parallel", language=language, subject=tool, targets=[tool] * n, offered=[tool], n_calls=n,
        seed=11, index=0,
    )  # fmt: skip


@pytest.mark.parametrize("language", ["en", "ko"])
def test_parallel_queries_ask_for_separate_requests(tables: Catalog, language: str) -> None:
    sample = OfflineGenerator(tables).generate_item(_parallel_item("post_db_node", 3, language))
    assert isinstance(sample, Sample) and len(sample.calls) == 3
    assert re.search(r"separate request|separate request|따로|나눠서", sample.query), sample.query
