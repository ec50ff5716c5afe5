"""The multi-turn rollout end to end on CPU with the tiny model (``trainer/tiny.py``), plain and with
schema-constrained decoding, over one hand-written GEN NX trajectory of each category.

The tiny model's weights are random: what is shown is that the loop runs through a local backend —
the chat template renders the model's own calls and the sandbox's tool results back to it, the
constrained run's calls are executed in the seeded sessions until ``max_steps`` cuts the turn off —
and that the report carries multi-turn accuracy per category with n and pass^k. Not its accuracy.

Slow (~20-40 s on 2 cores): the tiny model is built and run on prompts holding the GEN NX tools.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.verifiers.gennx_fixtures import gennx_catalog
from tests.verifiers.trajectory_fixtures import ROOT, entries, records
from trainer.evaluation.backends import ModelSpec
from trainer.evaluation.config import EvaluateConfig
from trainer.evaluation.evaluate import evaluate
from verifiers.sandbox import SandboxServer

pytestmark = pytest.mark.slow
CATEGORIES = ("base", "miss_param", "miss_func", "long_context")


@pytest.fixture(scope="module")
def rolled_out(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict, Path]]:
    root = tmp_path_factory.mktemp("tiny-multi-turn")
    chosen = []
    for category in CATEGORIES:  # the good record of each category with the fewest offered tools
        good = [
            (len(e["tools"]), r)
            for e, r in zip(entries(), records(), strict=True)
            if e["expect"]["valid"] and e["category"] == category
        ]
        chosen.append(min(good, key=lambda pair: pair[0])[1])
    path = root / "test_unseen.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in chosen), encoding="utf-8")
    spec = ModelSpec(label="tiny", model=str(tiny_model), device="cpu", constrained=True)
    with SandboxServer([str(ROOT / "specs" / "gennx" / "openapi.yaml")], mode="thread") as sandbox:
        settings = EvaluateConfig(
            multi_turn=str(path),
            max_steps=2,
            max_new_tokens=24,
            batch_size=4,
            execution_options={"base_url": sandbox.base_url},
        )
        result = evaluate(None, [spec], settings, root / "out", catalog=gennx_catalog())
    yield result.metrics, root / "out"


def test_every_category_is_scored_for_both_runs_with_no_errors(rolled_out) -> None:
    metrics, _ = rolled_out
    for label in ("tiny", "tiny+constrained"):
        figures = metrics["models"][label]["multi_turn"]["test_unseen"]
        assert figures["entries"] == 4 and figures["errors"] == {}, figures["errors"]
        assert {c: r["n"] for c, r in figures["by_category"].items()} == dict.fromkeys(CATEGORIES, 1)
        assert figures["turn_accuracy"]["n"] >= 4 and "1" in figures["pass_k"]


def test_the_constrained_run_calls_tools_and_hears_the_sandbox(rolled_out) -> None:
    metrics, out = rolled_out
    figures = metrics["models"]["tiny+constrained"]["multi_turn"]["test_unseen"]
    assert figures["steps_per_entry"] > 0  # constrained decoding always calls: the loop executed them
    lines = [
        json.loads(x) for x in (out / "multi-turn-tiny-constrained.jsonl").read_text("utf-8").splitlines()
    ]
    tool_messages = [m for line in lines for m in line["messages"] if m["role"] == "tool"]
    assert tool_messages and all(m["content"] for m in tool_messages)
    # a constrained run never stops calling on its own: turns end at the step cap (or on a withheld tool)
    assert figures["reasons"].get("step_limit", 0) + figures["reasons"].get("tool_not_offered", 0) >= 1


def test_the_report_shows_the_per_category_table(rolled_out) -> None:
    _, out = rolled_out
    report = (out / "report.md").read_text("utf-8")
    assert (
        "## Multi-turn (rollout, turn by turn)" in report and "| metric | tiny | tiny+constrained |" in report
    )
    for category in CATEGORIES:
        assert any(line.startswith(f"| {category} |") and "n=1" in line for line in report.splitlines())
    assert "| pass^1 |" in report and "| **mean of categories** |" in report
