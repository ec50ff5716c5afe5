"""``SandboxServer``: the spec-driven sandbox on a loopback port, for as long as a ``with`` block lasts.

    with SandboxServer(["specs/gennx/openapi.yaml"]) as sandbox:
        httpx.get(sandbox.base_url + "/gen/db/NODE", headers={"MAPI-Key": "x"})
        sandbox.reset()

In: spec files as the catalog manifest names them (relative ones resolved against ``root``, then the
cwd). Out: ``.base_url`` (``http://127.0.0.1:<port>``), ``.reset()``, ``.state()``, ``.stats()``.

``mode="process"`` (default) serves from a child Python process, so the sandbox and the verifier's
HTTP client use different cores and GILs (about twice the throughput of a thread on two cores).
``mode="thread"`` serves from a daemon thread of this process (no start-up import cost). Either way
the port is bound here first (port 0: the OS picks a free one) and handed over, so ``base_url`` is known
before the server accepts and nothing races for the port. The child exits when its parent dies.

Each instance has its own table model: two sandboxes never share state.

``supervise()`` keeps a process-mode sandbox up for a long run: a thread checks the child every
``interval_s`` and, when it died (killed, OOM), starts a new one on the same listening socket, which
this process holds throughout. Requests waiting in the socket's backlog are then served by the new
child; requests the dead child had accepted get no answer, and the execution verifier turns that into
``TargetUnreachable`` (nothing recorded, the shard retried), never into verdicts. A new child starts
with empty tables, which is what every verify call expects (its sessions are new).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx

from schemas.errors import CallforgeError, ConfigError

SandboxMode = Literal["process", "thread"]


class SandboxError(CallforgeError):
    """The sandbox could not start (bad spec, missing file, the child died)."""


def build_app(
    specs: list[str],
    root: str | Path | None = None,
    *,
    strict_query: bool = True,
    allowed_root: str | Path | None = None,
    degrade: bool = False,
) -> Any:
    """The ASGI app for ``specs`` (raises ``SpecError``/``ConfigError`` naming the bad file).

    With ``degrade=True`` a spec that cannot be loaded does not stop the others: it is listed,
    with its reason, under ``unavailable`` in ``GET /_sandbox/health`` and its requests are
    answered 503 ``spec_unavailable``; the app serves whatever did load (possibly nothing).
    """
    from verifiers.sandbox.app import SandboxApp
    from verifiers.sandbox.routing import LoadedSpec, resolve_spec_file

    loaded, unavailable = [], {}
    for spec in specs:
        try:
            loaded.append(LoadedSpec(spec, resolve_spec_file(spec, root), allowed_root=allowed_root))
        except (CallforgeError, RecursionError, MemoryError) as exc:
            if not degrade:
                raise
            reason = str(exc) if isinstance(exc, CallforgeError) else f"{type(exc).__name__} while loading"
            unavailable[spec] = reason
            print(f"sandbox: {spec} cannot be served: {reason}", file=sys.stderr)
    return SandboxApp(loaded, strict_query=strict_query, unavailable=unavailable)


def _uvicorn_server(app: Any) -> Any:
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        loop="auto",
        http="auto",
        timeout_keep_alive=30,
    )
    return uvicorn.Server(config)


def listening_socket(port: int) -> socket.socket:
    """A TCP socket listening on 127.0.0.1:``port`` whose connections send without delay.

    Without TCP_NODELAY each keep-alive response stalls ~40 ms: uvicorn writes the head and the body
    separately, Nagle holds the body until the head is acknowledged, and the client delays that ACK.
    asyncio sets TCP_NODELAY on an accepted connection only when its listening socket says its protocol
    is TCP, which ``socket.socket(AF_INET, SOCK_STREAM)`` does not (its ``proto`` is 0), hence the
    explicit ``IPPROTO_TCP``; the option on the listener is inherited by accepted sockets on Linux.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(512)
    except BaseException:
        sock.close()
        raise
    return sock


