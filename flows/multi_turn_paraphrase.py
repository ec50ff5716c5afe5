"""The multi-turn stage's paraphrase step: the run's teacher rewrites the drawn trajectories' user turns.

    drawn, counts = paraphrase_drawn(config, catalog, drawn, work)   # when multi_turn.paraphrase

Asks ``generate.teacher`` (the endpoint single-turn LLM generation uses, with its shared limits when
configured) through ``generators.trajectory_paraphrase``, checks each answer with
``verifiers.trajectory.paraphrase``, replays every rewrite that passed its checks
with the real trajectory verifier (``work/paraphrase/verify/``), and returns the trajectories in their
drawn order, each rewritten or its template, with the counts the manifest and artifact report. Records
keep the trajectory layout exactly; which ids were rewritten, and why the others were not, is written
to ``work/paraphrase/outcomes.jsonl`` (one line per drawn trajectory) and counted in the manifest.
The teacher's request statistics (latencies vary run to run) go to ``work/paraphrase/teacher.json``,
not the manifest, so an unchanged refresh served from the teacher cache writes the same dataset.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flows.config import RunConfig
from flows.teacher_limit import ensure_limits, teacher_gate
from generators.pipeline import run_sync
from generators.stats import TeacherStats
from generators.teacher import OpenAITeacher, Teacher
from generators.trajectory_paraphrase import PROMPT_VERSION, ask_rewrite
from schemas import atomic
from schemas.catalog import Catalog
from schemas.trajectories import Trajectory, write_trajectories
from verifiers.trajectory import TrajectoryVerdict, verify_trajectory_file
from verifiers.trajectory.paraphrase import Candidate, check_rewrite, keeps_of, settle

PARAPHRASE_DIR = "paraphrase"
BATCH = 256  # trajectories in flight at once; the teacher's own semaphore bounds the requests


async def paraphrase(
    trajectory: Trajectory, teacher: Teacher, catalog: Catalog, *, temperature: float = 0.7
) -> Candidate:
    """Ask the teacher for ``trajectory``'s user turns rewritten and check the answer; raises nothing.

    A reply that passes the checks is kept in the teacher's cache, one that does not is rejected there
    (so a rerun asks again); no answer at all is the teacher's code, never a verdict.
    """
    try:
        keeps = keeps_of(trajectory, catalog)
        answer = await ask_rewrite(trajectory, teacher, [k.shown() for k in keeps], temperature=temperature)
        if answer.reply is None:
            return Candidate(trajectory, None, answer.reason, answer.message)
        candidate = (
            check_rewrite(trajectory, answer.turns, catalog)
            if answer.turns is not None
            else Candidate(trajectory, None, answer.reason, answer.message)
        )
        if candidate.rewritten is not None:
            teacher.keep(answer.reply)
        else:
            teacher.reject(answer.reply, reason=candidate.reason or "?", message=candidate.message)
        return candidate
    except Exception as exc:  # a bug here must not lose the trajectory either
        return Candidate(trajectory, None, "paraphrase_error", f"{type(exc).__name__}: {exc}")


async def paraphrase_all(
    trajectories: Sequence[Trajectory], teacher: Teacher, catalog: Catalog, *, temperature: float = 0.7
) -> list[Candidate]:
    """One candidate per trajectory, in order (requests run concurrently, ``BATCH`` at a time)."""
    out: list[Candidate] = []
    for start in range(0, len(trajectories), BATCH):
        batch = trajectories[start : start + BATCH]
        out += await asyncio.gather(
            *(paraphrase(t, teacher, catalog, temperature=temperature) for t in batch)
        )
    return out


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
        write_trajectories(rewritten, items)
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
