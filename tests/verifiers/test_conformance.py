"""check_verifier catches each way a plugin can break the contract (one fault fake per row)."""

from __future__ import annotations

import math

import pytest
from pydantic import BaseModel

from schemas.models import Verdict
from tests.verifiers.verifier_fixtures import fixture_ctx, node, sample
from verifiers.base import VerifierOptions
from verifiers.testing import ConformanceError, adversarial_samples, check_verifier

SAMPLES = [sample("Add node 1 at the origin", [node("1", 0, 0, 0)], ["post_db_node"])]


class Honest:
    name = "honest"
    requires: tuple[str, ...] = ()
    cost = 5

    class Options(VerifierOptions):
        pass

    def __init__(self, options=None):
        self.options = options

    def verify(self, samples, ctx):
        return [Verdict(sample_id=s.id, verifier=self.name, passed=True) for s in samples]


class DropsOne(Honest):
    def verify(self, samples, ctx):
        return super().verify(samples, ctx)[1:]


class Reversed(Honest):
    def verify(self, samples, ctx):
        return super().verify(samples, ctx)[::-1]


class CrashesOnUnknownTools(Honest):
    def verify(self, samples, ctx):
        for s in samples:
            for c in s.calls:
                ctx.catalog[c.name]  # KeyError for a hallucinated tool
        return super().verify(samples, ctx)


class NaNDetails(Honest):
    def verify(self, samples, ctx):
        return [
            Verdict(sample_id=s.id, verifier=self.name, passed=True, details={"score": math.nan})
            for s in samples
        ]


class LooseOptions(Honest):
    class Options(BaseModel):
        threshold: float = 0.5


class BadName(Honest):
    name = "Bad-Name"


class NoCost(Honest):
    cost = "cheap"


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (DropsOne, "verdict\\(s\\) for .* expected one per sample"),
        (Reversed, "is for sample .* \\(same order as the input\\)"),
        (CrashesOnUnknownTools, "verify raised KeyError"),
        (NaNDetails, "not strict JSON"),
        (LooseOptions, "extra='forbid'"),
        (BadName, "snake_case"),
        (NoCost, "cost must be"),
    ],
)
def test_each_contract_break_is_reported(cls, message):
    with pytest.raises(ConformanceError, match=message):
        check_verifier(cls, SAMPLES, fixture_ctx())


def test_an_honest_verifier_passes():
    assert "adversarial samples" in check_verifier(Honest, SAMPLES, fixture_ctx())


def test_adversarial_samples_include_unknown_tools_and_irrelevance():
    hostile = adversarial_samples(fixture_ctx())
    assert any(c.name == "hallucinated_tool" for s in hostile for c in s.calls)
    assert any(not s.calls for s in hostile)
