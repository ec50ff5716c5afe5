"""Allowed values and spec example values per field, read from a tool's schema."""

from __future__ import annotations

from schemas.field_values import FieldValues, field_values, values_at

ROW = {
    "type": "object",
    "properties": {
        "NAME": {"type": "string"},
        "LCNAME": {"type": "string"},
        "DIR": {"type": "string", "enum": ["NORMAL", "DIR"]},
        "DB_NAME": {"type": "string"},
        "SHAPE": {"type": "string"},
        "ITEMS": {"type": "array", "items": {"type": "object", "properties": {"TYPE": {"type": "string"}}}},
    },
}
PARAMS = {
    "type": "object",
    "properties": {
        "Assign": {
            "type": "object",
            "additionalProperties": {"$ref": "#/$defs/Row"},
            "examples": [
                {"1": {"NAME": "DL", "LCNAME": "LL", "DIR": "NORMAL", "DB_NAME": "KS21", "SHAPE": "Box girder", "ITEMS": [
                    {"TYPE": "EX"}, {"TYPE": "WD"}]}},
                {"2": {"DB_NAME": "AISC10(US)"}},
            ],
        },
        "unit": {"type": "string", "examples": ["KN"]},
    },
    "$defs": {"Row": ROW},
}  # fmt: skip


def by_label(params: dict) -> dict[str, FieldValues]:
    return {f.label: f for f in field_values(params)}


def test_examples_above_a_field_reach_it_through_maps_refs_and_arrays() -> None:
    found = by_label(PARAMS)
    assert found["Assign.*.DB_NAME"].examples == ("KS21", "AISC10(US)")
    assert found["Assign.*.ITEMS.[].TYPE"].examples == ("EX", "WD")
    assert found["unit"].examples == ("KN",)


def test_an_enum_field_is_listed_with_its_allowed_values_even_without_examples() -> None:
    found = by_label(PARAMS)
    assert found["Assign.*.DIR"].allowed == ("NORMAL", "DIR")
    assert not found["Assign.*.DIR"].codes_only  # enforced by the schema, not a warning


def test_only_code_like_examples_of_non_text_fields_count_as_codes() -> None:
    found = by_label(PARAMS)
    assert found["Assign.*.DB_NAME"].codes_only
    assert found["Assign.*.ITEMS.[].TYPE"].codes_only
    assert not found["Assign.*.NAME"].codes_only  # "DL" looks like a code, but NAME is free text
    assert not found["Assign.*.LCNAME"].codes_only  # a user's load case name, however it looks
    assert not found["Assign.*.SHAPE"].codes_only  # "Box girder" is words, not a code


def test_a_recursive_schema_ends() -> None:
    tree = {"type": "object", "properties": {"kind": {"type": "string", "enum": ["A", "B"]},
                                              "child": {"$ref": "#/$defs/Tree"}}}  # fmt: skip
    params = {"type": "object", "properties": {"root": {"$ref": "#/$defs/Tree"}}, "$defs": {"Tree": tree}}
    assert [f.label for f in field_values(params)] == ["root.kind"]


def test_values_at_yields_every_match_with_its_keys() -> None:
    arguments = {"Assign": {"1": {"ITEMS": [{"TYPE": "EX"}, {"TYPE": "Q"}]}, "2": {"ITEMS": []}}}
    found = list(values_at(arguments, ("Assign", "*", "ITEMS", "[]", "TYPE")))
    assert found == [
        (("Assign", "1", "ITEMS", "0", "TYPE"), "EX"),
        (("Assign", "1", "ITEMS", "1", "TYPE"), "Q"),
    ]
    assert list(values_at({"Assign": "oops"}, ("Assign", "*", "X"))) == []


def test_values_at_keeps_only_what_where_accepts_in_document_order() -> None:
    arguments = {"Assign": {"2": {"X": "b"}, "1": {"X": "a"}, "3": {"X": 3}, "4": {"X": "c"}}}
    found = list(values_at(arguments, ("Assign", "*", "X"), lambda v: isinstance(v, str) and v != "a"))
    assert found == [(("Assign", "2", "X"), "b"), (("Assign", "4", "X"), "c")]
