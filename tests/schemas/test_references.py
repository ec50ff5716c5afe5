"""The reference graph: the checked-in GEN NX file against its spec, the loader's errors, the heuristics."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import ConfigError
from schemas.openapi.load import DocumentSet
from schemas.reference_heuristics import infer_references
from schemas.references import Reference, load_references, parse_references, references_beside

ROOT = Path(__file__).resolve().parents[2]
GENNX = ROOT / "specs" / "gennx" / "openapi.yaml"
REFERENCES = ROOT / "specs" / "gennx" / "references.yaml"


@pytest.fixture(scope="module")
def spec() -> dict:
    return DocumentSet(GENNX).root


def _row_properties(spec: dict, table: str) -> set[str]:
    """Every property name the POST body's row schema (any of its kinds) declares."""
    schemas = spec["components"]["schemas"]
    body = spec["paths"][f"/db/{table}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    seen: set[str] = set()
    stack = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "$ref" in node:
                stack.append(schemas[node["$ref"].split("/")[-1]])
                continue
            seen.update(node.get("properties", {}))
            stack.extend(v for k, v in node.items() if k != "description")
        elif isinstance(node, list):
            stack.extend(node)
    return seen


def test_the_gennx_file_sits_beside_its_spec_and_lists_the_tier1_tables() -> None:
    assert references_beside(GENNX) == REFERENCES
    graph = load_references(REFERENCES)
    assert {"ELEM", "CONS", "CNLD", "BMLD", "GRUP", "NMAS", "LCOM-GEN"} <= graph.checked_tables
    assert all(r.source == "checked" for r in graph.references)
    assert set(graph.manual) == graph.checked_tables  # every checked table cites its manual section


def test_every_table_target_and_field_of_the_gennx_file_exists_in_the_spec(spec: dict) -> None:
    graph = load_references(REFERENCES)
    tables = {p.split("/")[2] for p in spec["paths"] if p.startswith("/db/")}
    for ref in graph.references:
        assert ref.table in tables, ref
        assert ref.target in tables, ref
        if ref.field != "@id":
            first = ref.field.split(".")[0].removesuffix("[]")
            assert first in _row_properties(spec, ref.table), ref
        for key in ref.when:
            assert key in _row_properties(spec, ref.table), ref
    name_targets = {r.target for r in graph.references if r.holds == "name"}
    for target in name_targets:  # a name reference needs a NAME field on the target row
        assert "NAME" in _row_properties(spec, target), target


def test_values_follow_paths_conditions_and_row_keys() -> None:
    graph = load_references(REFERENCES)
    by_field = {(r.table, r.field, r.target): r for r in graph.references}
    beam = {"TYPE": "BEAM", "MATL": 1, "SECT": 2, "NODE": [3, 4]}
    plate = {"TYPE": "PLATE", "MATL": 1, "SECT": 5, "NODE": [1, 2, 3, 4]}
    assert list(by_field[("ELEM", "NODE[]", "NODE")].values("9", beam)) == [3, 4]
    assert list(by_field[("ELEM", "SECT", "SECT")].values("9", beam)) == [2]
    assert list(by_field[("ELEM", "SECT", "SECT")].values("9", plate)) == []
    assert list(by_field[("ELEM", "SECT", "THIK")].values("9", plate)) == [5]
    assert list(by_field[("CONS", "@id", "NODE")].values("3", {"ITEMS": []})) == ["3"]
    load = {"ITEMS": [{"LCNAME": "DL", "GROUP_NAME": ""}, {"LCNAME": "LL", "GROUP_NAME": "G1"}]}
    assert list(by_field[("CNLD", "ITEMS[].LCNAME", "STLD")].values("2", load)) == ["DL", "LL"]
    assert list(by_field[("CNLD", "ITEMS[].GROUP_NAME", "LDGR")].values("2", load)) == ["G1"]  # "" = none
    combo = {"vCOMB": [{"ANAL": "ST", "LCNAME": "DL"}, {"ANAL": "CB", "LCNAME": "cLCB1"}]}
    assert list(by_field[("LCOM-GEN", "vCOMB[].LCNAME", "STLD")].values("1", combo)) == ["DL"]


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"tables": {}}, "version: 1"),
        ({"version": 1, "tables": {"ELEM": {"references": "x"}}}, "tables.ELEM: expected a mapping"),
        (
            {"version": 1, "tables": {"ELEM": {"references": [{"field": "NODE[", "target": "NODE"}]}}},
            "references[0].field",
        ),
        (
            {"version": 1, "tables": {"ELEM": {"references": [{"field": "MATL", "target": ""}]}}},
            "references[0].target",
        ),
        (
            {"version": 1, "tables": {"E": {"references": [{"field": "M", "target": "M", "holds": "row"}]}}},
            ".holds",
        ),
        (
            {
                "version": 1,
                "tables": {"E": {"references": [{"field": "M", "target": "M", "when": {"T": []}}]}},
            },
            ".when",
        ),
        (
            {"version": 1, "tables": {"E": {"references": [{"field": "M", "target": "M", "via": 1}]}}},
            "unknown key",
        ),
    ],
)
def test_a_bad_references_document_is_refused_with_where(document: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=r"refs\.yaml") as err:
        parse_references(document, where="refs.yaml")
    assert fragment in str(err.value)


