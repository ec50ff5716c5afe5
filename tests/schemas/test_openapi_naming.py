"""Tool names: the three strategies, OpenAI-safe snake names, deterministic collision handling."""

from __future__ import annotations

import pytest

from schemas.openapi import ingest
from schemas.openapi.naming import FUNCTION_NAME, base_name, category_for, snake_name, unique_names

OK = {"200": {"description": "ok"}}
LONG_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}/status/and/some/more/segments"


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/db/NODE", "post_db_node"),
        ("GET", "/pets/{petId}", "get_pets_by_petid"),
        ("GET", "/", "get"),
        ("DELETE", "/a-b/c.d/{x}/{y}", "delete_a_b_c_d_by_x_by_y"),
        ("GET", "/files/{name}.{ext}", "get_files_by_name_by_ext"),
        ("PUT", "/ünïcode/x", "put_n_code_x"),
    ],
)
def test_snake_name(method, path, expected):
    assert snake_name(method, path) == expected


def test_long_snake_name_is_cut_to_64_with_a_hash_of_the_full_name():
    name = snake_name("PATCH", LONG_PATH)
    assert len(name) == 64 and FUNCTION_NAME.match(name)
    assert name != snake_name("PATCH", LONG_PATH + "/x")
    assert name.startswith("patch_apis_apiextensions_k8s_io_v1")


@pytest.mark.parametrize(
    ("naming", "operation_id", "expected"),
    [
        ("method_path", "addNode", "POST /db/NODE"),
        ("operation_id", "addNode", "addNode"),
        ("operation_id", None, "post_db_node"),
        ("operation_id", "  ", "post_db_node"),
        ("snake", "addNode", "post_db_node"),
    ],
)
def test_naming_strategies(naming, operation_id, expected):
    assert base_name(naming, "POST", "/db/NODE", operation_id) == expected


@pytest.mark.parametrize(
    ("keys", "bases", "expected"),
    [
        ([("/b", "GET", 0), ("/a", "GET", 0)], ["x", "x"], ["x_2", "x"]),
        ([("/a", "GET", 0), ("/b", "GET", 0), ("/c", "GET", 0)], ["x", "x", "x_2"], ["x", "x_3", "x_2"]),
        ([("/a", "GET", 1), ("/a", "GET", 0)], ["x", "x"], ["x_2", "x"]),
        ([("/a", "GET", 0), ("/a", "POST", 0)], ["x", "y"], ["x", "y"]),
    ],
    ids=["sorted by path", "natural _2 is reserved", "spec order breaks ties", "no collision"],
)
def test_collisions_are_settled_in_path_method_order(keys, bases, expected):
    assert unique_names("snake", keys, bases) == expected


def test_suffix_keeps_snake_names_within_64_characters():
    base = snake_name("PATCH", LONG_PATH)
    assert unique_names("snake", [("/a", "GET", 0), ("/b", "GET", 0)], [base, base])[1] == base[:62] + "_2"


@pytest.mark.parametrize("naming", ["snake", "operation_id", "method_path"])
def test_names_do_not_depend_on_key_order_in_the_file(make_doc, write_spec, naming):
    paths = {
        "/a-b": {"get": {"operationId": "dup", "responses": OK}},
        "/a_b": {"get": {"operationId": "dup", "responses": OK}},
        "/a.b": {
            "post": {"operationId": "dup", "responses": OK},
            "get": {"operationId": "other", "responses": OK},
        },
    }
    forward = ingest([write_spec(make_doc(paths), "f.json")], naming=naming).catalog
    backward = ingest([write_spec(make_doc(dict(reversed(paths.items()))), "b.json")], naming=naming).catalog
    assert {(t.binding.path, t.binding.method): t.name for t in forward} == {
        (t.binding.path, t.binding.method): t.name for t in backward
    }
    assert len({t.name for t in forward}) == 4


def test_snake_collisions_in_a_spec_get_numbered(make_doc, write_spec):
    paths = {"/a_b": {"get": {"responses": OK}}, "/a-b": {"get": {"responses": OK}}}
    tools = ingest([write_spec(make_doc(paths))]).catalog
    assert {t.binding.path: t.name for t in tools} == {"/a-b": "get_a_b", "/a_b": "get_a_b_2"}


def test_every_snake_name_of_a_real_spec_is_function_safe(data_specs):
    tools = ingest(
        [data_specs / "readme_2.0_petstore.json", data_specs / "readme_3.1_schema-types.json"]
    ).catalog
    assert all(FUNCTION_NAME.match(t.name) for t in tools)


@pytest.mark.parametrize(
    ("tags", "path", "expected"),
    [
        (["pets", "store"], "/x/y", "pets"),
        ([], "/store/order", "store"),
        ([], "/{id}/items", "items"),
        ([], "/", None),
    ],
)
def test_category_is_first_tag_else_first_path_segment(tags, path, expected):
    assert category_for(tags, path) == expected
