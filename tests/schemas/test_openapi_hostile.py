"""Hostile and tangled specs: operation $refs, the allowed root, and the budgets on untrusted input.

Each hostile case must end in a SpecError (file + pointer) or a warning within seconds, never a
traceback, and must not read any file outside the allowed root: an audit hook records every file
opened while ingesting.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from flows.cli import main
from schemas.errors import ConfigError, SpecError
from schemas.openapi import SpecBudgets, ingest
from schemas.openapi.operations import readable_operation_id

OK = {"200": {"description": "ok"}}
_OPENED: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if _OPENED is not None and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        _OPENED.append(os.path.realpath(os.fsdecode(args[0])))


sys.addaudithook(_audit)  # cannot be removed; it only records while a test listens


@contextmanager
def opened_files() -> Iterator[list[str]]:
    global _OPENED
    _OPENED = []
    try:
        yield _OPENED
    finally:
        _OPENED = None


def _doc(paths=None, **extra):
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths or {}, **extra}


def _with_schema(schema, components=None):
    op = {
        "requestBody": {"content": {"application/json": {"schema": schema}}},
        "responses": OK,
    }
    return _doc({"/a": {"post": op}}, components={"schemas": components or {}})


def refused(path, **kwargs) -> SpecError:
    start = time.monotonic()
    with pytest.raises(SpecError) as caught:
        ingest([path], **kwargs)
    assert time.monotonic() - start < 10
    return caught.value


# ------------------------------------------------------------------------------- operation $refs

DO_LIKE = Path(__file__).resolve().parents[1] / "data" / "specs" / "do_like" / "openapi.yaml"


@pytest.fixture(scope="module")
def do_like():
    return ingest([DO_LIKE], naming="operation_id")


def test_operation_refs_bring_their_parameters_from_other_files(do_like):
    tools = {t.name: t for t in do_like.catalog}
    assert list(tools["droplets_list"].parameters["properties"]) == ["per_page", "tag_name"]
    assert tools["droplets_get"].parameters["required"] == ["droplet_id"]
    assert tools["droplets_get"].binding.arguments["droplet_id"].location == "path"


def test_operation_ref_body_resolves_refs_relative_to_the_operation_file(do_like):
    create = next(t for t in do_like.catalog if t.name == "droplets_create")
    props = create.parameters["properties"]
    assert sorted(props) == ["name", "region", "size", "tags"]
    size = create.parameters["$defs"]["size"] if "$ref" in props["size"] else props["size"]
    assert size["examples"] == ["s-1vcpu-1gb"]


def test_operation_ref_description_comes_from_the_referenced_operation(do_like):
    tools = {t.name: t for t in do_like.catalog}
    assert tools["droplets_list"].description.startswith("List All Droplets\n\nTo list all Droplets")
    assert tools["droplets_get"].description == "Droplets get"  # operationId, not "GET /v2/droplets/…"
    assert tools["droplets_list"].binding.path == "/v2/droplets"
    assert tools["droplets_list"].source.pointer == "/paths/~1v2~1droplets/get"


def test_operation_ref_that_leads_nowhere_is_skipped_with_a_warning(do_like):
    assert "droplets_destroy" not in {t.name for t in do_like.catalog}
    (skipped,) = do_like.report.specs[0].skipped
    assert (skipped.method, skipped.code) == ("DELETE", "missing_ref")
    assert "not_there" in skipped.reason
    warned = [w for w in do_like.report.warnings if w.code == "missing_ref"]
    assert len(warned) == 1 and warned[0].pointer == "/paths/~1v2~1droplets~1{droplet_id}/delete"


def test_every_file_of_the_layout_is_hashed_and_none_outside_it_read(do_like):
    files = sorted(Path(f).name for f in do_like.report.specs[0].files)
    assert "size.yml" in files and "all_droplets.yml" in files and "droplets_list.yml" in files


@pytest.mark.parametrize(
    ("operation_id", "readable"),
    [
        ("listGuildMembers", "List guild members"),
        ("droplets_list", "Droplets list"),
        ("getHTTPLogs", "Get HTTP logs"),
        ("Apps-Create", "Apps create"),
        ("123", ""),
        (None, ""),
    ],
)
def test_operation_id_is_made_readable(operation_id, readable):
    assert readable_operation_id(operation_id) == readable


def test_description_falls_back_to_method_path_without_operation_id(write_spec):
    (tool,) = ingest([write_spec(_doc({"/a/{b}": {"get": {"responses": OK}}}))]).catalog
    assert tool.description == "GET /a/{b}"


# ------------------------------------------------------------------------------- the allowed root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A readable spec fragment outside the spec folder (tmp_path/specs)."""
    path = tmp_path / "outside.yaml"
    path.write_text("type: string\nexample: SECRET-OUTSIDE\n")
    return path


