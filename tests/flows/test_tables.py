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


def _warned_summary() -> tuple[VerdictSummary, list[Verdict], list[Sample]]:
    a, b, c = _sample("add node 4", 1), _sample("add node 5", 1), _sample("add node 6", 2)
    code_warning = {"code": "code_not_in_spec", "message": "not among the spec's examples", "pointer": "/x"}
    verdicts = [
        # two warnings of one class on one sample count that sample once
        Verdict(
            sample_id=a.id, verifier="format", passed=True, details={"warnings": [code_warning, code_warning]}
        ),
        # a rejected sample's warnings count too: the class says what the data looks like
        Verdict(
            sample_id=b.id,
            verifier="format",
            passed=False,
            code="missing_required",
            details={"warnings": [code_warning, {"code": "other_warning"}]},
        ),
        Verdict(sample_id=c.id, verifier="format", passed=True, details={"warnings": [code_warning]}),
        Verdict(sample_id=c.id, verifier="semantic", passed=True, details={"warnings": "not a list"}),
    ]
    return VerdictSummary.from_verdicts(verdicts, [a, b, c]), verdicts, [a, b, c]


def test_warnings_are_counted_in_samples_per_class_apart_from_rejections() -> None:
    summary, _, _ = _warned_summary()
    assert summary.warning_counts() == Counter(
        {("format", "code_not_in_spec"): 3, ("format", "other_warning"): 1}
    )
    assert summary.warning_counts(tier="2") == Counter({("format", "code_not_in_spec"): 1})
    assert summary.total_accepted == 2  # a warning does not reject
    assert tables.warning_rows(summary) == [
        {"warning": "format/code_not_in_spec", "samples": 3},
        {"warning": "format/other_warning", "samples": 1},
    ]


def test_warnings_survive_json_merge_and_the_verdict_shards(tmp_path) -> None:
    import polars as pl

    from schemas.shards import read_verdicts, write_verdicts

    summary, verdicts, samples = _warned_summary()
    again = VerdictSummary.from_dict(summary.to_dict())
    assert again.warnings == summary.warnings
    assert VerdictSummary.merge([summary, summary]).warning_counts()[("format", "code_not_in_spec")] == 6
    path = write_verdicts(tmp_path / "shard-00000.parquet", verdicts)
    assert len(read_verdicts(path)) == len(verdicts)
    tiers = pl.DataFrame(
        [(s.id, s.tier) for s in samples], schema={"id": pl.String, "tier": pl.Int64}, orient="row"
    )
    from_shard = VerdictSummary.from_frames(pl.read_parquet(path), tiers)
    assert from_shard.warnings == summary.warnings


def test_the_cli_summary_lists_warning_classes_and_only_when_there_are_some() -> None:
    from flows.commands.verify import format_summary

    summary, _, _ = _warned_summary()
    printed = format_summary(summary)
    assert "warnings by class" in printed and "3  format/code_not_in_spec" in printed
    assert "warnings by class" not in format_summary(_summary())
