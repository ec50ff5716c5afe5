"""The teacher client, with the real ``openai`` client talking to the loopback server over TCP."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import random
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from generators.config import TeacherConfig
from generators.teacher import OpenAITeacher, TeacherReply, resolve_http_backend
from generators.teacher_errors import TeacherError, parse_retry_after
from schemas.errors import ConfigError
from tests.generators.teacher_server import TeacherServer, always, first_attempts

SECRET = "sk-loopback-secret-7731"
HAS_AIOHTTP = importlib.util.find_spec("aiohttp") is not None
BACKENDS = [
    "httpx",
    pytest.param(
        "aiohttp", marks=pytest.mark.skipif(not HAS_AIOHTTP, reason="aiohttp not installed (openai[aiohttp])")
    ),
]
MESSAGES = [{"role": "user", "content": "Target calls in order: []\nLanguage: en"}]
SCHEMA = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


class Sleeps:
    """Records the backoff delays instead of sleeping them (the delays are what is under test)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def config(server: TeacherServer, **overrides: Any) -> TeacherConfig:
    base = {"model": "loopback", "base_url": server.base_url, "timeout_s": 5.0, "backoff_base_s": 0.01}
    return TeacherConfig(**(base | overrides))


async def ask(
    cfg: TeacherConfig, *, messages: list[dict[str, Any]] = MESSAGES, times: int = 1, **kwargs: Any
) -> tuple[list[TeacherReply | TeacherError], OpenAITeacher]:
    teacher = OpenAITeacher(
        cfg, prompt_version=kwargs.pop("prompt_version", "v1"), sleep=kwargs.pop("sleep", Sleeps())
    )
    replies: list[TeacherReply | TeacherError] = []
    async with teacher:
        for _ in range(times):
            try:
                replies.append(await teacher.complete(messages, seed=3, **kwargs))
            except TeacherError as exc:
                replies.append(exc)
    return replies, teacher


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLFORGE_TEACHER_API_KEY", SECRET)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def test_a_reply_carries_text_usage_and_latency(server: TeacherServer) -> None:
    (reply,), teacher = run(ask(config(server)))
    assert isinstance(reply, TeacherReply) and not reply.cached
    assert json.loads(reply.text) == {"query": "What is the weather like today?", "calls": []}
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (100, 20)
    assert reply.latency_s > 0 and teacher.stats.requests == 1 == server.log.chat_requests


@pytest.mark.parametrize(
    ("env", "expected"), [("CALLFORGE_TEACHER_API_KEY", SECRET), ("OPENAI_API_KEY", "sk-fallback")]
)
def test_the_api_key_comes_from_the_environment(
    server: TeacherServer, monkeypatch: pytest.MonkeyPatch, env: str, expected: str
) -> None:
    if env == "OPENAI_API_KEY":
        monkeypatch.delenv("CALLFORGE_TEACHER_API_KEY")
        monkeypatch.setenv("OPENAI_API_KEY", expected)
    run(ask(config(server)))
    assert server.log.authorization == [f"Bearer {expected}"]


