"""Flow tests run against one temporary Prefect server for the whole session (``prefect_test_harness``).

PREFECT_HOME points at a temporary directory before Prefect is imported, so nothing here reads or
writes the user's ``~/.prefect``. Every test gets its own data root under ``tmp_path``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_HOME = tempfile.mkdtemp(prefix="callforge-prefect-home-")
os.environ["PREFECT_HOME"] = _HOME
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("PREFECT_PROFILES_PATH", None)

DATA = Path(__file__).resolve().parents[1] / "data" / "flows"
MINI_SPEC = DATA / "mini.yaml"
MINI_TIERS = DATA / "tiers.yaml"


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A temporary Prefect API (SQLite in a temp dir) shared by every flow test of the session.

    In-process flow-run heartbeats are off here. Prefect 3 sends them by default (every 180 s) from a
    thread that sleeps in 1 s steps, and a synchronous flow run joins that thread on exit: up to 1 s
    (0.7 s measured) per flow and subflow run, about 5 s per refresh of the mini spec, and heartbeat
    events are more writes for the SQLite server the concurrent-run tests already contend on. No test
    here reads heartbeats; the deployments' heartbeat settings are checked in ``test_postgres.py``.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=90),
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def mini_kwargs() -> dict:
    """``refresh`` keyword arguments (all but ``data_root``) for the small spec: seconds, not minutes.

    18 work items in shards of 6 (three shards); shard retries without delay so failure tests are fast.
    """
    return {
        "spec": str(MINI_SPEC),
        "tier_rules": str(MINI_TIERS),
        "settings": {
            "generate": {"plan": {"shard_size": 6, "seed": 0}},
            "task_runner": {"kind": "threads", "max_workers": 2},
            "shard_retries": 1,
            "shard_retry_delays_s": [0],
        },
    }
