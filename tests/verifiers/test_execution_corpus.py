"""The execution verifier on the shared corpus (../shared/specs, 35 real public specs): a sample the
format verifier accepts is accepted by the sandbox too.

Offline samples for each spec go through the format verifier (what the pipeline runs first) and
then the execution verifier against the spec-driven sandbox. A format-valid sample the sandbox
refuses is a false reject (the request builder, ingestion or the sandbox read the spec differently)
or a value the format verifier cannot judge (an OpenAPI ``discriminator``, a value from the spec's own
invalid example); ``KNOWN`` lists those, each with its reason, and nothing else may fail. Skipped
without the corpus, like ``tests/schemas/test_openapi_corpus.py``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from generators.config import GenerateConfig
from generators.pipeline import generate
from generators.plan import build_plan
from schemas.catalog import Catalog
from schemas.openapi import ingest
from tests.schemas.test_openapi_corpus import CORPUS, SHARED_SPECS, needs_corpus
from verifiers.base import VerifyContext
from verifiers.execution import ExecutionOptions, ExecutionVerifier
from verifiers.format import FormatVerifier

SAMPLES_PER_SPEC = 400
# spec -> (tool, verdict code) pairs that may fail, and why: each is the spec's own inconsistency or a
# reading of OpenAPI that two validators disagree on, not a request callforge builds wrong.
KNOWN: dict[str, dict[tuple[str, str], str]] = {
    "readme_3.0_complex-nesting.json": {
        ("post_top_level_object_of_everything", "http_422"): (
            "`nullable: true` beside a `oneOf` without `type`: ingestion admits null (3.0.3 leaves it "
            "open), openapi-core does not"
        ),
    },
    "readme_3.0_schema-enums.json": {
        ("put_anything_strings", "http_422"): (
            "the body's `required` names 'enum (with example) *required', a property the schema does not "
            "define, so no body the tool describes passes"
        ),
    },
    "readme_3.1_schema-validation-local.json": {
        ("get_anything_jsonschema_formats", "http_400"): (
            "the spec's own examples fail their formats ('23:20:50.52' has no offset for `time`, '#/foo' "
            "is no `json-pointer`), and openapi-core rejects the IDN hostname 'Bücher.example'"
        ),
        ("get_anything_numbers", "http_400"): (
            "schemas declaring draft 6, 7 and 2019-09 use draft 4's boolean `exclusiveMaximum`: under "
            "their own dialect that is a maximum of `true`, which no number satisfies"
        ),
        ("get_anything_oas_formats", "http_400"): (
            "the spec's defaults are strings for integer and number parameters ('3000000000'), and "
            "openapi-core fills a missing query parameter with its default"
        ),
    },
}


def sandbox_refusals(
    catalog: Catalog, items: int, allowed_root: Path | None = None
) -> tuple[int, Counter[tuple[str, str]]]:
    """(format-valid samples, (tool, code) counts of those the sandbox did not pass) for the offline
    generator's samples of the first ``items`` plan items (shared with the real-spec suite)."""
    config = GenerateConfig.model_validate(
        {"plan": {"seed": 1, "styles": {"simple": 1}, "languages": {"en": 1}}}
    )
    plan = build_plan(catalog, config.plan)[:items]
    samples = list({s.id: s for s in generate(plan, catalog, config).samples if s.calls}.values())
    ctx = VerifyContext(catalog=catalog)
    valid = [s for s, v in zip(samples, FormatVerifier().verify(samples, ctx), strict=True) if v.passed]
    if not valid:
        return 0, Counter()
    options = ExecutionOptions(
        sandbox_mode="thread", allowed_root=str(allowed_root) if allowed_root else None
    )
    verdicts = ExecutionVerifier(options).verify(valid, ctx)
    return len(valid), Counter(
        (s.calls[0].name, v.code or "") for s, v in zip(valid, verdicts, strict=True) if v.passed is not True
    )


def _refused(name: str) -> Counter[tuple[str, str]]:
    spec = (SHARED_SPECS / name).resolve()
    catalog = ingest([spec], include_deprecated=True, allowed_root=SHARED_SPECS).catalog
    return sandbox_refusals(catalog, SAMPLES_PER_SPEC, allowed_root=SHARED_SPECS)[1]


@pytest.mark.slow
@needs_corpus
@pytest.mark.parametrize("name", sorted(n for n, operations in CORPUS.items() if operations))
def test_format_valid_samples_pass_the_sandbox(name: str) -> None:
    refused = _refused(name)
    unexpected = {key: n for key, n in refused.items() if key not in KNOWN.get(name, {})}
    assert unexpected == {}
