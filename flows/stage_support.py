"""What the shard-running flows share: submitting cached shard tasks and loading the catalog once.

    futures = submit_shards(generate_shard_task, jobs, config, gen=config.generate)

A job's task is submitted with ``refresh_cache`` when its output file is missing, so a cached result
never stands in for a shard file that was deleted (see ``flows.caching``).

Shard task runs carry no tags; the flow runs around them do (stage, spec, teacher). Prefect checks
every tagged task run against tag concurrency limits, and against a SQLite-backed server (the
ephemeral one, or ``prefect server start`` without PostgreSQL) that check often meets "database is
locked" while state events are written, answers 503, and the client retries after about 2 s: a
stall measured at the start of nearly every shard (``benchmarks/refresh.py``). Shard concurrency is
bounded by the task runner (``task_runner.max_workers``), not by tag limits.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from prefect import Task
from prefect.context import TagsContext
from prefect.futures import PrefectFuture

from flows.caching import ShardJob, result_storage_dir
from flows.config import RunConfig
from schemas.catalog import Catalog
from schemas.errors import CallforgeError

_catalogs: dict[tuple[str, int], Catalog] = {}
_lock = threading.Lock()


def load_catalog(directory: str | Path) -> Catalog:
    """The catalog in ``directory``, read once per process per version of the file (tasks share it)."""
    path = Path(directory).resolve()
    stamp = (path / "catalog.jsonl").stat().st_mtime_ns
    key = (str(path), stamp)
    with _lock:
        if key not in _catalogs:
            _catalogs.clear()  # one run per process at a time; older versions are garbage
            _catalogs[key] = Catalog.load(path)
        return _catalogs[key]


class MissingInput(CallforgeError):
    """A shard task's input file is not where the job says: a data root the worker cannot see, or a
    file deleted mid-run. Retrying would fail the same way, so it is not retried."""


def require_input(path: Path, job: ShardJob) -> None:
    """Fail the shard at once, naming the file and the host, when its input is missing."""
    if not path.exists():
        import socket

        root = Path(job.run_dir)
        seen = "the run folder exists" if root.is_dir() else f"the run folder {root} does not exist either"
        raise MissingInput(
            f"{job.stage} shard {job.shard_index}: input {path} not found on {socket.gethostname()} "
            f"({seen}). Workers must see the data root at the same absolute path (a shared volume)."
        )


def retry_unless_bad_input(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a failed shard unless it failed on callforge's own input or config errors.

    Those (``CallforgeError``: a bad record, a bad option) fail the same way every time, so a retry
    only adds its backoff to the time until the run reports them.
    """
    error = state.data
    if not isinstance(error, BaseException):
        try:
            error = state.result(raise_on_failure=False)
        except Exception:  # the result cannot be read: retry, the failure may be transient
            return True
    return not isinstance(error, CallforgeError)


def submit_shards(
    shard_task: Task[..., Any], jobs: list[ShardJob], config: RunConfig, **arguments: Any
) -> list[PrefectFuture[Any]]:
    """Submit ``shard_task(job=job, **arguments)`` for every job on the flow's task runner.

    Results persist under the run directory; retries and their backoff come from ``config``.
    """
    options: dict[str, Any] = {
        "result_storage": result_storage_dir(config.run_dir),
        "retries": config.shard_retries,
        "retry_delay_seconds": config.shard_retry_delays_s or 0,
        "retry_condition_fn": retry_unless_bad_input,
    }
    cached = shard_task.with_options(**options)
    rerun = shard_task.with_options(**options, refresh_cache=True)
    with TagsContext(current_tags=set()):  # untagged: see the module docstring
        return [(cached if job.output_exists else rerun).submit(job=job, **arguments) for job in jobs]
