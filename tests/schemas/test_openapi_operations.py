"""Operations become tools: parameters, bodies, media types, servers and security in the binding."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from schemas.models import ParamLocation
from schemas.openapi import ingest

OK = {"200": {"description": "ok"}}


@pytest.fixture
def tools(make_doc, write_spec):
    """``tools(paths, version="3.1.0", **top)`` -> (tools by name, report)."""

    def run(paths: dict[str, Any], version: str = "3.1.0", **top: Any):
        result = ingest([write_spec(make_doc(paths, version, **top))])
        return {t.name: t for t in result.catalog}, result.report

    return run


def json_body(
    schema: dict[str, Any], required: bool = True, media: str = "application/json"
) -> dict[str, Any]:
    return {"required": required, "content": {media: {"schema": schema}}}


# ---------------------------------------------------------------------------------------- parameters


def test_operation_parameter_overrides_path_level_parameter_of_same_name_and_location(tools):
    paths = {
        "/items/{id}": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer"}, "description": "path level"},
            ],
            "get": {
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "maximum": 5},
                        "description": "operation level",
                    }
                ],
                "responses": OK,
            },
        }
    }
    found, _ = tools(paths)
    params = found["get_items_by_id"].parameters
    assert list(params["properties"]) == ["id", "limit"]
    assert params["properties"]["limit"] == {
        "type": "integer",
        "maximum": 5,
        "description": "operation level",
    }


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ({"name": "q", "in": "query", "schema": {"type": "string"}}, ("form", True)),
        (
            {
                "name": "q",
                "in": "query",
                "style": "spaceDelimited",
                "explode": False,
                "schema": {"type": "array"},
            },
            ("spaceDelimited", False),
        ),
        ({"name": "q", "in": "header", "schema": {"type": "string"}}, ("simple", False)),
        ({"name": "q", "in": "cookie", "schema": {"type": "string"}}, ("form", True)),
        (
            {
                "name": "q",
                "in": "query",
                "style": "deepObject",
                "explode": True,
                "schema": {"type": "object"},
            },
            ("deepObject", True),
        ),
    ],
)
def test_style_and_explode_are_recorded_with_defaults_filled_in(tools, param, expected):
    found, _ = tools({"/s": {"get": {"parameters": [param], "responses": OK}}})
    binding = found["get_s"].binding.arguments["q"]
    assert (binding.location.value, binding.style, binding.explode) == (param["in"], *expected)


@pytest.mark.parametrize(
    ("collection_format", "expected"),
    [
        (None, ("form", False)),
        ("csv", ("form", False)),
        ("multi", ("form", True)),
        ("pipes", ("pipeDelimited", False)),
        ("ssv", ("spaceDelimited", False)),
    ],
)
def test_swagger2_collection_format_maps_to_style(tools, collection_format, expected):
    param = {"name": "tags", "in": "query", "type": "array", "items": {"type": "string"}}
    if collection_format:
        param["collectionFormat"] = collection_format
    found, _ = tools({"/s": {"get": {"parameters": [param], "responses": OK}}}, "2.0")
    binding = found["get_s"].binding.arguments["tags"]
    assert (binding.style, binding.explode) == expected
    assert found["get_s"].parameters["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}


@pytest.mark.parametrize("header", ["Accept", "Content-Type", "authorization"])
def test_reserved_headers_are_not_arguments(tools, header):
    params = [
        {"name": header, "in": "header", "schema": {"type": "string"}},
        {"name": "x", "in": "query", "schema": {}},
    ]
    found, report = tools({"/s": {"get": {"parameters": params, "responses": OK}}})
    assert list(found["get_s"].parameters["properties"]) == ["x"]
    assert [w.code for w in report.warnings] == ["ignored_parameter"]


def test_swagger2_body_parameter_in_an_openapi3_document_is_ignored_with_a_warning(tools):
    params = [{"name": "b", "in": "body", "schema": {"type": "object"}}]
    found, report = tools({"/s": {"post": {"parameters": params, "responses": OK}}})
    assert found["post_s"].parameters["properties"] == {}
    assert [w.code for w in report.warnings] == ["invalid_parameter"]


def test_extension_keys_under_paths_are_not_paths(tools):
    found, report = tools({"/s": {"get": {"responses": OK}}, "x-internal": {"get": {"responses": OK}}})
    assert (list(found), report.warnings) == (["get_s"], [])


def test_undeclared_path_variables_become_required_strings(tools):
    found, report = tools({"/a/{b}/{c}": {"get": {"responses": OK}}})
    tool = found["get_a_by_b_by_c"]
    assert tool.parameters["properties"] == {"b": {"type": "string"}, "c": {"type": "string"}}
    assert tool.parameters["required"] == ["b", "c"]
    assert {(n, a.name) for n, a in tool.binding.arguments.items()} == {("b", "b"), ("c", "c")}
    assert [w.code for w in report.warnings] == ["undeclared_path_parameter"] * 2


# ------------------------------------------------------------------------------------------- bodies


def test_object_body_properties_become_body_property_arguments(tools):
    schema = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    }
    found, _ = tools({"/p": {"post": {"requestBody": json_body(schema), "responses": OK}}})
    tool = found["post_p"]
    assert tool.parameters["required"] == ["name"]
    assert {n: (b.location, b.name, b.required) for n, b in tool.binding.arguments.items()} == {
        "name": (ParamLocation.BODY_PROPERTY, "name", True),
        "age": (ParamLocation.BODY_PROPERTY, "age", False),
    }
    assert (tool.binding.body_media_type, tool.binding.body_required) == ("application/json", True)


def test_optional_body_makes_no_property_required(tools):
    schema = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    found, _ = tools({"/p": {"post": {"requestBody": json_body(schema, required=False), "responses": OK}}})
    assert "required" not in found["post_p"].parameters


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "array", "items": {"type": "string"}},
        {"type": "string"},
        {"type": "object", "additionalProperties": {"type": "integer"}},
        {"oneOf": [{"type": "object", "properties": {"a": {}}}, {"type": "object", "properties": {"b": {}}}]},
    ],
    ids=["array", "primitive", "free-form object", "oneOf"],
)
def test_non_object_body_is_one_body_argument(tools, schema):
    found, _ = tools({"/p": {"post": {"requestBody": json_body(schema), "responses": OK}}})
    tool = found["post_p"]
    assert tool.parameters["properties"]["body"] == schema
    assert tool.binding.arguments["body"].location is ParamLocation.BODY


def test_body_property_clashing_with_a_parameter_is_prefixed_and_keeps_its_wire_name(tools):
    schema = {"type": "object", "properties": {"id": {"type": "string"}, "note": {"type": "string"}}}
    params = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    found, _ = tools(
        {"/p/{id}": {"put": {"parameters": params, "requestBody": json_body(schema), "responses": OK}}}
    )
    arguments = found["put_p_by_id"].binding.arguments
    assert (arguments["id"].location, arguments["id"].name) == (ParamLocation.PATH, "id")
    assert (arguments["body_id"].location, arguments["body_id"].name) == (ParamLocation.BODY_PROPERTY, "id")


def test_allof_body_is_merged_into_one_set_of_arguments(tools):
    base = {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}
    schema = {"allOf": [{"$ref": "#/components/schemas/Base"}, {"properties": {"b": {"type": "integer"}}}]}
    found, _ = tools(
        {"/p": {"post": {"requestBody": json_body(schema), "responses": OK}}},
        components={"schemas": {"Base": base}},
    )
    assert list(found["post_p"].parameters["properties"]) == ["a", "b"]
    assert found["post_p"].parameters["required"] == ["a"]


def test_plus_json_media_type_is_recorded(tools):
    schema = {"type": "object", "properties": {"op": {"type": "string"}}}
    body = {
        "content": {"application/xml": {"schema": schema}, "application/merge-patch+json": {"schema": schema}}
    }
    found, _ = tools({"/p": {"patch": {"requestBody": body, "responses": OK}}})
    assert found["patch_p"].binding.body_media_type == "application/merge-patch+json"


def test_urlencoded_body_fields_are_form_arguments(tools):
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    body = {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": schema,
                "encoding": {"q": {"style": "form", "explode": False}},
            }
        }
    }
    found, _ = tools({"/f": {"post": {"requestBody": body, "responses": OK}}})
    tool = found["post_f"]
    binding = tool.binding.arguments["q"]
    assert (tool.binding.body_media_type, binding.location, binding.style, binding.explode) == (
        "application/x-www-form-urlencoded",
        ParamLocation.FORM,
        "form",
        False,
    )


def test_multipart_parts_record_their_content_type(data_specs):
    tools = {t.name: t for t in ingest([data_specs / "readme_3.0_file-uploads.yaml"]).catalog}
    multipart = [t for t in tools.values() if t.binding.body_media_type == "multipart/form-data"]
    assert multipart
    for tool in multipart:
        assert all(
            b.location is ParamLocation.FORM and b.content_type for b in tool.binding.arguments.values()
        )


def test_swagger2_form_data_with_a_file_is_multipart(data_specs):
    tools = {t.source.operation_id: t for t in ingest([data_specs / "readme_2.0_petstore.json"]).catalog}
    upload = tools["uploadFile"]
    assert upload.binding.body_media_type == "multipart/form-data"
    assert upload.parameters["properties"]["file"]["format"] == "binary"
    assert upload.binding.arguments["file"].location is ParamLocation.FORM
    update = tools["updatePetWithForm"]
    assert update.binding.body_media_type == "application/x-www-form-urlencoded"


def test_optional_body_in_unsupported_media_type_is_left_out_with_a_warning(tools):
    body = {"content": {"application/xml": {"schema": {"type": "object"}}}}
    params = [{"name": "q", "in": "query", "schema": {"type": "string"}}]
    found, report = tools({"/x": {"post": {"parameters": params, "requestBody": body, "responses": OK}}})
    assert list(found["post_x"].parameters["properties"]) == ["q"]
    assert found["post_x"].binding.body_media_type is None
    assert [w.code for w in report.warnings] == ["unsupported_media_type"]


def test_required_body_in_unsupported_media_type_skips_the_operation_with_a_reason(tools):
    body = {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string"}}}}
    found, report = tools({"/x": {"post": {"requestBody": body, "responses": OK}, "get": {"responses": OK}}})
    assert list(found) == ["get_x"]
    (skipped,) = report.specs[0].skipped
    assert (skipped.method, skipped.path, skipped.code) == ("POST", "/x", "unsupported_media_type")
    assert "application/octet-stream" in skipped.reason


# ------------------------------------------------------------------------------- servers and security


def test_server_variables_are_substituted_and_kept(data_specs):
    tool = ingest([data_specs / "oai_v3.0_uspto.json"]).catalog.tools[0]
    assert tool.binding.server_url == "https://developer.uspto.gov/ds-api"
    assert tool.binding.server_variables["scheme"]["default"] == "https"


def test_operation_servers_override_path_and_document_servers(tools):
    paths = {
        "/a": {
            "servers": [{"url": "https://path.test/"}],
            "get": {"responses": OK},
            "post": {
                "servers": [
                    {"url": "https://{region}.op.test/v1", "variables": {"region": {"default": "eu"}}}
                ],
                "responses": OK,
            },
        },
        "/b": {"get": {"responses": OK}},
    }
    found, _ = tools(paths, servers=[{"url": "https://doc.test/api"}])
    assert {n: t.binding.server_url for n, t in found.items()} == {
        "get_a": "https://path.test",
        "post_a": "https://eu.op.test/v1",
        "get_b": "https://doc.test/api",
    }


def test_swagger2_host_base_path_and_scheme_make_the_server_url(tools):
    found, _ = tools(
        {"/a": {"get": {"responses": OK}}}, "2.0", host="api.test", basePath="/v2/", schemes=["http"]
    )
    assert found["get_a"].binding.server_url == "http://api.test/v2"


def test_a_swagger2_operations_own_schemes_choose_its_scheme(tools):
    paths = {"/a": {"get": {"responses": OK}, "post": {"schemes": ["http"], "responses": OK}}}
    found, _ = tools(paths, "2.0", host="api.test", basePath="/v2", schemes=["https"])
    assert (found["get_a"].binding.server_url, found["post_a"].binding.server_url) == (
        "https://api.test/v2",
        "http://api.test/v2",
    )


def test_security_is_recorded_in_the_binding_and_never_becomes_an_argument(tools):
    schemes = {
        "key": {"type": "apiKey", "in": "query", "name": "api_key"},
        "bearer": {"type": "http", "scheme": "bearer"},
    }
    params = [
        {"name": "api_key", "in": "query", "schema": {"type": "string"}},
        {"name": "q", "in": "query", "schema": {}},
    ]
    paths = {
        "/a": {"get": {"parameters": params, "responses": OK}, "post": {"security": [], "responses": OK}}
    }
    found, _ = tools(paths, components={"securitySchemes": schemes}, security=[{"key": []}, {"bearer": []}])
    get = found["get_a"]
    assert list(get.parameters["properties"]) == ["q"]
    assert get.binding.security == [{"key": []}, {"bearer": []}]
    assert get.binding.security_schemes == schemes
    assert (found["post_a"].binding.security, found["post_a"].binding.security_schemes) == ([], {})


def test_swagger2_security_definitions_are_normalised(tools):
    definitions = {
        "basic": {"type": "basic"},
        "oauth": {
            "type": "oauth2",
            "flow": "accessCode",
            "authorizationUrl": "https://a.test",
            "tokenUrl": "https://t.test",
            "scopes": {"read": "r"},
        },
    }
    found, _ = tools(
        {"/a": {"get": {"security": [{"basic": []}, {"oauth": ["read"]}], "responses": OK}}},
        "2.0",
        securityDefinitions=definitions,
    )
    schemes = found["get_a"].binding.security_schemes
    assert schemes["basic"] == {"type": "http", "scheme": "basic"}
    assert schemes["oauth"]["flows"]["authorizationCode"]["tokenUrl"] == "https://t.test"


# --------------------------------------------------------------------------------- description, flags


def test_description_joins_summary_and_description_and_is_bounded(tools):
    found, _ = tools({"/a": {"get": {"summary": "List", "description": "word " * 400, "responses": OK}}})
    description = found["get_a"].description
    assert description.startswith("List\n\nword word")
    assert len(description) <= 1024 and description.endswith("…")


def test_deprecated_operation_is_flagged_and_skipped_on_request(make_doc, write_spec):
    path = write_spec(
        make_doc({"/old": {"get": {"deprecated": True, "responses": OK}}, "/new": {"get": {"responses": OK}}})
    )
    assert [t.deprecated for t in ingest([path]).catalog] == [False, True]
    result = ingest([path], include_deprecated=False)
    assert [t.name for t in result.catalog] == ["get_new"]
    assert [(s.path, s.code) for s in result.report.specs[0].skipped] == [("/old", "deprecated")]


def test_optional_body_requires_its_required_properties_once_any_is_sent(tools):
    # Sent at all, the body must hold "name" and "client id" (readme form-data / schema-enums).
    schema = {
        "type": "object",
        "required": ["name", "client id"],
        "properties": {"name": {"type": "string"}, "client id": {"type": "string"}, "n": {"type": "integer"}},
    }
    found, _ = tools({"/p": {"post": {"requestBody": json_body(schema, required=False), "responses": OK}}})
    assert found["post_p"].parameters["dependentRequired"] == {
        "name": ["client_id"],
        "client_id": ["name"],
        "n": ["name", "client_id"],
    }


def test_discriminator_pins_its_property_in_each_branch(tools, make_doc, write_spec):
    one = {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}}}
    body = {
        "oneOf": [{"$ref": "#/components/schemas/One"}, {"$ref": "#/components/schemas/Two"}],
        "discriminator": {"propertyName": "kind", "mapping": {"first": "#/components/schemas/One"}},
    }
    found, _ = tools(
        {"/p": {"post": {"requestBody": json_body(body), "responses": OK}}},
        components={"schemas": {"One": one, "Two": one}},
    )
    branches = found["post_p"].parameters["properties"]["body"]["oneOf"]
    assert [b["properties"]["kind"]["enum"] for b in branches] == [["first"], ["Two"]]


# ------------------------------------------------------------------------------------ body examples

ROW = {"type": "object", "properties": {"DIR": {"type": "string"}, "X": {"type": "number"}}}
WRITE = {"type": "object", "properties": {"Assign": {"type": "object", "additionalProperties": ROW}}}


def test_media_type_examples_land_on_the_body_property_they_belong_to(tools):
    content = {
        "application/json": {
            "schema": WRITE,
            "examples": {
                "one": {"value": {"Assign": {"1": {"DIR": "NORMAL", "X": 1.5}}}},
                "two": {"value": {"Assign": {"2": {"DIR": "DIR", "X": 0}}}},
                "external": {"externalValue": "https://example.com/x.json"},  # nothing to read: skipped
            },
        }
    }
    found, _ = tools({"/db/CUTL": {"post": {"requestBody": {"content": content}, "responses": OK}}})
    assign = found["post_db_cutl"].parameters["properties"]["Assign"]
    assert assign["examples"] == [{"1": {"DIR": "NORMAL", "X": 1.5}}, {"2": {"DIR": "DIR", "X": 0}}]
    assert "examples" not in ROW  # the spec's (shared) schema is not written to


def test_a_single_media_type_example_and_a_ref_example_are_kept(tools):
    found, _ = tools(
        {
            "/a": {"post": {"requestBody": json_body(WRITE) | {"content": {"application/json": {
                "schema": WRITE, "example": {"Assign": {"7": {"DIR": "NORMAL"}}}}}}, "responses": OK}},
            "/b": {"post": {"requestBody": {"content": {"application/json": {
                "schema": WRITE, "examples": {"r": {"$ref": "#/components/examples/Row"}}}}},
                "responses": OK}},
        },
        components={"examples": {"Row": {"value": {"Assign": {"3": {"X": 2}}}}}},
    )  # fmt: skip
    assert found["post_a"].parameters["properties"]["Assign"]["examples"] == [{"7": {"DIR": "NORMAL"}}]
    assert found["post_b"].parameters["properties"]["Assign"]["examples"] == [{"3": {"X": 2}}]


def test_a_whole_body_argument_keeps_the_examples_whole(tools):
    body = {"content": {"application/json": {"schema": {"type": "array", "items": {"type": "integer"}},
                                              "example": [1, 2, 3]}}}  # fmt: skip
    found, _ = tools({"/ids": {"post": {"requestBody": body, "responses": OK}}})
    (argument,) = found["post_ids"].parameters["properties"].values()
    assert argument["examples"] == [[1, 2, 3]]


def test_body_examples_are_capped_and_an_oversized_one_is_left_out_with_a_warning(tools, monkeypatch):
    monkeypatch.setenv("CALLFORGE_SPEC_MAX_EXAMPLE_NODES", "50")
    many = {f"e{i}": {"value": {"Assign": {str(i): {"X": i}}}} for i in range(6)}
    big = {"value": {"Assign": {str(i): {"X": i} for i in range(100)}}}
    content = {"application/json": {"schema": WRITE, "examples": {"big": big, **many}}}
    found, report = tools({"/db/X": {"post": {"requestBody": {"content": content}, "responses": OK}}})
    examples = found["post_db_x"].parameters["properties"]["Assign"]["examples"]
    assert examples == [{"0": {"X": 0}}, {"1": {"X": 1}}, {"2": {"X": 2}}]
    assert any(w.code == "oversized_value" and "examples/big" in w.pointer for w in report.warnings)


def test_discriminator_without_mapping_keeps_a_branchs_own_value(tools):
    # OpenAI's spec: no mapping, and each branch fixes the property itself ("type": "function" under the
    # schema FunctionTool). Pinning the schema's name beside that enum would leave no valid value.
    function_tool = {
        "type": "object",
        "required": ["type", "name"],
        "properties": {"type": {"type": "string", "enum": ["function"]}, "name": {"type": "string"}},
    }
    plain = {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}}
    body = {
        "oneOf": [{"$ref": "#/components/schemas/FunctionTool"}, {"$ref": "#/components/schemas/Plain"}],
        "discriminator": {"propertyName": "type"},
    }
    found, _ = tools(
        {"/p": {"post": {"requestBody": json_body(body), "responses": OK}}},
        components={"schemas": {"FunctionTool": function_tool, "Plain": plain}},
    )
    parameters = found["post_p"].parameters
    first, second = parameters["properties"]["body"]["oneOf"]
    assert "properties" not in first  # not pinned: its own enum says "function"
    assert second["properties"]["type"]["enum"] == ["Plain"]  # no value of its own: the schema's name
    validator = jsonschema.Draft202012Validator(parameters)
    assert validator.is_valid({"body": {"type": "function", "name": "f"}})
    assert not validator.is_valid({"body": {"type": "FunctionTool", "name": "f"}})