def test_a_references_file_that_is_not_yaml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "references.yaml"
    bad.write_text("version: 1\ntables: [unclosed\n")
    with pytest.raises(ConfigError, match=r"references\.yaml: not valid YAML"):
        load_references(bad)


LINKED = {
    "openapi": "3.0.3",
    "paths": {
        "/users": {
            "post": {
                "operationId": "createUser",
                "responses": {
                    "201": {
                        "description": "made",
                        "links": {
                            "GetOrders": {
                                "operationId": "listOrders",
                                "parameters": {"owner": "$response.body#/id"},
                            }
                        },
                    }
                },
            }
        },
        "/orders": {
            "get": {
                "operationId": "listOrders",
                "parameters": [{"name": "owner", "in": "query"}],
                "responses": {},
            },
            "post": {
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "user_id": {"type": "string"},
                                    "item_ids": {"type": "array", "items": {"type": "integer"}},
                                },
                            }
                        }
                    }
                },
                "responses": {},
            },
        },
        "/items/{itemId}": {"get": {"responses": {}}},
    },
}


def test_links_come_first_and_id_fields_are_marked_heuristic() -> None:
    graph = infer_references(LINKED)
    found = {(r.table, r.field, r.target, r.source) for r in graph.references}
    assert ("orders", "owner", "users", "links") in found
    assert ("orders", "user_id", "users", "heuristic") in found
    assert ("orders", "item_ids[]", "items", "heuristic") in found
    assert graph.by_source() == {"links": 1, "heuristic": 2}


def test_gennx_heuristics_find_the_id_fields_but_not_names_or_row_keys(spec: dict) -> None:
    guessed = {(r.table, r.field, r.target) for r in infer_references(spec).references}
    checked = load_references(REFERENCES)
    assert {("ELEM", "NODE[]", "NODE"), ("ELEM", "MATL", "MATL"), ("ELEM", "SECT", "SECT")} <= guessed
    # the partial part, reported as such: names (LCNAME -> STLD) and row keys (CONS row = node) need the file
    assert ("CNLD", "ITEMS[].LCNAME", "STLD") not in guessed
    assert ("CONS", "@id", "NODE") not in guessed
    assert ("CNLD", "ITEMS[].LCNAME", "STLD") in {(r.table, r.field, r.target) for r in checked.references}


def test_a_checked_graph_wins_over_a_guessed_one_table_by_table() -> None:
    checked = load_references(REFERENCES)
    guessed = parse_references(
        {"version": 1, "tables": {"ELEM": {"references": [{"field": "X", "target": "Y"}]}}}
    )
    guessed.references.append(Reference("ELNK", "NODE[]", "NODE", source="heuristic"))
    merged = checked.merged(guessed)
    assert ("ELEM", "X") not in {(r.table, r.field) for r in merged.references}
    assert ("ELNK", "NODE[]") in {(r.table, r.field) for r in merged.references}
