"""Which process owns a run folder, and which folder a refresh without a run name writes into.

    config = claim(build_config(spec="petstore.yaml"), flow_run_id=...)   # run_name filled in, folder locked
    ...                                                                     # stages write runs/<run_name>/
    release(config.run_dir)

A run folder belongs to one live process at a time. Its owner holds an exclusive ``flock`` on
``runs/<run>/.owner.lock`` for as long as it runs and records itself in ``runs/<run>/owner.json``
(flow-run id, pid, host, start time, a digest of the run's parameters, and every earlier owner). The
kernel drops the lock when the owner exits in any way (SIGKILL and OOM kill included), so "the lock
can be taken" is exactly "the owner is finished, crashed or cancelled" — no heartbeat file to go
stale and no pid that may have been recycled. The data root must be on a filesystem whose ``flock``
is shared by every machine writing to it (local disks; NFSv4 and most cluster filesystems).

Without a run name a refresh gets a new folder ``<slug>-<YYYYmmdd-HHMMSS>-<6 hex>`` (two runs started
in the same second never share one) unless it can *resume*: the newest run of the same spec with the
same parameters (``parameters_digest``) that has not finished assembling and whose owner is gone. A
newer finished run with those parameters supersedes older unfinished ones (they are not revived), and
a folder whose owner is alive is never adopted. A named run (``run_name``) is claimed as asked, unless
its owner is alive (``RunInUse``). What a resume reuses is logged and returned (``Claim.reused``).

Claims are re-entrant within a process (``callforge refresh`` claims before the flow starts, the flow
claims again) and counted: the folder is unlocked when the last holder releases it. No Prefect here.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.config import RunConfig, new_run_name
from schemas import atomic
from schemas.canonical import content_hash
from schemas.errors import ConfigError
from schemas.manifest import utc_now

OWNER_FILE = "owner.json"
LOCK_FILE = ".owner.lock"
# Settings that change where or how fast shards run, never what a run produces: a resume may differ in them.
_NOT_PARAMETERS = {"run_name", "task_runner", "shard_retries", "shard_retry_delays_s", "publish"}


class RunInUse(ConfigError):
    """The named run folder is being written by a live process."""


@dataclass
class Claim:
    """This process's hold on one run folder."""

    run_dir: Path
    run_name: str
    resumed: bool = False
    previous_owner: dict[str, Any] | None = None
    reused: dict[str, Any] = field(default_factory=dict)
    fd: int = -1
    holders: int = 1
    flow_runs: list[str] = field(default_factory=list)  # flow runs holding it (released by their hooks)

    def describe(self) -> str:
        """One line for the log and the run's artifact."""
        if not self.resumed:
            return f"run {self.run_name}: new run folder {self.run_dir}"
        owner = self.previous_owner or {}
        stages = ", ".join(self.reused.get("stages_finished", [])) or "none"
        return (
            f"run {self.run_name}: RESUMING (previous owner pid {owner.get('pid')} on {owner.get('host')}, "
            f"flow run {owner.get('flow_run_id')}, started {owner.get('started_at')}, is gone; same "
            f"parameters). Reusing: finished stages {stages}; "
            f"{self.reused.get('candidate_shards', 0)} candidate shard(s), "
            f"{self.reused.get('verdict_shards', 0)} verified shard(s) on disk."
        )


_claims: dict[Path, Claim] = {}
_lock = threading.Lock()


def parameters_digest(config: RunConfig) -> str:
    """What must match for a run folder to be resumed: the config but its name and its execution knobs."""
    data = config.model_dump(mode="json", exclude=_NOT_PARAMETERS)
    return content_hash(data, length=24)


def _own_names(slug: str) -> re.Pattern[str]:
    # Names new_run_name() makes (and the older ones without the id, which carry no owner record).
    return re.compile(rf"^{re.escape(slug)}-\d{{8}}-\d{{6}}(-[0-9a-f]{{6}})?$")


