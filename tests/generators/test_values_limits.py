"""The sampler on any spec: caps, examples without undeclared keys, discriminators, encodings, rows.

Schemas are the bounds real specs declare (``maxItems: 2147483647`` on Adyen's line items) and the spec
``tests/data/specs/hostile_bounds.yaml`` (hand-written), ingested the way a run ingests a spec.
"""

from __future__ import annotations

import base64
import random
import time
from pathlib import Path
from typing import Any

import pytest

from generators.offline import OfflineGenerator
from generators.plan import build_plan
from generators.values import SchemaTooLarge, ValueOptions, compile_schema
from schemas.openapi import ingest
from tests.generators.test_values import draw, prop
from verifiers.format import sample_issues

DATA = Path(__file__).resolve().parents[1] / "data" / "specs"
HUGE = 2_147_483_647


def test_a_huge_max_items_is_capped_and_fast() -> None:
    schema = prop({"type": "array", "items": {"type": "integer"}, "maxItems": HUGE})
    started = time.perf_counter()
    lengths = {len(v["v"]) for v in draw(schema, n=300)}
    assert max(lengths) <= ValueOptions().max_array_items
    assert len(lengths) > 2  # still varied, not pinned to one length
    assert time.perf_counter() - started < 2


def test_a_huge_max_length_is_capped() -> None:
    values = draw(prop({"type": "string", "maxLength": HUGE}), ValueOptions(max_string_length=10))
    assert max(len(v["v"]) for v in values) <= 10


def test_a_min_items_above_the_hard_limit_fails_with_a_clear_error() -> None:
    schema = prop({"type": "array", "items": {"type": "integer"}, "minItems": 10_000_000})
    with pytest.raises(SchemaTooLarge, match="minItems=10000000"):
        compile_schema(schema)


def test_a_value_over_the_total_size_is_redrawn_then_refused() -> None:
    schema = prop({"type": "array", "items": {"type": "string", "minLength": 50}, "minItems": 5})
    sampler = compile_schema(schema, ValueOptions(max_sample_chars=100))
    with pytest.raises(SchemaTooLarge, match="max_sample_chars=100"):
        sampler(random.Random(1))
    assert len(str(compile_schema(schema, ValueOptions(max_sample_chars=1000))(random.Random(1)))) > 250


def test_example_keys_the_request_schema_does_not_declare_are_left_out() -> None:
    # ingestion drops readOnly properties (here "id"); the example still carries the key
    schema = prop(
        {
            "type": "object",
            "properties": {"reference": {"type": "string"}},
            "examples": [{"id": "p1", "reference": "r"}],
        }
    )
    values = draw(schema, ValueOptions(example_p=1.0), n=5)
    assert {str(v["v"]) for v in values} == {"{'reference': 'r'}"}


def test_an_open_schema_keeps_its_example_keys() -> None:
    schema = prop(
        {
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "additionalProperties": True,
            "examples": [{"a": "x", "b": 1}],
        }
    )
    assert draw(schema, ValueOptions(example_p=1.0), n=1)[0]["v"] == {"a": "x", "b": 1}


def test_a_discriminated_branch_keeps_its_own_allowed_value() -> None:
    # what ingestion makes of `oneOf: [$ref FunctionTool]` + `discriminator: {propertyName: type}`:
    # the pin names the schema, while the branch itself allows only "function"
    schema = {
        "type": "object",
        "properties": {
            "tool": {
                "oneOf": [
                    {"$ref": "#/$defs/FunctionTool", "properties": {"type": {"enum": ["FunctionTool"]}}}
                ]
            }
        },
        "required": ["tool"],
        "$defs": {
            "FunctionTool": {
                "type": "object",
                "properties": {"type": {"type": "string", "enum": ["function"]}, "name": {"type": "string"}},
                "required": ["type", "name"],
            }
        },
    }
    assert {v["tool"]["type"] for v in draw(schema, n=20)} == {"function"}


@pytest.mark.parametrize("encoding", ["base64", "base64url"])
def test_content_encoded_strings_decode(encoding: str) -> None:
    for value in draw(prop({"type": "string", "contentEncoding": encoding}), n=50):
        decode = base64.urlsafe_b64decode if encoding == "base64url" else base64.b64decode
        decode(value["v"].encode("ascii"))  # raises on words like "north-12"


