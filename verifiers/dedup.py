"""The dedup verifier: the first of several identical or near-identical samples passes, the rest fail.

* ``exact_duplicate`` — same normalised query (``normalise_query``), the same calls (compared as
  canonical JSON, order of calls ignored, ``3`` and ``3.0`` equal) and the same set of offered tools
  as an earlier sample, or as a key preloaded from earlier shards or runs.
* ``near_duplicate`` — a query whose character 3-gram Jaccard similarity with an earlier sample's
  query reaches ``threshold`` (default 0.9), among samples calling the same set of tools from the
  same set of offered tools.

The offered tools are part of a sample's identity: choosing ``GET /db/NODE`` among three distractors
is a different lesson from calling it alone, and the planner makes exactly such items for tools whose
call cannot vary. Leaving them out made 911 of 1,019 exact-duplicate rejections on GEN NX the very
items planned to avoid duplicates.

"Earlier" is batch order, so the same batch always keeps the same samples. Near-duplicates are found
within the batch; across shards, exact keys persist through ``ctx.resources["dedup_seen"]`` (a dict
``dedup_key -> sample id`` the verifier adds every kept sample to, shared by all shards of a run in one process) and the
``seen_file`` option (one key or sample id per line, e.g. from the last run's dataset). Dataset
assembly clusters the whole dataset with ``near_duplicate_clusters`` for the global pass.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from schemas.errors import ConfigError
from schemas.models import Sample, Verdict
from verifiers.base import VerifierOptions, VerifyContext
from verifiers.near_duplicates import near_duplicate_clusters, normalise_query

NAME = "dedup"
SEEN_KEY = "dedup_seen"

__all__ = ["NAME", "SEEN_KEY", "DedupVerifier", "dedup_key", "near_duplicate_clusters", "normalise_query"]


def _plain_numbers(value: Any) -> Any:
    """3.0 -> 3 throughout, so calls that differ only in number spelling compare equal."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    return value


def dedup_key(sample: Sample) -> str:
    """The exact-duplicate key: sha256 of the normalised query, the sorted canonical calls and the
    sorted set of offered tools (their order is a shuffle, not content)."""
    calls = sorted(
        json.dumps([c.name, _plain_numbers(c.arguments)], sort_keys=True, ensure_ascii=False, default=repr)
        for c in sample.calls
    )
    payload = json.dumps(
        [normalise_query(sample.query), calls, sorted(set(sample.tools))], ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


class DedupVerifier:
    """Dataset-level check over the batch (cost 20): keeps the first of each duplicate group."""

    name = NAME
    requires: tuple[str, ...] = ()
    cost = 20

    class Options(VerifierOptions):
        threshold: float = Field(default=0.9, gt=0.0, le=1.0)
        """Jaccard similarity of query 3-grams at or above which two queries are near-duplicates."""
        near: bool = True
        """Also reject near-duplicates (not only exact ones)."""
        seen_file: Path | None = None
        """Keys (``dedup_key``) or sample ids already kept elsewhere, one per line: matches are exact duplicates."""

        @field_validator("seen_file")
        @classmethod
        def _exists(cls, value: Path | None) -> Path | None:
            if value is not None and not value.is_file():
                raise ValueError(f"seen_file {str(value)!r} does not exist or is not a file")
            return value

    def __init__(self, options: Options | None = None) -> None:
        self.options = options or self.Options()
        self.preloaded: frozenset[str] = frozenset()
        if self.options.seen_file is not None:
            try:
                lines = self.options.seen_file.read_text("utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"dedup option seen_file={self.options.seen_file}: cannot read it: {exc}"
                ) from exc
            self.preloaded = frozenset(line.strip() for line in lines if line.strip())

    def verify(self, samples: list[Sample], ctx: VerifyContext) -> list[Verdict]:
        """One verdict per sample; only the first of each exact or near group passes."""
        # key -> id of the sample kept with it; re-verifying the same sample is not a duplicate.
        seen: dict[str, str] = ctx.resources.setdefault(SEEN_KEY, {})
        verdicts: list[Verdict | None] = [None] * len(samples)
        first_of: dict[str, int] = {}
        for i, sample in enumerate(samples):
            key = dedup_key(sample)
            kept_elsewhere = seen.get(key)
            if key in first_of:
                original = samples[first_of[key]]
                verdicts[i] = self._fail(
                    sample,
                    "exact_duplicate",
                    f"same query and calls as sample {original.id}",
                    {"key": key, "duplicate_of": original.id},
                )
            elif (kept_elsewhere is not None and kept_elsewhere != sample.id) or (
                key in self.preloaded or sample.id in self.preloaded
            ):
                verdicts[i] = self._fail(
                    sample,
                    "exact_duplicate",
                    "same query and calls as a sample kept in an earlier shard or run",
                    {"key": key, "duplicate_of": kept_elsewhere},
                )
            else:
                first_of[key] = i
        if self.options.near:
            self._near(samples, verdicts)
        out: list[Verdict] = []
        for i, sample in enumerate(samples):
            verdict = verdicts[i]
            if verdict is None:
                seen[dedup_key(sample)] = sample.id
                verdict = Verdict.model_construct(
                    sample_id=sample.id, verifier=NAME, passed=True, code="ok", message="", details={}
                )
            out.append(verdict)
        return out

    def _near(self, samples: list[Sample], verdicts: list[Verdict | None]) -> None:
        """Mark later members of each near-duplicate cluster, per set of called and offered tools."""
        groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[int]] = defaultdict(list)
        for i, sample in enumerate(samples):
            if verdicts[i] is None:  # exact duplicates are already out and must not anchor a cluster
                called = tuple(sorted({c.name for c in sample.calls}))
                groups[(called, tuple(sorted(set(sample.tools))))].append(i)
        for (tools, _offered), members in groups.items():
            if len(members) < 2:
                continue
            clusters = near_duplicate_clusters(
                [samples[i].query for i in members], threshold=self.options.threshold
            )
            for position, cluster in enumerate(clusters):
                if cluster != position:
                    original = samples[members[cluster]]
                    sample = samples[members[position]]
                    verdicts[members[position]] = self._fail(
                        sample,
                        "near_duplicate",
                        f"query nearly identical to sample {original.id}'s (same tools {list(tools)})",
                        {"duplicate_of": original.id, "threshold": self.options.threshold},
                    )

    @staticmethod
    def _fail(sample: Sample, code: str, message: str, details: dict[str, Any]) -> Verdict:
        return Verdict(
            sample_id=sample.id, verifier=NAME, passed=False, code=code, message=message, details=details
        )
