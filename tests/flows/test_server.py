"""prefect.yaml against a real ``prefect server start``: deploy, schedules, trigger, one run via a worker.

Starts the server on a free loopback port with its own PREFECT_HOME, creates the two work pools, runs
``prefect deploy --all`` from the repository root, reads the deployments back through the client,
emits ``callforge.dataset.published`` and waits for the fine-tune deployment's trigger to create a run
with the event's dataset path, then runs the ingest deployment through a process worker on the small
spec. Everything it starts is stopped by PID (the worker with SIGINT, the server's process group).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")
MINI_SPEC = REPO / "tests" / "data" / "flows" / "mini.yaml"
MINI_TIERS = REPO / "tests" / "data" / "flows" / "tiers.yaml"
PREFECT = str(Path(sys.executable).with_name("prefect"))

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.timeout(300)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, home: Path) -> None:
        self.port = _free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.env = {
            **os.environ,
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": self.api,
            "PWD": str(REPO),  # what the pull step records as the code's directory
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_CLI_PROMPT": "false",
            # A run the worker starts is a separate process: it finds `flows` through the repo.
            "PYTHONPATH": str(REPO),
        }
        self.env.pop("PREFECT_PROFILES_PATH", None)
        server_env = {k: v for k, v in self.env.items() if k != "PREFECT_API_URL"}
        self.log = home / "server.log"
        self.process = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            env=server_env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches uvicorn's children too
        )

    def wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"prefect server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.api}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"prefect server not healthy after {timeout} s: {self.log.read_text()[-2000:]}")

    def cli(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [PREFECT, *args], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def get(self, path: str, **kwargs: object) -> object:
        response = (
            httpx.post(f"{self.api}{path}", json=kwargs, timeout=10)
            if kwargs
            else httpx.get(f"{self.api}{path}", timeout=10)
        )
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server for the module: start (uvicorn plus migrations of a fresh SQLite database,
    10-15 s), two pools and ``prefect deploy --all`` (one CLI process per step, ~20 s under load)."""
    started = Server(tmp_path_factory.mktemp("prefect-server-home"))
    try:
        started.wait_healthy()
        started.cli("work-pool", "create", "callforge-data", "--type", "process")
        started.cli("work-pool", "create", "callforge-gpu", "--type", "process")
        started.cli("--no-prompt", "deploy", "--all", timeout=240)
        yield started
    finally:
        started.stop()


def _deployment(server: Server, name: str) -> dict:
    return server.get(f"/deployments/name/{name}")  # type: ignore[return-value]


