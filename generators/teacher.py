"""The teacher: an OpenAI-compatible chat endpoint behind a small async interface (DESIGN §4).

    async with OpenAITeacher(TeacherConfig(model="gpt-4o-mini"), prompt_version="v1") as teacher:
        reply = await teacher.complete(messages, json_schema=SCHEMA, seed=7)
        reply.text, reply.usage.prompt_tokens, reply.cached

What it does for every call, in order:

* looks the request up in the response cache (model + messages + parameters + prompt version);
* sends at most ``concurrency`` requests at once (an ``asyncio.Semaphore``; released while backing off);
  with a ``gate`` (``RequestGate``), every request also holds one of the gate's slots, which are shared
  beyond this process (``flows.teacher_limit``: one limit per endpoint across every shard, run and
  worker), and a 429 is reported to the gate, so every sender holds off for its ``Retry-After``, not
  only the one that got it;
* retries 429, 5xx, 408/409, timeouts, dropped connections and unreadable bodies, sleeping the server's
  ``Retry-After`` (seconds or HTTP date, capped) or else exponential backoff with full jitter; never
  retries 400/401/403/404/422 (asking again cannot help). The openai client's own retries are off
  (``max_retries=0``) so every retry is ours and is counted;
* asks for ``response_format=json_schema`` when given a schema; when the server refuses it with 400 and
  the same request without it succeeds, it remembers and prompts plainly from then on;
* stops asking once the endpoint is clearly unusable (a circuit breaker): after ``breaker_failures``
  connection failures in a row with no answer between them, or at once on 401/403. In-flight requests
  end with their own error and no retry; requests not yet sent fail with ``teacher_circuit_open``;
  :attr:`OpenAITeacher.circuit_open` holds the reason for the caller to report.

Caching is two-phase when the caller asks (``store=False``): the reply comes back with its cache key,
and the caller files it with :meth:`OpenAITeacher.keep` once it has read it, or :meth:`~OpenAITeacher.reject`
(kept apart, never served again) when it could not. A reply is never cached before it was judged,
so a crash cannot leave a bad answer where a rerun would be served it.

Errors: every failure is a :class:`TeacherError` with a stable ``code`` (``teacher_error_rate_limited``,
``teacher_http_500``, ``teacher_error_timeout``, ``teacher_error_connection``, ``teacher_http_401``, …).

The API key is read from the environment variable ``config.api_key_env`` (falling back to
``OPENAI_API_KEY``); it is handed to the openai client and nowhere else: not logged, not cached, not in
stats or errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import math
import os
import random
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import httpx2
import openai
from pydantic import BaseModel

from generators.cache import CachedReply, ResponseCache
from generators.config import TeacherConfig
from generators.stats import TeacherStats
from generators.teacher_errors import TeacherError, classify
from schemas.errors import ConfigError

log = logging.getLogger(__name__)

FALLBACK_KEY_ENV = "OPENAI_API_KEY"
CIRCUIT_OPEN = "teacher_circuit_open"
POOL_CONNECTIONS = 16  # connections per HTTP pool (see OpenAITeacher._pick_client)


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class TeacherReply(BaseModel):
    """One answer: its text, token usage, whether it came from the cache, and how long it took."""

    text: str
    usage: Usage = Usage()
    cached: bool = False
    latency_s: float = 0.0
    cache_key: str = ""  # "" when caching is off


class Teacher(Protocol):
    """Anything that answers chat messages (the LLM generator needs only this)."""

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        json_schema: dict[str, Any] | None = None,
        temperature: float = 0.7,
        seed: int | None = None,
        store: bool = True,
    ) -> TeacherReply: ...

    def keep(self, reply: TeacherReply) -> None:
        """Cache a reply asked for with ``store=False`` that turned out usable."""

    def reject(self, reply: TeacherReply, *, reason: str, message: str) -> None:
        """Keep a reply apart as unusable, so it is never served again."""


class RequestGate(Protocol):
    """A limit on requests to one endpoint shared by everything that sends to it."""

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Held while one request is in flight; waits for a free slot, the rate and any hold-off."""

    async def hold_off(self, seconds: float) -> None:
        """Ask every sender to send nothing for ``seconds`` (the endpoint answered 429)."""