def read_owner(run_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((run_dir / OWNER_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def finished(run_dir: Path) -> bool:
    """True when the run's manifest records a finished ``assemble`` stage."""
    try:
        stages = json.loads((run_dir / "manifest.json").read_text("utf-8")).get("stages", {})
    except (OSError, ValueError, AttributeError):
        return False
    return bool((stages.get("assemble") or {}).get("finished_at"))


def _try_lock(run_dir: Path) -> int | None:
    """An fd holding the folder's exclusive lock, or None when another open file holds it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def owner_alive(run_dir: str | Path) -> bool:
    """Whether a live process (this one included) holds the run folder."""
    path = Path(run_dir).resolve()
    with _lock:
        if path in _claims:
            return True
    if not (path / LOCK_FILE).exists():
        return False
    fd = _try_lock(path)
    if fd is None:
        return True
    os.close(fd)
    return False


def _reused(run_dir: Path) -> dict[str, Any]:
    try:
        stages = json.loads((run_dir / "manifest.json").read_text("utf-8")).get("stages", {})
    except (OSError, ValueError, AttributeError):
        stages = {}
    return {
        "stages_finished": [name for name, record in stages.items() if (record or {}).get("finished_at")],
        "candidate_shards": len(list((run_dir / "candidates").glob("shard-*.parquet"))),
        "verdict_shards": len(list((run_dir / "verdicts").glob("shard-*.parquet"))),
    }


def _adopt(data_root: Path, slug: str, digest: str) -> tuple[Path, int] | None:
    """The newest unfinished, ownerless run of ``slug`` with these parameters, locked; else None."""
    runs = data_root / "runs"
    if not runs.is_dir():
        return None
    own = _own_names(slug)
    for run_dir in sorted((p for p in runs.iterdir() if p.is_dir() and own.match(p.name)), reverse=True):
        owner = read_owner(run_dir)
        if owner is None or owner.get("parameters") != digest:
            continue  # another configuration (or no record of one): never adopted
        if finished(run_dir):
            return None  # a newer finished run supersedes older abandoned ones
        if run_dir.resolve() in _claims:
            continue
        fd = _try_lock(run_dir)
        if fd is None:
            continue  # its owner is alive
        if finished(run_dir):  # it finished between the look and the lock
            os.close(fd)
            return None
        return run_dir, fd
    return None


def _fresh(data_root: Path, slug: str) -> tuple[Path, int]:
    for _ in range(10):
        run_dir = data_root / "runs" / new_run_name(slug)
        try:
            run_dir.mkdir(parents=True)
        except FileExistsError:
            continue
        fd = _try_lock(run_dir)
        if fd is not None:
            return run_dir, fd
    raise ConfigError(f"{data_root / 'runs'}: could not create a new run folder for {slug!r}")


def _write_owner(claim: Claim, digest: str, flow_run_id: str | None) -> None:
    previous = read_owner(claim.run_dir) or {}
    history = list(previous.get("owners", []))
    me = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "flow_run_id": flow_run_id,
        "started_at": utc_now(),
    }
    current = previous.get("owner") or {}
    if current.get("pid") == me["pid"] and current.get("host") == me["host"]:
        # This process claimed it already (the CLI before its flow): keep its start, add the flow run.
        me["started_at"] = current.get("started_at", me["started_at"])
        me["flow_run_id"] = flow_run_id or current.get("flow_run_id")
        history = history[:-1]
    history.append(me)
    record = {"run_name": claim.run_name, "parameters": digest, "owner": me, "owners": history}
    atomic.write_text(claim.run_dir / OWNER_FILE, json.dumps(record, indent=2) + "\n")


def claim(
    config: RunConfig, *, flow_run_id: str | None = None, log: Callable[[str], None] | None = None
) -> RunConfig:
    """``config`` with its run folder chosen and held by this process (see the module docstring)."""
    digest = parameters_digest(config)
    data_root = Path(config.data_root)
    with _lock:
        if config.run_name:
            run_dir = (data_root / "runs" / config.run_name).resolve()
            held = _claims.get(run_dir)
            if held is not None:
                held.holders += 1
                if flow_run_id:
                    held.flow_runs.append(flow_run_id)
                    _write_owner(held, digest, flow_run_id)
                return config
            fd = _try_lock(run_dir)
            if fd is None:
                owner = (read_owner(run_dir) or {}).get("owner") or {}
                raise RunInUse(
                    f"{run_dir}: run {config.run_name!r} is being written by pid {owner.get('pid')} on "
                    f"{owner.get('host')} (flow run {owner.get('flow_run_id')}); wait for it to end or "
                    "choose another run name"
                )
            previous = read_owner(run_dir)
            item = Claim(run_dir, config.run_name, fd=fd)
            if previous is not None and not finished(run_dir):
                item.resumed, item.previous_owner = True, previous.get("owner")
                item.reused = _reused(run_dir)
        else:
            adopted = _adopt(data_root, config.slug, digest)
            if adopted is not None:
                path, fd = adopted
                item = Claim(path.resolve(), path.name, resumed=True, fd=fd)
                item.previous_owner = (read_owner(path) or {}).get("owner")
                item.reused = _reused(path)
            else:
                path, fd = _fresh(data_root, config.slug)
                item = Claim(path.resolve(), path.name, fd=fd)
            config = config.model_copy(update={"run_name": item.run_name})
        if flow_run_id:
            item.flow_runs.append(flow_run_id)
        _write_owner(item, digest, flow_run_id)
        _claims[item.run_dir] = item
    if log is not None:
        log(item.describe())
    return config


def current(run_dir: str | Path) -> Claim | None:
    """This process's claim on ``run_dir``, if it holds one."""
    with _lock:
        return _claims.get(Path(run_dir).resolve())


def release(run_dir: str | Path) -> None:
    """Drop one hold on ``run_dir``; the last one unlocks the folder (a no-op when none is held)."""
    path = Path(run_dir).resolve()
    with _lock:
        item = _claims.get(path)
        if item is None:
            return
        item.holders -= 1
        if item.holders <= 0:
            del _claims[path]
            with contextlib.suppress(OSError):
                os.close(item.fd)


def release_flow_run(flow_run_id: str) -> None:
    """Drop the hold a flow run took (its final-state hook calls this); a no-op when it took none."""
    with _lock:
        held = [c.run_dir for c in _claims.values() if flow_run_id in c.flow_runs]
        for item in (_claims[p] for p in held):
            item.flow_runs.remove(flow_run_id)
    for run_dir in held:
        release(run_dir)


@contextlib.contextmanager
def owned(config: RunConfig, **kwargs: Any) -> Iterator[RunConfig]:
    """``claim`` for the block's duration."""
    claimed = claim(config, **kwargs)
    try:
        yield claimed
    finally:
        release(claimed.run_dir)
