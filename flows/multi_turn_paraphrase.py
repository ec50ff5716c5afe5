"""The multi-turn stage's paraphrase step: the run's teacher rewrites the drawn trajectories' user turns.

    drawn, counts = paraphrase_drawn(config, catalog, drawn, work)   # when multi_turn.paraphrase

Asks ``generate.teacher`` (the endpoint single-turn LLM generation uses, with its shared limits when
configured) through ``generators.trajectory_paraphrase``, replays every rewrite that passed its checks
with the real trajectory verifier (``work/paraphrase/verify/``), and returns the trajectories in their
drawn order, each rewritten or its template, with the counts the manifest and artifact report. Records
keep the trajectory layout exactly; which ids were rewritten, and why the others were not, is written
to ``work/paraphrase/outcomes.jsonl`` (one line per drawn trajectory) and counted in the manifest.
The teacher's request statistics (latencies vary run to run) go to ``work/paraphrase/teacher.json``,
not the manifest, so an unchanged refresh served from the teacher cache writes the same dataset.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flows.config import RunConfig
from flows.teacher_limit import ensure_limits, teacher_gate
from generators.pipeline import run_sync
from generators.stats import TeacherStats
from generators.teacher import OpenAITeacher
from generators.trajectory_paraphrase import PROMPT_VERSION, Candidate, paraphrase_all, settle
from schemas import atomic
from schemas.catalog import Catalog
from schemas.trajectories import Trajectory
from verifiers.trajectory import TrajectoryVerdict, verify_trajectory_file

PARAPHRASE_DIR = "paraphrase"


def paraphrase_drawn(
    config: RunConfig, catalog: Catalog, drawn: list[Trajectory], work: Path
) -> tuple[list[Trajectory], dict[str, Any]]:
    """``drawn`` with user turns rewritten where the rewrite holds (see the module docstring), and counts."""
    teacher_config = config.generate.teacher
    folder = work / PARAPHRASE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    ensure_limits(teacher_config)
    stats = TeacherStats()

    async def ask() -> list[Candidate]:
        async with OpenAITeacher(
            teacher_config, prompt_version=PROMPT_VERSION, stats=stats, gate=teacher_gate(teacher_config)
        ) as teacher:
            return await paraphrase_all(drawn, teacher, catalog, temperature=teacher_config.temperature)

    candidates = run_sync(ask())

    def verify(items: list[Trajectory]) -> list[TrajectoryVerdict]:
        rewritten = folder / "rewritten.jsonl"
        atomic.write_text(rewritten, "".join(t.to_json_line() + "\n" for t in items))
        return verify_trajectory_file(rewritten, catalog, folder / "verify").verdicts

    kept, report = settle(candidates, verify)
    rewritten_ids = set(report.paraphrased_ids)
    outcomes = [
        {
            "id": c.template.id,
            "paraphrased": c.template.id in rewritten_ids,
            "reason": c.reason,
            "failed_turn": c.failed_turn,
            "message": c.message[:500],
        }
        for c in candidates
    ]
    atomic.write_text(
        folder / "outcomes.jsonl", "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in outcomes)
    )
    atomic.write_text(folder / "teacher.json", json.dumps(stats.as_dict(), indent=2) + "\n")
    counts = report.as_dict() | {"teacher_model": teacher_config.model, "prompt_version": PROMPT_VERSION}
    if stats.circuit_open:  # the breaker stopped asking: say why, beside the teacher_circuit_open count
        counts["teacher_stopped"] = stats.circuit_open
    return kept, counts
