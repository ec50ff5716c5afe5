"""The offline generator over the whole GEN NX catalog (specs/gennx), ingested as the pipeline does."""

from __future__ import annotations

from collections import Counter

import pytest

from generators.config import PlanConfig
from generators.offline import OfflineGenerator
from generators.plan import WorkItem, build_plan
from schemas.catalog import Catalog
from schemas.models import Sample, Style
from tests.generators.catalog_fixtures import GENNX_SPEC, GENNX_TIERS
from tests.generators.checks import ungrounded

pytestmark = pytest.mark.skipif(
    not (GENNX_SPEC.exists() and GENNX_TIERS.exists()),
    reason="specs/gennx/openapi.yaml and tiers.yaml not present yet",
)
EVERY_TIER = {"1": (3, 3), "2": (3, 3), "3": (3, 3)}


@pytest.fixture(scope="module")
def gennx() -> Catalog:
    ingest = pytest.importorskip("schemas.openapi").ingest
    return ingest([GENNX_SPEC], naming="snake", tier_rules=GENNX_TIERS).catalog


@pytest.fixture(scope="module")
def generated(gennx: Catalog) -> tuple[list[WorkItem], list[Sample], list[dict]]:
    items = build_plan(gennx, PlanConfig(seed=17, quotas=EVERY_TIER))
    samples, failures = OfflineGenerator(gennx).generate(items)
    return items, samples, failures


def test_the_tier_rules_quotas_drive_the_plan(gennx: Catalog) -> None:
    assert gennx.manifest.quotas == {"1": [15, 20], "2": [5, 10], "3": [0, 2]}
    counts = Counter(i.subject for i in build_plan(gennx, PlanConfig(seed=17)))
    for tool in gennx:
        low, high = gennx.manifest.quotas[str(tool.tier)]
        assert low <= counts.get(tool.name, 0) <= high, tool.name


def test_every_item_of_the_catalog_becomes_a_sample(generated: tuple) -> None:
    items, samples, failures = generated
    assert failures == [] and len(samples) == len(items)
    assert {s.style for s in samples} == set(Style) and {s.language for s in samples} == {"en", "ko"}


def test_every_targeted_tool_is_called(generated: tuple) -> None:
    items, samples, _ = generated
    assert {c.name for s in samples for c in s.calls} == {t for i in items for t in i.targets}


def test_arguments_pass_the_format_verifier_across_the_catalog(gennx: Catalog, generated: tuple) -> None:
    verifiers_format = pytest.importorskip("verifiers.format")
    from verifiers.base import VerifyContext

    _, samples, _ = generated
    verdicts = verifiers_format.FormatVerifier().verify(samples, VerifyContext(catalog=gennx))
    failed = Counter(v.code for v in verdicts if not v.passed)
    assert failed == Counter()


def test_every_leaf_value_is_stated_in_the_query(generated: tuple) -> None:
    _, samples, _ = generated
    # a whole-table DELETE sends the spec's placeholder row {"1": {}}: a fixed part of the body, not a
    # value the user states (the query says "clear all ...")
    placeholder = {"Assign": {"1": {}}}
    missing = [
        (s.query, c.arguments)
        for s in samples
        for c in s.calls
        if c.arguments != placeholder and ungrounded(s.query, c.arguments)
    ]
    assert missing == []
