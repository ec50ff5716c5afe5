"""Verify multi-turn trajectories by replaying them: one verdict per trajectory, a reason on every rejection.

For each trajectory, the gold calls and the trajectory's own calls run in two fresh sandbox sessions,
both seeded with ``initial_state`` and strict (PUT/DELETE of a missing row is an API error). Turn by
turn, in this order (the first failure is the verdict, with its turn index):

1. every call of the turn, in the order the assistant made them:
   ``withheld_tool`` (miss_func: a tool not offered until a later turn), ``unknown_tool`` (not offered),
   ``invalid_call`` (the format verifier's ``check_call``), ``ungrounded_value`` (a value from no user
   turn, tool result or initial state: ``checks.py``), ``missing_parameter_call`` (miss_param: a write
   in a turn whose gold expects no call, i.e. before the user supplied the missing value) or
   ``unexpected_call`` (the same in other categories; reads are allowed); then it is executed, and a tool message present for it must
   equal the response (``tool_result_mismatch``: a fabricated result), one absent is filled in;
2. the gold calls: ``gold_invalid`` / ``gold_call_failed`` when the record's own answer is broken;
3. ``state_mismatch``: the canonical state of the two sessions differs after the turn;
4. ``missing_gold_result``: a response of a gold call is not among the trajectory's responses of the
   turn (BFCL's check: the reads the user needed were made);
5. ``missing_output``: a required output is not in what the assistant said in the turn.

Record-level codes (``failed_turn`` null): ``malformed_record``, ``tool_not_in_catalog``,
``invalid_seed``, ``duplicate_trajectory`` (otherwise valid, but the same spec, initial state, gold
calls and user words as an earlier valid record: one record per blueprint and phrasing), and ``sandbox_error`` (the sandbox could not answer: undecided, counted as rejected).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from schemas.catalog import Catalog
from schemas.errors import RecordError
from schemas.models import ToolCall
from schemas.trajectories import Trajectory
from verifiers.format import check_call
from verifiers.lexicon import fold
from verifiers.trajectory.checks import TurnContext, missing_outputs, ungrounded
from verifiers.trajectory.replay import Outcome, SandboxReplay, state_difference


@dataclass
class TrajectoryVerdict:
    """``{"id", "valid", "reason", "failed_turn"}`` plus a message for humans."""

    id: str
    valid: bool
    reason: str | None = None
    failed_turn: int | None = None
    message: str = ""
    trajectory: Trajectory | None = field(default=None, repr=False)  # with tool messages filled in

    def line(self) -> dict[str, Any]:
        return {"id": self.id, "valid": self.valid, "reason": self.reason, "failed_turn": self.failed_turn}


class _Rejected(Exception):
    def __init__(self, reason: str, turn: int | None, message: str) -> None:
        super().__init__(message)
        self.reason, self.turn, self.message = reason, turn, message


def blueprint_key(trajectory: Trajectory) -> str:
    """What makes two records the same trajectory: spec, initial state, gold calls, user words."""
    users = [" ".join(fold(m["content"]).split()) for m in trajectory.messages if m["role"] == "user"]
    gold = [[c.model_dump() for c in t.gold_calls] for t in trajectory.turns]
    payload = [trajectory.spec, trajectory.initial_state, gold, users]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class TrajectoryVerifier:
    """Replays trajectories against a running sandbox (see the module docstring)."""

    def __init__(
        self, replay: SandboxReplay, catalog: Catalog, *, check_references: bool = False, workers: int = 4
    ) -> None:
        self.replay = replay
        self.catalog = catalog
        self.check_references = check_references
        self.workers = workers
        self._seen: set[str] = set()
        self._nonce = uuid.uuid4().hex[:10]
        self._count = itertools.count(1)  # next() is atomic under the GIL: session names stay unique

    def verify_all(
        self, items: Iterable[Trajectory | RecordError | tuple[str, RecordError]]
    ) -> list[TrajectoryVerdict]:
        """Verdicts in input order. Records replay concurrently (``workers`` threads, one session pair
        each), so the sandbox's core and this one's overlap; duplicates are then judged in order."""
        items = list(items)
        if self.workers <= 1 or len(items) < 2:
            judged = [self._judge(item) for item in items]
        else:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                judged = list(pool.map(self._judge, items))
        return [self._dedup(verdict, item) for verdict, item in zip(judged, items, strict=True)]

    def verify(self, item: Trajectory | RecordError | tuple[str, RecordError]) -> TrajectoryVerdict:
        return self._dedup(self._judge(item), item)

    def _dedup(self, verdict: TrajectoryVerdict, item: object) -> TrajectoryVerdict:
        if not verdict.valid or not isinstance(item, Trajectory):
            return verdict
        key = blueprint_key(item)  # among accepted records only: a rejected one has its own reason
        if key in self._seen:
            return TrajectoryVerdict(
                item.id, False, "duplicate_trajectory", None, "same as an earlier valid record"
            )
        self._seen.add(key)
        return verdict

    def _judge(self, item: Trajectory | RecordError | tuple[str, RecordError]) -> TrajectoryVerdict:
        if isinstance(item, tuple):
            return TrajectoryVerdict(item[0], False, "malformed_record", None, str(item[1]))
        if isinstance(item, RecordError):
            return TrajectoryVerdict("?", False, "malformed_record", None, str(item))
        number = next(self._count)
        gold_session = f"{self._nonce}-{number}-gold"
        own_session = f"{self._nonce}-{number}-traj"
        try:
            filled = self._replay(item, gold_session, own_session)
        except _Rejected as rejection:
            return TrajectoryVerdict(item.id, False, rejection.reason, rejection.turn, rejection.message)
        finally:
            self.replay.forget(gold_session, own_session)
        return TrajectoryVerdict(item.id, True, trajectory=filled)

    # ------------------------------------------------------------------------------------ replay

    def _replay(self, t: Trajectory, gold_session: str, own_session: str) -> Trajectory:
        missing = [n for n in t.tool_names() if n not in self.catalog]
        if missing:
            raise _Rejected("tool_not_in_catalog", None, f"offered tools the catalog lacks: {missing[:5]}")
        for session in (gold_session, own_session):
            refused = self.replay.seed(session, t.initial_state, check_references=self.check_references)
            if refused:
                raise _Rejected("invalid_seed", None, f"the sandbox refused initial_state: {refused}")
        context = TurnContext(t.initial_state)
        messages: list[dict[str, Any]] = [m for m in t.messages if m["role"] == "system"]
        for index, ((user, rest), turn) in enumerate(zip(t.turn_messages(), t.turns, strict=True)):
            context.add(user["content"])
            messages.append(user)
            own_results, said = self._own_turn(
                t, index, rest, not turn.gold_calls, context, own_session, messages
            )
            gold_results = self._gold_turn(t, index, turn.gold_calls, gold_session)
            difference = state_difference(self.replay.state(gold_session), self.replay.state(own_session))
            if difference:
                raise _Rejected("state_mismatch", index, f"after turn {index}: {difference}")
            for result in gold_results:
                if result not in own_results:
                    shown = json.dumps(result, ensure_ascii=False)[:160]
                    raise _Rejected(
                        "missing_gold_result", index, f"the gold's result {shown} is not among the turn's"
                    )
            if lacking := missing_outputs(turn.outputs, "\n".join(said)):
                raise _Rejected("missing_output", index, f"the assistant did not say {lacking}")
        return t.model_copy(update={"messages": messages})

    def _own_turn(
        self,
        t: Trajectory,
        index: int,
        rest: list[dict[str, Any]],
        gold_expects_none: bool,
        context: TurnContext,
        session: str,
        messages: list[dict[str, Any]],
    ) -> tuple[list[Any], list[str]]:
        """Replay the assistant's calls of one turn (appending the messages, each call followed by its
        tool message, given or filled in); the responses and what the assistant said."""
        offered = t.offered(index)
        every_tool = set(t.tool_names())
        own_results: list[Any] = []
        said: list[str] = []
        given = {m["tool_call_id"]: m for m in rest if m["role"] == "tool"}
        used: set[str] = set()
        for message in rest:
            if message["role"] == "tool":
                continue  # placed after the call it answers, below
            messages.append(message)
            if message.get("content"):
                said.append(message["content"])
            for call in message.get("tool_calls") or []:
                name = call["function"]["name"]
                outcome = self._own_call(
                    t, index, call, offered, every_tool, gold_expects_none, context, session
                )
                present = given.get(call["id"])
                if present is not None:
                    used.add(call["id"])
                    if present["name"] != name or not _same_result(present["content"], outcome):
                        raise _Rejected(
                            "tool_result_mismatch",
                            index,
                            f"the tool message for {call['id']} is not what {name} answered on replay "
                            f"({outcome.text[:160]!r})",
                        )
                filled = {"role": "tool", "tool_call_id": call["id"], "name": name, "content": outcome.text}
                messages.append(present or filled)
                own_results.append(outcome.value)
                context.add(outcome.text)
        if orphans := sorted(set(given) - used):
            raise _Rejected(
                "tool_result_mismatch", index, f"tool messages answer no call of the turn: {orphans}"
            )
        return own_results, said

    def _own_call(
        self,
        t: Trajectory,
        index: int,
        call: dict[str, Any],
        offered: list[str],
        every_tool: set[str],
        gold_expects_none: bool,
        context: TurnContext,
        session: str,
    ) -> Outcome:
        name, arguments = call["function"]["name"], call["function"]["arguments"]
        if name not in offered:
            if name in every_tool:
                raise _Rejected("withheld_tool", index, f"{name} is not offered until a later turn")
            raise _Rejected("unknown_tool", index, f"{name} was not among the offered tools")
        tool = self.catalog[name]
        issues = check_call(tool, ToolCall(name=name, arguments=arguments), offered=offered)
        if issues:
            raise _Rejected("invalid_call", index, f"{name}: {issues[0].code}: {issues[0].message}")
        if problem := ungrounded(tool, arguments, context):
            raise _Rejected("ungrounded_value", index, problem)
        if gold_expects_none and tool.binding.method.lower() != "get":
            # a read while asking is fine (state replay still judges it); a write is acting unasked
            code = "missing_parameter_call" if t.category == "miss_param" else "unexpected_call"
            raise _Rejected(code, index, f"{name} changes the model in a turn that expects no call")
        outcome = self.replay.execute(session, name, arguments)
        if outcome.passed is None:
            raise _Rejected("sandbox_error", index, f"{name}: {outcome.code}: {outcome.message}")
        return outcome

    def _gold_turn(self, t: Trajectory, index: int, gold_calls: list[Any], session: str) -> list[Any]:
        results = []
        for call in gold_calls:
            tool = self.catalog.get(call.name)
            issues = check_call(
                tool, ToolCall(name=call.name, arguments=call.arguments), offered=t.offered(index)
            )
            if issues:
                raise _Rejected(
                    "gold_invalid", index, f"gold {call.name}: {issues[0].code}: {issues[0].message}"
                )
            outcome = self.replay.execute(session, call.name, call.arguments)
            if outcome.passed is None:
                raise _Rejected(
                    "sandbox_error", index, f"gold {call.name}: {outcome.code}: {outcome.message}"
                )
            if not outcome.passed:
                raise _Rejected(
                    "gold_call_failed", index, f"gold {call.name}: {outcome.code}: {outcome.message}"
                )
            results.append(outcome.value)
        return results


def _same_result(content: str, outcome: Outcome) -> bool:
    try:
        return json.loads(content) == outcome.value
    except ValueError:
        return content.strip() == outcome.text.strip()