def _wait_for(predicate: Callable[[], T], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)  # one loopback GET per poll: cheap, and a finished run is seen within 0.2 s
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_nightly_refresh_is_scheduled_one_at_a_time(server: Server) -> None:
    nightly = _deployment(server, "refresh/gennx-nightly")
    crons = [s["schedule"].get("cron") for s in nightly["schedules"] if s["active"]]
    assert crons == ["0 2 * * *"]
    assert nightly["work_pool_name"] == "callforge-data"
    assert nightly["global_concurrency_limit"]["limit"] == 1
    assert nightly["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    assert nightly["parameters"]["spec"] == "specs/gennx/openapi.yaml"


def test_every_deployment_is_on_its_pool(server: Server) -> None:
    pools = {
        name: _deployment(server, name)["work_pool_name"]
        for name in (
            "refresh/on-demand",
            "ingest/ingest-on-demand",
            "train/fine-tune",
            "evaluate/evaluate-after-training",
            "evaluate/evaluate-on-demand",
        )
    }
    assert pools == {
        "refresh/on-demand": "callforge-data",
        "ingest/ingest-on-demand": "callforge-data",
        "train/fine-tune": "callforge-gpu",
        "evaluate/evaluate-after-training": "callforge-gpu",
        "evaluate/evaluate-on-demand": "callforge-gpu",
    }


def test_on_demand_refresh_does_not_publish_unless_asked(server: Server) -> None:
    assert _deployment(server, "refresh/on-demand")["parameters"] == {"publish": False}


def test_fine_tune_trigger_expects_the_published_event(server: Server) -> None:
    fine_tune = _deployment(server, "train/fine-tune")
    automations = server.get("/automations/filter", limit=50)
    linked = [
        a
        for a in automations  # type: ignore[union-attr]
        if any(act.get("deployment_id") == fine_tune["id"] for act in a["actions"])
    ]
    assert len(linked) == 1
    trigger, action = linked[0]["trigger"], linked[0]["actions"][0]
    assert trigger["expect"] == ["callforge.dataset.published"]
    assert trigger["match"] == {"prefect.resource.id": "callforge.dataset.gennx"}  # not every spec's
    assert action["parameters"] == {"dataset_dir": "{{ event.payload.dataset_dir }}"}


def _runs_of(server: Server, deployment: dict, **parameters: object) -> list:
    runs = server.get("/flow_runs/filter", deployments={"id": {"any_": [deployment["id"]]}})
    return [r for r in runs if all(r["parameters"].get(k) == v for k, v in parameters.items())]  # type: ignore[union-attr]


def test_only_the_gennx_dataset_starts_a_fine_tune(server: Server, tmp_path: Path) -> None:
    fine_tune = _deployment(server, "train/fine-tune")
    other = str(tmp_path / "runs" / "mini-20261120-020000" / "dataset")
    gennx = str(tmp_path / "runs" / "gennx-20261120-020000" / "dataset")
    # The other spec's event goes first: once GEN NX's run exists, a run for it would exist too.
    for name, dataset in (("mini", other), ("gennx", gennx)):
        payload = json.dumps({"dataset_dir": dataset})
        server.cli(
            "event",
            "emit",
            "callforge.dataset.published",
            "--resource-id",
            f"callforge.dataset.{name}",
            "--payload",
            payload,
        )
    runs = _wait_for(
        lambda: _runs_of(server, fine_tune, dataset_dir=gennx), 90, "the trigger's fine-tune run"
    )
    assert runs[0]["parameters"]["base_model"] == "Qwen/Qwen2.5-1.5B-Instruct"
    time.sleep(3)  # events are handled in order; leave the first one time to have misfired
    assert _runs_of(server, fine_tune, dataset_dir=other) == []


def test_a_trained_model_starts_its_evaluation(server: Server, tmp_path: Path) -> None:
    evaluate = _deployment(server, "evaluate/evaluate-after-training")
    dataset = str(tmp_path / "runs" / "gennx-20261120-020000" / "dataset")
    models = [
        {
            "label": "fine-tuned",
            "model": "Qwen/Qwen2.5-1.5B-Instruct",
            "adapter": f"{dataset}/../model/adapter",
        },
        {"label": "base", "model": "Qwen/Qwen2.5-1.5B-Instruct"},
    ]
    server.cli(
        "event",
        "emit",
        "callforge.model.trained",
        "--resource-id",
        "callforge.model.gennx",
        "--payload",
        json.dumps({"dataset_dir": dataset, "models": models}),
    )
    runs = _wait_for(lambda: _runs_of(server, evaluate, dataset_dir=dataset), 90, "the evaluation run")
    assert runs[0]["parameters"]["models"] == models  # a list of dicts, not its JSON text


def test_worker_runs_the_ingest_deployment(server: Server, tmp_path: Path) -> None:
    config = {
        "specs": [str(MINI_SPEC)],
        "tier_rules": str(MINI_TIERS),
        "data_root": str(tmp_path),
        "run_name": "server-ingest",
    }
    out = server.cli(
        "deployment", "run", "ingest/ingest-on-demand", "--params", json.dumps({"config": config})
    )
    run_id = next(line.split()[-1] for line in out.splitlines() if "UUID" in line)
    worker = subprocess.Popen(
        [PREFECT, "worker", "start", "--pool", "callforge-data", "--run-once"],
        cwd=REPO,
        env=server.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        state = _wait_for(
            lambda: (
                (s := server.get(f"/flow_runs/{run_id}")["state"]["type"])
                in ("COMPLETED", "FAILED", "CRASHED")
                and s
            ),
            150,
            "the ingest run to finish",
        )
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGINT)  # process workers stop on SIGINT, not SIGTERM
        try:
            log, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            log, _ = worker.communicate()
    assert state == "COMPLETED", log[-3000:]
    assert (tmp_path / "runs" / "server-ingest" / "catalog" / "catalog.jsonl").exists()