@pytest.mark.parametrize(
    "ref",
    ["../outside.yaml", "../specs/../outside.yaml", "/etc/passwd", "file:///etc/passwd", "/dev/zero"],
)
def test_refs_outside_the_allowed_root_are_refused_and_never_read(write_spec, outside, tmp_path, ref):
    path = write_spec(_with_schema({"$ref": ref}))
    with opened_files() as seen:
        error = refused(path)
    assert "outside the allowed root" in error.reason
    assert error.pointer == "/paths/~1a/post/requestBody/content/application~1json/schema/$ref"
    root = str(tmp_path / "specs")
    assert [f for f in seen if f.endswith((".yaml", ".json", "passwd", "zero"))] == [str(path.resolve())], (
        f"only the spec itself may be read under {root}"
    )


def test_allowed_root_widens_the_tree(write_spec, outside, tmp_path):
    path = write_spec(_with_schema({"$ref": "../outside.yaml"}))
    (tool,) = ingest([path], allowed_root=tmp_path).catalog
    assert tool.parameters["$defs"]["outside"]["examples"] == ["SECRET-OUTSIDE"]


def test_cli_allowed_root_flag_widens_the_tree_and_only_that_far(write_spec, outside, tmp_path, capsys):
    path = write_spec(_with_schema({"$ref": "../outside.yaml"}))
    catalog = tmp_path / "catalog"
    assert main(["ingest", str(path), "--out", str(catalog), "--allowed-root", str(tmp_path)]) == 0
    assert "SECRET-OUTSIDE" in (catalog / "catalog.jsonl").read_text()
    # a root that does not hold the referenced file still refuses it
    narrow = tmp_path / "specs"
    assert main(["ingest", str(path), "--out", str(tmp_path / "c2"), "--allowed-root", str(narrow)]) == 1
    assert "outside the allowed root" in capsys.readouterr().err


def test_symlink_out_of_the_root_is_refused(write_spec, outside):
    path = write_spec(_with_schema({"$ref": "link.yaml"}))
    (path.parent / "link.yaml").symlink_to(outside)
    assert "outside the allowed root" in refused(path).reason
    (path.parent / "zero.yaml").symlink_to("/dev/zero")
    path.write_text(json.dumps(_with_schema({"$ref": "zero.yaml"})))
    assert "outside the allowed root" in refused(path).reason


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_special_files_inside_the_root_are_refused(write_spec, kind):
    path = write_spec(_with_schema({"$ref": "special.yaml"}))
    special = path.parent / "special.yaml"
    os.mkfifo(special) if kind == "fifo" else special.mkdir()
    error = refused(path)
    assert "not a regular file" in error.reason


def test_file_size_cap(write_spec):
    path = write_spec(_with_schema({"$ref": "big.yaml"}))
    (path.parent / "big.yaml").write_text("type: string\ndescription: " + "x" * 5000 + "\n")
    error = refused(path, budgets=SpecBudgets(max_file_bytes=4096))
    assert "max_file_bytes" in error.reason
    assert error.pointer.endswith("/schema/$ref")
    ingest([path])  # the default cap is far above


