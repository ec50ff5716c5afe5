"""Scale-out: the same refresh with its shard tasks on a real (local, in-process) Dask cluster."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.refresh import refresh
from generators import pipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scheduler_address() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=2,
            processes=False,  # in-process workers: the scheduler speaks inproc://, the HTTP servers stay on loopback
            dashboard_address="127.0.0.1:0",
            worker_dashboard_address="127.0.0.1:0",
        ) as cluster
    ):
        yield cluster.scheduler_address


def test_refresh_runs_shards_on_the_dask_cluster(
    prefect_server: None,
    mini_kwargs: dict,
    scheduler_address: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[str] = []
    real = pipeline.generate_shard

    def recording(*args: Any, **kwargs: Any) -> dict[str, Any]:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "generate_shard", recording)
    settings = {**mini_kwargs["settings"], "task_runner": {"kind": "dask", "address": scheduler_address}}
    result = refresh(**{**mini_kwargs, "data_root": str(tmp_path), "settings": settings})
    assert result["generate"]["samples"] == 18
    assert Path(result["dataset_dir"], "manifest.json").exists()
    # Dask's worker threads, not Prefect's thread pool, ran the shards.
    assert len(threads) == 3 and all("Dask-Default-Threads" in name for name in threads), threads


def test_workers_that_see_the_data_root_pass_the_start_check(scheduler_address: str, tmp_path: Path) -> None:
    from flows.config import TaskRunnerConfig
    from flows.runners import check_workers_see

    check_workers_see(tmp_path / "data", TaskRunnerConfig(kind="dask", address=scheduler_address))
    assert list((tmp_path / "data").iterdir()) == []  # the probe is removed


def test_a_worker_blind_to_the_data_root_stops_the_run_at_start(
    prefect_server: None,
    mini_kwargs: dict,
    scheduler_address: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fault: the worker's filesystem has no such folder (it runs on another machine)."""
    import time

    from flows import runners
    from schemas.errors import ConfigError

    monkeypatch.setattr(runners, "_read_probe", lambda path: None)  # in-process workers run this copy
    settings = {**mini_kwargs["settings"], "task_runner": {"kind": "dask", "address": scheduler_address}}
    started = time.monotonic()
    with pytest.raises(ConfigError, match="not visible to Dask worker"):
        refresh(**{**mini_kwargs, "data_root": str(tmp_path), "settings": settings})
    assert time.monotonic() - started < 10  # no shard ran, nothing was retried
    assert not (tmp_path / "runs").exists()
