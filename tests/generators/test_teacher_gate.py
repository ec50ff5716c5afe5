"""The teacher's shared gate (``RequestGate``): every request holds one of its slots, and a 429 is
reported to it so every sender holds off. The gate here is a small in-test one; the Prefect-backed
gate is tested in ``tests/flows/test_teacher_limit.py``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from generators.config import TeacherConfig
from generators.teacher import OpenAITeacher
from tests.generators.teacher_server import TeacherServer, always, first_attempts

MESSAGES = [{"role": "user", "content": "Target calls in order: []\nLanguage: en"}]


class CountingGate:
    def __init__(self, slots: int) -> None:
        self.semaphore = asyncio.Semaphore(slots)
        self.acquired = 0
        self.hold_offs: list[float] = []

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self.semaphore:
            self.acquired += 1
            yield

    async def hold_off(self, seconds: float) -> None:
        self.hold_offs.append(seconds)


async def _no_sleep(delay: float) -> None:
    return None


async def ask_many(server: TeacherServer, gate: CountingGate, times: int) -> OpenAITeacher:
    config = TeacherConfig(model="loopback", base_url=server.base_url, concurrency=16, backoff_base_s=0.01)
    async with OpenAITeacher(config, gate=gate, sleep=_no_sleep) as teacher:
        await asyncio.gather(*(teacher.complete(MESSAGES, seed=i) for i in range(times)))
    return teacher


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLFORGE_TEACHER_API_KEY", "sk-loopback")


def test_every_request_holds_a_gate_slot() -> None:
    with TeacherServer(latency_s=0.05) as server:
        gate = CountingGate(2)
        asyncio.run(ask_many(server, gate, 10))
        # 16 per teacher would allow 10 at once: the gate's 2 bound them, and it was reached.
        assert (server.log.max_in_flight, gate.acquired) == (2, 10)


@pytest.mark.parametrize(("kind", "hold_offs"), [("429", [3.0]), ("503", [])])
def test_only_a_429_is_shared_as_a_hold_off(kind: str, hold_offs: list[float]) -> None:
    with TeacherServer(faults=first_attempts(kind, retry_after="3")) as server:
        gate = CountingGate(4)
        asyncio.run(ask_many(server, gate, 1))
        assert gate.hold_offs == hold_offs
        assert gate.acquired == 2  # the retry takes a slot again


def test_no_gate_is_the_per_teacher_semaphore_alone() -> None:
    with TeacherServer(latency_s=0.05, faults=always("ok")) as server:
        config = TeacherConfig(model="loopback", base_url=server.base_url, concurrency=3)

        async def main() -> None:
            async with OpenAITeacher(config) as teacher:
                await asyncio.gather(*(teacher.complete(MESSAGES, seed=i) for i in range(9)))

        asyncio.run(main())
        assert server.log.max_in_flight == 3
