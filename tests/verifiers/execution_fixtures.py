"""Shared pieces of the execution tests: the sandbox test specs, their catalog (built by the real
ingester), sample and tool makers, and ``LoopbackServer`` — a real uvicorn server on 127.0.0.1 for any
ASGI app (the "real server" the real-target tests talk to)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from schemas.catalog import Catalog
from schemas.models import ArgumentBinding, HttpBinding, Sample, Tool, ToolCall, ToolSource, infer_style

DATA = Path(__file__).resolve().parents[1] / "data" / "sandbox"
PETSTORE = str(DATA / "petstore.yaml")
GENNX_MINI = str(DATA / "gennx_mini.yaml")
SPLIT = str(DATA / "split" / "openapi.yaml")
SPECS = [PETSTORE, GENNX_MINI, SPLIT]
PET_ORIGIN = "http://petstore.example.test"
GEN_ORIGIN = "https://moa-engineers.midasit.com:443"


@lru_cache(maxsize=1)
def sandbox_catalog() -> Catalog:
    """The three test specs ingested by ``schemas.openapi.ingest`` (the path every run takes)."""
    from schemas.openapi import ingest

    return ingest(SPECS, naming="snake").catalog


def tool_named(catalog: Catalog, method: str, path: str) -> str:
    """The catalog name of the tool for ``method path`` (names are the ingester's business)."""
    for tool in catalog:
        if tool.binding.method == method and tool.binding.path == path:
            return tool.name
    raise KeyError(f"no tool for {method} {path}")


def call(tool_name: str, /, **arguments: Any) -> ToolCall:
    return ToolCall(name=tool_name, arguments=arguments)


def sample(*calls: ToolCall, query: str = "do it") -> Sample:
    names = list(dict.fromkeys(c.name for c in calls))
    return Sample.create(query=query, style=infer_style(names, list(calls)), tools=names, calls=list(calls))


def make_tool(
    path: str,
    arguments: dict[str, dict[str, Any]] | None = None,
    *,
    method: str = "GET",
    server_url: str = "http://api.test/v1",
    media: str | None = None,
    properties: dict[str, Any] | None = None,
    name: str | None = None,
    source: str = "hand-built.yaml",
    security: list[dict[str, list[str]]] | None = None,
    schemes: dict[str, dict[str, Any]] | None = None,
) -> Tool:
    """A tool built by hand: ``arguments`` maps argument name -> ArgumentBinding fields."""
    bindings = {arg: ArgumentBinding(**spec) for arg, spec in (arguments or {}).items()}
    props = properties if properties is not None else {arg: {} for arg in bindings}
    return Tool(
        name=name or ("t" + "".join(c if c.isalnum() else "_" for c in f"{method}{path}").lower()),
        parameters={"type": "object", "properties": props},
        binding=HttpBinding(
            method=method,
            path=path,
            server_url=server_url,
            arguments=bindings,
            body_media_type=media,
            security=security or [],
            security_schemes=schemes or {},
        ),
        source=ToolSource(file=source),
    )


def free_port() -> int:
    """A port nothing listens on (bound, then closed): connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LoopbackServer:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (port picked by the OS) from a daemon thread."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def __enter__(self) -> LoopbackServer:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        server = self._server
        self._thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not server.started:
            time.sleep(0.02)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()


def get_json(url: str, **kwargs: Any) -> Any:
    return httpx.get(url, timeout=10, **kwargs).json()
