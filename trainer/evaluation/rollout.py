"""Turn-by-turn rollout of multi-turn trajectories: the model works the API in a sandbox, one user turn at
a time, and each turn's outcome is set beside the gold's.

    replay = connect(sandbox.base_url, catalog)
    results = Rollout(backend, replay, max_steps=20).run(trajectories)

For every trajectory (``schemas.trajectories``) two sandbox sessions are seeded with its
``initial_state``, both strict (PUT/DELETE of a missing row is an API error, as on the live server): the
model's and the gold's. For each user turn, in order:

1. the user message is appended to the model's own conversation (its earlier replies and tool results,
   never the record's gold transcript: BFCL's semantics);
2. the backend answers with the tools offered in that turn (``Trajectory.offered``: miss_func tools
   are withheld until their turn); the reply is parsed (``trainer.replies.parse_tool_calls``);
3. each call is executed in the model's session and its response appended as a ``tool`` message; a
   call to a tool not offered is not executed (the model cannot have it) — it is answered with an error
   and recorded; the assistant's words are kept beside its calls when the conversation goes back;
4. repeat until a reply makes no call (or cannot be read), or ``max_steps`` replies with calls;
5. the gold calls of the turn run in the gold session; the turn keeps both states' difference and
   the gold's results, for ``trainer.evaluation.multi_turn_metrics`` to score.

Failures that are not the model's — a request that failed after the client's retries, a backend
that raised, the sandbox unreachable, a seed it refused, a gold call that fails — end the
trajectory with ``error`` set: counted and reported, never a pass, never a crash of the run.

Trajectories are rolled out ``batch_size`` at a time in lockstep, so a local model generates a batch
of conversations at once and an endpoint backend sends its requests concurrently; between two
generations, the episodes' sandbox calls run in ``workers`` threads (the sandbox is another process).
"""

from __future__ import annotations

import functools
import itertools
import json
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from schemas.trajectories import Trajectory
from trainer.evaluation.backends import Backend, request_failed
from trainer.replies import parse_tool_calls
from verifiers.trajectory.replay import SandboxReplay, state_difference

MAX_STEPS = 20  # BFCL's cap on model replies with calls within one user turn


@dataclass
class TurnRollout:
    """What happened in one user turn: the model's calls and results, the gold's, and the states."""

    index: int
    calls: list[dict[str, Any]] = field(default_factory=list)  # {"name", "arguments"} in order
    results: list[Any] = field(default_factory=list)  # parsed responses of the executed calls
    said: list[str] = field(default_factory=list)  # the assistant's words in the turn
    not_offered: list[str] = field(default_factory=list)  # tools called though not offered
    unreadable: int = 0  # replies that looked like a call and could not be read
    steps: int = 0  # replies with calls
    hit_step_limit: bool = False
    gold_results: list[Any] = field(default_factory=list)
    state_difference: str | None = None  # None: the model's state equals the gold's after the turn
    finished: bool = False  # False: an error ended the trajectory during this turn


@dataclass
class RolloutResult:
    """One trajectory rolled out: its turns (up to an error, if any) and the model's conversation."""

    trajectory: Trajectory
    turns: list[TurnRollout] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # "backend_error" | "sandbox_error" | "invalid_seed" | "gold_call_failed"
    error_message: str = ""