def resolve_api_key(env_name: str) -> str | None:
    """The key from ``env_name``, else from ``OPENAI_API_KEY``, else None."""
    return os.environ.get(env_name) or os.environ.get(FALLBACK_KEY_ENV) or None


def resolve_http_backend(choice: str) -> str:
    """``httpx`` or ``aiohttp``: ``auto`` takes aiohttp when installed (about half the CPU per request)."""
    available = importlib.util.find_spec("aiohttp") is not None
    if choice == "auto":
        return "aiohttp" if available else "httpx"
    if choice == "aiohttp" and not available:
        raise ConfigError(
            "teacher.http_backend: 'aiohttp' needs the aiohttp package; pip install 'openai[aiohttp]' "
            "or set http_backend to 'auto' or 'httpx'"
        )
    return choice


class OpenAITeacher:
    """:class:`Teacher` over ``openai.AsyncOpenAI``. Use it inside one event loop (clients bind to it)."""

    def __init__(
        self,
        config: TeacherConfig,
        *,
        prompt_version: str = "",
        stats: TeacherStats | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        gate: RequestGate | None = None,
    ) -> None:
        if not config.model:
            raise ValueError("OpenAITeacher needs teacher.model (the model name the endpoint serves)")
        self.config = config
        self.model: str = config.model
        self.prompt_version = prompt_version
        self.stats = stats or TeacherStats()
        self.cache = ResponseCache(config.cache_dir) if config.cache_dir else None
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._gate = gate
        # None: not known yet; True: the server accepted response_format; False: it refused it.
        self.structured_supported: bool | None = None if config.structured_output else False
        self.http_backend = resolve_http_backend(config.http_backend)
        self._clients: list[openai.AsyncOpenAI] = []
        self._busy: list[int] = []
        self._unreachable_in_a_row = 0
        self.circuit_open: str | None = None  # why the breaker stopped sending (None: closed)

    # -- lifecycle -------------------------------------------------------------------------------------

    def _make_client(self, connections: int) -> openai.AsyncOpenAI:
        key = resolve_api_key(self.config.api_key_env)
        if key is None and not self._clients:
            log.info(
                "no API key in $%s or $%s; sending a placeholder (fine for local servers)",
                self.config.api_key_env,
                FALLBACK_KEY_ENV,
            )
        timeout = httpx2.Timeout(self.config.timeout_s, connect=min(10.0, self.config.timeout_s))
        transport = (
            openai.DefaultAioHttpClient if self.http_backend == "aiohttp" else openai.DefaultAsyncHttpxClient
        )
        return openai.AsyncOpenAI(
            api_key=key or "no-key",
            base_url=self.config.base_url,
            max_retries=0,  # ours are the only retries, so they are counted
            timeout=timeout,
            http_client=transport(
                timeout=timeout,
                limits=httpx2.Limits(max_connections=connections, max_keepalive_connections=connections),
            ),
        )

    def _pick_client(self) -> int:
        """The index of the least busy client (creating them on first use).

        httpcore's pool scans every connection it holds on each request, so one pool of 64
        connections costs more CPU per request than four pools of 16: with the httpx backend,
        concurrency is spread over pools of at most ``POOL_CONNECTIONS`` connections (aiohttp's
        connector has no such cost and gets one pool).
        """
        if not self._clients:
            pool_size = POOL_CONNECTIONS if self.http_backend == "httpx" else self.config.concurrency
            pools = max(1, math.ceil(self.config.concurrency / pool_size))
            per_pool = math.ceil(self.config.concurrency / pools)
            self._clients = [self._make_client(per_pool) for _ in range(pools)]
            self._busy = [0] * pools
        busy = self._busy
        return busy.index(min(busy))

    async def aclose(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            await client.close()

    async def __aenter__(self) -> OpenAITeacher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the interface ---------------------------------------------------------------------------------

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        json_schema: dict[str, Any] | None = None,
        temperature: float = 0.7,
        seed: int | None = None,
        store: bool = True,
    ) -> TeacherReply:
        """The teacher's answer to ``messages``; raises :class:`TeacherError` when there is none.

        ``store=False``: a fresh answer is not cached yet; file it with :meth:`keep` or :meth:`reject`.
        """
        started = time.perf_counter()
        self.stats.calls += 1
        params = {
            "temperature": temperature,
            "seed": seed,
            "max_tokens": self.config.max_tokens,
            "json_schema": json_schema,
        }
        key = ""
        if self.cache is not None:
            key = self.cache.key(
                model=self.model, messages=messages, params=params, prompt_version=self.prompt_version
            )
            hit = self.cache.get(key)
            if hit is not None:
                self.stats.cache_hits += 1
                usage = Usage(prompt_tokens=hit.prompt_tokens, completion_tokens=hit.completion_tokens)
                return TeacherReply(
                    text=hit.text,
                    usage=usage,
                    cached=True,
                    latency_s=time.perf_counter() - started,
                    cache_key=key,
                )
        try:
            text, usage = await self._with_retries(messages, json_schema, temperature, seed)
        except TeacherError as exc:
            self.stats.failures[exc.code] += 1
            raise
        self.stats.prompt_tokens += usage.prompt_tokens
        self.stats.completion_tokens += usage.completion_tokens
        reply = TeacherReply(
            text=text, usage=usage, cached=False, latency_s=time.perf_counter() - started, cache_key=key
        )
        if store:
            self.keep(reply)
        return reply

    def _entry(self, reply: TeacherReply) -> CachedReply:
        return CachedReply(
            text=reply.text,
            prompt_tokens=reply.usage.prompt_tokens,
            completion_tokens=reply.usage.completion_tokens,
            model=self.model,
        )

    def keep(self, reply: TeacherReply) -> None:
        if self.cache is not None and reply.cache_key and not reply.cached:
            self.cache.put(reply.cache_key, self._entry(reply))

    def reject(self, reply: TeacherReply, *, reason: str, message: str) -> None:
        if self.cache is not None and reply.cache_key:
            self.cache.reject(reply.cache_key, self._entry(reply), reason=reason, message=message)

    # -- retries ---------------------------------------------------------------------------------------

    def backoff(self, retry: int, error: TeacherError) -> float:
        """Seconds to sleep before retry number ``retry`` (0-based)."""
        if error.retry_after_s is not None:
            return min(error.retry_after_s, self.config.retry_after_max_s)
        ceiling = min(self.config.backoff_max_s, self.config.backoff_base_s * (2**retry))
        return self._rng.uniform(0.0, ceiling)  # full jitter: spreads a burst of retries out

    async def _with_retries(
        self,
        messages: list[dict[str, Any]],
        json_schema: dict[str, Any] | None,
        temperature: float,
        seed: int | None,
    ) -> tuple[str, Usage]:
        retry = 0
        while True:
            try:
                result = await self._send(messages, json_schema, temperature, seed)
            except TeacherError as error:
                if error.status == 429:
                    self.stats.rate_limited += 1
                self._watch(error)
                if not error.retryable or retry >= self.config.max_retries or self.circuit_open:
                    raise
                delay = self.backoff(retry, error)
                if error.status == 429 and self._gate is not None:
                    await self._gate.hold_off(delay)  # the endpoint is saturated for every sender
                self.stats.record_retry(error.code, delay)
                log.debug("teacher: %s, retry %d in %.2f s", error.code, retry + 1, delay)
                retry += 1
                await self._sleep(delay)
            else:
                self._unreachable_in_a_row = 0
                return result

    def _watch(self, error: TeacherError) -> None:
        """The circuit breaker: count failures that say the endpoint is unusable, trip on too many."""
        if error.code == CIRCUIT_OPEN:
            return
        if error.status in (401, 403):
            self._trip(
                f"the teacher refused the credentials (HTTP {error.status}); check the key in "
                f"${self.config.api_key_env} (or ${FALLBACK_KEY_ENV}) and the base URL"
            )
        elif error.unreachable:
            self._unreachable_in_a_row += 1
            limit = self.config.breaker_failures
            if limit and self._unreachable_in_a_row >= limit:
                self._trip(
                    f"the teacher at {self.config.base_url or 'the OpenAI API'} looks unreachable "
                    f"({self._unreachable_in_a_row} connection failures in a row, last: {error.message})"
                )
        else:
            self._unreachable_in_a_row = 0  # the server answered, even if with an error

    def _trip(self, reason: str) -> None:
        if self.circuit_open is None:
            self.circuit_open = reason
            self.stats.circuit_open = reason
            log.warning("teacher: stopping: %s", reason)

    async def _send(
        self,
        messages: list[dict[str, Any]],
        json_schema: dict[str, Any] | None,
        temperature: float,
        seed: int | None,
    ) -> tuple[str, Usage]:
        structured = json_schema is not None and self.structured_supported is not False
        try:
            result = await self._request(messages, json_schema if structured else None, temperature, seed)
        except TeacherError as error:
            if not (structured and error.status == 400 and self.structured_supported is None):
                raise
            # The server may not know response_format; the same request without it decides.
            result = await self._request(messages, None, temperature, seed)
            if self.structured_supported is None:
                self.structured_supported = False
                log.warning(
                    "teacher: the server refused response_format=json_schema; prompting for JSON instead"
                )
            self.stats.structured_fallbacks += 1
            return result
        if structured:
            self.structured_supported = True
        return result

    async def _request(
        self,
        messages: list[dict[str, Any]],
        json_schema: dict[str, Any] | None,
        temperature: float,
        seed: int | None,
    ) -> tuple[str, Usage]:
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature}
        if seed is not None:
            kwargs["seed"] = seed
        if self.config.max_tokens is not None:
            kwargs["max_tokens"] = self.config.max_tokens
        if json_schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "sample", "schema": json_schema, "strict": False},
            }
        gate = self._gate.slot() if self._gate is not None else contextlib.nullcontext()
        async with self._semaphore, gate:
            # Checked once a slot is ours: requests queued behind the one that tripped are not sent.
            if self.circuit_open is not None:
                raise TeacherError(CIRCUIT_OPEN, f"not sent: {self.circuit_open}")
            self.stats.requests += 1
            started = time.perf_counter()
            try:
                # The documented low-level call: the body goes out as is (no per-field transform of the
                # messages) and the reply is read as plain JSON (no response model), which halves the
                # client's CPU per request; errors, auth and timeouts are the openai client's as usual.
                index = self._pick_client()
                self._busy[index] += 1
                try:
                    response = await self._clients[index].post(
                        "/chat/completions", body=kwargs, cast_to=httpx2.Response
                    )
                finally:
                    self._busy[index] -= 1
                payload = json.loads(response.content)
            except Exception as exc:  # every client failure becomes a classified TeacherError
                raise classify(exc) from exc
            self.stats.latencies.append(time.perf_counter() - started)
        return _read_completion(payload)


def _read_completion(payload: Any) -> tuple[str, Usage]:
    """The message text and token usage of a chat completion body."""
    try:
        text = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise TeacherError(
            "teacher_error_bad_response", "the response is not a chat completion", retryable=True
        ) from None
    if not text:
        raise TeacherError("teacher_error_empty", "the response has no message content")
    usage = payload.get("usage") or {}
    return str(text), Usage(
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
    )
