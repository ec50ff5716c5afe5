"""Teacher statistics: a run's figures from its shards' figures."""

from __future__ import annotations

import random

import pytest

from generators.stats import TeacherStats, merge_stats, percentile


def shard(latencies: list[float], **counts: int) -> dict:
    stats = TeacherStats(latencies=latencies, **counts)
    stats.failures["teacher_http_500"] += 1
    return stats.as_dict()


def test_run_percentiles_come_from_every_request_not_one_shard() -> None:
    """100 fast requests in one shard, 10 slow in another: the run's p50 is fast, its p95 slow.
    Taking the slowest shard's p50 (or the last shard's) would say 1 s for both."""
    fast, slow = [0.010] * 100, [1.0] * 10
    merged = merge_stats([shard(fast), shard(slow)])
    assert merged["latency_p50_s"] == pytest.approx(0.010, rel=0.05)
    assert merged["latency_p95_s"] == pytest.approx(1.0, rel=0.05)


def test_merged_percentiles_are_within_five_percent_of_the_exact_ones() -> None:
    rng = random.Random(7)
    shards = [[rng.lognormvariate(-1.5, 1.0) for _ in range(rng.randint(50, 300))] for _ in range(6)]
    merged = merge_stats([shard(s) for s in shards])
    everything = [v for s in shards for v in s]
    for key, q in (("latency_p50_s", 0.5), ("latency_p95_s", 0.95)):
        assert merged[key] == pytest.approx(percentile(everything, q), rel=0.05)


def test_counters_add_up_and_the_first_breaker_reason_is_kept() -> None:
    a = shard([0.1], requests=3, retries=2)
    b = TeacherStats(requests=4, circuit_open="unreachable").as_dict()
    merged = merge_stats([a, b])
    assert (merged["requests"], merged["retries"], merged["failures"]) == (7, 2, {"teacher_http_500": 1})
    assert merged["circuit_open"] == "unreachable"


def test_no_shards_is_all_zeros() -> None:
    merged = merge_stats([])
    assert merged["requests"] == 0 and merged["latency_p50_s"] is None and merged["circuit_open"] is None