def test_a_device_as_the_spec_itself_is_refused(tmp_path):
    with pytest.raises(SpecError, match="not a regular file"):
        ingest(["/dev/null"])


# ------------------------------------------------------------------------------- budgets

ALIAS_BOMB = """openapi: 3.0.3
info: {title: bomb, version: "1"}
x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
x-b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
x-c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
x-d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
x-e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
x-f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
x-g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
x-h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
x-i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
paths:
  /a:
    get:
      parameters:
        - {name: q, in: query, schema: {type: array, example: *i}}
      responses: {"200": {description: ok}}
"""


def test_yaml_alias_bomb_is_refused_in_seconds(write_spec):
    error = refused(write_spec(ALIAS_BOMB, "bomb.yaml"))
    assert "max_alias_nodes" in error.reason
    assert error.pointer in ("/x-i", "/paths/~1a/get/parameters/0/schema/example")  # where it fans out


def test_cyclic_yaml_alias_is_refused(write_spec):
    text = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nx-loop: &l [1, *l]\npaths: {}\n"
    assert "recursive" in refused(write_spec(text, "loop.yaml")).reason


def _nested(levels: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"p": schema}}
    return schema


def _nested_text(levels: int, yaml: bool) -> str:
    """A spec whose request schema nests ``levels`` objects (2 document levels each), as text:
    json.dumps and yaml.dump themselves hit the recursion limit at this depth."""
    head = '{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"post": '
    head += '{"responses": {"200": {"description": "ok"}}, "requestBody": {"content": '
    head += '{"application/json": {"schema": '
    if not yaml:
        inner = '{"type": "object", "properties": {"p": ' * levels + '{"type": "string"}' + "}}" * levels
        return head + inner + "}" * 7
    lines = ["openapi: 3.0.3", "info: {title: t, version: '1'}", "paths:", "  /a:", "    post:"]
    lines += ["      responses: {'200': {description: ok}}", "      requestBody:", "        content:"]
    lines += ["          application/json:", "            schema:"]
    indent = 14
    for _ in range(levels):
        lines += [" " * indent + "type: object", " " * indent + "properties:", " " * (indent + 2) + "p:"]
        indent += 4
    lines.append(" " * indent + "type: string")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", ["deep.json", "deep.yaml"])
def test_schema_nested_a_thousand_levels_is_refused(write_spec, name):
    error = refused(write_spec(_nested_text(500, name.endswith(".yaml")), name))
    # the parsers stop first (JSON: Python's recursion limit, libyaml: its own 1,000 levels)
    assert "max_depth" in error.reason or "exceeded maximum nesting depth" in error.reason


@pytest.mark.parametrize("name", ["deeper.json", "deeper.yaml"])
def test_nesting_over_the_budget_names_the_pointer(write_spec, name):
    error = refused(write_spec(_nested_text(100, name.endswith(".yaml")), name))
    assert "max_depth" in error.reason
    assert error.pointer.startswith(
        "/paths/~1a/post/requestBody/content/application~1json/schema/properties/p"
    )


def test_nesting_within_the_budget_converts(write_spec):
    (tool,) = ingest([write_spec(_with_schema(_nested(40)))]).catalog
    assert tool.parameters["properties"]["p"]["type"] == "object"


def test_long_ref_chain_is_refused_with_its_pointer(write_spec):
    components = {f"A{i}": {"$ref": f"#/components/schemas/A{i + 1}"} for i in range(5000)}
    components["A5000"] = {"type": "string"}
    error = refused(write_spec(_with_schema({"$ref": "#/components/schemas/A0"}, components)))
    assert "max_ref_depth" in error.reason
    assert error.pointer.startswith("/components/schemas/A")


