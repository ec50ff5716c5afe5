"""False rejects found on the spec corpus, end to end: offline samples of a small spec go through
the request builder and the execution verifier against a real sandbox and must all pass.

- an optional urlencoded body whose schema requires fields (readme form-data): once any field is
  sent, the required ones must be too (``dependentRequired`` in the tool schema, honoured by the
  value generator); a call leaving one out is still refused;
- a ``oneOf`` body with a ``discriminator`` (readme discriminators): the property must name a branch.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from generators.config import GenerateConfig
from generators.pipeline import generate
from generators.plan import build_plan
from schemas.catalog import Catalog
from schemas.openapi import ingest
from tests.verifiers.execution_fixtures import DATA, call, sample, tool_named
from verifiers.base import VerifyContext
from verifiers.execution import ExecutionVerifier
from verifiers.sandbox import SandboxServer

FIXES = DATA / "builder_corpus_fixes.yaml"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer([str(FIXES)], mode="thread") as server:
        yield server


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return ingest([str(FIXES)], naming="snake").catalog


def test_offline_samples_all_pass(catalog: Catalog, sandbox: SandboxServer) -> None:
    config = GenerateConfig.model_validate(
        {"plan": {"seed": 3, "styles": {"simple": 1}, "languages": {"en": 1}}}
    )
    samples = [s for s in generate(build_plan(catalog, config.plan)[:60], catalog, config).samples if s.calls]
    unique = list({s.id: s for s in samples}.values())
    assert {c.name for s in unique for c in s.calls} == {t.name for t in catalog}
    ctx = VerifyContext(catalog=catalog, resources={"sandbox_url": sandbox.base_url})
    refused = [v.message for v in ExecutionVerifier().verify(unique, ctx) if v.passed is not True]
    assert refused == []


def test_a_required_field_left_out_of_a_sent_body_is_still_refused(
    catalog: Catalog, sandbox: SandboxServer
) -> None:
    s = sample(call(tool_named(catalog, "POST", "/tokens"), client_id="app", scope=2))
    ctx = VerifyContext(catalog=catalog, resources={"sandbox_url": sandbox.base_url})
    verdict = ExecutionVerifier().verify([s], ctx)[0]
    assert verdict.passed is False and "client secret" in (verdict.message or "")
