"""Value samplers: every drawn value validates against its schema, and each keyword is honoured."""

from __future__ import annotations

import random
import re
from typing import Any
from urllib.parse import urlparse

import pytest
from jsonschema import Draft202012Validator

from generators.patterns import UnsupportedPattern, compile_pattern
from generators.values import ValueOptions, compile_schema

DRAWS = 150


def draw(schema: dict[str, Any], options: ValueOptions | None = None, n: int = DRAWS) -> list[Any]:
    sampler = compile_schema(schema, options)
    return [sampler(random.Random(seed)) for seed in range(n)]


def assert_valid(schema: dict[str, Any], values: list[Any]) -> None:
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for value in values:
        errors = [e.message for e in validator.iter_errors(value)]
        assert not errors, (value, errors)


def prop(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    """``schema`` as the one property ``v`` of a parameters object."""
    return {"type": "object", "properties": {"v": schema}, "required": ["v"] if required else []}


CASES: dict[str, dict[str, Any]] = {
    "enum": {"type": "string", "enum": ["BEAM", "TRUSS", "PLATE"]},
    "integer enum": {"type": "integer", "enum": [1, 2, 5]},
    "const": {"const": "GEN"},
    "integer bounds": {"type": "integer", "minimum": 3, "maximum": 7},
    "integer exclusive 2020": {"type": "integer", "exclusiveMinimum": 3, "exclusiveMaximum": 6},
    "integer exclusive draft4": {"type": "integer", "minimum": 3, "exclusiveMinimum": True, "maximum": 5},
    "integer multipleOf": {"type": "integer", "minimum": 100, "maximum": 4000, "multipleOf": 10},
    "number bounds": {"type": "number", "minimum": -2.5, "maximum": 2.5},
    "number exclusive": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.5},
    "number multipleOf": {"type": "number", "minimum": 0, "maximum": 1, "multipleOf": 0.05},
    "number max only": {"type": "number", "maximum": -10},
    "boolean": {"type": "boolean"},
    "nullable type array": {"type": ["number", "null"], "minimum": 1, "maximum": 2},
    "date": {"type": "string", "format": "date"},
    "date-time": {"type": "string", "format": "date-time"},
    "time": {"type": "string", "format": "time"},
    "email": {"type": "string", "format": "email"},
    "uuid": {"type": "string", "format": "uuid"},
    "ipv4": {"type": "string", "format": "ipv4"},
    "ipv6": {"type": "string", "format": "ipv6"},
    "length bounds": {"type": "string", "minLength": 12, "maxLength": 14},
    "short max length": {"type": "string", "maxLength": 2},
    "pattern digits": {"type": "string", "pattern": "^[0-9]+$"},
    "pattern code": {"type": "string", "pattern": r"^[A-Z]{2}-\d{3}(-[a-z]+)?$"},
    "pattern unanchored": {"type": "string", "pattern": "mm"},
    "array bounds": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 4},
    "array unique": {
        "type": "array",
        "items": {"enum": ["Fx", "Fy", "Fz"]},
        "minItems": 3,
        "uniqueItems": True,
    },
    "prefixItems": {
        "type": "array",
        "prefixItems": [{"type": "string"}, {"type": "integer"}],
        "items": False,
    },
    "id map": {
        "type": "object",
        "propertyNames": {"pattern": "^[0-9]+$"},
        "additionalProperties": {
            "type": "object",
            "properties": {"X": {"type": "number"}},
            "required": ["X"],
        },
    },
    "patternProperties map": {"type": "object", "patternProperties": {"^S[0-9]{2}$": {"type": "integer"}}},
    "allOf": {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer", "minimum": 0}}},
            {"properties": {"b": {"type": "string"}}, "required": ["a", "b"]},
        ]
    },
    "oneOf": {
        "oneOf": [{"type": "integer", "minimum": 1, "maximum": 9}, {"type": "string", "enum": ["roof"]}]
    },
    "oneOf overlapping": {"oneOf": [{"type": "integer", "maximum": 5}, {"type": "integer", "minimum": 3}]},
    "anyOf": {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]},
    "min/max properties": {
        "type": "object",
        "properties": {k: {"type": "integer"} for k in "abcdef"},
        "minProperties": 3,
        "maxProperties": 4,
    },
}


