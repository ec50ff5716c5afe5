"""Task runners chosen by configuration: a bounded thread pool here, a Dask cluster for scale-out.

    runner = build_task_runner(TaskRunnerConfig(kind="dask", address="tcp://10.0.0.5:8786"))
    generate_flow.with_options(task_runner=runner)(config)

Shard tasks are the only tasks that fan out, so only the stage flows that run them (generate and
verify) take a runner from the config; everything else runs inline in its flow.
"""

from __future__ import annotations

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows.config import TaskRunnerConfig
from schemas.errors import ConfigError


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
    # No address: a temporary in-process cluster sized like the thread pool would be.
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": 1, "threads_per_worker": config.max_workers, "processes": False}
    )


def describe_task_runner(config: TaskRunnerConfig) -> str:
    """One line for logs and reports, e.g. ``threads(max_workers=4)``."""
    if config.kind == "threads":
        return f"threads(max_workers={config.max_workers})"
    return f"dask({config.address or 'temporary local cluster'})"
