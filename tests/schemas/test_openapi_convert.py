"""OpenAPI schemas become valid JSON Schema 2020-12: keywords, nullability, readOnly, recursion, $refs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator

from schemas.openapi import ingest

PET = {"type": "object", "properties": {"name": {"type": "string"}}}


@pytest.fixture
def convert(make_doc, write_spec):
    """``convert(schema, version)`` -> (converted schema of one body property, tool parameters, warnings)."""

    def run(schema: Any, version: str = "3.0.3", components: dict | None = None):
        body = {"type": "object", "properties": {"value": schema}}
        if version == "2.0":
            op = {
                "parameters": [{"in": "body", "name": "body", "schema": body}],
                "responses": {"200": {"description": "ok"}},
            }
            doc = make_doc({"/things": {"post": op}}, version, definitions=components or {"Pet": PET})
        else:
            op = {"requestBody": {"content": {"application/json": {"schema": body}}}, "responses": {}}
            doc = make_doc(
                {"/things": {"post": op}}, version, components={"schemas": components or {"Pet": PET}}
            )
        result = ingest([write_spec(doc)])
        (tool,) = result.catalog
        return tool.parameters["properties"]["value"], tool.parameters, result.report.warnings

    return run


CASES = [
    ("3.0 nullable widens type", {"type": "string", "nullable": True}, {"type": ["string", "null"]}),
    (
        "3.0 nullable enum accepts null",
        {"type": "string", "enum": ["a", "b"], "nullable": True},
        {"type": ["string", "null"], "enum": ["a", "b", None]},
    ),
    (
        "nullable $ref becomes anyOf, description outside",
        {"$ref": "#/components/schemas/Pet", "nullable": True, "description": "the pet"},
        {"anyOf": [{"$ref": "#/$defs/Pet"}, {"type": "null"}], "description": "the pet"},
    ),
    ("3.1 type array passes through", {"type": ["integer", "null"]}, {"type": ["integer", "null"]}),
    ("example becomes examples", {"type": "integer", "example": 3}, {"type": "integer", "examples": [3]}),
    (
        "boolean exclusiveMinimum becomes numeric",
        {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 9, "exclusiveMaximum": False},
        {"type": "number", "exclusiveMinimum": 0, "maximum": 9},
    ),
    (
        "tuple items become prefixItems",
        {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
        {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
    ),
    (
        "OpenAPI-only keywords and extensions are dropped",
        {
            "type": "object",
            "discriminator": {"propertyName": "k"},
            "xml": {"name": "x"},
            "externalDocs": {"url": "https://x.test"},
            "x-internal": True,
            "$schema": "x",
            "$id": "y",
        },
        {"type": "object"},
    ),
    (
        "readOnly properties leave properties and required",
        {
            "type": "object",
            "required": ["id", "name"],
            "properties": {"id": {"type": "integer", "readOnly": True}, "name": {"type": "string"}},
        },
        {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
    ),
    ("writeOnly is kept", {"type": "string", "writeOnly": True}, {"type": "string", "writeOnly": True}),
    (
        "enum, format and default are kept",
        {"type": "string", "format": "date", "enum": ["2024-01-01"], "default": "2024-01-01"},
        {"type": "string", "format": "date", "enum": ["2024-01-01"], "default": "2024-01-01"},
    ),
    (
        "composition keywords convert their members",
        {
            "oneOf": [{"type": "string", "nullable": True}, {"$ref": "#/components/schemas/Pet"}],
            "allOf": [{"type": "object"}],
            "anyOf": [{"example": 1}],
        },
        {
            "oneOf": [{"type": ["string", "null"]}, {"$ref": "#/$defs/Pet"}],
            "allOf": [{"type": "object"}],
            "anyOf": [{"examples": [1]}],
        },
    ),
]


@pytest.mark.parametrize(("case", "schema", "expected"), CASES, ids=[c[0] for c in CASES])
def test_keyword_conversion(convert, case, schema, expected):
    converted, _, _ = convert(schema)
    assert converted == expected


@pytest.mark.parametrize(
    ("schema", "keyword"),
    [
        ({"type": "string", "pattern": "(?<=\\p{L})x"}, "pattern"),  # ECMA-only: Python's re refuses it
        ({"type": "string", "enum": []}, "enum"),
        ({"type": "object", "required": True}, "required"),
        ({"type": "string", "minLength": -1}, "minLength"),
        ({"type": "integer", "multipleOf": 0}, "multipleOf"),
        ({"type": "strnig"}, "type"),
    ],
)
def test_invalid_keyword_is_dropped_with_a_warning_naming_it(convert, schema, keyword):
    converted, _, warnings = convert(schema)
    assert keyword not in converted
    (warning,) = warnings
    assert (warning.code, warning.pointer) == (
        "invalid_schema_keyword",
        f"/paths/~1things/post/requestBody/content/application~1json/schema/properties/value/{keyword}",
    )


@pytest.mark.parametrize(
    ("version", "codes"), [("3.0.3", []), ("3.1.0", ["legacy_keyword", "legacy_keyword"])]
)
def test_openapi30_spellings_are_converted_and_flagged_only_in_a_31_document(convert, version, codes):
    schema = {"type": "integer", "nullable": True, "minimum": 1, "exclusiveMinimum": True}
    converted, _, warnings = convert(schema, version)
    assert converted == {"type": ["integer", "null"], "exclusiveMinimum": 1}
    assert [w.code for w in warnings] == codes


def test_swagger2_x_nullable_widens_type(convert):
    converted, _, _ = convert({"type": "integer", "x-nullable": True}, "2.0")
    assert converted == {"type": ["integer", "null"]}


def test_swagger2_file_type_becomes_binary_string(convert):
    converted, _, _ = convert({"type": "file"}, "2.0")
    assert converted == {"type": "string", "format": "binary"}


def test_missing_definition_becomes_empty_schema_with_a_warning(convert):
    converted, _, warnings = convert({"$ref": "#/components/schemas/Nope"})
    assert converted == {}
    (warning,) = warnings
    assert warning.code == "missing_ref"
    assert warning.pointer.endswith("/properties/value/$ref")
    assert "Nope" in warning.message


def test_ref_chain_that_only_refers_to_itself_becomes_empty_schema(convert):
    components = {"A": {"$ref": "#/components/schemas/B"}, "B": {"$ref": "#/components/schemas/A"}}
    _, params, warnings = convert({"$ref": "#/components/schemas/A"}, components=components)
    assert params["$defs"] == {"A": {}}  # B, now unreachable, is not copied
    assert [w.code for w in warnings] == ["circular_ref"]


def test_yaml_only_values_are_dropped_with_a_warning(make_doc, write_spec):
    text = (
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      parameters:\n"
        "        - {name: n, in: query, schema: {type: number, default: .inf, enum: [1, .nan]}}\n"
        "      responses: {}\n"
    )
    result = ingest([write_spec(text, "inf.yaml")])
    assert result.catalog.tools[0].parameters["properties"]["n"] == {"type": "number"}
    assert sorted(w.pointer.rsplit("/", 1)[-1] for w in result.report.warnings) == ["default", "enum"]


def test_refs_become_defs_with_only_reachable_definitions(convert):
    components = {
        "Pet": {"type": "object", "properties": {"owner": {"$ref": "#/components/schemas/Owner"}}},
        "Owner": {"type": "string"},
        "Unused": {"type": "integer"},
    }
    _, params, _ = convert({"$ref": "#/components/schemas/Pet"}, components=components)
    assert params["properties"]["value"] == {"$ref": "#/$defs/Pet"}
    assert set(params["$defs"]) == {"Pet", "Owner"}


def test_recursive_definition_is_kept_as_a_reference_not_expanded(convert):
    node = {
        "type": "object",
        "properties": {"children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}},
    }
    _, params, _ = convert({"$ref": "#/components/schemas/Node"}, components={"Node": node})
    assert params["$defs"]["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    Draft202012Validator(params).validate({"value": {"children": [{"children": [{}]}]}})


def test_readonly_reference_is_left_out(convert):
    components = {"Status": {"type": "object", "readOnly": True}, "Pet": PET}
    schema = {
        "type": "object",
        "properties": {"status": {"$ref": "#/components/schemas/Status"}, "n": {"type": "integer"}},
    }
    converted, _, _ = convert(schema, components=components)
    assert converted == {"type": "object", "properties": {"n": {"type": "integer"}}}


def test_property_named_ref_is_a_property_not_a_reference(make_doc, write_spec):
    """A tiny Kubernetes-like spec: JSONSchemaProps has a property literally named `$ref`, and recurses."""
    props = {
        "type": "object",
        "properties": {
            "$ref": {"type": "string", "description": "a JSON reference"},
            "properties": {
                "type": "object",
                "additionalProperties": {"$ref": "#/definitions/JSONSchemaProps"},
            },
        },
    }
    crd = {
        "type": "object",
        "properties": {"kind": {"type": "string"}, "schema": {"$ref": "#/definitions/JSONSchemaProps"}},
    }
    op = {
        "parameters": [
            {"in": "body", "name": "body", "required": True, "schema": {"$ref": "#/definitions/CRD"}}
        ],
        "responses": {"201": {"description": "created"}},
    }
    doc = make_doc({"/crds": {"post": op}}, "2.0", definitions={"CRD": crd, "JSONSchemaProps": props})
    (tool,) = ingest([write_spec(doc)]).catalog
    definition = tool.parameters["$defs"]["JSONSchemaProps"]
    assert definition["properties"]["$ref"] == {"type": "string", "description": "a JSON reference"}
    assert definition["properties"]["properties"]["additionalProperties"] == {
        "$ref": "#/$defs/JSONSchemaProps"
    }
    Draft202012Validator(tool.parameters).validate(
        {"schema": {"$ref": "#/x", "properties": {"a": {"$ref": "#/y"}}}}
    )


@pytest.mark.parametrize("name", ["readme_3.0_schema-circular.yaml", "readme_2.0_schema-circular.yaml"])
def test_circular_specs_keep_exactly_the_definitions_each_tool_reaches(data_specs, name):
    for tool in ingest([data_specs / name]).catalog:
        defs = tool.parameters.get("$defs", {})
        text = str({k: v for k, v in tool.parameters.items() if k != "$defs"})
        reached, todo = set(), set(re.findall(r"#/\$defs/([^'\"]+)", text))
        while todo:
            name_ = todo.pop()
            reached.add(name_)
            todo |= set(re.findall(r"#/\$defs/([^'\"]+)", str(defs[name_]))) - reached
        assert reached == set(defs), tool.name


def test_circular_schema_terminates_and_validates(data_specs):
    tool = ingest([data_specs / "readme_2.0_schema-circular.yaml"]).catalog.tools[0]
    Draft202012Validator.check_schema(tool.parameters)
    assert any("$ref" in str(v) for v in tool.parameters["$defs"].values())


# ------------------------------------------------------------------ property: random schemas convert

# One level of an OpenAPI Schema Object, generated by hypothesis-jsonschema; nesting comes from
# st.recursive below (hypothesis-jsonschema cannot generate from the recursive meta-schemas).
_LEAF = {
    "type": "object",
    "properties": {
        "type": {"enum": ["string", "integer", "number", "boolean", "object", "array", "null"]},
        "format": {"enum": ["int32", "int64", "date", "date-time", "binary", "email", "uuid"]},
        "nullable": {"type": "boolean"},
        "readOnly": {"type": "boolean"},
        "writeOnly": {"type": "boolean"},
        "deprecated": {"type": "boolean"},
        "description": {"type": "string", "maxLength": 8},
        "minimum": {"type": "integer"},
        "maximum": {"type": "number"},
        "exclusiveMinimum": {"type": "boolean"},
        "minLength": {"type": "integer", "minimum": 0, "maximum": 5},
        "pattern": {"enum": ["^[a-z]+$", "\\d{3}", "x|y"]},
        "enum": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {"type": ["string", "integer", "null"]},
        },
        "default": {"type": ["string", "integer", "boolean", "null"]},
        "example": {"type": ["string", "integer"]},
        "discriminator": {
            "type": "object",
            "properties": {"propertyName": {"type": "string"}},
            "required": ["propertyName"],
        },
        "xml": {"type": "object", "properties": {"name": {"type": "string"}}},
        "x-extension": {"type": "integer"},
    },
    "additionalProperties": False,
}
_REF = st.sampled_from([{"$ref": "#/components/schemas/Pet"}, {"$ref": "#/components/schemas/Tree"}])


def _nested(children: st.SearchStrategy) -> st.SearchStrategy:
    names = st.text(alphabet="abc$_", min_size=1, max_size=4)
    return st.one_of(
        st.builds(
            lambda p, r: {"type": "object", "properties": p, "required": r},
            st.dictionaries(names, children, max_size=3),
            st.lists(names, max_size=2, unique=True),
        ),
        st.builds(lambda i: {"type": "array", "items": i}, children),
        st.builds(
            lambda k, m: {k: m},
            st.sampled_from(["allOf", "anyOf", "oneOf"]),
            st.lists(children, min_size=1, max_size=3),
        ),
        st.builds(lambda a: {"type": "object", "additionalProperties": a}, children),
    )


SCHEMAS = st.recursive(st.one_of(from_schema(_LEAF), _REF), _nested, max_leaves=8)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schema=SCHEMAS)
def test_random_openapi_schemas_convert_to_valid_json_schema(make_doc, write_spec, schema):
    tree = {
        "type": "object",
        "properties": {"kids": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}}},
    }
    doc = make_doc(
        {
            "/x": {
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": schema}}},
                    "responses": {},
                }
            }
        },
        components={"schemas": {"Pet": schema, "Tree": tree}},
    )
    (tool,) = ingest([write_spec(doc)]).catalog
    Draft202012Validator.check_schema(tool.parameters)
