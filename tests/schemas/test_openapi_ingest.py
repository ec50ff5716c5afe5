"""The ingest API and `callforge ingest`: files written, refusals, external refs, tiers, round trips."""

from __future__ import annotations

import json

import pytest

from flows.cli import main
from schemas.catalog import Catalog
from schemas.errors import SpecError
from schemas.openapi import REPORT_FILE, IngestReport, ingest, write_ingest

OK = {"200": {"description": "ok"}}
SEPARATE = "oai_v2_petstore-separate/spec/swagger.json"


# ---------------------------------------------------------------------------------- external files


def test_relative_external_refs_are_resolved_across_files(data_specs):
    tools = {
        t.source.operation_id: t for t in ingest([data_specs / SEPARATE], allowed_root=data_specs).catalog
    }
    assert list(tools["findPets"].parameters["properties"]) == ["tags", "limit"]
    assert (
        tools["findPets"].binding.arguments["tags"].style == "form"
    )  # collectionFormat csv, from parameters.json
    assert list(tools["addPet"].parameters["properties"]) == [
        "id",
        "name",
        "tag",
        "description",
    ]  # NewPet allOf Pet


def test_report_lists_and_hashes_every_file_of_a_split_spec(data_specs):
    spec = ingest([data_specs / SEPARATE], allowed_root=data_specs).report.specs[0]
    names = sorted(f.rsplit("/", 2)[-2] + "/" + f.rsplit("/", 1)[-1] for f in spec.files)
    assert names == [
        "common/Error.json",
        "spec/NewPet.json",
        "spec/Pet.json",
        "spec/parameters.json",
        "spec/swagger.json",
    ]
    assert len(spec.sha256) == 64


def test_yaml_dates_and_numeric_keys_stay_json_strings(write_spec, make_doc):
    text = (
        "openapi: 3.0.3\ninfo: {title: t, version: 1}\npaths:\n  /a:\n    get:\n      parameters:\n"
        "        - {name: d, in: query, schema: {type: string, format: date, example: 2024-01-31}}\n"
        "      responses:\n        200: {description: ok}\n"
    )
    (tool,) = ingest([write_spec(text, "dates.yaml")]).catalog
    assert tool.parameters["properties"]["d"]["examples"] == ["2024-01-31"]


# ------------------------------------------------------------------------------------------ refusals

REFUSALS = [
    ("broken.yaml", "openapi: 3.0.0\npaths: {/a: [\n", "/", "not valid YAML (line"),
    ("broken.json", '{"openapi": "3.0.0", "paths": {', "/", "not valid JSON (line 1"),
    ("list.yaml", "- openapi: 3.0.0\n", "/", "expected an object at the top level"),
    ("plain.yaml", "title: not a spec\n", "/", "not an OpenAPI document"),
    (
        "paths.json",
        '{"openapi": "3.0.0", "paths": ["/a"]}',
        "/paths",
        "expected an object mapping path templates",
    ),
    (
        "external.json",
        json.dumps(
            {"swagger": "2.0", "paths": {"/a": {"get": {"parameters": [{"$ref": "missing.json#/p"}]}}}}
        ),
        "/paths/~1a/get/parameters/0/$ref",
        "$ref 'missing.json#/p': cannot read the file",
    ),
    (
        "remote.json",
        json.dumps(
            {
                "openapi": "3.1.0",
                "paths": {},
                "components": {"schemas": {"A": {"$ref": "https://x.test/a.json"}}},
            }
        ),
        "/components/schemas/A/$ref",
        "remote $ref",
    ),
]


