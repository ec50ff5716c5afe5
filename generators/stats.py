"""Counters a teacher client keeps: what it sent, what came back, what it cost.

``as_dict()`` is the form that goes into artifacts and run manifests (plain JSON, no secrets).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


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
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }
