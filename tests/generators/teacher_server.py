"""A real OpenAI-compatible HTTP server on loopback, with faults on demand.

It speaks HTTP/1.1 over asyncio streams (keep-alive, Content-Length bodies) and implements
``POST /v1/chat/completions`` plus ``GET /stats`` (request counts and the server's own CPU time, so a
benchmark can tell its CPU from the client's). Each request gets a :class:`Fault` from the server's
fault plan; the default plan answers every request correctly.

Faults are fakes by design (a real teacher cannot be told to fail); everything else is real: the
``openai`` client talks to this server over a TCP socket.

A correct answer is *derived from the prompt*: the server reads the ``<tools>`` block and the
``Target calls in order:`` line that ``generators.prompts`` writes, and returns
``{"query": ..., "calls": [...]}`` with minimal schema-valid arguments for each target.

    with TeacherServer() as server:           # in a background thread
        client = AsyncOpenAI(base_url=server.base_url, api_key="test")

    python tests/generators/teacher_server.py --latency 0.2   # in its own process; prints "PORT <n>"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = (
    "ok",  # a valid {query, calls} answer
    "slow",  # the valid answer after ``delay_s``
    "429",  # Too Many Requests, with ``retry_after`` as the Retry-After header when set
    "500",  # Internal Server Error
    "503",  # Service Unavailable
    "drop",  # close the socket without answering
    "malformed_json",  # 200, but the message content is not JSON
    "wrong_shape",  # 200, JSON content that is not {query, calls}
    "bad_body",  # 200, but the HTTP body itself is not JSON
    "deep",  # 200, content nested DEEP_LEVELS levels deep (json.loads raises RecursionError on it)
    "huge",  # 200, a syntactically valid {query, calls} content of HUGE_CHARS characters
    "400",
    "401",
    "403",
)
DEEP_LEVELS = 1_000
HUGE_CHARS = 5_000_000


@dataclass(frozen=True)
class Fault:
    """What the server does with one request."""

    kind: str = "ok"
    retry_after: str | None = None
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")


@dataclass
class RequestInfo:
    """One request as the fault plan sees it: its body, the key of its content and its attempt number."""

    body: dict[str, Any]
    key: str
    attempt: int  # 1 for the first time this content arrives, 2 for the first retry, …
    index: int  # position among all chat requests the server received


FaultPlan = Callable[[RequestInfo], Fault]


def always(kind: str, **kwargs: Any) -> FaultPlan:
    """Every request gets the same fault."""
    fault = Fault(kind, **kwargs)
    return lambda info: fault


def first_attempts(kind: str, attempts: int = 1, **kwargs: Any) -> FaultPlan:
    """The first ``attempts`` tries of every distinct request fault, later tries succeed."""
    fault = Fault(kind, **kwargs)
    ok = Fault("ok")
    return lambda info: fault if info.attempt <= attempts else ok


def every_nth(kind: str, n: int, **kwargs: Any) -> FaultPlan:
    """Every n-th request (by arrival) faults; the others succeed."""
    fault = Fault(kind, **kwargs)
    ok = Fault("ok")
    return lambda info: fault if info.index % n == n - 1 else ok


@dataclass
class ServerLog:
    """What the server saw, for assertions made server-side."""

    chat_requests: int = 0
    by_fault: Counter[str] = field(default_factory=Counter)
    with_response_format: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    authorization: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0


# ------------------------------------------------------------------------------------ the answers

_TOOLS_BLOCK = re.compile(r"<tools>\s*(.*?)\s*</tools>", re.S)
_TARGETS = re.compile(r"Target calls in order:\s*(\[.*?\])")
_LANGUAGE = re.compile(r"Language:\s*([a-z]{2})")


def minimal_value(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> Any:
    """A small value valid for common schemas (independent of the generators' own value sampler)."""
    if "$ref" in schema and depth < 8:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return minimal_value(defs.get(name, {}), defs, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("oneOf", "anyOf", "allOf"):
        if schema.get(key):
            return minimal_value(schema[key][0], defs, depth + 1)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        out = {
            name: minimal_value(sub, defs, depth + 1)
            for name, sub in schema.get("properties", {}).items()
            if name in schema.get("required", [])
        }
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and not out:
            out["1"] = minimal_value(extra, defs, depth + 1)
        return out
    if kind == "array":
        return [minimal_value(schema.get("items", {}), defs, depth + 1)] * max(1, schema.get("minItems", 1))
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "x" * max(1, schema.get("minLength", 1))


def derive_answer(body: dict[str, Any]) -> dict[str, Any]:
    """The ``{query, calls}`` a cooperative teacher would give for this request."""
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user")
    tools: dict[str, dict[str, Any]] = {}
    match = _TOOLS_BLOCK.search(prompt)
    if match:
        for tool in json.loads(match.group(1)):
            function = tool.get("function", tool)
            tools[function["name"]] = function.get("parameters", {})
    targets_match = _TARGETS.search(prompt)
    targets = json.loads(targets_match.group(1)) if targets_match else []
    calls = []
    for name in targets:
        params = tools.get(name, {"type": "object"})
        calls.append({"name": name, "arguments": minimal_value(params, params.get("$defs", {}))})
    language = (_LANGUAGE.search(prompt) or re.match("(en)", "en")).group(1)
    described = json.dumps(calls, ensure_ascii=False)
    query = f"{'다음 호출을 실행해줘' if language == 'ko' else 'Please run'}: {described}"
    if not calls:
        query = "오늘 날씨 어때?" if language == "ko" else "What is the weather like today?"
    return {"query": query, "calls": calls}


def _completion(body: dict[str, Any], content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "loopback"),
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


def _error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "loopback_fault", "code": str(status)}}