@pytest.mark.parametrize(("name", "text", "pointer", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_unreadable_spec_raises_spec_error_with_file_and_pointer(write_spec, name, text, pointer, message):
    path = write_spec(text, name)
    with pytest.raises(SpecError) as caught:
        ingest([path])
    assert (caught.value.file, caught.value.pointer) == (str(path), pointer)
    assert message in str(caught.value)


@pytest.mark.parametrize(("name", "text", "pointer", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_cli_refusal_exits_non_zero_names_the_file_and_writes_nothing(
    write_spec, tmp_path, capsys, name, text, pointer, message
):
    good = write_spec({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}, "good.json")
    out = tmp_path / "catalog"
    code = main(["ingest", str(good), str(write_spec(text, name)), "--out", str(out)])
    assert code == 1
    assert f"{name}#{pointer}: " in capsys.readouterr().err
    assert not out.exists()


def test_missing_spec_file_is_refused(tmp_path):
    with pytest.raises(SpecError, match="cannot read the spec file"):
        ingest([tmp_path / "nope.yaml"])


def test_readable_but_invalid_spec_is_ingested_with_warnings(write_spec):
    doc = {"openapi": "3.0.0", "paths": {"/a": {"get": {"parameters": [{"in": "query"}], "responses": OK}}}}
    result = ingest([write_spec(doc)])
    assert len(result.catalog) == 1
    assert sorted(w.code for w in result.report.warnings) == ["invalid_parameter", "missing_info"]


# --------------------------------------------------------------------------------- writing and contracts


def test_catalog_round_trips_through_save_and_load(data_specs, tmp_path):
    result = ingest(
        [data_specs / SEPARATE, data_specs / "readme_3.0_schema-circular.yaml"], allowed_root=data_specs
    )
    loaded = Catalog.load(write_ingest(result, tmp_path / "catalog"))
    assert [t.model_dump() for t in loaded] == [t.model_dump() for t in result.catalog]
    assert loaded.manifest == result.catalog.manifest


def test_manifest_records_one_spec_entry_per_spec(data_specs):
    manifest = ingest(
        [data_specs / SEPARATE, data_specs / "readme_3.0_schema-circular.yaml"], allowed_root=data_specs
    ).catalog.manifest
    assert [(s.file.rsplit("/", 1)[-1], s.operations, s.tools) for s in manifest.specs] == [
        ("swagger.json", 4, 4),
        ("readme_3.0_schema-circular.yaml", 3, 3),
    ]
    assert (manifest.tool_count, manifest.naming, manifest.tiers) == (7, "snake", {"none": 7})


def test_report_is_written_and_reads_back(data_specs, tmp_path):
    result = ingest([data_specs / "readme_2.0_petstore.json"])
    out = write_ingest(result, tmp_path / "catalog")
    report = IngestReport.model_validate_json((out / REPORT_FILE).read_text())
    assert report == result.report
    assert (report.tools, report.endpoints) == (20, 14)


def test_ingest_is_deterministic(data_specs, tmp_path):
    specs = [data_specs / "readme_3.1_schema-types.json", data_specs / SEPARATE]
    first = write_ingest(ingest(specs, allowed_root=data_specs), tmp_path / "one") / "catalog.jsonl"
    second = write_ingest(ingest(specs, allowed_root=data_specs), tmp_path / "two") / "catalog.jsonl"
    assert first.read_bytes() == second.read_bytes()


def test_rewrite_replaces_the_previous_catalog(data_specs, tmp_path):
    out = tmp_path / "catalog"
    write_ingest(ingest([data_specs / "readme_2.0_petstore.json"]), out)
    write_ingest(ingest([data_specs / SEPARATE], allowed_root=data_specs), out)
    assert len(Catalog.load(out)) == 4
    assert sorted(p.name for p in out.iterdir()) == ["catalog.jsonl", "ingest_report.json", "manifest.json"]


def test_writing_into_a_folder_with_other_files_keeps_them(data_specs, tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    write_ingest(ingest([data_specs / SEPARATE], allowed_root=data_specs), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    assert len(Catalog.load(tmp_path)) == 4


def test_tools_of_several_specs_share_one_namespace(write_spec, make_doc):
    a = write_spec(make_doc({"/pets": {"get": {"responses": OK}}}), "a.json")
    b = write_spec(make_doc({"/pets": {"get": {"responses": OK}}}), "b.json")
    result = ingest([a, b])
    assert [(t.name, t.source.file) for t in result.catalog] == [("get_pets", str(a)), ("get_pets_2", str(b))]
    assert result.report.endpoints == 2


# -------------------------------------------------------------------------------------------- tiers


def test_tier_rules_assign_tiers_and_categories_and_are_recorded(write_spec, make_doc, tmp_path):
    rules = tmp_path / "tiers.yaml"
    rules.write_text(
        "default_tier: 3\nquotas: {1: [10, 20], 3: [0, 1]}\n"
        "rules:\n  - {tier: 1, category: core, paths: ['/pets*'], methods: [GET]}\n"
    )
    paths = {
        "/pets": {
            "get": {"tags": ["animals"], "responses": OK},
            "post": {"tags": ["animals"], "responses": OK},
        }
    }
    result = ingest([write_spec(make_doc(paths))], tier_rules=rules)
    assert {t.name: (t.tier, t.category) for t in result.catalog} == {
        "get_pets": (1, "core"),
        "post_pets": (3, "animals"),
    }
    manifest = result.catalog.manifest
    assert (manifest.tier_rules, manifest.quotas, manifest.tiers) == (
        str(rules),
        {"1": [10, 20], "3": [0, 1]},
        {"1": 1, "3": 1},
    )


# ---------------------------------------------------------------------------------------------- CLI


def test_cli_writes_the_catalog_and_prints_a_summary(data_specs, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CALLFORGE_SPEC_ALLOWED_ROOT", str(data_specs))  # the CLI's way to widen it
    out = tmp_path / "catalog"
    code = main(
        [
            "ingest",
            str(data_specs / "readme_2.0_petstore.json"),
            str(data_specs / SEPARATE),
            "--out",
            str(out),
            "--naming",
            "operation_id",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "uploadFile" in Catalog.load(out)
    assert (out / REPORT_FILE).exists()
    assert "ingested 2 spec(s): 24 tools on 16 endpoints" in printed
    assert "tiers: none 24 tools/16 endpoints" in printed
    assert "warnings: 1 (credential_parameter 1)" in printed


def test_cli_skip_deprecated(write_spec, make_doc, tmp_path, capsys):
    spec = write_spec(
        make_doc({"/a": {"get": {"deprecated": True, "responses": OK}, "put": {"responses": OK}}})
    )
    assert main(["ingest", str(spec), "--out", str(tmp_path / "c"), "--skip-deprecated"]) == 0
    assert [t.name for t in Catalog.load(tmp_path / "c")] == ["put_a"]
    assert "skipped GET /a: [deprecated]" in capsys.readouterr().out
