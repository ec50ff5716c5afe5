"""The one verdict summary: what the CLI prints, the Prefect tables show and the dataset card lists.

    summary = VerdictSummary.from_verdicts(verdicts, samples, undecided="reject")
    summary = VerdictSummary.merge([shard_a, shard_b])          # shards add up exactly
    summary.top_rejections(10)                                  # [{"verifier", "code", "samples"}]

The rules, in one place:

* **Counts are samples, not verdicts.** Every count is the number of distinct sample ids (a verifier
  gives each sample one verdict, so per verifier the two agree; a reason code counts a sample once).
* **Undecided follows the run's policy.** With ``undecided="reject"`` (the default everywhere) a
  verdict with ``passed=None`` is a rejection reason like a failure; with ``"accept"`` it is not.
* **Accepted** means at least one verdict and every verdict counting as a pass.
* **Warnings** (``details["warnings"]`` of a verdict, e.g. format's ``code_not_in_spec``) are counted
  per class in samples, apart from rejections: a warned sample may be accepted.
* **Repeats** (the same sample generated twice in one shard, dropped before verification) are kept
  beside the verdicts, per tier, under ``generate/duplicate_sample``: they were never judged.

Per-shard summaries are exact counts (never top-k lists), so ``merge`` gives the same numbers as
summarising all shards at once. ``to_dict`` / ``from_dict`` carry a summary through JSON (task
results, the run manifest).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from schemas.models import Sample, Verdict

UndecidedPolicy = Literal["reject", "accept"]
REPEAT_VERIFIER = "generate"
REPEAT_CODE = "duplicate_sample"
STATES = ("passed", "failed", "undecided")


def tier_key(tier: int | str | None) -> str:
    """Tiers as strings (``"1"``, ``"2"``, ``"3"``, ``"none"``), so summaries survive JSON."""
    return "none" if tier is None else str(tier)


@dataclass
class VerdictSummary:
    """Exact verdict counts of one shard or one run, and the views every report shows."""

    undecided: UndecidedPolicy = "reject"
    samples: Counter[str] = field(default_factory=Counter)  # tier -> samples judged
    accepted: Counter[str] = field(default_factory=Counter)  # tier -> samples accepted
    states: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (verifier, tier, state)
    reasons: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (tier, verifier, code)
    repeated: Counter[str] = field(default_factory=Counter)  # tier -> repeats dropped before verify
    warnings: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (tier, verifier, code)

    # -------------------------------------------------------------------------------- construction

    @classmethod
    def from_verdicts(
        cls, verdicts: Iterable[Verdict], samples: Iterable[Sample], *, undecided: UndecidedPolicy = "reject"
    ) -> VerdictSummary:
        """From verdict objects and the samples they judge (for each sample's tier)."""
        verdicts, samples = list(verdicts), list(samples)
        frame = pl.DataFrame(
            [(v.sample_id, v.verifier, v.passed, v.code) for v in verdicts],
            schema={"sample_id": pl.String, "verifier": pl.String, "passed": pl.Boolean, "code": pl.String},
            orient="row",
        )
        tiers = pl.DataFrame(
            [(s.id, s.tier) for s in samples], schema={"id": pl.String, "tier": pl.Int64}, orient="row"
        )
        out = cls.from_frames(frame, tiers, undecided=undecided)
        tier_of = {s.id: tier_key(s.tier) for s in samples}
        seen: set[tuple[str, str, str]] = set()
        for v in verdicts:
            for code in warning_codes(v.details):
                if (v.sample_id, v.verifier, code) not in seen:  # a class counts a sample once
                    seen.add((v.sample_id, v.verifier, code))
                    out.warnings[(tier_of.get(v.sample_id, "none"), v.verifier, code)] += 1
        return out

    @classmethod
    def from_frames(
        cls, verdicts: pl.DataFrame, samples: pl.DataFrame, *, undecided: UndecidedPolicy = "reject"
    ) -> VerdictSummary:
        """From a verdict table (``sample_id, verifier, passed, code``, as in ``verdicts/`` shards) and a
        sample table (``id, tier``). Samples without any verdict count as judged and not accepted."""
        if undecided not in ("reject", "accept"):
            raise ValueError(f"undecided: expected 'reject' or 'accept', got {undecided!r}")
        tiers = (
            samples.select("id", pl.col("tier").cast(pl.String).fill_null("none"))
            .unique(subset="id", keep="first")
            .rename({"id": "sample_id"})
        )
        counted = verdicts.select("sample_id", "verifier", "passed", "code").join(
            tiers, on="sample_id", how="left"
        )
        counted = counted.with_columns(
            pl.col("tier").fill_null("none"),
            pl.when(pl.col("passed").is_null())
            .then(pl.lit("undecided"))
            .when(pl.col("passed"))
            .then(pl.lit("passed"))
            .otherwise(pl.lit("failed"))
            .alias("state"),
            (pl.col("passed") | (pl.col("passed").is_null() & pl.lit(undecided == "accept")))
            .fill_null(False)
            .alias("ok"),
        )
        out = cls(undecided=undecided)
        per_sample = counted.group_by("sample_id").agg(pl.col("ok").all().alias("ok"))
        judged = tiers.join(per_sample, on="sample_id", how="left").with_columns(
            pl.col("ok").fill_null(False)
        )
        for tier, n, ok in judged.group_by("tier").agg(pl.len(), pl.col("ok").sum()).iter_rows():
            out.samples[tier] += int(n)
            out.accepted[tier] += int(ok)
        for verifier, tier, state, n in (
            counted.group_by("verifier", "tier", "state").agg(pl.col("sample_id").n_unique()).iter_rows()
        ):
            out.states[(verifier, tier, state)] += int(n)
        rejections = counted.filter(~pl.col("ok")).group_by("tier", "verifier", "code")
        for tier, verifier, code, n in rejections.agg(pl.col("sample_id").n_unique()).iter_rows():
            out.reasons[(tier, verifier, code)] += int(n)
        if "details" in verdicts.columns:  # verdicts/ shards keep details as JSON text
            warned = verdicts.filter(pl.col("details").str.contains('"warnings"', literal=True)).join(
                tiers, on="sample_id", how="left"
            )
            seen: set[tuple[str, str, str]] = set()
            for sample_id, verifier, details, tier in warned.select(
                "sample_id", "verifier", "details", pl.col("tier").fill_null("none")
            ).iter_rows():
                for code in warning_codes(_json_object(details)):
                    if (sample_id, verifier, code) not in seen:
                        seen.add((sample_id, verifier, code))
                        out.warnings[(tier, verifier, code)] += 1
        return out

    def add_repeats(self, per_tier: Mapping[str, int]) -> VerdictSummary:
        self.repeated.update({str(t): int(n) for t, n in per_tier.items()})
        return self

    @classmethod
    def merge(cls, parts: Iterable[VerdictSummary]) -> VerdictSummary:
        """The sum of several shards' summaries (all with the same undecided policy)."""
        parts = list(parts)
        policies = {p.undecided for p in parts}
        if len(policies) > 1:
            raise ValueError(f"cannot merge summaries made with different undecided policies: {policies}")
        out = cls(undecided=policies.pop() if policies else "reject")
        for part in parts:
            out.samples.update(part.samples)
            out.accepted.update(part.accepted)
            out.states.update(part.states)
            out.reasons.update(part.reasons)
            out.repeated.update(part.repeated)
            out.warnings.update(part.warnings)
        return out

    # ---------------------------------------------------------------------------------------- JSON

    def to_dict(self) -> dict[str, Any]:
        return {
            "undecided": self.undecided,
            "samples": dict(self.samples),
            "accepted": dict(self.accepted),
            "states": [[*key, n] for key, n in sorted(self.states.items())],
            "reasons": [[*key, n] for key, n in sorted(self.reasons.items())],
            "repeated": dict(self.repeated),
            "warnings": [[*key, n] for key, n in sorted(self.warnings.items())],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VerdictSummary:
        return cls(
            undecided=data.get("undecided", "reject"),
            samples=Counter({str(k): int(v) for k, v in data.get("samples", {}).items()}),
            accepted=Counter({str(k): int(v) for k, v in data.get("accepted", {}).items()}),
            states=Counter({(v, t, s): int(n) for v, t, s, n in data.get("states", [])}),
            reasons=Counter({(t, v, c): int(n) for t, v, c, n in data.get("reasons", [])}),
            repeated=Counter({str(k): int(v) for k, v in data.get("repeated", {}).items()}),
            warnings=Counter({(t, v, c): int(n) for t, v, c, n in data.get("warnings", [])}),
        )

    # --------------------------------------------------------------------------------------- views

    @property
    def total(self) -> int:
        return sum(self.samples.values())

    @property
    def total_accepted(self) -> int:
        return sum(self.accepted.values())

    @property
    def total_rejected(self) -> int:
        return self.total - self.total_accepted

    @property
    def acceptance_rate(self) -> float:
        return self.total_accepted / self.total if self.total else 0.0

    def per_verifier(self) -> dict[str, dict[str, Any]]:
        """``{verifier: {"seen", "passed", "failed", "undecided", "pass_rate"}}`` over all tiers."""
        merged: dict[str, Counter[str]] = {}
        for (verifier, _tier, state), n in self.states.items():
            merged.setdefault(verifier, Counter())[state] += n
        return {name: _rate_row(counts) for name, counts in sorted(merged.items())}

    def per_verifier_and_tier(self) -> dict[tuple[str, str], dict[str, Any]]:
        merged: dict[tuple[str, str], Counter[str]] = {}
        for (verifier, tier, state), n in self.states.items():
            merged.setdefault((verifier, tier), Counter())[state] += n
        return {key: _rate_row(counts) for key, counts in sorted(merged.items())}

    def per_tier(self) -> dict[str, dict[str, Any]]:
        """``{tier: {"samples", "accepted", "acceptance_rate"}}``."""
        return {
            tier: {
                "samples": n,
                "accepted": self.accepted[tier],
                "acceptance_rate": self.accepted[tier] / n if n else 0.0,
            }
            for tier, n in sorted(self.samples.items())
        }

    def rejection_counts(self, *, tier: str | None = None, repeats: bool = True) -> Counter[tuple[str, str]]:
        """Samples per ``(verifier, code)`` rejection reason (of one tier, or all), repeats included."""
        counts: Counter[tuple[str, str]] = Counter()
        for (t, verifier, code), n in self.reasons.items():
            if tier is None or t == tier:
                counts[(verifier, code)] += n
        if repeats:
            for t, n in self.repeated.items():
                if (tier is None or t == tier) and n:
                    counts[(REPEAT_VERIFIER, REPEAT_CODE)] += n
        return counts

    def top_rejections(self, top: int | None = 10, *, tier: str | None = None) -> list[dict[str, Any]]:
        """The most common rejection reasons: ``[{"verifier", "code", "samples"}]``, ties by name."""
        ranked = sorted(self.rejection_counts(tier=tier).items(), key=lambda kv: (-kv[1], kv[0]))
        return [{"verifier": v, "code": c, "samples": n} for (v, c), n in ranked[:top]]

    def warning_counts(self, *, tier: str | None = None) -> Counter[tuple[str, str]]:
        """Samples per ``(verifier, code)`` warning class (of one tier, or all). A warning never
        rejects: these samples may be accepted (``code_not_in_spec`` unless the run rejects it)."""
        counts: Counter[tuple[str, str]] = Counter()
        for (t, verifier, code), n in self.warnings.items():
            if tier is None or t == tier:
                counts[(verifier, code)] += n
        return counts

    def top_warnings(self, top: int | None = 10) -> list[dict[str, Any]]:
        """The warning classes, most samples first: ``[{"verifier", "code", "samples"}]``."""
        ranked = sorted(self.warning_counts().items(), key=lambda kv: (-kv[1], kv[0]))
        return [{"verifier": v, "code": c, "samples": n} for (v, c), n in ranked[:top]]

    def tiers_with_rejections(self) -> list[str]:
        return sorted({t for t, _, _ in self.reasons} | {t for t, n in self.repeated.items() if n})


def warning_codes(details: Mapping[str, Any] | None) -> list[str]:
    """The warning classes in a verdict's ``details["warnings"]`` (a list of issue dicts), each once."""
    listed = details.get("warnings") if isinstance(details, Mapping) else None
    if not isinstance(listed, list):
        return []
    codes = [w.get("code") for w in listed if isinstance(w, Mapping)]
    return list(dict.fromkeys(c for c in codes if isinstance(c, str) and c))


def _json_object(text: str | None) -> Mapping[str, Any] | None:
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None  # a damaged details cell loses its warnings, not the summary
    return value if isinstance(value, Mapping) else None


def _rate_row(counts: Counter[str]) -> dict[str, Any]:
    seen = sum(counts[s] for s in STATES)
    return {
        "seen": seen,
        **{s: counts[s] for s in STATES},
        "pass_rate": counts["passed"] / seen if seen else None,
    }


def summarise_shard_results(results: Sequence[Mapping[str, Any]]) -> VerdictSummary:
    """Merge the ``summary`` dicts of several ``verifiers.pipeline.verify_shard`` results."""
    return VerdictSummary.merge(VerdictSummary.from_dict(r["summary"]) for r in results)
