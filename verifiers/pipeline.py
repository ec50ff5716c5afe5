"""Running verifiers over a batch of samples, and over a shard on disk.

    verifiers = load_verifiers(["format", "semantic", "dedup"])
    result = run_verifiers(samples, verifiers, VerifyContext(catalog))
    result.accepted, result.rejected, result.verdicts

Gating. Verifiers run in the order given (``load_verifiers`` sorts them by ``requires``, then cost).
By default (``gate="all"``) a verifier sees only the samples that passed *every* earlier verifier: a
sample that fails one is not sent to the more expensive ones, but keeps every verdict it got. With
``gate="requires"`` a verifier sees every sample that passed the verifiers it ``requires`` — more
verdicts per rejected sample (useful for diagnosing a generator), more work. "Passed" follows the
undecided policy: with ``undecided="reject"`` (the default) only ``passed=True`` lets a sample go on;
with ``undecided="accept"`` ``passed=None`` counts as a pass too.

Acceptance. A sample is accepted when every verdict it got is a pass under that policy. ``undecided``
lists the samples with no failing verdict and at least one undecided one; they are also in
``rejected`` (default) or ``accepted`` (``undecided="accept"``).

Execution results a verifier leaves in ``ctx.resources[EXECUTION_RESULTS_KEY]`` are copied onto the
samples right after that verifier returns (see verifiers/base.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from schemas.catalog import Catalog
from schemas.errors import ConfigError
from schemas.models import ExecutionResult, Sample, Verdict
from schemas.shards import read_samples, shard_name, write_samples, write_verdicts
from verifiers.base import (
    EXECUTION_RESULTS_KEY,
    Verifier,
    VerifierBugError,
    VerifierUnavailable,
    VerifyContext,
    contract_problems,
)
from verifiers.summary import UndecidedPolicy, VerdictSummary

log = logging.getLogger(__name__)

Gate = Literal["all", "requires"]


@dataclass
class VerificationResult:
    """What ``run_verifiers`` returns. Samples keep the input order within each list."""

    accepted: list[Sample]
    rejected: list[Sample]
    undecided: list[Sample]
    verdicts: list[Verdict]
    pass_rates: dict[str, float] = field(default_factory=dict)
    """Per verifier: passed / samples it saw (1.0 when it saw none)."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Per verifier: wall time of its ``verify`` call."""


def _counts_as_pass(passed: bool | None, undecided: UndecidedPolicy) -> bool:
    return passed is True or (passed is None and undecided == "accept")


def _call(verifier: Verifier, batch: list[Sample], ctx: VerifyContext) -> list[Verdict]:
    """Run one verifier on a batch and check its contract; a broken contract raises VerifierBugError."""
    try:
        verdicts = verifier.verify(batch, ctx)
    except ConfigError:
        raise  # a configuration problem discovered at run time (e.g. no teacher given) is the user's to fix
    except VerifierUnavailable:
        raise  # an outage, not a bug: nothing recorded, the caller retries the batch
    except Exception as exc:
        ids = ", ".join(s.id for s in batch[:3]) + (", …" if len(batch) > 3 else "")
        raise VerifierBugError(
            verifier.name,
            f"raised {type(exc).__name__}: {exc} on a batch of {len(batch)} sample(s) ({ids}); "
            "a verifier must return passed=None with a reason code for a sample it cannot judge "
            "(or raise VerifierUnavailable when what it judges with cannot be reached)",
        ) from exc
    if problems := contract_problems(verifier.name, batch, verdicts):
        raise VerifierBugError(verifier.name, problems[0])
    return verdicts


def _attach_execution(samples: list[Sample], ctx: VerifyContext) -> list[Sample]:
    """Copy side-channel execution results onto the samples that have them (once per result list)."""
    found = ctx.resources.get(EXECUTION_RESULTS_KEY)
    if not found:
        return samples
    out: list[Sample] = []
    for sample in samples:
        results = found.get(sample.id)
        if results is not None and (sample.execution is None or len(sample.execution) != len(results)):
            try:
                results = [
                    r if isinstance(r, ExecutionResult) else ExecutionResult.model_validate(r)
                    for r in results
                ]
            except ValidationError as exc:
                raise VerifierBugError(
                    "execution", f"execution results for sample {sample.id} are invalid: {exc}"
                ) from exc
            sample = sample.model_copy(update={"execution": results})
        out.append(sample)
    return out


