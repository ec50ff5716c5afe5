"""The hand-written labelled GEN NX sets: their shape, their reader, and the goals measured on them."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from schemas.errors import ConfigError
from tests.verifiers.gennx_fixtures import LABELLED, gennx_ctx, labelled
from verifiers.format import FormatVerifier
from verifiers.labelled import DEFECT_LEVEL, read_labelled
from verifiers.semantic import SemanticVerifier


def test_the_sets_have_the_size_and_mix_the_issue_asks_for():
    rows = [*labelled("dev"), *labelled("heldout")]
    correct = sum(r.correct for r in rows)
    assert len(rows) >= 200 and correct >= 80 and len(rows) - correct >= 120
    assert {r.sample.language for r in rows} == {"en", "ko"}
    assert {r.defect for r in rows if r.defect} == set(DEFECT_LEVEL)  # every class has examples
    assert len({r.case for r in rows}) == len(rows)


def rates(name: str, verifier) -> tuple[float, float]:
    rows = labelled(name)
    verdicts = verifier.verify([r.sample for r in rows], gennx_ctx())
    rejected = [v.passed is not True for v in verdicts]
    correct = [rej for r, rej in zip(rows, rejected, strict=True) if r.correct]
    level = "semantic" if isinstance(verifier, SemanticVerifier) else "format"
    mine = [rej for r, rej in zip(rows, rejected, strict=True) if r.level == level]
    return sum(correct) / len(correct), sum(mine) / len(mine)


@pytest.mark.parametrize("name", ["dev", "heldout"])
def test_semantic_goal_on_the_hand_written_sets(name):
    # The issue's goal: <= 5 % false rejects on correct samples, >= 80 % recall on semantic defects.
    false_rejects, recall = rates(name, SemanticVerifier(SemanticVerifier.Options(similarity="lexical")))
    assert false_rejects <= 0.05 and recall >= 0.80, (false_rejects, recall)


@pytest.mark.parametrize("name", ["dev", "heldout"])
def test_format_rejects_no_correct_sample_and_every_format_defect(name):
    assert rates(name, FormatVerifier()) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '{"case": "x", "label": "maybe", "defect": null, "query": "q", "tools": ["t"], "calls": []}',
            "'label'",
        ),
        (
            '{"case": "x", "label": "wrong", "defect": null, "query": "q", "tools": ["t"], "calls": []}',
            "needs a 'defect'",
        ),
        (
            '{"case": "x", "label": "wrong", "defect": "typo", "query": "q", "tools": ["t"], "calls": []}',
            "unknown defect",
        ),
        (
            '{"case": "x", "label": "correct", "defect": null, "query": "", "tools": ["t"], "calls": []}',
            "not a valid sample",
        ),
        ("not json", "not JSON"),
    ],
    ids=["bad-label", "wrong-without-defect", "unknown-defect", "invalid-sample", "not-json"],
)
def test_a_bad_line_is_refused_with_its_file_and_line(tmp_path, line, message):
    path = tmp_path / "set.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as raised:
        read_labelled(path)
    assert f"{path}:1" in str(raised.value)


def test_a_case_name_twice_is_refused(tmp_path):
    row = {"case": "a", "label": "correct", "defect": None, "query": "Run the analysis.", "tools": ["post_doc_anal"],
           "calls": [{"name": "post_doc_anal", "arguments": {"Argument": {}}}]}  # fmt: skip
    path = tmp_path / "set.jsonl"
    path.write_text(f"{json.dumps(row)}\n{json.dumps(row)}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="appears twice"):
        read_labelled(path)


def test_style_is_derived_when_a_line_leaves_it_out():
    styles = Counter(r.sample.style.value for r in labelled("dev"))
    assert styles["irrelevance"] >= 2 and styles["parallel_multiple"] >= 5
    assert (LABELLED / "README.md").is_file()