def test_rows_and_list_items_are_never_empty_objects() -> None:
    row = {"type": "object", "properties": {"X": {"type": "number"}, "Y": {"type": "number"}}}
    schema = {
        "type": "object",
        "properties": {
            "Assign": {
                "type": "object",
                "propertyNames": {"pattern": "^[0-9]+$"},
                "additionalProperties": row,
            },
            "items": {"type": "array", "items": row, "minItems": 1},
        },
        "required": ["Assign", "items"],
    }
    values = draw(schema, ValueOptions(optional_p=0.0))  # a naive sampler gives {} every time here
    assert all(r for v in values for r in v["Assign"].values())
    assert all(i for v in values for i in v["items"])


def test_a_top_level_argument_may_still_be_empty() -> None:
    schema = prop({"type": "object", "properties": {"TYPE": {"type": "string"}}})
    assert {} in [v["v"] for v in draw(schema, ValueOptions(optional_p=0.0), n=5)]


def test_nested_and_all_of_required_properties_are_present() -> None:
    schema = {
        "type": "object",
        "properties": {
            "p": {
                "allOf": [
                    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                    {
                        "properties": {
                            "b": {
                                "type": "object",
                                "properties": {"c": {"type": "integer"}},
                                "required": ["c"],
                            }
                        },
                        "required": ["b"],
                    },
                ]
            }
        },
        "required": ["p"],
    }
    for value in draw(schema, ValueOptions(optional_p=0.0), n=30):
        assert "a" in value["p"] and "c" in value["p"]["b"]


def _generate_everything(spec: Path) -> tuple[list[Any], list[dict[str, Any]], dict[str, Any]]:
    catalog = ingest([str(spec)]).catalog
    samples, failures = OfflineGenerator(catalog).generate(build_plan(catalog))
    return samples, failures, {t.name: t for t in catalog}


def test_the_hostile_spec_generates_valid_bounded_samples() -> None:
    samples, failures, tools = _generate_everything(DATA / "hostile_bounds.yaml")
    assert failures == [] and samples
    for sample in samples:
        # Ingestion pins the discriminator to the schema's name ("FunctionTool") on top of the branch's own
        # enum ["function"], so no value satisfies the tool's schema; the sampler keeps the value the
        # server accepts. That one issue is the converter's (schemas/openapi/convert.py), not the sampler's.
        issues = [i for i in sample_issues(sample, tools) if i.pointer != "/tool/type"]
        assert issues == [], sample
        for call in sample.calls:
            args = call.arguments
            assert len(str(args)) < 2_000
            if call.name == "post_payments":
                assert "id" not in args  # readOnly: never in a request, examples included
                assert args["tool"]["type"] == "function"
                base64.b64decode(args["payload"]) if "payload" in args else None


# Tools whose samples the sampler cannot make valid yet (known limits, README "Offline generator"):
# a discriminator declared on a base schema that ingestion does not pin, an unsatisfiable allOf
# (string and integer at once), and format corner cases of the schema-types showcase.
KNOWN_INVALID = {
    "readme_3.0_discriminators.json": {"patch_nested_one_of_object_with_nested_one_of", "patch_embedded_discriminator"},
    "readme_3.1_schema-types.json": {
        "put_anything_quirks_polymorphism", "post_anything_quirks_polymorphism",
        "patch_anything_quirks_polymorphism", "put_anything_strings",
    },
    "readme_2.0_petstore.json": set(),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(KNOWN_INVALID))
def test_real_specs_generate_samples_the_format_verifier_passes(name: str) -> None:
    samples, failures, tools = _generate_everything(DATA / name)
    assert len(samples) > 50
    assert [f for f in failures if f.get("code") != "no_distinct_arguments"] == []
    bad = {
        s.calls[i.call_index or 0].name if s.calls else "-" for s in samples for i in sample_issues(s, tools)
    }
    assert bad <= KNOWN_INVALID[name]


def test_an_optional_list_of_field_less_objects_is_left_out() -> None:
    # GEN NX /post/STEELCODECHECK's vSECT: items declare no fields, so [{}, {}] would say nothing
    schema = {
        "type": "object",
        "properties": {"vSECT": {"type": "array", "items": {"type": "object", "properties": {}}}},
    }
    assert all("vSECT" not in v for v in draw(schema, ValueOptions(optional_p=1.0)))
