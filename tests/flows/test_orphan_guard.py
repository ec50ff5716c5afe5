"""The orphan guard: a killed command's children are stopped; a command that ends normally is left be."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from flows.orphan_guard import descendants

ROOT = Path(__file__).resolve().parents[2]
PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    from flows.orphan_guard import OrphanGuard
    with OrphanGuard(interval_s=0.1, grace_s=2.0):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        print(child.pid, flush=True)
        time.sleep(float(sys.argv[1]))
    print("done", flush=True)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): look at its state
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def _start(sleep_s: float) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(sleep_s)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="the guard needs /proc")
def test_the_children_of_a_killed_command_are_stopped() -> None:
    proc, child = _start(60)
    time.sleep(0.5)  # a snapshot of the descendants was taken
    assert child in descendants(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait(5)
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="the guard needs /proc")
def test_a_command_that_ends_normally_keeps_its_children() -> None:
    """Ending the block stops the guard only: what outlives it on purpose is not killed."""
    proc, child = _start(0.3)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "done"
    proc.wait(5)
    time.sleep(0.5)
    try:
        assert _alive(child)
    finally:
        os.kill(child, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="the guard needs /proc")
def test_a_killed_refresh_leaves_no_prefect_server_behind(tmp_path: Path) -> None:
    data = ROOT / "tests" / "data" / "flows"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env |= {"PYTHONPATH": str(ROOT), "PREFECT_HOME": str(tmp_path / "prefect"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "refresh", "--spec", str(data / "mini.yaml"),
         "--tier-rules", str(data / "tiers.yaml"), "--data-root", str(tmp_path / "data"), "--no-progress"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        server: dict[int, int] = {}
        deadline = time.monotonic() + 120
        while not server and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            found = descendants(proc.pid)
            server = {p: s for p, s in found.items() if b"uvicorn" in _cmdline(p)}
        assert server, "the temporary Prefect server never started"
        time.sleep(1.0)  # the guard's next snapshot includes it
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in server)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_a_walk_that_races_the_commands_death_does_not_forget_its_children(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The command dies during a walk: its children are re-parented at once, so that walk sees none of
    them. A guard that kept only the latest walk would stop nothing (a Prefect server left running)."""
    from flows import orphan_guard

    parent, server, start = 4242, 5151, 77
    state = {"walks": 0, "dead": False}

    def walk(root: int, *, exclude: int | None = None) -> dict[int, int]:
        state["walks"] += 1
        if state["walks"] == 3:  # the command is killed while this walk reads /proc
            state["dead"] = True
            return {}
        return {server: start}

    sent: list[tuple[int, signal.Signals]] = []
    monkeypatch.setattr(orphan_guard, "descendants", walk)
    monkeypatch.setattr(orphan_guard.os, "getppid", lambda: 1 if state["dead"] else parent)
    monkeypatch.setattr(orphan_guard, "_alive_as_recorded", lambda pid, s: (pid, s) == (server, start))
    monkeypatch.setattr(orphan_guard, "_signal", lambda pid, sig: sent.append((pid, sig)))
    monkeypatch.setattr(orphan_guard.signal, "signal", lambda *a: None)
    stopped = orphan_guard.watch(parent, interval_s=0, grace_s=0)
    assert stopped == 1 and (server, signal.SIGTERM) in sent
