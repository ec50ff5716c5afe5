"""A supervised sandbox comes back on the same port after its process is SIGKILLed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from verifiers.sandbox import SandboxServer

SPEC = Path(__file__).resolve().parents[1] / "data" / "flows" / "mini.yaml"


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/_sandbox/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_a_killed_sandbox_process_is_revived_on_the_same_port() -> None:
    with SandboxServer([str(SPEC)]) as server:
        server.supervise(interval_s=0.1)
        first = server._proc
        assert first is not None and _healthy(server.base_url)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        deadline = time.monotonic() + 60
        while not (server.restarts and _healthy(server.base_url)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.restarts == 1 and server._proc is not first and _healthy(server.base_url)
    assert server._proc is None  # stop() ends the supervisor and the new child


def test_an_unsupervised_sandbox_is_not_revived() -> None:
    with SandboxServer([str(SPEC)], mode="thread") as server:
        assert server.supervise() is server and server._supervisor is None  # thread mode: nothing to revive
        assert server.revive() is False