def test_the_api_key_never_reaches_cache_stats_or_logs(
    server: TeacherServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.reset(faults=first_attempts("429", retry_after="0"))
    (_reply,), teacher = run(ask(config(server, cache_dir=tmp_path)))
    cached = "".join(p.read_text("utf-8") for p in tmp_path.rglob("*.json"))
    assert cached and SECRET not in cached
    assert SECRET not in json.dumps(teacher.stats.as_dict()) and SECRET not in repr(teacher.config)
    assert SECRET not in caplog.text


def test_a_repeated_request_is_answered_from_the_cache(server: TeacherServer, tmp_path: Path) -> None:
    run(ask(config(server, cache_dir=tmp_path)))
    (reply,), teacher = run(ask(config(server, cache_dir=tmp_path)))
    assert reply.cached and server.log.chat_requests == 1
    assert teacher.stats.cache_hits == 1 and teacher.stats.requests == 0


@pytest.mark.parametrize(
    "change",
    [
        {"prompt_version": "v2"},
        {"temperature": 0.1},
        {"json_schema": SCHEMA},
        {"messages": [{"role": "user", "content": "x"}]},
    ],
)
def test_the_cache_key_covers_prompt_version_and_parameters(
    server: TeacherServer, tmp_path: Path, change: dict
) -> None:
    run(ask(config(server, cache_dir=tmp_path)))
    (reply,), _ = run(ask(config(server, cache_dir=tmp_path), **change))
    assert not reply.cached and server.log.chat_requests == 2


@pytest.mark.parametrize(
    ("kind", "reason", "extra"),
    [
        ("429", "teacher_error_rate_limited", {}),
        ("500", "teacher_http_500", {}),
        ("503", "teacher_http_503", {}),
        ("drop", "teacher_error_connection", {}),
        ("slow", "teacher_error_timeout", {"delay_s": 1.0}),
        ("bad_body", "teacher_error_bad_response", {}),
    ],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_transient_faults_are_retried_until_answered(
    server: TeacherServer, kind: str, reason: str, extra: dict, backend: str
) -> None:
    server.reset(faults=first_attempts(kind, 2, **extra))
    (reply,), teacher = run(ask(config(server, max_retries=3, timeout_s=0.3, http_backend=backend)))
    assert isinstance(reply, TeacherReply)
    assert server.log.chat_requests == 3 and teacher.stats.requests == 3
    assert teacher.stats.retries == 2 and dict(teacher.stats.retry_reasons) == {reason: 2}


@pytest.mark.parametrize(("kind", "code"), [("429", "teacher_error_rate_limited"), ("500", "teacher_http_500"),
                                            ("drop", "teacher_error_connection")])  # fmt: skip
@pytest.mark.parametrize("backend", BACKENDS)
def test_exhausted_retries_end_in_a_classified_error(
    server: TeacherServer, kind: str, code: str, backend: str
) -> None:
    server.reset(faults=always(kind))
    (error,), teacher = run(ask(config(server, max_retries=2, http_backend=backend)))
    assert isinstance(error, TeacherError) and error.code == code
    assert server.log.chat_requests == 3 and teacher.stats.failures == {code: 1}


@pytest.mark.parametrize(("kind", "code"), [("400", "teacher_http_400"), ("401", "teacher_http_401")])
def test_client_errors_are_not_retried(server: TeacherServer, kind: str, code: str) -> None:
    server.reset(faults=always(kind))
    (error,), teacher = run(ask(config(server, max_retries=5)))
    assert isinstance(error, TeacherError) and error.code == code and not error.retryable
    assert server.log.chat_requests == 1 and teacher.stats.retries == 0


def test_an_unauthorised_structured_request_does_not_fall_back(server: TeacherServer) -> None:
    server.reset(faults=always("401"))
    (error,), teacher = run(ask(config(server), json_schema=SCHEMA))
    assert isinstance(error, TeacherError) and error.code == "teacher_http_401"
    assert server.log.chat_requests == 1 and teacher.stats.structured_fallbacks == 0


@pytest.mark.parametrize(
    ("header", "cap", "expected"), [("1", 60.0, 1.0), ("2.5", 60.0, 2.5), ("120", 5.0, 5.0)]
)
def test_retry_after_is_honoured_and_capped(
    server: TeacherServer, header: str, cap: float, expected: float
) -> None:
    server.reset(faults=first_attempts("429", retry_after=header))
    sleeps = Sleeps()
    (reply,), teacher = run(ask(config(server, retry_after_max_s=cap, backoff_base_s=30.0), sleep=sleeps))
    assert isinstance(reply, TeacherReply)
    assert sleeps.delays == teacher.stats.retry_delays == [expected]
    assert teacher.stats.rate_limited == 1


def test_retry_after_as_an_http_date_is_honoured(server: TeacherServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    server.reset(faults=first_attempts("429", retry_after=when))
    (reply,), teacher = run(ask(config(server)))
    assert isinstance(reply, TeacherReply) and 25.0 <= teacher.stats.retry_delays[0] <= 30.0


def test_backoff_without_retry_after_is_full_jitter_under_a_growing_ceiling(server: TeacherServer) -> None:
    server.reset(faults=first_attempts("500", 4))
    teacher_config = config(server, max_retries=4, backoff_base_s=1.0, backoff_max_s=3.0)
    teacher = OpenAITeacher(teacher_config, sleep=Sleeps(), rng=random.Random(1))
    delays = [teacher.backoff(i, TeacherError("teacher_http_500", "x", retryable=True)) for i in range(200)]
    ceilings = [min(3.0, 2.0**i) for i in range(200)]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays) and max(delays[3:]) > 2.0


def test_structured_output_is_requested_when_the_server_accepts_it(server: TeacherServer) -> None:
    (_reply,), teacher = run(ask(config(server), json_schema=SCHEMA))
    sent = server.log.bodies[0]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"] == SCHEMA
    assert teacher.structured_supported is True


def test_a_refused_response_format_falls_back_to_prompting_once(server: TeacherServer) -> None:
    server.reset(reject_response_format=True)
    replies, teacher = run(ask(config(server), json_schema=SCHEMA, times=3))
    assert all(isinstance(r, TeacherReply) for r in replies)
    assert teacher.structured_supported is False and teacher.stats.structured_fallbacks == 1
    assert server.log.with_response_format == 1 and server.log.chat_requests == 4


def test_concurrency_is_bounded(server: TeacherServer) -> None:
    server.latency_s = 0.1

    async def many() -> OpenAITeacher:
        async with OpenAITeacher(config(server, concurrency=3)) as teacher:
            prompts = [[{"role": "user", "content": f"q{i}"}] for i in range(9)]
            await asyncio.gather(*(teacher.complete(m) for m in prompts))
        return teacher

    teacher = run(many())
    assert server.log.max_in_flight == 3 and teacher.stats.requests == 9


def test_stats_report_latency_percentiles_and_tokens(server: TeacherServer) -> None:
    _, teacher = run(ask(config(server), times=4, messages=[{"role": "user", "content": "hello"}]))
    stats = teacher.stats.as_dict()
    assert stats["latency_p50_s"] is not None and stats["latency_p95_s"] >= stats["latency_p50_s"]
    assert (stats["prompt_tokens"], stats["completion_tokens"], stats["requests"]) == (400, 80, 4)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "Wed, 21 Oct 2026 07:28:30 GMT"}, 30.0),
        ({"retry-after": "soon"}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(headers, now=now) == expected


def test_a_teacher_needs_a_model() -> None:
    with pytest.raises(ValueError, match=r"teacher\.model"):
        OpenAITeacher(TeacherConfig())


@pytest.mark.skipif(HAS_AIOHTTP, reason="aiohttp is installed here")
def test_asking_for_aiohttp_without_it_is_a_config_error() -> None:
    assert resolve_http_backend("auto") == "httpx"
    with pytest.raises(ConfigError, match=r"openai\[aiohttp\]"):
        resolve_http_backend("aiohttp")
