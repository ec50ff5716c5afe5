"""Task runners chosen by configuration: a bounded thread pool here, a Dask cluster for scale-out.

    runner = build_task_runner(TaskRunnerConfig(kind="dask", address="tcp://10.0.0.5:8786"))
    generate_flow.with_options(task_runner=runner)(config)

Shard tasks are the only tasks that fan out, so only the stage flows that run them (generate and
verify) take a runner from the config; everything else runs inline in its flow.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows.config import TaskRunnerConfig
from schemas.errors import ConfigError

LOCAL_DASHBOARD = "127.0.0.1:8787"


def build_task_runner(config: TaskRunnerConfig) -> TaskRunner:
    """A fresh task runner for one flow run (runners hold executors, so they are never shared)."""
    if config.kind == "threads":
        # Prefect's default ThreadPoolTaskRunner is unbounded; a bound keeps memory and the CPU sane.
        return ThreadPoolTaskRunner(max_workers=config.max_workers)
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:  # pragma: no cover - the dask extra is part of dev installs
        raise ConfigError(
            "task_runner.kind: 'dask' needs prefect-dask and distributed; install callforge[dask]"
        ) from exc
    if config.address:
        return DaskTaskRunner(address=config.address)
    # No address: a temporary in-process cluster sized like the thread pool would be. Its dashboard
    # listens on loopback only (distributed's default is every interface, 0.0.0.0:8787); a busy port
    # makes distributed pick another one.
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": 1,
            "threads_per_worker": config.max_workers,
            "processes": False,
            "dashboard_address": LOCAL_DASHBOARD,
        }
    )


def check_workers_see(data_root: Path, config: TaskRunnerConfig, *, timeout_s: float = 30.0) -> None:
    """Fail at flow start, with the workers named, when a Dask worker does not see ``data_root``.

    A probe file with a random token is written under the data root and every worker of the scheduler
    at ``config.address`` reads it back: a worker that finds no file, or another file (a local folder
    at the same path on another machine), cannot run shards. Threads and the temporary in-process
    cluster share this process's filesystem, so there is nothing to check.
    """
    if config.kind != "dask" or not config.address:
        return
    from distributed import Client

    data_root.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    probe = data_root / f".callforge-probe-{token}"
    probe.write_text(token, "utf-8")
    try:
        with Client(config.address, timeout=timeout_s) as client:
            seen = client.run(_read_probe, str(probe))
    except OSError as exc:
        raise ConfigError(
            f"task_runner.address: cannot reach the Dask scheduler {config.address}: {exc}"
        ) from exc
    finally:
        probe.unlink(missing_ok=True)
    if not seen:
        raise ConfigError(f"task_runner.address: the Dask scheduler {config.address} has no workers")
    blind = sorted(worker for worker, text in seen.items() if text != token)
    if blind:
        raise ConfigError(
            f"data root {data_root} is not visible to Dask worker(s) {', '.join(blind)}: every worker must "
            "see the data root at the same absolute path (a shared volume); see README 'Scale-out'"
        )


def _read_probe(path: str) -> str | None:
    try:
        return Path(path).read_text("utf-8")
    except OSError:
        return None


def describe_task_runner(config: TaskRunnerConfig) -> str:
    """One line for logs and reports, e.g. ``threads(max_workers=4)``."""
    if config.kind == "threads":
        return f"threads(max_workers={config.max_workers})"
    return f"dask({config.address or 'temporary local cluster'})"
