"""Verifying one candidate shard: the one behaviour ``callforge verify`` and the verify flow share.

    result = verify_candidate_shard(run_dir, shard_path, index, catalog, verifiers, sandbox_url=url)

Each shard is verified on its own:

* **Repeats are dropped first.** A sample id that occurs twice in the shard (the same sample generated
  twice) is verified once; the extra copies are counted per tier as ``generate/duplicate_sample``
  (``flows.candidates``).
* **A fresh ``VerifyContext`` per shard.** Verifier state (the dedup keys seen, execution results)
  never crosses shards, so a shard gives the same verdicts whatever ran before it, and a cached shard
  stays valid on resume. Duplicates *across* shards are removed when the dataset is assembled.

The result is ``verifiers.pipeline.verify_shard``'s dict, with ``summary`` (a ``VerdictSummary``
dict, repeats included) and ``repeated``. No Prefect here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flows.candidates import unique_candidates
from schemas.catalog import Catalog
from verifiers import pipeline
from verifiers.base import Verifier, VerifyContext
from verifiers.summary import UndecidedPolicy, VerdictSummary

SANDBOX_URL_KEY = "sandbox_url"


def verify_candidate_shard(
    run_dir: Path,
    shard_path: Path,
    index: int,
    catalog: Catalog,
    verifiers: Sequence[Verifier],
    *,
    sandbox_url: str | None = None,
    undecided: UndecidedPolicy = "reject",
    gate: pipeline.Gate = "all",
) -> dict[str, Any]:
    """Verify ``shard_path`` into ``run_dir``'s ``verified/``, ``rejected/`` and ``verdicts/`` shards."""
    resources: dict[str, Any] = {SANDBOX_URL_KEY: sandbox_url} if sandbox_url else {}
    ctx = VerifyContext(catalog=catalog, resources=resources)
    in_path, repeats = unique_candidates(shard_path, run_dir)
    result = pipeline.verify_shard(
        in_path, catalog, verifiers, ctx, run_dir, index, undecided=undecided, gate=gate
    )
    summary = VerdictSummary.from_dict(result["summary"]).add_repeats(repeats)
    return {**result, "summary": summary.to_dict(), "repeated": sum(repeats.values())}
