"""The multi-turn stage with ``multi_turn.paraphrase``: the run's teacher (loopback, real ``openai`` client)
rewrites user turns; rewrites that hold are in the dataset, the others fall back to their templates,
and the manifest and artifact count both. Nothing drawn is lost."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from flows.config import RunConfig
from flows.ingest import CATALOG_DIR
from schemas.trajectories import read_trajectories
from tests.generators.paraphrase_teacher import answer
from tests.generators.teacher_server import TeacherServer
from tests.verifiers.gennx_fixtures import gennx_catalog
from trainer.dataset.trajectory_splits import SPLITS

COUNTS = {"base": 4, "miss_param": 2, "miss_func": 2, "long_context": 2}


def test_paraphrase_needs_a_teacher() -> None:
    with pytest.raises(Exception, match="paraphrase=true needs a teacher"):
        RunConfig.resolve(overrides={"multi_turn": {"paraphrase": True}})
    assert not RunConfig.resolve().multi_turn.paraphrase  # off by default: make run stays offline


@pytest.mark.slow
def test_the_stage_keeps_rewrites_that_hold_and_templates_otherwise(
    prefect_server: None, tmp_path: Path
) -> None:
    """Slow (~30 s): two sandbox replays of ten GEN NX trajectories inside a Prefect flow run."""
    from flows.multi_turn import multi_turn_flow

    arrivals = itertools.count()

    def answers(body: dict[str, Any]) -> str | None:  # every third reply spoils one value
        return answer(body, "changed" if next(arrivals) % 3 == 2 else "good")

    with TeacherServer(answers=answers) as server:
        config = RunConfig.resolve(
            overrides={
                "data_root": str(tmp_path),
                "run_name": "gennx-mt-para",
                "multi_turn": {"counts": COUNTS, "paraphrase": True},
                "generate": {"teacher": {"model": "loopback", "base_url": server.base_url, "max_retries": 0}},
            }
        )
        gennx_catalog().save(config.run_dir / CATALOG_DIR)
        out = multi_turn_flow(config)
    total = sum(COUNTS.values())
    assert out["verified"] == out["total"] == total  # nothing lost
    folder = Path(out["multi_turn_dir"])
    manifest = json.loads((folder / "manifest.json").read_text())
    para = manifest["stages"]["paraphrased"]
    assert para["total"] == total and para["paraphrased"] == total - 3
    # 3.5 -> 35 is a changed value; 1 -> 10 in a turn that also writes PT1X only invents 10
    assert sum(para["reasons"].values()) == 3
    assert set(para["reasons"]) <= {"paraphrase_value_changed", "paraphrase_value_invented"}
    records = {t.id: t for name in SPLITS for _, t in read_trajectories(folder / f"{name}.jsonl")}
    generated = config.run_dir / "multi_turn" / "paraphrase" / "outcomes.jsonl"
    outcomes = [json.loads(line) for line in generated.read_text().splitlines()]
    assert {o["id"] for o in outcomes if o["paraphrased"]} == set(para["paraphrased_ids"])
    from flows.multi_turn import render_markdown

    text = render_markdown(manifest)
    assert f"| paraphrase (teacher loopback) | {total} | {total - 3} rewritten" in text
    assert "## Paraphrases that fell back to the template" in text
    assert all(f"| {reason} | {n} |" in text for reason, n in para["reasons"].items())
    rewritten = records[para["paraphrased_ids"][0]]
    assert any(  # the dataset carries the teacher's words, in the unchanged record layout
        m["role"] == "user" and (m["content"].startswith(("Now ", "Add ", "Quick ", "이제", "다음으로")))
        for m in rewritten.messages  # type: ignore[union-attr]
    )
