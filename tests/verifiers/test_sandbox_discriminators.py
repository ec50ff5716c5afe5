"""The sandbox reads a discriminator the way servers do: a branch that fixes its own value is reached by it."""

from __future__ import annotations

import copy

from verifiers.sandbox.discriminators import map_branch_values


def _doc(mapping: dict[str, str] | None = None) -> dict:
    disc: dict = {"propertyName": "type"}
    if mapping is not None:
        disc["mapping"] = mapping
    return {
        "paths": {
            "/t": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/FunctionTool"},
                                        {"$ref": "#/components/schemas/Plain"},
                                        {"$ref": "#/components/schemas/Web"},
                                    ],
                                    "discriminator": disc,
                                }
                            }
                        }
                    }
                }
            }
        },
        "components": {
            "schemas": {
                "FunctionTool": {"properties": {"type": {"type": "string", "enum": ["function"]}}},
                "Plain": {"properties": {"type": {"type": "string"}}},  # no value of its own: its name rules
                "Web": {"allOf": [{"$ref": "#/components/schemas/WebBase"}]},
                "WebBase": {"properties": {"type": {"const": "web_search"}}},
            }
        },
    }


def _mapping(doc: dict) -> dict:
    return doc["paths"]["/t"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "discriminator"
    ].get("mapping")


def test_each_value_a_branch_fixes_maps_to_that_branch():
    doc = _doc()
    map_branch_values(doc)
    assert _mapping(doc) == {
        "function": "#/components/schemas/FunctionTool",
        "web_search": "#/components/schemas/Web",  # through allOf
    }


def test_an_explicit_mapping_entry_is_never_replaced():
    doc = _doc({"function": "#/components/schemas/Plain"})
    map_branch_values(doc)
    assert _mapping(doc)["function"] == "#/components/schemas/Plain"
    assert _mapping(doc)["web_search"] == "#/components/schemas/Web"


def test_a_spec_without_fixed_values_is_left_as_it_is():
    doc = _doc()
    for name in ("FunctionTool", "WebBase"):
        doc["components"]["schemas"][name] = {"properties": {"type": {"type": "string"}}}
    before = copy.deepcopy(doc)
    map_branch_values(doc)
    assert doc == before
