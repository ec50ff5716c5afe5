"""An OpenAI-compatible HTTP server over a ``LocalModel``: what ``callforge serve`` runs.

    service = ChatService(LocalModel.load("merged/"), ServeOptions(served_name="gennx", constrained=True))
    server = make_server(service, "127.0.0.1", 8000)   # port 0: any free port, see server.url
    server.serve_forever()

Routes: ``POST /v1/chat/completions`` (no streaming), ``GET /v1/models``, ``GET /health``. Request
threads parse and check a request (model name, tools, context budget) and hand it to the ``Batcher``;
the one generation thread runs requests that arrived together as one batch. With ``constrained``,
requests that offer tools are decoded under the tools' JSON schemas
(``trainer.evaluation.constrained``): every reply is then a valid call of an offered tool.

There is no authentication: the server binds to 127.0.0.1 unless told otherwise, and says so loudly
when it is not. A request body is at most ``max_body_bytes``; what the model may generate is capped
by ``max_tokens_limit``; a prompt that does not fit the context is refused with
``context_length_exceeded`` before any generation.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from trainer.inference import Generation, LocalModel
from trainer.serving.batcher import Batcher
from trainer.serving.protocol import ChatRequest, ProtocolError, completion, models_list

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    served_name: str
    constrained: bool = False  # decode replies that offer tools under their schemas
    max_batch: int = 8
    batch_window_s: float = 0.01  # how long the first request of a batch waits for company
    default_max_tokens: int = 512
    max_tokens_limit: int = 4096
    request_timeout_s: float = 600.0
    max_body_bytes: int = 8 * 1024 * 1024


class ChatService:
    """Checks requests, batches them, and writes completions; no HTTP here (tests call it directly too)."""

    def __init__(self, local: LocalModel, options: ServeOptions) -> None:
        self.local, self.options = local, options
        self.created = int(time.time())
        self.context = local.context
        self.decoder = None
        if options.constrained:
            from trainer.evaluation.constrained import ConstrainedDecoder

            self.decoder = ConstrainedDecoder(local)
        self.batcher = Batcher(self._run_batch, max_batch=options.max_batch, window_s=options.batch_window_s)

    def models(self) -> dict[str, Any]:
        return models_list(self.options.served_name, self.created)

    def complete(self, body: Any) -> dict[str, Any]:
        """One chat completion for a parsed JSON body; ``ProtocolError`` for a request it refuses."""
        request = ChatRequest.parse(body)
        if request.model != self.options.served_name:
            raise ProtocolError(
                f"model {request.model!r} is not served here; this server serves {self.options.served_name!r}",
                param="model",
                status=404,
                code="model_not_found",
            )
        tools = request.offered_tools()
        messages = request.conversation()
        max_new = request.reply_tokens(self.options.default_max_tokens, self.options.max_tokens_limit)
        fit = self.context.measure(self.local.render, messages, tools or None, max_new_tokens=max_new)
        if not fit.fits:
            raise ProtocolError(fit.message(), param="messages", code="context_length_exceeded")
        constrained = self.decoder is not None and bool(tools)
        # Greedy under constraints (the decoder's only mode); otherwise the request's temperature.
        temperature = 0.0 if constrained else float(request.temperature or 0.0)
        future = self.batcher.submit(
            (constrained, temperature, max_new), (messages, tools, fit.prompt_tokens)
        )
        generation: Generation = future.result(timeout=self.options.request_timeout_s)
        return completion(
            self.options.served_name,
            generation.text,
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=generation.completion_tokens,
            stopped=generation.stopped,
        )

    def _run_batch(self, key: Hashable, payloads: Sequence[Any]) -> list[Generation]:
        constrained, temperature, max_new = cast(tuple[bool, float, int], key)
        messages = [p[0] for p in payloads]
        tools = [p[1] or None for p in payloads]
        if constrained and self.decoder is not None:
            texts = self.decoder.generate(messages, [t or [] for t in tools], max_new_tokens=max_new)
            return [
                Generation(text, prompt, self.context.count(text), True)
                for text, (_, _, prompt) in zip(texts, payloads, strict=True)
            ]
        return self.local.generate_detailed(messages, tools, max_new_tokens=max_new, temperature=temperature)

    def close(self) -> None:
        self.batcher.stop()


class _Handler(BaseHTTPRequestHandler):
    server: ChatServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _path(self) -> str:
        return self.path.split("?", 1)[0].rstrip("/")

    def do_GET(self) -> None:
        path = self._path()
        if path in ("/v1/models", "/models"):
            self._send(200, self.server.service.models())
        elif path == "/health":
            self._send(200, {"status": "ok"})
        else:
            self._send(404, ProtocolError(f"no route {path!r}", status=404).body())

    def do_POST(self) -> None:
        path = self._path()
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self._send(404, ProtocolError(f"no route {path!r}", status=404).body())
            return
        try:
            body = self._read_json()
            self._send(200, self.server.service.complete(body))
        except ProtocolError as exc:
            self._send(exc.status, exc.body())
        except TimeoutError:
            self._send(503, ProtocolError("generation timed out", status=503).body())
        except Exception as exc:  # the server keeps serving; the client gets the reason, the log the trace
            log.exception("generation failed")
            error = ProtocolError(f"generation failed: {type(exc).__name__}: {exc}", status=500)
            self._send(500, error.body())

    def _read_json(self) -> Any:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise ProtocolError("Content-Length is not a number") from None
        limit = self.server.service.options.max_body_bytes
        if length > limit:
            self.close_connection = True  # the unread body must not be parsed as the next request
            raise ProtocolError(f"request body of {length} bytes is over the {limit}-byte limit", status=413)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProtocolError(f"the request body is not JSON: {exc}") from None


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: ChatService) -> None:
        super().__init__(address, _Handler)
        self.service = service

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}/v1"

    def server_close(self) -> None:
        super().server_close()
        self.service.close()


def make_server(service: ChatService, host: str = "127.0.0.1", port: int = 8000) -> ChatServer:
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning(
            "serving on %s: anyone who can reach this address can use the model (there is no authentication)",
            host,
        )
    return ChatServer((host, port), service)