# ------------------------------------------------------------------------------------- the server

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
_REASONS |= {429: "Too Many Requests"}
_REASONS |= {500: "Internal Server Error", 503: "Service Unavailable"}


class TeacherServer:
    """The loopback teacher. Use as a context manager (thread) or :func:`main` (own process)."""

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        faults: FaultPlan | None = None,
        reject_response_format: bool = False,
        keep_bodies: bool = True,
        answers: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> None:
        self.latency_s = latency_s
        # A request's "ok" answer: answers(body) when it gives one (recorded replies), else derive_answer.
        self.answers = answers
        self.faults: FaultPlan = faults or always("ok")
        self.reject_response_format = reject_response_format
        self.keep_bodies = keep_bodies
        self.log = ServerLog()
        self.port = 0
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self, *, faults: FaultPlan | None = None, reject_response_format: bool | None = None) -> None:
        """Forget what was seen; optionally change the fault plan."""
        with self._lock:
            self.log = ServerLog()
            self._attempts.clear()
            if faults is not None:
                self.faults = faults
            if reject_response_format is not None:
                self.reject_response_format = reject_response_format

    # -- lifecycle -----------------------------------------------------------------------------------

    def __enter__(self) -> TeacherServer:
        self._thread = threading.Thread(target=self._run_thread, name="teacher-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("loopback teacher server did not start within 10 s")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    def _run_thread(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self.start())
        self._ready.set()
        self._loop.run_forever()
        with contextlib.suppress(Exception):
            self._loop.close()

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    # -- HTTP ------------------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                keep = await self._respond(method, path, headers, body, writer)
                if not keep:
                    return
        except asyncio.CancelledError:
            return  # shutting down: a request still sleeping in its latency is abandoned
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _respond(
        self, method: str, path: str, headers: dict[str, str], raw: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        if method == "GET" and path == "/stats":
            stats = {"requests": self.log.chat_requests, "cpu_s": time.process_time()}
            self._write(writer, 200, json.dumps(stats).encode())
            return True
        if method != "POST" or not path.endswith("/chat/completions"):
            self._write(writer, 404, json.dumps(_error(404, f"no route {method} {path}")).encode())
            return True
        body = json.loads(raw)
        key = hashlib.sha256(json.dumps(body.get("messages"), sort_keys=True).encode()).hexdigest()
        key += f"/{body.get('seed')}"
        with self._lock:
            self._attempts[key] += 1
            info = RequestInfo(body, key, self._attempts[key], self.log.chat_requests)
            self.log.chat_requests += 1
            if self.keep_bodies:
                self.log.bodies.append(body)
            self.log.authorization.append(headers.get("authorization", ""))
            has_format = "response_format" in body
            self.log.with_response_format += has_format
            fault = self.faults(info)
            if has_format and self.reject_response_format:
                fault = Fault("400")
            self.log.by_fault[fault.kind] += 1
        log = self.log
        log.in_flight += 1
        log.max_in_flight = max(log.max_in_flight, log.in_flight)
        try:
            delay = self.latency_s + (fault.delay_s if fault.kind == "slow" else 0.0)
            if delay:
                await asyncio.sleep(delay)
            return self._answer(fault, body, writer)
        finally:
            log.in_flight -= 1

    def _answer(self, fault: Fault, body: dict[str, Any], writer: asyncio.StreamWriter) -> bool:
        kind = fault.kind
        if kind == "drop":
            writer.transport.abort()  # no status line, no bytes: a dropped connection
            return False
        if kind in ("400", "401", "403", "500", "503", "429"):
            status = int(kind)
            message = (
                "response_format json_schema is not supported by this server"
                if status == 400 and "response_format" in body
                else f"loopback fault {status}"
            )
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._write(writer, status, json.dumps(_error(status, message)).encode(), extra)
            return True
        if kind == "bad_body":
            self._write(writer, 200, b'{"id": "chatcmpl-broken", "choices": [')
            return True
        if kind == "malformed_json":
            content = 'Sure! {"query": "Add a node", "calls": [{"name": '
        elif kind == "wrong_shape":
            content = json.dumps({"question": "Add a node", "answer": 42})
        elif kind == "deep":
            content = '{"query": "q", "calls": ' + "[" * DEEP_LEVELS + "]" * DEEP_LEVELS + "}"
        elif kind == "huge":
            filler = HUGE_CHARS - len('{"query": "", "calls": []}')
            content = '{"query": "' + "x" * filler + '", "calls": []}'
        else:
            recorded = self.answers(body) if self.answers is not None else None
            content = (
                recorded if recorded is not None else json.dumps(derive_answer(body), ensure_ascii=False)
            )
        self._write(writer, 200, json.dumps(_completion(body, content), ensure_ascii=False).encode())
        return True

    @staticmethod
    def _write(
        writer: asyncio.StreamWriter, status: int, payload: bytes, extra: dict[str, str] | None = None
    ) -> None:
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", "Content-Type: application/json"]
        head += [f"Content-Length: {len(payload)}", "Connection: keep-alive"]
        head += [f"{k}: {v}" for k, v in (extra or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)


def main(argv: list[str] | None = None) -> int:
    """Serve in this process until killed; prints ``PORT <n>`` once listening."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args(argv)
    server = TeacherServer(latency_s=args.latency, keep_bodies=False)

    async def serve() -> None:
        await server.start(args.port)
        print(f"PORT {server.port}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