def run_verifiers(
    samples: Sequence[Sample],
    verifiers: Sequence[Verifier],
    ctx: VerifyContext,
    *,
    undecided: UndecidedPolicy = "reject",
    gate: Gate = "all",
) -> VerificationResult:
    """Run ``verifiers`` in order over ``samples``; see the module docstring for gating and acceptance."""
    if undecided not in ("reject", "accept"):
        raise ConfigError(f"undecided policy must be 'reject' or 'accept', got {undecided!r}")
    if gate not in ("all", "requires"):
        raise ConfigError(f"gate must be 'all' or 'requires', got {gate!r}")
    # Positions, not ids, tie verdicts to samples: a batch may hold the same sample twice (dedup's
    # job to reject the second), so nothing here is keyed by id.
    current = list(samples)
    # sample index -> verifier name -> counts-as-pass; and every verdict, grouped per sample.
    outcome: list[dict[str, bool]] = [{} for _ in current]
    per_sample: list[list[Verdict]] = [[] for _ in current]
    pass_rates: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for verifier in verifiers:
        if gate == "all":
            eligible = [i for i in range(len(current)) if all(outcome[i].values())]
        else:
            eligible = [
                i for i in range(len(current)) if all(outcome[i].get(r, False) for r in verifier.requires)
            ]
        start = time.perf_counter()
        verdicts = _call(verifier, [current[i] for i in eligible], ctx) if eligible else []
        seconds[verifier.name] = time.perf_counter() - start
        for i, verdict in zip(eligible, verdicts, strict=True):
            outcome[i][verifier.name] = _counts_as_pass(verdict.passed, undecided)
            per_sample[i].append(verdict)
        passed = sum(v.passed is True for v in verdicts)
        pass_rates[verifier.name] = passed / len(verdicts) if verdicts else 1.0
        current = _attach_execution(current, ctx)
    accepted: list[Sample] = []
    rejected: list[Sample] = []
    undecided_samples: list[Sample] = []
    for i, sample in enumerate(current):
        got = per_sample[i]
        if any(v.passed is False for v in got):
            rejected.append(sample)
            continue
        if any(v.passed is None for v in got):
            undecided_samples.append(sample)
        (accepted if all(outcome[i].values()) else rejected).append(sample)
    return VerificationResult(
        accepted=accepted,
        rejected=rejected,
        undecided=undecided_samples,
        verdicts=[v for got in per_sample for v in got],
        pass_rates=pass_rates,
        seconds=seconds,
    )


def verify_shard(
    in_path: str | Path,
    catalog: Catalog,
    verifiers: Sequence[Verifier],
    ctx: VerifyContext | None,
    out_dir: str | Path,
    shard_index: int,
    *,
    undecided: UndecidedPolicy = "reject",
    gate: Gate = "all",
) -> dict[str, Any]:
    """Verify one candidate shard and write ``verified/``, ``rejected/`` and ``verdicts/`` shards.

    ``out_dir`` is the run directory; the three files are ``out_dir/<kind>/shard-NNNNN.parquet``, each
    written atomically (verdicts last, so a shard whose verdicts file exists is complete). ``ctx`` None
    means a fresh ``VerifyContext(catalog)``. Returns a small JSON-serialisable dict for the
    orchestrator: ``{"shard", "input", "paths": {kind: path}, "samples", "accepted", "rejected",
    "undecided", "summary", "seconds"}``; ``summary`` is a ``VerdictSummary.to_dict()`` (exact counts,
    so shards merge with ``verifiers.summary.summarise_shard_results``).
    """
    ctx = ctx if ctx is not None else VerifyContext(catalog=catalog)
    samples = read_samples(in_path)
    result = run_verifiers(samples, verifiers, ctx, undecided=undecided, gate=gate)
    out = Path(out_dir)
    name = shard_name(shard_index)
    paths = {
        "verified": write_samples(out / "verified" / name, result.accepted),
        "rejected": write_samples(out / "rejected" / name, result.rejected),
        "verdicts": write_verdicts(out / "verdicts" / name, result.verdicts, undecided=undecided),
    }
    summary = VerdictSummary.from_verdicts(result.verdicts, samples, undecided=undecided).to_dict()
    log.info(
        "shard %s: %d in, %d accepted, %d rejected",
        name,
        len(samples),
        len(result.accepted),
        len(result.rejected),
    )
    return json.loads(
        json.dumps(
            {
                "shard": shard_index,
                "input": str(in_path),
                "paths": {k: str(v) for k, v in paths.items()},
                "samples": len(samples),
                "accepted": len(result.accepted),
                "rejected": len(result.rejected),
                "undecided": len(result.undecided),
                "summary": summary,
                "seconds": result.seconds,
            }
        )
    )
