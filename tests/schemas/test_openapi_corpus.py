"""Every spec of the shared corpus (../shared/specs, 35 real public specs) ingests completely.

The expected operation counts are MANIFEST.md's. These tests read ../shared (CI clones the repo
with it beside), and skip with the reason when it is absent; the always-on tests use the copies
under tests/data/specs.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from schemas.openapi import IngestResult, ingest

SHARED_SPECS = Path(__file__).resolve().parents[2] / ".." / "shared" / "specs"
needs_corpus = pytest.mark.skipif(
    not SHARED_SPECS.is_dir(),
    reason=f"the shared spec corpus is not at {SHARED_SPECS} (CI clones it beside the repo)",
)

# file -> operations under `paths`, from ../shared/specs/MANIFEST.md (webhooks are not operations).
CORPUS = {
    "apisguru_xkcd_swagger2.yaml": 2,
    "k8s_swagger2_kubernetes.json": 1123,
    "oai_v2_petstore-minimal.json": 1,
    "oai_v2_petstore-separate/spec/swagger.json": 4,
    "oai_v2_petstore-with-external-docs.json": 4,
    "oai_v2_uber.yaml": 5,
    "oai_v3.0_api-with-examples.yaml": 2,
    "oai_v3.0_callback-example.yaml": 1,
    "oai_v3.0_link-example.yaml": 6,
    "oai_v3.0_petstore.yaml": 3,
    "oai_v3.0_uspto.json": 3,
    "oai_v3.1_non-oauth-scopes.json": 1,
    "oai_v3.1_webhook-example.yaml": 0,
    "readme_2.0_petstore.json": 20,
    "readme_2.0_schema-circular.yaml": 1,
    "readme_3.0_circular-paths.yaml": 3,
    "readme_3.0_complex-nesting.json": 5,
    "readme_3.0_discriminators.json": 10,
    "readme_3.0_file-uploads.yaml": 3,
    "readme_3.0_form-data.yaml": 1,
    "readme_3.0_parameters-common.json": 5,
    "readme_3.0_request-examples.json": 11,
    "readme_3.0_response-multiple-mediatypes.json": 4,
    "readme_3.0_schema-circular.yaml": 3,
    "readme_3.0_schema-enums.json": 3,
    "readme_3.0_schema-types.json": 21,
    "readme_3.0_security.yaml": 15,
    "readme_3.0_server-variables.json": 4,
    "readme_3.0_star-trek.json": 120,
    "readme_3.1_schema-types.json": 23,
    "readme_3.1_schema-validation-local.json": 5,
    "readme_3.1_train-travel.yaml": 7,
    "readme_3.1_webhooks.yaml": 0,
    "redocly_museum_3.1.yaml": 8,
    "swaggerapi_petstore3_3.0.yaml": 19,
}


@cache
def _ingested(name: str, include_deprecated: bool = True) -> IngestResult:
    # Kubernetes takes ~0.5 s: ingest each file once for all the properties checked below.
    # petstore-separate's spec/ refers to ../common/: its allowed root is the corpus folder
    return ingest([SHARED_SPECS / name], include_deprecated=include_deprecated, allowed_root=SHARED_SPECS)


@needs_corpus
def test_corpus_table_lists_every_spec_of_the_manifest():
    listed = {
        p.relative_to(SHARED_SPECS).as_posix()
        for p in SHARED_SPECS.glob("*.*")
        if p.suffix in (".json", ".yaml")
    }
    listed.add("oai_v2_petstore-separate/spec/swagger.json")
    assert listed == set(CORPUS)


@needs_corpus
@pytest.mark.parametrize(("name", "operations"), sorted(CORPUS.items()))
def test_every_operation_becomes_a_tool(name: str, operations: int):
    report = _ingested(name).report.specs[0]
    assert (report.operations, report.tools, report.skipped) == (operations, operations, [])


@needs_corpus
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_tool_schema_is_valid_json_schema_2020_12(name: str):
    # The meta-schema checks each property and each definition on its own, so checking every
    # distinct one once (plus each tool's skeleton) is the same check as check_schema on every
    # tool, ~10x faster on Kubernetes, whose tools share definitions and parameters.
    meta = Draft202012Validator(
        Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    checked: set[str] = set()
    for tool in _ingested(name).catalog:
        params = tool.parameters
        meta.validate({k: v for k, v in params.items() if k not in ("$defs", "properties")})
        for schema in [*params["properties"].values(), *params.get("$defs", {}).values()]:
            key = json.dumps(schema, sort_keys=True)
            if key not in checked:
                checked.add(key)
                meta.validate(schema)


@needs_corpus
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_skip_deprecated_removes_exactly_the_deprecated_operations(name: str):
    everything = _ingested(name)
    deprecated = sum(1 for tool in everything.catalog if tool.deprecated)
    kept = _ingested(name, include_deprecated=False)
    assert len(kept.catalog) == len(everything.catalog) - deprecated
    assert all(not tool.deprecated for tool in kept.catalog)


@needs_corpus
@pytest.mark.parametrize("name", [n for n, ops in sorted(CORPUS.items()) if ops == 0])
def test_a_document_without_operations_gives_an_empty_catalog_and_a_warning(name: str):
    result = _ingested(name)
    assert len(result.catalog) == 0
    assert [w.code for w in result.report.warnings] == ["no_operations"]


@needs_corpus
def test_kubernetes_ref_property_stays_a_property():
    tool = next(
        t for t in _ingested("k8s_swagger2_kubernetes.json").catalog if "JSONSchemaProps" in str(t.parameters)
    )
    props = tool.parameters["$defs"][
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"
    ]
    assert props["properties"]["$ref"] == {"type": "string"}


@needs_corpus
def test_the_strictly_invalid_spec_ingests_with_warnings():
    result = _ingested("readme_3.1_schema-validation-local.json")
    assert len(result.catalog) == 5
    assert {w.code for w in result.report.warnings} == {"legacy_keyword"}
