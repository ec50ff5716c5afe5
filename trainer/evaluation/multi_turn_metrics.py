"""Scores of rolled-out trajectories (``trainer.evaluation.rollout``), with BFCL's multi-turn semantics.

A turn passes when, in this order (the first failure is the turn's reason):

* ``tool_not_offered`` — the model called no tool that was not offered in the turn (a miss_func tool
  before its turn, or a name it made up);
* ``step_limit`` — it stopped within ``max_steps`` replies with calls;
* ``state_mismatch`` — the model's session holds the gold's canonical state after the turn (the
  state check; τ-bench's database comparison, turn by turn);
* ``missing_gold_result`` — every response of the turn's gold calls is among the model's responses of
  the turn (BFCL's response check: the reads the user needed were made);
* ``missing_output`` — each required output of the turn is in what the assistant said
  (``verifiers.trajectory.checks.missing_outputs``, the verifier's own reading).

An entry passes only if every turn does. An entry ended by an error that is not the model's
(``backend_error``, ``sandbox_error``, ``invalid_seed``, ``gold_call_failed``) fails, and is counted
under ``errors``: the turn it happened in counts as failed, the turns after it are not scored.

``aggregate`` gives multi-turn accuracy overall, per category (base / miss_param / miss_func /
long_context) and their unweighted mean (BFCL's overall figure), per language, turn accuracy, the
first failing turn, reasons, errors, and pass^k over surface variants of one blueprint
(``variant_group``): per group of n variants of which c pass, C(c, k) / C(n, k) — the chance that k
variants drawn from the group all pass (τ-bench's pass^k, over phrasings instead of samples).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

from schemas.trajectories import Category, Trajectory
from trainer.evaluation.metrics import rate
from trainer.evaluation.rollout import RolloutResult, TurnRollout
from verifiers.trajectory.checks import missing_outputs

CATEGORIES: tuple[str, ...] = get_args(Category)  # base, miss_param, miss_func, long_context
MAX_K = 8  # pass^k is reported for k = 1 .. min(MAX_K, largest group)


@dataclass
class TurnScore:
    index: int
    passed: bool
    reason: str | None = None
    detail: str = ""


@dataclass
class EntryScore:
    id: str
    category: str
    language: str
    group: str
    passed: bool
    turns: list[TurnScore] = field(default_factory=list)
    first_failed_turn: int | None = None
    reason: str | None = None  # the first failing turn's reason, or the error
    error: str | None = None
    steps: int = 0

    def line(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "language": self.language,
            "passed": self.passed,
            "first_failed_turn": self.first_failed_turn,
            "reason": self.reason,
            "error": self.error,
            "turns": [{"passed": t.passed, "reason": t.reason, "detail": t.detail} for t in self.turns],
        }


def variant_group(trajectory: Trajectory) -> str:
    """What surface variants of one blueprint share: spec, category, initial state, every turn's gold
    calls and outputs, withheld tools. The generator renders a blueprint's variants from one plan and
    varies only the words (and the id, which carries a per-variant random part), so this is the key."""
    payload = [
        trajectory.spec,
        trajectory.category,
        trajectory.initial_state,
        [t.model_dump() for t in trajectory.turns],
        trajectory.missed_function,
    ]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def score_turn(turn: TurnRollout, outputs: Sequence[str]) -> TurnScore:
    if turn.not_offered:
        return TurnScore(turn.index, False, "tool_not_offered", f"called {sorted(set(turn.not_offered))}")
    if turn.hit_step_limit:
        return TurnScore(turn.index, False, "step_limit", f"{turn.steps} replies with calls")
    if turn.state_difference:
        return TurnScore(turn.index, False, "state_mismatch", turn.state_difference)
    for result in turn.gold_results:
        if result not in turn.results:
            shown = json.dumps(result, ensure_ascii=False)[:160]
            return TurnScore(turn.index, False, "missing_gold_result", f"the gold's {shown} was not read")
    if lacking := missing_outputs(list(outputs), "\n".join(turn.said)):
        return TurnScore(turn.index, False, "missing_output", f"did not say {lacking}")
    return TurnScore(turn.index, True)


def score_entry(result: RolloutResult) -> EntryScore:
    t = result.trajectory
    entry = EntryScore(t.id, t.category, t.language, variant_group(t), passed=False, error=result.error)
    for turn in result.turns:
        entry.steps += turn.steps
        if turn.finished:
            entry.turns.append(score_turn(turn, t.turns[turn.index].outputs))
        else:  # the error happened in this turn
            entry.turns.append(TurnScore(turn.index, False, result.error, result.error_message[:200]))
    if result.error and (not result.turns or result.turns[-1].finished):
        # before the first turn (a refused seed) or after the last turn closed: no turn to blame
        index = len(result.turns) - 1 if result.turns else 0
        entry.turns.append(TurnScore(index, False, result.error, result.error_message[:200]))
    failed = next((s for s in entry.turns if not s.passed), None)
    entry.first_failed_turn = failed.index if failed else None
    entry.reason = failed.reason if failed else None
    entry.passed = failed is None and result.error is None and len(entry.turns) == len(t.turns)
    return entry


def pass_hat_k(entries: Sequence[EntryScore]) -> dict[str, dict[str, Any]]:
    """pass^k per k over variant groups with at least k members: the mean of C(c, k) / C(n, k)."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for e in entries:
        groups[e.group].append(e.passed)
    largest = max((len(g) for g in groups.values()), default=0)
    out: dict[str, dict[str, Any]] = {}
    for k in range(1, min(MAX_K, largest) + 1):
        chances = [math.comb(sum(g), k) / math.comb(len(g), k) for g in groups.values() if len(g) >= k]
        out[str(k)] = {"value": sum(chances) / len(chances), "groups": len(chances)}
    return out


def aggregate(entries: Sequence[EntryScore]) -> dict[str, Any]:
    """Every multi-turn figure of one model on one set (see the module docstring)."""
    by_category: dict[str, Any] = {}
    for category in CATEGORIES:
        members = [e for e in entries if e.category == category]
        if members:
            by_category[category] = rate(sum(e.passed for e in members), len(members)).as_dict()
    languages = sorted({e.language for e in entries})
    turns = [t for e in entries for t in e.turns]
    first = Counter(str(e.first_failed_turn) for e in entries if e.first_failed_turn is not None)
    values = [c["value"] for c in by_category.values()]
    return {
        "entries": len(entries),
        "accuracy": rate(sum(e.passed for e in entries), len(entries)).as_dict(),
        "by_category": by_category,
        "category_mean": {"value": sum(values) / len(values) if values else 0.0, "categories": len(values)},
        "by_language": {
            lang: rate(
                sum(e.passed for e in entries if e.language == lang), sum(e.language == lang for e in entries)
            ).as_dict()
            for lang in languages
        },
        "turn_accuracy": rate(sum(t.passed for t in turns), len(turns)).as_dict(),
        "first_failed_turn": dict(sorted(first.items(), key=lambda kv: int(kv[0]))),
        "reasons": dict(Counter(e.reason for e in entries if e.reason and not e.error).most_common()),
        "errors": dict(Counter(e.error for e in entries if e.error).most_common()),
        "pass_k": pass_hat_k(entries),
        "groups": len({e.group for e in entries}),
        "steps_per_entry": sum(e.steps for e in entries) / len(entries) if entries else 0.0,
    }
