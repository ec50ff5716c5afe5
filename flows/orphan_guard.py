"""Stop a command's child processes when the command dies without stopping them (SIGKILL, OOM kill).

Prefect's temporary server (ephemeral mode) is a uvicorn subprocess that Prefect stops from an
``atexit`` hook. A SIGKILL skips ``atexit``: the server lives on, re-parented to init, holding
``PREFECT_HOME``'s database. The guard is a second, stdlib-only process that watches the command:

    with OrphanGuard():        # flows/commands/refresh.py, before anything starts a child
        refresh(...)

Every ``interval_s`` it records the command's descendants (pid and start time, from ``/proc``). Once
the command is gone it sends SIGTERM to each recorded process still alive with the same start time
(so a recycled pid is never hit), SIGKILL after ``grace_s``, and exits. When the block ends normally
the guard is stopped and kills nothing (Prefect's own ``atexit`` stops its server then).

Not covered: a child started and orphaned within one interval (0.5 s by default); systems without
``/proc`` (the guard does nothing there); a SIGKILL of the whole process group, guard included
(the guard runs in its own session, so a terminal's Ctrl-C or ``kill -- -PGID`` does not reach it,
but ``kill -9 -1`` does).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of ``pid``, or None when it is gone."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[19])


def descendants(root: int, *, exclude: int | None = None) -> dict[int, int]:
    """Every process below ``root``: pid -> start time (``exclude`` and its subtree left out)."""
    children: dict[int, list[int]] = {}
    started: dict[int, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None:
            children.setdefault(stat[0], []).append(int(entry.name))
            started[int(entry.name)] = stat[1]
    found: dict[int, int] = {}
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child != exclude and child not in found:
                found[child] = started[child]
                stack.append(child)
    return found


def _alive_as_recorded(pid: int, start: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[1] == start


def watch(parent: int, *, interval_s: float = 0.5, grace_s: float = 5.0) -> int:
    """Run the guard in this process until ``parent`` is gone; returns how many processes it stopped."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the command's to handle, not ours
    seen: dict[int, int] = {}
    while os.getppid() == parent:  # re-parented: the command is gone
        found = descendants(parent, exclude=os.getpid())
        if os.getppid() != parent:
            # The command died during the walk: its children were re-parented under it, so this walk
            # saw few or none of them. Keep what the earlier walks recorded.
            break
        # Recorded, not replaced: a process seen once stays a candidate (one that ended, or a recycled
        # pid, is told apart by its start time), so no later walk can forget it.
        seen.update(found)
        time.sleep(interval_s)
    left = {pid: start for pid, start in seen.items() if _alive_as_recorded(pid, start)}
    for pid in left:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_alive_as_recorded(p, s) for p, s in left.items()):
        time.sleep(0.05)
    for pid, start in left.items():
        if _alive_as_recorded(pid, start):
            _signal(pid, signal.SIGKILL)
    if left:
        print(f"orphan guard: parent {parent} died; stopped {sorted(left)}", file=sys.stderr)
    return len(left)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


class OrphanGuard:
    """The guard process for this process, as a context manager (a no-op without ``/proc``)."""

    def __init__(self, *, interval_s: float = 0.5, grace_s: float = 5.0) -> None:
        self.interval_s = interval_s
        self.grace_s = grace_s
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> OrphanGuard:
        if PROC.is_dir():
            args = [str(os.getpid()), str(self.interval_s), str(self.grace_s)]
            self.process = subprocess.Popen(
                [sys.executable, "-S", __file__, *args], start_new_session=True, stdin=subprocess.DEVNULL
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.kill()  # normal exit: children are stopped by their owners
            self.process.wait(5)
            self.process = None


if __name__ == "__main__":
    watch(int(sys.argv[1]), interval_s=float(sys.argv[2]), grace_s=float(sys.argv[3]))
