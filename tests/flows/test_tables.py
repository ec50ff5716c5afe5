"""Artifact tables from stage outputs: per-tier breakdowns read from real shards, markdown rendering."""

from __future__ import annotations

from pathlib import Path

from flows import tables
from schemas.models import Sample, ToolCall, Verdict
from schemas.shards import write_samples, write_verdicts


def _sample(query: str, tier: int | None) -> Sample:
    return Sample.create(
        query=query, style="simple", tools=["post_db_node"], calls=[ToolCall(name="post_db_node")], tier=tier
    )


def _shard(tmp_path: Path) -> tuple[Path, Path]:
    a, b, c = _sample("add node 1", 1), _sample("add node 2", 1), _sample("add node 3", None)
    verdicts = [
        Verdict(sample_id=a.id, verifier="format", passed=True),
        Verdict(sample_id=b.id, verifier="format", passed=False, code="missing_required"),
        Verdict(sample_id=c.id, verifier="format", passed=True),
        Verdict(sample_id=a.id, verifier="execution", passed=True),
        Verdict(sample_id=c.id, verifier="execution", passed=None, code="timeout"),
    ]
    return (
        write_verdicts(tmp_path / "verdicts.parquet", verdicts),
        write_samples(tmp_path / "candidates.parquet", [a, b, c]),
    )


def test_breakdown_counts_states_per_verifier_and_tier(tmp_path: Path) -> None:
    breakdown = tables.tier_breakdown(*_shard(tmp_path))
    assert breakdown["verifiers"] == {
        "format": {"1": {"passed": 1, "failed": 1}, "none": {"passed": 1}},
        "execution": {"1": {"passed": 1}, "none": {"undecided": 1}},
    }
    assert breakdown["rejections"] == {"1": {"format/missing_required": 1}, "none": {"execution/timeout": 1}}


def test_merged_breakdowns_sum_shards(tmp_path: Path) -> None:
    one = tables.tier_breakdown(*_shard(tmp_path))
    merged = tables.merge_breakdowns([one, one])
    assert merged["verifiers"]["format"]["1"] == {"passed": 2, "failed": 2}
    assert merged["rejections"]["none"] == {"execution/timeout": 2}


def test_pass_rate_rows_have_rate_per_tier(tmp_path: Path) -> None:
    rows = tables.pass_rate_rows(tables.tier_breakdown(*_shard(tmp_path)))
    fmt_tier1 = next(r for r in rows if r["verifier"] == "format" and r["tier"] == "1")
    assert (fmt_tier1["judged"], fmt_tier1["pass_rate"]) == (2, 0.5)


def test_rejection_rows_rank_most_frequent_first() -> None:
    summary = {"rejections": {"2": {"format/type_error": 3, "dedup/exact_duplicate": 7, "format/x": 1}}}
    rows = tables.rejection_rows(summary, top=2)
    assert [(r["rank"], r["reason"], r["samples"]) for r in rows] == [
        (1, "dedup/exact_duplicate", 7),
        (2, "format/type_error", 3),
    ]


def test_markdown_table_escapes_pipes_and_unions_columns() -> None:
    text = tables.markdown_table([{"a": "x|y"}, {"b": 2}])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x\\|y |  |", "|  | 2 |"]
