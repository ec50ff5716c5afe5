"""The sandbox killed mid-verify (SIGKILL of its process) records no verdict and loses no sample: the
run publishes the dataset an uninterrupted run publishes (issue 25).

The kill is real: the fault wraps the execution verifier's HTTP client, and on the fifth request
SIGKILLs the sandbox child and waits for it to die, so that request and the ones in flight get no
answer. The request timeout (1 s) is shorter than the sandbox's restart (held at 2.5 s+), so the batch
raises ``TargetUnreachable`` for sure; the shard is retried after the supervisor brought the sandbox
back.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from flows.orphan_guard import descendants
from flows.refresh import refresh
from verifiers import execution
from verifiers.execution import ExecutionVerifier, TargetUnreachable
from verifiers.sandbox import SandboxServer


def sandbox_pids() -> list[int]:
    found = []
    for pid in descendants(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"verifiers.sandbox" in cmdline:
            found.append(pid)
    return found


def content_hash(result: dict[str, Any]) -> str:
    return json.loads((Path(result["dataset_dir"]) / "manifest.json").read_text("utf-8"))["content_hash"]


@pytest.mark.slow
def test_sandbox_killed_mid_verify_loses_nothing(
    prefect_server: None, mini_kwargs: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two refreshes with the execution verifier (a reference and one whose sandbox is killed mid-verify):
    the sandbox process and its restart are what is under test, so neither can be left out."""
    settings = {
        **mini_kwargs["settings"],
        "verifiers": ["format", "execution"],
        "verifier_options": {"execution": {"retries": 0, "timeout_s": 1.0}},
        "shard_retries": 2,
        "shard_retry_delays_s": [4, 8],
    }
    reference = refresh(**{**mini_kwargs, "settings": settings, "data_root": str(tmp_path / "reference")})

    killed: list[int] = []
    requests = 0
    real_client = execution.execution_client

    async def kill_on_fifth(request: httpx.Request) -> None:
        nonlocal requests
        requests += 1
        if requests == 5 and not killed:
            for pid in sandbox_pids():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            while any(Path(f"/proc/{pid}").exists() and _running(pid) for pid in killed):
                time.sleep(0.01)  # blocks the client's loop too: requests in flight lose their answers

    def faulty_client(concurrency: int, timeout_s: float) -> httpx.AsyncClient:
        client = real_client(concurrency, timeout_s)
        client.event_hooks["request"].append(kill_on_fifth)
        return client

    unreachable: list[str] = []
    real_verify = ExecutionVerifier.verify

    def counting_verify(self: ExecutionVerifier, samples: list, ctx: Any) -> list:
        try:
            return real_verify(self, samples, ctx)
        except TargetUnreachable as exc:
            unreachable.append(str(exc))
            raise

    real_revive = SandboxServer.revive

    def slow_revive(self: SandboxServer) -> bool:
        # A restart slower than the request timeout (as under load), so the request sent after the kill
        # surely gets no answer in time: the path under test, not a lucky fast restart.
        if self._proc is not None and self._proc.poll() is not None:
            time.sleep(2.5)
        return real_revive(self)

    monkeypatch.setattr(SandboxServer, "revive", slow_revive)
    monkeypatch.setattr(execution, "execution_client", faulty_client)
    monkeypatch.setattr(ExecutionVerifier, "verify", counting_verify)
    # One run: the shard whose requests got no answer fails without verdicts and its retry, a few
    # seconds later, meets the revived sandbox (no rerun needed).
    result = refresh(**{**mini_kwargs, "settings": settings, "data_root": str(tmp_path / "faulted")})

    assert killed and unreachable, (killed, unreachable)  # the fault happened and was not a verdict
    verdicts = pl.concat(
        [pl.read_parquet(p) for p in sorted(Path(result["run_dir"]).glob("verdicts/*.parquet"))]
    )
    assert "transport_error" not in verdicts["code"].to_list()
    assert content_hash(result) == content_hash(reference)
    assert result["verify"]["samples"] == reference["verify"]["samples"]
    assert result["verify"]["accepted"] == reference["verify"]["accepted"]


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}
