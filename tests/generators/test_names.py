"""Each tool's own English and Korean name and request kind (generators.names)."""

from __future__ import annotations

import collections
import functools
from typing import Any

import pytest
import yaml

from generators.names import ToolNames, tool_names
from schemas.catalog import Catalog
from schemas.models import ParamLocation, Tool, ToolSource
from schemas.openapi import ingest
from tests.generators.catalog_fixtures import GENNX_SPEC, GENNX_TIERS, make_tool

EMPTY = {"type": "object", "properties": {}}


@functools.cache
def gennx_catalog() -> Catalog:
    return ingest([str(GENNX_SPEC)], tier_rules=str(GENNX_TIERS)).catalog


@functools.cache
def gennx_spec() -> dict[str, Any]:
    with GENNX_SPEC.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def tool(name: str, method: str, path: str, description: str = "", operation_id: str | None = None) -> Tool:
    made = make_tool(name, method, path, EMPTY, description=description, tier=1, category=None)
    if operation_id is None:
        return made
    source = ToolSource(file="x.yaml", operation_id=operation_id)
    return made.model_copy(update={"source": source, "fingerprint": ""})


@pytest.mark.slow  # ingests the 1.8 MB GEN NX spec (~3 s)
def test_every_gennx_endpoint_has_its_own_korean_and_english_name() -> None:
    by_path: dict[str, set[tuple[str, str]]] = collections.defaultdict(set)
    for t in gennx_catalog():
        names = tool_names(t)
        by_path[t.binding.path].add((names.en, names.ko))
    assert all(len(pairs) == 1 for pairs in by_path.values()), "one name pair per endpoint"
    pairs = [next(iter(p)) for p in by_path.values()]
    assert len({ko for _, ko in pairs}) == len(pairs) == 282
    assert len({en.lower() for en, _ in pairs}) == len(pairs)
    assert "표" not in {ko for _, ko in pairs}


@pytest.mark.slow
def test_the_names_in_descriptions_are_the_specs_x_callforge_names() -> None:
    spec = gennx_spec()
    for t in gennx_catalog():
        declared = spec["paths"][t.binding.path]["x-callforge-names"]
        assert tool_names(t).ko == declared["ko"], t.name


@pytest.mark.parametrize(
    ("path", "ko", "kind"),
    [
        ("/db/NODE", "절점", "clear"),  # whole-table delete: the live server ignores the ids
        ("/db/LCOM-GEN", "일반 하중 조합", "clear"),
        ("/db/MATL", "재료 특성", "clear"),
    ],
)
@pytest.mark.slow
def test_gennx_deletes_are_whole_table_clears(path: str, ko: str, kind: str) -> None:
    (found,) = [t for t in gennx_catalog() if t.binding.path == path and t.binding.method == "DELETE"]
    names = tool_names(found)
    assert (names.ko, names.kind) == (ko, kind)
    assert names.intent_en.startswith("clear all ")


@pytest.mark.parametrize(
    ("made", "expected_en", "expected_kind"),
    [
        (tool("a", "POST", "/pets", "Add a new pet to the store"), "pet to the store", "create"),
        (tool("b", "GET", "/pets/{id}", "Find pet by ID\n\nReturns one pet."), "pet by ID", "get"),
        (tool("c", "GET", "/store/inventory", "", operation_id="getInventory"), "inventory", "get"),
        (tool("d", "PUT", "/user/{name}/avatar", ""), "user avatar", "update"),
        (tool("e", "POST", "/doc/ANAL", "Run the analysis"), "Run the analysis", "action"),
    ],
)
def test_names_of_any_spec_come_from_summary_operation_id_or_path(
    made: Tool, expected_en: str, expected_kind: str
) -> None:
    names = tool_names(made)
    assert (names.en, names.kind) == (expected_en, expected_kind)
    assert names.ko == names.en  # no Korean name in the spec: the English one, never a generic noun


def test_tools_of_one_spec_never_share_a_generic_name() -> None:
    tools = [
        tool("list_pets", "GET", "/pets", "", operation_id="listPets"),
        tool("list_users", "GET", "/users", "", operation_id="listUsers"),
        tool("list_orders", "GET", "/store/orders", ""),
        tool("list_items", "GET", "/store/items", ""),
    ]
    assert len({tool_names(t).ko for t in tools}) == 4


def test_a_delete_that_takes_values_is_a_delete_not_a_clear() -> None:
    params = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}
    made = make_tool(
        "del", "DELETE", "/pets/{id}", params, description="Delete a pet", tier=None, category=None,
        locations={"id": ParamLocation.PATH},
    )  # fmt: skip
    assert tool_names(made).kind == "delete"


def test_a_delete_with_a_fixed_placeholder_body_is_a_clear() -> None:
    body = {
        "type": "object",
        "required": ["Assign"],
        "properties": {
            "Assign": {
                "type": "object",
                "required": ["1"],
                "properties": {"1": {"type": "object", "maxProperties": 0}},
                "additionalProperties": {"type": ["object", "null"]},
            }
        },
    }
    made = make_tool(
        "del", "DELETE", "/db/X", body, description="Clear all X records", tier=None, category=None
    )
    assert tool_names(made).kind == "clear"


@pytest.mark.parametrize(
    ("names", "action"),
    [
        (ToolNames("analysis run", "구조 해석 실행", "action", "Run the analysis"), True),
        (ToolNames("project close", "프로젝트 닫기", "action", "Close the open project"), True),
        (ToolNames("version", "프로그램 버전 조회", "get", "Read the version"), True),
        # a table whose name ends in an action noun is still a table: its GET reads rows, it does not act
        (ToolNames("Loads to Masses (LTOM)", "하중의 질량 변환", "get", "Read all", table=True), False),
        (ToolNames("Node (NODE)", "절점", "create", "Create Node (NODE) records", table=True), False),
    ],
)
def test_korean_commands_are_asked_for_with_their_name_tables_with_a_verb(
    names: ToolNames, action: bool
) -> None:
    assert names.ko_action is action
