"""Artifact tables from stage outputs: the verdict summary per tier, markdown rendering."""

from __future__ import annotations

from collections import Counter

from flows import tables
from schemas.models import Sample, ToolCall, Verdict
from verifiers.summary import VerdictSummary


def _sample(query: str, tier: int | None) -> Sample:
    return Sample.create(
        query=query, style="simple", tools=["post_db_node"], calls=[ToolCall(name="post_db_node")], tier=tier
    )


def _summary() -> VerdictSummary:
    a, b, c = _sample("add node 1", 1), _sample("add node 2", 1), _sample("add node 3", None)
    verdicts = [
        Verdict(sample_id=a.id, verifier="format", passed=True),
        Verdict(sample_id=b.id, verifier="format", passed=False, code="missing_required"),
        Verdict(sample_id=c.id, verifier="format", passed=True),
        Verdict(sample_id=a.id, verifier="execution", passed=True),
        Verdict(sample_id=c.id, verifier="execution", passed=None, code="timeout"),
    ]
    return VerdictSummary.from_verdicts(verdicts, [a, b, c])


def test_pass_rate_rows_have_rate_per_verifier_and_tier() -> None:
    rows = {(r["verifier"], r["tier"]): r for r in tables.pass_rate_rows(_summary())}
    assert (rows["format", "1"]["judged"], rows["format", "1"]["pass_rate"]) == (2, 0.5)
    assert (rows["execution", "none"]["undecided"], rows["execution", "none"]["pass_rate"]) == (1, 0.0)


def test_rejection_rows_count_undecided_as_rejections_and_rank_per_tier() -> None:
    rows = tables.rejection_rows(_summary())
    assert [(r["tier"], r["rank"], r["reason"], r["samples"]) for r in rows] == [
        ("1", 1, "format/missing_required", 1),
        ("none", 1, "execution/timeout", 1),
    ]


def test_rejection_rows_keep_the_top_per_tier_most_frequent_first() -> None:
    summary = VerdictSummary(
        reasons=Counter(
            {("2", "format", "type_error"): 3, ("2", "dedup", "exact_duplicate"): 7, ("2", "format", "x"): 1}
        )
    )
    rows = tables.rejection_rows(summary, top=2)
    assert [(r["rank"], r["reason"], r["samples"]) for r in rows] == [
        (1, "dedup/exact_duplicate", 7),
        (2, "format/type_error", 3),
    ]


def test_markdown_table_escapes_pipes_and_unions_columns() -> None:
    text = tables.markdown_table([{"a": "x|y"}, {"b": 2}])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x\\|y |  |", "|  | 2 |"]
