"""An example callforge verifier plugin: a query must be neither too short nor too long."""

from pydantic import Field

from schemas.models import Sample, Verdict
from verifiers.base import SampleVerifier, VerifierOptions, VerifyContext


class QueryLengthVerifier(SampleVerifier):
    name = "query_length"
    cost = 1  # a string length: cheaper than any built-in, so it runs first

    class Options(VerifierOptions):
        min_chars: int = Field(default=8, ge=0)
        max_chars: int = Field(default=2000, ge=1)

    def judge(self, sample: Sample, ctx: VerifyContext) -> Verdict:
        n = len(sample.query.strip())
        if n < self.options.min_chars:
            return Verdict.fail(
                sample.id, self.name, "query_too_short", f"query has {n} characters", length=n
            )
        if n > self.options.max_chars:
            return Verdict.fail(sample.id, self.name, "query_too_long", f"query has {n} characters", length=n)
        return Verdict.ok(sample.id, self.name, length=n)
