"""Counters a teacher client keeps: what it sent, what came back, what it cost.

``as_dict()`` is the form that goes into artifacts and run manifests (plain JSON, no secrets).
:func:`merge_stats` sums several shards' dicts into the run's: counters add up, and the latency
percentiles are recomputed from the merged latency histogram (``latency_histogram``: log-spaced
buckets 10 % wide, so any percentile is within 5 % of the exact one), never taken from one shard.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Bucket i holds latencies in [BASE * RATIO**i, BASE * RATIO**(i+1)); below BASE is bucket 0.
_HIST_BASE_S = 0.001
_HIST_RATIO = 1.1


def latency_bucket(seconds: float) -> int:
    if seconds <= _HIST_BASE_S:
        return 0
    return int(math.log(seconds / _HIST_BASE_S, _HIST_RATIO))


def histogram(values: list[float]) -> dict[str, int]:
    """Latencies as ``{bucket index: count}`` (string keys: it travels as JSON)."""
    counts = Counter(latency_bucket(v) for v in values)
    return {str(k): n for k, n in sorted(counts.items())}


def histogram_percentile(hist: dict[str, int], q: float) -> float | None:
    """The ``q`` quantile of a latency histogram (by nearest rank, at the bucket's geometric middle)."""
    total = sum(hist.values())
    if not total:
        return None
    rank = min(total - 1, max(0, round(q * (total - 1))))
    seen = 0
    for bucket, count in sorted(((int(k), n) for k, n in hist.items())):
        seen += count
        if seen > rank:
            return _HIST_BASE_S * _HIST_RATIO ** (bucket + 0.5)
    return None  # pragma: no cover - the loop always reaches the rank


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[rank]


@dataclass
class TeacherStats:
    """Counts for one client (one shard, typically). Merge shards' stats with :meth:`merge`."""

    calls: int = 0  # complete() calls
    requests: int = 0  # HTTP requests sent (first tries and retries)
    cache_hits: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429 answers seen (retried or not)
    structured_fallbacks: int = 0  # times the server refused response_format and we fell back
    circuit_open: str | None = None  # why the circuit breaker stopped the client (None: it did not)
    failures: Counter[str] = field(default_factory=Counter)  # complete() calls that raised, by code
    retry_reasons: Counter[str] = field(default_factory=Counter)
    retry_delays: list[float] = field(default_factory=list)  # seconds slept before each retry
    latencies: list[float] = field(default_factory=list)  # seconds per answered HTTP request
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def record_retry(self, reason: str, delay_s: float) -> None:
        self.retries += 1
        self.retry_reasons[reason] += 1
        self.retry_delays.append(delay_s)

    def merge(self, other: TeacherStats) -> TeacherStats:
        """A new stats object with both sets of counts."""
        return TeacherStats(
            calls=self.calls + other.calls,
            requests=self.requests + other.requests,
            cache_hits=self.cache_hits + other.cache_hits,
            retries=self.retries + other.retries,
            rate_limited=self.rate_limited + other.rate_limited,
            structured_fallbacks=self.structured_fallbacks + other.structured_fallbacks,
            circuit_open=self.circuit_open or other.circuit_open,
            failures=self.failures + other.failures,
            retry_reasons=self.retry_reasons + other.retry_reasons,
            retry_delays=self.retry_delays + other.retry_delays,
            latencies=self.latencies + other.latencies,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )

    def as_dict(self) -> dict[str, Any]:
        p50 = percentile(self.latencies, 0.50)
        p95 = percentile(self.latencies, 0.95)
        return {
            "calls": self.calls,
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "structured_fallbacks": self.structured_fallbacks,
            "failures": dict(sorted(self.failures.items())),
            "retry_reasons": dict(sorted(self.retry_reasons.items())),
            "retry_delay_s_total": round(sum(self.retry_delays), 3),
            "latency_p50_s": None if p50 is None else round(p50, 4),
            "latency_p95_s": None if p95 is None else round(p95, 4),
            "latency_histogram": histogram(self.latencies),
            "circuit_open": self.circuit_open,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


def merge_stats(dicts: list[dict[str, Any]]) -> dict[str, Any]:
    """Several :meth:`TeacherStats.as_dict` results (shards) as one run's.

    Numbers and per-code counters add up; the latency histograms merge and the percentiles are the
    merged histogram's (a run's p95 is not any shard's p95); ``circuit_open`` is the first reason.
    An empty list gives the all-zero dict (the offline generator sends no request).
    """
    out: dict[str, Any] = TeacherStats().as_dict()
    for stats in dicts:
        for key, value in stats.items():
            if key.startswith("latency_p"):
                continue  # recomputed below
            if isinstance(value, dict):
                merged = dict(out.get(key) or {})
                for name, n in value.items():
                    merged[name] = merged.get(name, 0) + n
                out[key] = dict(sorted(merged.items()))
            elif isinstance(value, int | float) and not isinstance(value, bool):
                out[key] = round(out.get(key, 0) + value, 3)
            elif value is not None and out.get(key) is None:
                out[key] = value
    hist = out["latency_histogram"]
    out["latency_histogram"] = dict(sorted(hist.items(), key=lambda kv: int(kv[0])))
    for key, q in (("latency_p50_s", 0.50), ("latency_p95_s", 0.95)):
        value = histogram_percentile(hist, q)
        out[key] = None if value is None else round(value, 4)
    return out