def test_deep_ref_nesting_is_refused(write_spec):
    components = {
        f"N{i}": {"type": "object", "properties": {"next": {"$ref": f"#/components/schemas/N{i + 1}"}}}
        for i in range(2000)
    }
    components["N2000"] = {"type": "string"}
    error = refused(write_spec(_with_schema({"$ref": "#/components/schemas/N0"}, components)))
    assert "max_ref_depth" in error.reason or "max_depth" in error.reason


def test_oversized_example_is_dropped_with_a_warning(write_spec):
    schema = {"type": "array", "items": {"type": "integer"}, "example": list(range(20_000))}
    result = ingest([write_spec(_with_schema(schema))])
    (tool,) = result.catalog
    assert "examples" not in tool.parameters
    assert [w.code for w in result.report.warnings] == ["oversized_value"]


def test_budgets_come_from_the_environment(write_spec, monkeypatch):
    path = write_spec(_with_schema(_nested(40)))
    monkeypatch.setenv("CALLFORGE_SPEC_MAX_DEPTH", "20")
    assert "max_depth" in refused(path).reason
    monkeypatch.setenv("CALLFORGE_SPEC_MAX_DEPTH", "deep")
    with pytest.raises(ConfigError, match="CALLFORGE_SPEC_MAX_DEPTH"):
        ingest([path])


def test_bad_budget_value_is_a_config_error():
    with pytest.raises(ConfigError, match="max_nodes"):
        SpecBudgets(max_nodes=0)


@pytest.mark.parametrize("case", ["bomb", "chain", "outside"])
def test_cli_reports_hostile_specs_without_a_traceback(write_spec, tmp_path, outside, capsys, case):
    if case == "bomb":
        path = write_spec(ALIAS_BOMB, "bomb.yaml")
    elif case == "chain":
        components = {f"A{i}": {"$ref": f"#/components/schemas/A{i + 1}"} for i in range(3000)}
        path = write_spec(_with_schema({"$ref": "#/components/schemas/A0"}, components))
    else:
        path = write_spec(_with_schema({"$ref": "../outside.yaml"}))
    code = main(["ingest", str(path), "--out", str(tmp_path / "catalog")])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{path}#/" in err
    assert "Traceback" not in err
    assert not (tmp_path / "catalog").exists()


# ------------------------------------------------------------------------------- version mix-ups


@pytest.mark.parametrize(("version", "warned"), [("2.0", True), ("3.0.3", True), ("3.1.0", False)])
def test_type_lists_outside_31_are_read_with_a_warning(write_spec, version, warned):
    schema = {
        "type": "object",
        "properties": {"tags": {"type": ["array", "string"], "items": {"type": "string"}}},
    }
    if version == "2.0":
        op = {"parameters": [{"name": "b", "in": "body", "schema": schema}], "responses": OK}
        doc = {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"post": op}}}
    else:
        doc = {**_with_schema(schema), "openapi": version}
    result = ingest([write_spec(doc)])
    (tool,) = result.catalog
    assert tool.parameters["properties"]["tags"]["type"] == ["array", "string"]
    assert [w.code for w in result.report.warnings] == (["type_list"] if warned else [])


def test_a_dangling_ref_in_a_part_no_tool_uses_is_warned_about(write_spec):
    doc = _doc({"/a": {"get": {"responses": {"200": {"$ref": "responses.yaml#/not_here"}}}}})
    path = write_spec(doc)
    (path.parent / "responses.yaml").write_text("ok: {description: ok}\n")
    result = ingest([path])
    (warning,) = result.report.warnings
    assert (warning.code, warning.pointer) == ("missing_ref", "/paths/~1a/get/responses/200/$ref")
    assert "has nothing at /not_here" in warning.message


def test_a_dangling_ref_a_tool_uses_is_warned_about_once(write_spec):
    path = write_spec(_with_schema({"$ref": "schemas.yaml#/Gone"}))
    (path.parent / "schemas.yaml").write_text("Here: {type: string}\n")
    result = ingest([path])
    assert [w.code for w in result.report.warnings] == ["missing_ref"]
