"""Task runners come from configuration: a bounded thread pool, or Dask at an address."""

from __future__ import annotations

from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from flows.config import TaskRunnerConfig
from flows.runners import build_task_runner, describe_task_runner


def test_default_is_a_bounded_thread_pool() -> None:
    runner = build_task_runner(TaskRunnerConfig(max_workers=3))
    assert isinstance(runner, ThreadPoolTaskRunner) and runner._max_workers == 3


def test_dask_runner_connects_to_the_configured_scheduler() -> None:
    runner = build_task_runner(TaskRunnerConfig(kind="dask", address="tcp://10.0.0.5:8786"))
    assert isinstance(runner, DaskTaskRunner) and runner.address == "tcp://10.0.0.5:8786"


def test_description_names_the_runner() -> None:
    assert describe_task_runner(TaskRunnerConfig(kind="dask")) == "dask(temporary local cluster)"


def test_the_temporary_clusters_dashboard_listens_on_loopback_only() -> None:
    runner = build_task_runner(TaskRunnerConfig(kind="dask"))
    assert isinstance(runner, DaskTaskRunner)
    assert runner.cluster_kwargs["dashboard_address"].startswith("127.0.0.1:")