@pytest.mark.parametrize("name", list(CASES))
def test_drawn_values_validate(name: str) -> None:
    schema = prop(CASES[name])
    assert_valid(schema, draw(schema))


@pytest.mark.parametrize("name", ["enum", "integer bounds", "boolean", "oneOf", "array bounds", "date"])
def test_draws_vary(name: str) -> None:
    values = [v["v"] for v in draw(prop(CASES[name]))]
    assert len({repr(v) for v in values}) > 1


def test_uri_and_hostname_formats_parse() -> None:
    values = draw(prop({"type": "object", "properties": {
        "u": {"type": "string", "format": "uri"}, "h": {"type": "string", "format": "hostname"}},
        "required": ["u", "h"]}))  # fmt: skip
    for value in values:
        url = urlparse(value["v"]["u"])
        assert url.scheme == "https" and url.netloc
        assert re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", value["v"]["h"])


def test_id_maps_have_one_to_three_numeric_keys() -> None:
    values = [v["v"] for v in draw(prop(CASES["id map"]))]
    assert {len(v) for v in values} == {1, 2, 3}
    assert all(k.isdigit() for v in values for k in v)


def test_recursive_refs_stop_at_the_depth_cap() -> None:
    schema = {
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/Group"}},
        "required": ["root"],
        "$defs": {
            "Group": {
                "type": "object",
                "properties": {
                    "NAME": {"type": "string"},
                    "CHILDREN": {"type": "array", "items": {"$ref": "#/$defs/Group"}},
                },
                "required": ["NAME"],
            }
        },
    }

    def depth(node: dict[str, Any]) -> int:
        return 1 + max((depth(c) for c in node.get("CHILDREN", [])), default=0)

    values = draw(schema, ValueOptions(optional_p=1.0, max_ref_depth=2))
    assert_valid(schema, values)
    assert max(depth(v["root"]) for v in values) <= 3
    assert max(depth(v["root"]) for v in values) >= 2


def test_spec_examples_are_used_first_when_valid() -> None:
    schema = prop({"type": "string", "maxLength": 4, "examples": ["DL", "LL", "too long to be valid"]})
    values = [v["v"] for v in draw(schema, ValueOptions(example_p=1.0))]
    assert set(values) == {"DL", "LL"}


def test_a_singular_example_counts_too() -> None:
    values = [v["v"] for v in draw(prop({"type": "integer", "example": 42}), ValueOptions(example_p=1.0))]
    assert set(values) == {42}


def test_defaults_are_used_at_their_rate() -> None:
    values = [
        v["v"]
        for v in draw(prop({"type": "number", "default": 0, "minimum": 5}), ValueOptions(default_p=1.0))
    ]
    assert set(values) == {0}


@pytest.mark.parametrize(("optional_p", "expected"), [(0.0, {("a",)}), (1.0, {("a", "b", "c")})])
def test_optional_properties_follow_optional_p(optional_p: float, expected: set[tuple[str, ...]]) -> None:
    schema = {"type": "object", "properties": {k: {"type": "integer"} for k in "abc"}, "required": ["a"]}
    values = draw(schema, ValueOptions(optional_p=optional_p))
    assert {tuple(v) for v in values} == expected


def test_optional_properties_are_a_random_subset() -> None:
    schema = {"type": "object", "properties": {k: {"type": "integer"} for k in "abcd"}, "required": ["a"]}
    assert len({tuple(v) for v in draw(schema)}) > 3


