"""End to end: fully fine-tune the tiny model, then evaluate it against its untrained base.

The model trains on two tools (``get_weather``, ``create_node``); ``test_seen`` holds new queries of
those tools and ``test_unseen`` queries of the third (``list_materials``). A full fine-tune is used
because a LoRA on a random tiny model does not learn (its loss stays near 5; see ``trainer/tiny.py``). The fine-tuned model is
also run with constrained decoding. Set ``CALLFORGE_KEEP_EVALUATION=DIR`` to keep the outputs in DIR
(``trainer/evaluation/SAMPLE_REPORT.md`` was made that way, with 200 training steps; the shared run
of ``tests/trainer/conftest.py`` now takes 300).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.trainer.conftest import FullFineTune
from trainer.evaluation.backends import ModelSpec
from trainer.evaluation.config import EvaluateConfig
from trainer.evaluation.evaluate import evaluate

pytestmark = pytest.mark.slow

LABELS = ("fine-tuned", "fine-tuned+constrained", "base")


@pytest.fixture(scope="module")
def evaluation(tiny_model: Path, full_fine_tune: FullFineTune, tmp_path_factory: pytest.TempPathFactory):
    """The session's full fine-tune (~25 s, shared with ``test_train_full.py``) evaluated against its
    base, unconstrained and constrained, shared by the module."""
    trained = full_fine_tune.result
    assert trained.model_path is not None  # mode full: a whole model, not an adapter
    models = [
        ModelSpec(label="fine-tuned", model=trained.model_path, device="cpu", constrained=True),
        ModelSpec(label="base", model=str(tiny_model), device="cpu"),
    ]
    out = Path(os.environ.get("CALLFORGE_KEEP_EVALUATION") or tmp_path_factory.mktemp("e2e") / "evaluation")
    return evaluate(full_fine_tune.dataset, models, EvaluateConfig(max_new_tokens=40), out)


def _overall(evaluation, label: str, split: str) -> dict:
    return evaluation.metrics["models"][label]["splits"][split]["overall"]


def test_fine_tuned_model_beats_its_base_on_seen_tools(evaluation) -> None:
    tuned, base = _overall(evaluation, "fine-tuned", "test_seen"), _overall(evaluation, "base", "test_seen")
    assert tuned["tool_name_accuracy"]["value"] > base["tool_name_accuracy"]["value"]
    assert tuned["parse_validity"]["value"] == 1.0


def test_constrained_replies_are_all_schema_valid_calls(evaluation) -> None:
    for split in ("test_seen", "test_unseen"):
        overall = _overall(evaluation, "fine-tuned+constrained", split)
        assert overall["parse_validity"]["value"] == 1.0
        assert overall["schema_validity"]["value"] == 1.0 and overall["hallucination_rate"]["value"] == 0.0


def test_metrics_json_has_every_model_split_and_breakdown(evaluation) -> None:
    saved = json.loads((evaluation.out_dir / "metrics.json").read_text("utf-8"))
    assert saved == evaluation.metrics and tuple(saved["models"]) == LABELS
    for entry in saved["models"].values():
        assert entry["examples"] == 10 and entry["examples_per_second"] > 0
        assert set(entry["splits"]) == {"test_seen", "test_unseen"}
        for split in entry["splits"].values():
            assert set(split) == {"overall", "latency", "by_tier", "by_style", "by_language", "by_arguments"}
            assert {
                "ast_match",
                "ast_match_bfcl",
                "call_rate",
                "tool_choice_chance",
                "tool_name_accuracy",
                "schema_validity",
                "parse_validity",
                "hit_token_budget",
            } <= set(split["overall"])
            assert split["latency"]["n"] > 0 and 0 < split["latency"]["p50_s"] <= split["latency"]["p95_s"]
            assert set(split["overall"]["ast_match"]) == {"value", "ci_low", "ci_high", "n"}


def test_report_and_plots_are_written(evaluation) -> None:
    report = evaluation.report.read_text("utf-8")
    assert "## test_seen" in report and "## test_unseen" in report
    assert all(f"| {label} |" in report for label in LABELS)  # the throughput table
    for name in ("seen_vs_unseen.png", "per_tier.png"):
        assert (evaluation.out_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predictions_hold_one_line_per_example(evaluation) -> None:
    for slug in ("fine-tuned", "fine-tuned-constrained", "base"):
        lines = (evaluation.out_dir / f"predictions-{slug}.jsonl").read_text("utf-8").splitlines()
        rows = [json.loads(line) for line in lines]
        assert len(rows) == 10 and {"id", "split", "reply", "expected", "ast", "reasons"} <= set(rows[0])
