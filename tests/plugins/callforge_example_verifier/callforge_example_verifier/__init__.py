"""An example callforge verifier plugin: a query must be neither too short nor too long."""

from __future__ import annotations

from pydantic import Field

from schemas.models import Sample, Verdict
from verifiers.base import VerifierOptions, VerifyContext


class QueryLengthVerifier:
    """Rejects queries shorter than ``min_chars`` or longer than ``max_chars`` (after stripping)."""

    name = "query_length"
    requires: tuple[str, ...] = ()
    cost = 1  # a string length: cheaper than any built-in, so it runs first

    class Options(VerifierOptions):
        min_chars: int = Field(default=8, ge=0)
        max_chars: int = Field(default=2000, ge=1)

    def __init__(self, options: Options | None = None) -> None:
        self.options = options or self.Options()

    def verify(self, samples: list[Sample], ctx: VerifyContext) -> list[Verdict]:
        out = []
        for sample in samples:
            length = len(sample.query.strip())
            if length < self.options.min_chars:
                code, passed = "query_too_short", False
            elif length > self.options.max_chars:
                code, passed = "query_too_long", False
            else:
                code, passed = "ok", True
            out.append(
                Verdict(
                    sample_id=sample.id,
                    verifier=self.name,
                    passed=passed,
                    code=code,
                    message="" if passed else f"query has {length} characters",
                    details={"length": length},
                )
            )
        return out