def test_read_only_properties_are_left_out() -> None:
    schema = {
        "type": "object",
        "properties": {"NO": {"type": "integer", "readOnly": True}, "N": {"type": "string"}},
    }
    assert not any("NO" in v for v in draw(schema, ValueOptions(optional_p=1.0)))


def test_the_same_seed_draws_the_same_value() -> None:
    sampler = compile_schema(prop(CASES["id map"]))
    assert sampler(random.Random(7)) == sampler(random.Random(7))


def test_a_pattern_with_lookahead_is_unsupported() -> None:
    with pytest.raises(UnsupportedPattern):
        compile_pattern(r"^(?=.*\d)[a-z0-9]{4}$")


def test_a_string_with_an_unsupported_pattern_still_gets_a_value() -> None:
    values = draw(prop({"type": "string", "pattern": r"^(?=x)x+$", "maxLength": 8}))
    assert all(isinstance(v["v"], str) for v in values)


def test_at_most_max_optional_properties_are_taken() -> None:
    schema = {"type": "object", "properties": {k: {"type": "integer"} for k in "abcdefghij"}}
    sizes = {len(v) for v in draw(schema, ValueOptions(optional_p=1.0, max_optional=3))}
    assert sizes == {3}


def test_min_properties_wins_over_a_low_optional_rate() -> None:
    schema = {"type": "object", "properties": {k: {"type": "integer"} for k in "abcdef"}, "minProperties": 2}
    assert {len(v) for v in draw(schema, ValueOptions(optional_p=0.0))} == {2}


def test_example_objects_are_copied_not_shared() -> None:
    sampler = compile_schema(prop({"type": "object", "examples": [{"X": 1}]}), ValueOptions(example_p=1.0))
    first, second = sampler(random.Random(1)), sampler(random.Random(2))
    assert first == second and first["v"] is not second["v"]


def test_dependent_required_properties_come_along() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "integer"}},
        "dependentRequired": {"c": ["a", "b"], "a": ["b"], "b": ["a"]},
    }
    values = draw(schema, ValueOptions(optional_p=0.5))
    assert any(values) and all(not v or {"a", "b"} <= set(v) for v in values)


def test_ref_branch_siblings_hold_in_one_of() -> None:
    schema = {
        "type": "object",
        "properties": {"v": {"oneOf": [{"$ref": "#/$defs/O", "properties": {"kind": {"enum": ["first"]}}}]}},
        "required": ["v"],
        "$defs": {"O": {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}}}},
    }
    assert {v["v"]["kind"] for v in draw(schema)} == {"first"}


def test_a_default_breaking_its_format_is_not_used() -> None:
    values = [
        v["v"]
        for v in draw(
            prop({"type": "string", "format": "time", "default": "23:20:50.52"}), ValueOptions(default_p=1.0)
        )
    ]
    assert "23:20:50.52" not in values
    assert_valid(prop({"type": "string", "format": "time"}), [{"v": v} for v in values])


def test_an_id_keyed_map_is_not_drawn_from_its_example() -> None:
    """A body example of GEN NX rows ({"1": {...}}) drawn whole would repeat one call on every draw
    that takes it; a plain object's example is still drawn."""

    row = {"type": "object", "properties": {"X": {"type": "integer", "minimum": 0, "maximum": 10**6}}}
    example = {"1": {"X": 123456}}
    params = {
        "type": "object",
        "properties": {"Assign": {"type": "object", "additionalProperties": row, "examples": [example]}},
        "required": ["Assign"],
    }
    draw = compile_schema(params, ValueOptions(example_p=1.0))
    rng = random.Random(3)
    assert all(draw(rng)["Assign"] != example for _ in range(50))
    plain = {"type": "object", "properties": {"P": {**row, "examples": [{"X": 7}]}}, "required": ["P"]}
    assert compile_schema(plain, ValueOptions(example_p=1.0))(rng)["P"] == {"X": 7}