class _Stop(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message


class _Episode:
    """One trajectory's rollout in progress: whose turn it is, the conversation, the two sessions."""

    def __init__(self, trajectory: Trajectory, replay: SandboxReplay, sessions: tuple[str, str]) -> None:
        self.t = trajectory
        self.replay = replay
        self.model_session, self.gold_session = sessions
        self.result = RolloutResult(trajectory)
        self.users = [user for user, _ in trajectory.turn_messages()]
        self.schemas = {
            name: schema for name, schema in zip(trajectory.tool_names(), trajectory.tools, strict=True)
        }
        self.done = False

    @property
    def turn(self) -> TurnRollout:
        return self.result.turns[-1]

    def start(self) -> None:
        for session in (self.model_session, self.gold_session):
            refused = self.replay.seed(session, self.t.initial_state, check_references=False)
            if refused:
                raise _Stop("invalid_seed", f"the sandbox refused initial_state: {refused}")
        self.result.messages = [m for m in self.t.messages if m["role"] == "system"]
        self._open_turn(0)

    def _open_turn(self, index: int) -> None:
        self.result.turns.append(TurnRollout(index))
        self.result.messages.append(self.users[index])

    def offered(self) -> list[dict[str, Any]]:
        return [self.schemas[name] for name in self.t.offered(self.turn.index)]

    def advance(self, reply: str, max_steps: int) -> None:
        """Take one reply of the backend: execute its calls, or close the turn when it makes none."""
        if request_failed(reply):
            raise _Stop("backend_error", reply)
        parsed = parse_tool_calls(reply)
        turn = self.turn
        if parsed.error or not parsed.calls:
            # a plain answer, or a call that cannot be read (a failed decode ends the turn, as in BFCL)
            turn.unreadable += parsed.error is not None
            text = reply.strip() if parsed.error else parsed.content
            self.result.messages.append({"role": "assistant", "content": text})
            if text:
                turn.said.append(text)
            self._close_turn()
            return
        turn.steps += 1
        tool_calls = [
            {
                "id": f"call_{turn.index}_{turn.steps}_{i}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for i, call in enumerate(parsed.calls)
        ]
        message: dict[str, Any] = {"role": "assistant", "content": parsed.content or None}
        message["tool_calls"] = tool_calls
        self.result.messages.append(message)
        if parsed.content:
            turn.said.append(parsed.content)
        offered = set(self.t.offered(turn.index))
        for tool_call, call in zip(tool_calls, parsed.calls, strict=True):
            turn.calls.append({"name": call.name, "arguments": call.arguments})
            if call.name not in offered:
                turn.not_offered.append(call.name)
                content = json.dumps({"error": f"no tool named {call.name!r} is available"})
            else:
                outcome = self.replay.execute(self.model_session, call.name, call.arguments)
                if outcome.passed is None:
                    raise _Stop("sandbox_error", f"{call.name}: {outcome.code}: {outcome.message}")
                if outcome.text:
                    turn.results.append(outcome.value)
                    content = outcome.text
                else:  # the request could not even be built: the model hears why
                    content = json.dumps({"error": outcome.code, "message": outcome.message})
            self.result.messages.append(
                {"role": "tool", "tool_call_id": tool_call["id"], "name": call.name, "content": content}
            )
        if turn.steps >= max_steps:
            turn.hit_step_limit = True
            self._close_turn()

    def _close_turn(self) -> None:
        turn = self.turn
        for call in self.t.turns[turn.index].gold_calls:
            outcome = self.replay.execute(self.gold_session, call.name, call.arguments)
            if outcome.passed is None:
                raise _Stop("sandbox_error", f"gold {call.name}: {outcome.code}: {outcome.message}")
            if not outcome.passed:
                raise _Stop("gold_call_failed", f"gold {call.name}: {outcome.code}: {outcome.message}")
            turn.gold_results.append(outcome.value)
        turn.state_difference = state_difference(
            self.replay.state(self.gold_session), self.replay.state(self.model_session)
        )
        turn.finished = True
        if turn.index + 1 < len(self.t.turns):
            self._open_turn(turn.index + 1)
        else:
            self.done = True

    def stop(self, kind: str, message: str) -> None:
        self.result.error, self.result.error_message = kind, message[:500]
        self.done = True


class Rollout:
    """Rolls trajectories out through one backend against one sandbox (see the module docstring)."""

    def __init__(
        self,
        backend: Backend,
        replay: SandboxReplay,
        *,
        max_steps: int = MAX_STEPS,
        max_new_tokens: int = 256,
        batch_size: int = 8,
        workers: int = 4,
    ) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        self.backend = backend
        self.replay = replay
        self.max_steps = max_steps
        self.max_new_tokens = max_new_tokens
        self.batch_size = max(1, batch_size)
        self.workers = max(1, workers)
        self._nonce = uuid.uuid4().hex[:10]
        self._count = itertools.count(1)

    def run(
        self, trajectories: Sequence[Trajectory], *, progress: Callable[[int, int], None] | None = None
    ) -> list[RolloutResult]:
        results: list[RolloutResult] = []
        for start in range(0, len(trajectories), self.batch_size):
            results += self._batch(trajectories[start : start + self.batch_size])
            if progress:
                progress(len(results), len(trajectories))
        return results

    def _batch(self, trajectories: Sequence[Trajectory]) -> list[RolloutResult]:
        episodes = []
        for t in trajectories:
            number = next(self._count)
            episode = _Episode(
                t, self.replay, (f"{self._nonce}-{number}-model", f"{self._nonce}-{number}-gold")
            )
            episodes.append(episode)
        # the sandbox answers in another process: the episodes' HTTP round trips overlap in threads
        pool = ThreadPoolExecutor(max_workers=min(self.workers, len(episodes)) or 1)
        list(pool.map(lambda e: self._guarded(e, e.start), episodes))
        try:
            while active := [e for e in episodes if not e.done]:
                try:
                    replies = self.backend.generate(
                        [e.result.messages for e in active],
                        [e.offered() for e in active],
                        max_new_tokens=self.max_new_tokens,
                    )
                    if len(replies) != len(active):
                        raise RuntimeError(f"{len(replies)} replies for {len(active)} conversations")
                except Exception as exc:  # a backend that raises costs these trajectories, not the run
                    for episode in active:
                        episode.stop("backend_error", f"{type(exc).__name__}: {exc}")
                    continue
                steps = [
                    functools.partial(self._guarded, e, functools.partial(e.advance, reply, self.max_steps))
                    for e, reply in zip(active, replies, strict=True)
                ]
                list(pool.map(lambda step: step(), steps))
        finally:
            pool.shutdown()
            for episode in episodes:
                self.replay.forget(episode.model_session, episode.gold_session)
        return [e.result for e in episodes]

    @staticmethod
    def _guarded(episode: _Episode, step: Callable[[], None]) -> None:
        try:
            step()
        except _Stop as stop:
            episode.stop(stop.kind, stop.message)
        except Exception as exc:  # the sandbox's HTTP client (httpx) or an answer that is not JSON
            episode.stop("sandbox_error", f"{type(exc).__name__}: {exc}")
