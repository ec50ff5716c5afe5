"""Helpers for the evaluation tests: datasets written by the assemble stage's exporter, a real
OpenAI-compatible chat server on loopback that answers with native ``tool_calls``, and a backend that
replays queued replies (a fake, for plumbing that needs no model).

    with ChatServer(answer) as server:            # answer(body) -> (status, JSON payload)
        ModelSpec(label="api", kind="endpoint", model="m", base_url=server.base_url)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from schemas.catalog import Catalog
from schemas.models import Sample, Tool

SANDBOX_SPECS = Path(__file__).resolve().parents[2] / "data" / "sandbox"

Answer = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


def export_dataset(
    directory: Path, splits: Mapping[str, Sequence[Sample]], tools: Catalog | Mapping[str, Tool]
) -> Path:
    """Write ``splits`` as ``callforge assemble`` does (``trainer.dataset.exports``: ``hf/`` and ``trl/``)."""
    from trainer.dataset.config import ExportOptions
    from trainer.dataset.exports import write_exports

    catalog = tools if isinstance(tools, Catalog) else Catalog(tools.values())
    write_exports(directory, splits, catalog, ExportOptions(formats=("hf", "trl")))
    return directory


# ------------------------------------------------------------------------------------ chat answers


def completion(
    message: dict[str, Any], finish_reason: str = "stop", model: str = "loopback"
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-evaluation",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish_reason}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def tool_calls_answer(calls: Sequence[tuple[str, dict[str, Any]]]) -> tuple[int, dict[str, Any]]:
    """A 200 whose message carries native tool calls (arguments as JSON strings, as OpenAI sends them)."""
    tool_calls = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)},
        }
        for i, (name, arguments) in enumerate(calls)
    ]
    return 200, completion({"content": None, "tool_calls": tool_calls}, "tool_calls")


def text_answer(text: str) -> tuple[int, dict[str, Any]]:
    return 200, completion({"content": text})


def error_answer(status: int) -> tuple[int, dict[str, Any]]:
    return status, {
        "error": {"message": f"loopback fault {status}", "type": "server_error", "code": str(status)}
    }


def last_user_text(body: dict[str, Any]) -> str:
    return next(
        (m.get("content") or "" for m in reversed(body.get("messages", [])) if m.get("role") == "user"), ""
    )


# ------------------------------------------------------------------------------------- chat server


@dataclass
class Seen:
    """What the server received: each chat request's body and Authorization header."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    authorization: list[str] = field(default_factory=list)


class ChatServer:
    """``POST /v1/chat/completions`` on 127.0.0.1 (a free port), answered by ``answer(body)``."""

    def __init__(self, answer: Answer) -> None:
        self.answer, self.seen, self._lock = answer, Seen(), threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the openai client expects

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server._lock:
                    server.seen.bodies.append(body)
                    server.seen.authorization.append(self.headers.get("Authorization", ""))
                status, payload = (
                    server.answer(body) if self.path.endswith("/chat/completions") else error_answer(404)
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="chat-server", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


# ---------------------------------------------------------------------------------- replay backend


@dataclass
class ReplayBackend:
    """Returns queued reply texts in order, one per conversation (a fake model for plumbing tests)."""

    label: str
    replies: list[str]
    calls: int = 0

    def generate(
        self, conversations: Sequence[Any], tools: Sequence[Any], *, max_new_tokens: int
    ) -> list[str]:
        self.calls += 1
        if len(self.replies) < len(conversations):
            raise AssertionError(
                f"{self.label}: {len(conversations)} conversations, {len(self.replies)} replies left"
            )
        out, self.replies = self.replies[: len(conversations)], self.replies[len(conversations) :]
        return out