class SandboxServer:
    """Start the sandbox on entering, stop it on leaving (or call ``start()``/``stop()``)."""

    def __init__(
        self,
        specs: list[str] | list[Path],
        *,
        root: str | Path | None = None,
        mode: SandboxMode = "process",
        strict_query: bool = True,
        startup_timeout_s: float = 60.0,
        allowed_root: str | Path | None = None,
        degrade: bool = False,
    ) -> None:
        if not specs:
            raise ValueError("SandboxServer needs at least one spec file")
        self.specs = [str(s) for s in specs]
        self.root = str(root) if root is not None else None
        self.mode = mode
        self.strict_query = strict_query
        self.startup_timeout_s = startup_timeout_s
        self.allowed_root = str(allowed_root) if allowed_root is not None else None
        self.degrade = degrade
        self.base_url = ""
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: Any = None
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._supervisor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._revive_lock = threading.Lock()
        self.restarts = 0

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._stopping.clear()
        sock = listening_socket(0)
        self._sock = sock
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        try:
            if self.mode == "thread":
                self._start_thread(sock)
            else:
                self._start_process(sock)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def start_for(self, purpose: str) -> None:
        """``start()``, with a sandbox that does not come up reported as a ``ConfigError`` naming
        ``purpose`` (what it was started for): for a verifier or a stage, that is the user's to fix."""
        try:
            self.start()
        except ConfigError:
            raise
        except CallforgeError as exc:
            raise ConfigError(f"{purpose}: cannot start the sandbox: {exc}") from exc

    def _start_thread(self, sock: socket.socket) -> None:
        app = build_app(  # raises here on a bad spec (unless degrading)
            self.specs,
            self.root,
            strict_query=self.strict_query,
            allowed_root=self.allowed_root,
            degrade=self.degrade,
        )
        self._server = _uvicorn_server(app)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[sock])),
            name="callforge-sandbox",
            daemon=True,
        )
        self._thread.start()

    def _start_process(self, sock: socket.socket) -> None:
        from verifiers.sandbox.routing import resolve_spec_file

        if not self.degrade:
            for spec in self.specs:  # a missing file is reported here, not as a dead child
                resolve_spec_file(spec, self.root)
        cmd = [
            sys.executable,
            "-m",
            "verifiers.sandbox",
            "--fd",
            str(sock.fileno()),
            "--parent",
            str(os.getpid()),
        ]
        if self.root:
            cmd += ["--root", self.root]
        if not self.strict_query:
            cmd.append("--lenient-query")
        if self.allowed_root:
            cmd += ["--allowed-root", self.allowed_root]
        if self.degrade:
            cmd.append("--degrade")
        for spec in self.specs:
            cmd += ["--spec", spec]
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the child; closed in stop()
        env = dict(os.environ)
        # the child must import this checkout even when it is not installed (tests, benchmarks)
        project_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = project_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._proc = subprocess.Popen(
            cmd,
            pass_fds=(sock.fileno(),),
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env=env,
            cwd=os.getcwd(),
        )

    def revive(self) -> bool:
        """Start a new child on the same socket when the process-mode child died; True when it did."""
        with self._revive_lock:
            if self._stopping.is_set() or self._proc is None or self._sock is None:
                return False
            if self._proc.poll() is None:
                return False
            if self._stderr is not None:
                self._stderr.close()
            self._start_process(self._sock)
            self._wait_ready()
            self.restarts += 1
            return True

    def supervise(self, interval_s: float = 0.5) -> SandboxServer:
        """Revive the child whenever it dies, until ``stop()`` (a no-op in thread mode)."""
        if self.mode != "process" or self._supervisor is not None:
            return self

        def watch() -> None:
            while not self._stopping.wait(interval_s):
                try:
                    self.revive()
                except SandboxError:
                    continue  # tried again next interval; requests meanwhile are TargetUnreachable

        self._supervisor = threading.Thread(target=watch, name="callforge-sandbox-supervisor", daemon=True)
        self._supervisor.start()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise SandboxError(
                    f"sandbox process exited with code {self._proc.returncode}: {self._child_stderr()}"
                )
            if self._thread is not None and not self._thread.is_alive():
                raise SandboxError("sandbox thread stopped during start-up")
            try:
                if httpx.get(self.base_url + "/_sandbox/health", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError as exc:
                last_error = exc
            time.sleep(0.05)
        raise SandboxError(
            f"sandbox did not answer within {self.startup_timeout_s:.0f}s ({last_error}); {self._child_stderr()}"
        )

    def _child_stderr(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace").strip()[-2000:]

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=70)
            self._supervisor = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(timeout=10)
            self._proc = None
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
            self._server = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    # ------------------------------------------------------------------------------ admin over HTTP

    def reset(self, session: str | None = None) -> None:
        """Empty the table model (one session's, or all)."""
        params = {"session": session} if session is not None else None
        httpx.post(self.base_url + "/_sandbox/reset", params=params, timeout=10).raise_for_status()

    def seed(
        self,
        session: str,
        tables: dict[str, Any] | None = None,
        *,
        state: Literal["strict", "lenient"] = "strict",
        check_references: bool = False,
    ) -> int:
        """Start ``session`` over from ``tables`` ({TABLE: {ROW_ID: row}}) in that mode; the row count.
        Raises ``SandboxError`` with the sandbox's message for a seed it refuses."""
        answer = httpx.post(
            self.base_url + "/_sandbox/seed",
            params={"session": session},
            json={"tables": tables or {}, "state": state, "check_references": check_references},
            timeout=30,
        )
        if answer.status_code != 200:
            raise SandboxError(f"the sandbox refused the seed of session {session!r}: {answer.text[:500]}")
        return int(answer.json()["rows"])

    def state(self, session: str = "") -> dict[str, Any]:
        """The tables of ``session`` (``""`` is the session of requests that name none)."""
        return httpx.get(self.base_url + "/_sandbox/state", params={"session": session}, timeout=10).json()

    def health(self) -> dict[str, Any]:
        """``GET /_sandbox/health``: the specs served and (when degrading) those that could not be."""
        return httpx.get(self.base_url + "/_sandbox/health", timeout=10).json()

    def stats(self) -> dict[str, int]:
        return httpx.get(self.base_url + "/_sandbox/stats", timeout=10).json()


# ------------------------------------------------------------------------------------- child process


def serve_child(argv: list[str] | None = None) -> int:
    """Entry point of the sandbox child process (``python -m verifiers.sandbox``)."""
    parser = argparse.ArgumentParser(
        prog="python -m verifiers.sandbox", description="callforge spec-driven sandbox"
    )
    parser.add_argument("--spec", action="append", required=True, help="spec file (repeatable)")
    parser.add_argument("--root", default=None, help="directory relative spec paths are resolved against")
    parser.add_argument("--fd", type=int, default=None, help="listening socket inherited from the parent")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 when no --fd is given")
    parser.add_argument("--parent", type=int, default=None, help="exit when this process is gone")
    parser.add_argument("--lenient-query", action="store_true", help="accept unknown query parameters")
    parser.add_argument("--allowed-root", default=None, help="folder file $refs must stay inside")
    parser.add_argument("--degrade", action="store_true", help="serve the specs that load; list the others")
    args = parser.parse_args(argv)
    try:
        app = build_app(
            args.spec,
            args.root,
            strict_query=not args.lenient_query,
            allowed_root=args.allowed_root,
            degrade=args.degrade,
        )
    except CallforgeError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    if args.fd is not None:
        sock = socket.socket(fileno=args.fd)  # reads the protocol (TCP) from the descriptor
    else:
        sock = listening_socket(args.port)
        print(f"sandbox listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    server = _uvicorn_server(app)
    if args.parent:
        _watch_parent(args.parent, server)
    asyncio.run(server.serve(sockets=[sock]))
    return 0


def _watch_parent(pid: int, server: Any) -> None:
    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != pid:
                server.should_exit = True
                return

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
