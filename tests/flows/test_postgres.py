"""Prefect on PostgreSQL, as the README sets it up: a role and a database, the server on them, the work
pools, ``prefect deploy --all``, the crash automation from prefect.yaml, and a refresh run through a
process worker, which gives the dataset the embedded run gives.

Needs the PostgreSQL server binaries (skipped, with the reason, where they are missing).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from flows.refresh import refresh
from tests.flows.local_postgres import LocalPostgres
from tests.flows.test_server import MINI_SPEC, MINI_TIERS, PREFECT, REPO, Server, _wait_for

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.timeout(420)]
POSTGRES = LocalPostgres.find()
if POSTGRES is None:
    pytest.skip(LocalPostgres.missing, allow_module_level=True)

SETTINGS = {
    "generate": {"plan": {"shard_size": 6, "seed": 0}},
    "task_runner": {"kind": "threads", "max_workers": 2},
    "verifiers": ["format", "dedup"],
    "sandbox": False,
}


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A PostgreSQL cluster (initdb, start) and a ``prefect server start`` on it: ~15 s, once per module."""
    assert POSTGRES is not None
    with POSTGRES.started(tmp_path_factory.mktemp("postgres")):
        url = POSTGRES.create_database("prefect", "prefect", "callforge-test")
        with mock.patch.dict(os.environ, {"PREFECT_API_DATABASE_CONNECTION_URL": url}):
            started = Server(tmp_path_factory.mktemp("prefect-pg-home"))
        try:
            started.wait_healthy()
            started.cli("work-pool", "create", "callforge-data", "--type", "process")
            started.cli("work-pool", "create", "callforge-gpu", "--type", "process")
            started.cli("--no-prompt", "deploy", "--all", timeout=240)
            started.cli("automation", "create", "--from-file", "prefect.yaml")
            yield started
        finally:
            started.stop()


def test_the_server_stores_its_state_in_postgresql(pg_server: Server) -> None:
    assert POSTGRES is not None
    tables = POSTGRES.sql("SELECT count(*) FROM pg_tables WHERE tableowner = 'prefect'", "prefect")
    assert int(tables.split()[2]) > 10  # Prefect's schema, created by the server as the prefect role


def test_every_worker_run_flow_retries_5xx_and_sends_heartbeats(pg_server: Server) -> None:
    deployments = pg_server.get("/deployments/filter", limit=50)
    assert len(deployments) >= 6  # type: ignore[arg-type]
    for deployment in deployments:  # type: ignore[union-attr]
        env = deployment["job_variables"].get("env", {})
        assert env.get("PREFECT_CLIENT_RETRY_EXTRA_CODES") == "500,504", deployment["name"]
        assert int(env.get("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", 0)) >= 30, deployment["name"]


def test_the_crash_automation_watches_heartbeats(pg_server: Server) -> None:
    automations = pg_server.get("/automations/filter", limit=50)
    crash = [a for a in automations if a["name"] == "callforge-crash-silent-runs"]  # type: ignore[union-attr]
    assert len(crash) == 1
    trigger = crash[0]["trigger"]
    assert (trigger["posture"], trigger["after"], trigger["for_each"]) == (
        "Proactive",
        ["prefect.flow-run.heartbeat"],
        ["prefect.resource.id"],
    )
    assert crash[0]["actions"] == [
        {
            "type": "change-flow-run-state",
            "name": None,
            "state": "CRASHED",
            "message": mock.ANY,
            "force": False,
        }
    ]


def test_refresh_through_a_worker_gives_the_embedded_dataset(
    pg_server: Server, prefect_server: None, tmp_path: Path
) -> None:
    """Two refreshes of the mini spec, one embedded and one through a process worker of the PostgreSQL-
    backed server (the worker's run is a fresh interpreter that imports Prefect and the stages: ~15 s)."""
    embedded = refresh(
        spec=str(MINI_SPEC),
        tier_rules=str(MINI_TIERS),
        data_root=str(tmp_path / "embedded"),
        settings=SETTINGS,
    )
    params = {
        "spec": str(MINI_SPEC),
        "tier_rules": str(MINI_TIERS),
        "data_root": str(tmp_path / "worker"),
        "settings": SETTINGS,
    }
    out = pg_server.cli("deployment", "run", "refresh/on-demand", "--params", json.dumps(params))
    run_id = next(line.split()[-1] for line in out.splitlines() if "UUID" in line)
    worker = subprocess.Popen(
        [PREFECT, "worker", "start", "--pool", "callforge-data", "--limit", "1", "--run-once"],
        cwd=REPO,
        env=pg_server.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        state = _wait_for(
            lambda: (
                (s := pg_server.get(f"/flow_runs/{run_id}")["state"]["type"])  # type: ignore[index]
                in ("COMPLETED", "FAILED", "CRASHED")
                and s
            ),
            240,
            "the refresh run to finish",
        )
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGINT)
        try:
            log, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            log, _ = worker.communicate()
    assert state == "COMPLETED", log[-3000:]
    (run,) = (tmp_path / "worker" / "runs").iterdir()

    def content(dataset: Path) -> str:
        return json.loads((dataset / "manifest.json").read_text("utf-8"))["content_hash"]

    assert content(run / "dataset") == content(Path(embedded["dataset_dir"]))
    owner = json.loads((run / "owner.json").read_text("utf-8"))["owner"]
    assert owner["flow_run_id"] == run_id
