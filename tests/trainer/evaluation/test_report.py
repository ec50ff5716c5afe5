"""The evaluation report: tables with intervals, breakdowns, the constrained note, and the PNG plots.

Metrics are built by the real scoring path (``score_example`` -> ``breakdown``) from hand-made
predictions, so the report is tested on the shapes evaluation really produces.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from schemas.models import ToolCall
from trainer.evaluation.evaluate import breakdown
from trainer.evaluation.examples import EvalExample
from trainer.evaluation.metrics import score_example
from trainer.evaluation.report import render_markdown, write_report

CELL = re.compile(r"\d+\.\d% \[\d+%–\d+%\] n=\d+")


def _example(i: int, split: str, tier: int | None, style: str, expected: list[ToolCall]) -> EvalExample:
    return EvalExample(
        id=f"e{i}",
        split=split,
        tier=tier,
        style=style,
        language="en",
        prompt=[],
        tools=[],
        expected=expected,
        query="q",
    )


@pytest.fixture(scope="module")
def metrics(tools) -> dict[str, Any]:
    weather = ToolCall(name="get_weather", arguments={"city": "Oslo"})
    wrong = ToolCall(name="get_weather", arguments={"city": "Rome"})
    examples = [
        _example(0, "test_seen", 1, "simple", [weather]),
        _example(1, "test_seen", 2, "simple", [weather]),
        _example(2, "test_seen", None, "irrelevance", []),
        _example(3, "test_unseen", 1, "simple", [weather]),
    ]
    offered = list(tools)
    runs = {
        "fine-tuned": [[weather], [weather], [], [wrong]],
        "base": [None, [wrong], [weather], None],
        "fine-tuned+constrained": [[weather], [wrong], [weather], [wrong]],
    }
    models = {}
    for label, predictions in runs.items():
        scores = [
            score_example(p, e.expected, offered, tools) for p, e in zip(predictions, examples, strict=True)
        ]
        models[label] = {"examples": 4, "examples_per_second": 2.5, "splits": breakdown(scores, examples)}
    return {"dataset": "/data/runs/x/dataset", "splits": ["test_seen", "test_unseen"], "models": models}


def _table_rows(markdown: str, split: str) -> dict[str, list[str]]:
    section = markdown.split(f"## {split}\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.setdefault(cells[0], cells[1:])
    return rows


def test_each_split_has_a_column_per_model(metrics) -> None:
    rows = _table_rows(render_markdown(metrics), "test_seen")
    assert rows["metric"] == ["fine-tuned", "base", "fine-tuned+constrained"]


def test_cells_carry_value_interval_and_n(metrics) -> None:
    rows = _table_rows(render_markdown(metrics), "test_seen")
    assert rows["AST match (callforge rules)"][0] == "100.0% [34%–100%] n=2"  # 2 of 2, Wilson interval
    assert rows["AST match (callforge rules)"][1] == "0.0% [0%–66%] n=2"
    assert rows["AST match (BFCL rules)"][0] == "100.0% [34%–100%] n=2"
    assert all(CELL.fullmatch(c) for c in rows["parseable"])


def test_call_rate_and_chance_rows(metrics, tools) -> None:
    rows = _table_rows(render_markdown(metrics), "test_seen")
    # base: one unparseable reply and one call, out of two examples where a call was due.
    assert rows["call rate (call due)"][1] == "50.0% [9%–91%] n=2"
    chance = f"{1 / len(tools):.1%}"
    assert rows["tool name by chance"][0].startswith(chance)
    # fine-tuned abstains where no call is due and calls where one is: balanced 100 %; base calls in
    # half the due cases and also where none is due: (50 % + 0 %) / 2.
    assert rows["relevance, balanced (chance 50%)"][0].startswith("100.0%")
    assert rows["relevance, balanced (chance 50%)"][1].startswith("25.0%")


def test_metrics_without_data_are_left_out(metrics) -> None:
    markdown = render_markdown(metrics)
    assert "executes" not in markdown  # no execution was run
    assert "irrelevance" not in _table_rows(markdown, "test_unseen")  # no irrelevance example there


def test_tier_and_style_breakdowns(metrics) -> None:
    rows = _table_rows(render_markdown(metrics), "test_seen")
    assert {"1", "2", "none"} <= set(rows) and {"simple", "irrelevance"} <= set(rows)
    assert rows["irrelevance"] == ["100.0% [21%–100%] n=1", "0.0% [0%–79%] n=1", "0.0% [0%–79%] n=1"]


def test_constrained_rows_are_explained(metrics) -> None:
    assert "`+constrained` rows are the same model" in render_markdown(metrics)
    plain = {**metrics, "models": {k: v for k, v in metrics["models"].items() if "+" not in k}}
    assert "+constrained" not in render_markdown(plain)


def test_throughput_table(metrics) -> None:
    assert "| base | 2.50 | – | – |" in render_markdown(metrics)


def test_write_report_writes_markdown_and_two_pngs(metrics, tmp_path: Path) -> None:
    report = write_report(metrics, tmp_path)
    assert report == tmp_path / "report.md" and report.read_text("utf-8") == render_markdown(metrics) + "\n"
    for name in ("seen_vs_unseen.png", "per_tier.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in report.read_text("utf-8")


def test_test_unseen_is_scored_on_held_out_calls_and_seen_tool_examples_apart(tools) -> None:
    # the model gets the held-out call wrong and the seen one right: a split-wide figure would read 50 %
    held = ToolCall(name="get_weather", arguments={"city": "Oslo"})
    seen = ToolCall(name="list_materials", arguments={"kind": "steel"})
    examples = [
        _example(0, "test_unseen", 1, "simple", [held]),
        _example(1, "test_unseen", 1, "simple", [seen]),
        _example(2, "test_unseen", None, "irrelevance", []),
    ]
    predictions = [[ToolCall(name="get_weather", arguments={"city": "Rome"})], [seen], []]
    scores = [
        score_example(p, e.expected, list(tools), tools) for p, e in zip(predictions, examples, strict=True)
    ]
    unseen = breakdown(scores, examples, held_out={"get_weather"})["test_unseen"]
    assert unseen["overall"]["overall_accuracy"]["n"] == 2  # the held-out call and the irrelevance example
    assert unseen["by_style"]["simple"]["ast_match"]["value"] == 0.0
    assert unseen["seen_tool_examples"]["examples"] == 1
    assert unseen["seen_tool_examples"]["overall"]["ast_match"]["value"] == 1.0
    models = {"m": {"examples": 3, "examples_per_second": 1.0, "splits": {"test_unseen": unseen}}}
    text = render_markdown({"dataset": "d", "splits": ["test_unseen"], "models": models})
    assert "examples also calling a seen tool (scored apart) | 100.0%" in text
    everything = breakdown(scores, examples)["test_unseen"]  # no held-out list (no manifest): as before
    assert everything["overall"]["overall_accuracy"]["n"] == 3 and "seen_tool_examples" not in everything
