"""Fault benchmark: a Prefect server on PostgreSQL, two process workers, a loopback teacher, faults.

    python benchmarks/faults.py                    # GEN NX, --limit 600, shards of 50 (about 10 minutes)
    python benchmarks/faults.py --limit 300 --only sandbox,postgres

Everything runs on loopback: a throwaway PostgreSQL cluster (``tests/flows/local_postgres.py``), a
Prefect server on it, ``prefect deploy --all`` and the crash automation from ``prefect.yaml``, two
``prefect worker start --pool callforge-data --limit 1`` and the loopback OpenAI-compatible teacher
(``tests/generators/teacher_server.py``, 50 ms latency, every 25th request a 429 with Retry-After),
with ``teacher.shared_concurrency`` as the global cap. Each scenario refreshes the bundled spec through
the ``refresh/on-demand`` deployment on a fresh data root, injects its fault once verification has
started, waits, and runs the same deployment again (the resume) when the first run did not complete:

- ``concurrent``: two runs of one spec on one data root at the same moment (no fault);
- ``worker``: SIGKILL of the worker running the flow and of its flow process (a machine gone);
- ``sandbox``: SIGKILL of the sandbox process;
- ``server``: the Prefect server stopped and started again (5 s down);
- ``postgres``: PostgreSQL stopped (immediate) and started again (10 s down).

Printed per scenario: accepted samples lost and repeated against an uninterrupted reference run (rows
of the published dataset, per sample id), whether the dataset equals the reference (content hash),
flow runs left ``Running`` after the crash-detection window (heartbeat 30 s + 90 s), and the peak
teacher requests in flight against the cap (the concurrent scenario sends with a cold cache; the
others reuse the reference's teacher cache). Goal: 0 lost, 0 repeated, 0 left Running, peak <= cap.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flows.orphan_guard import descendants  # noqa: E402
from tests.flows.local_postgres import LocalPostgres, _free_port  # noqa: E402
from tests.generators.teacher_server import TeacherServer, every_nth  # noqa: E402

PREFECT = str(Path(sys.executable).with_name("prefect"))
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
DETECTION_S = 30 + 90 + 30  # heartbeat interval + the automation's window + the triggers service's lag


class Stack:
    """PostgreSQL, the Prefect server on it, two workers; started and stopped by PID."""

    def __init__(self, home: Path, pg: LocalPostgres, db_url: str) -> None:
        self.home, self.pg = home, pg
        self.port = _free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.env = {
            **os.environ,
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": self.api,
            "PREFECT_API_DATABASE_CONNECTION_URL": db_url,
            "PREFECT_UI_API_URL": self.api,
            "PWD": str(REPO),
            "PYTHONPATH": str(REPO),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_CLI_PROMPT": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "OMP_NUM_THREADS": "1",
        }
        self.env.pop("PREFECT_PROFILES_PATH", None)
        self.server: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []

    def start_server(self) -> None:
        env = {k: v for k, v in self.env.items() if k != "PREFECT_API_URL"}
        log = (self.home / "server.log").open("ab")
        self.server = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError("prefect server did not become healthy")

    def stop_server(self) -> None:
        if self.server is not None and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(30)

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [PREFECT, *args], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(args)}: {done.stdout}\n{done.stderr}")
        return done.stdout

    def start_worker(self) -> None:
        log = (self.home / f"worker-{len(self.workers)}.log").open("ab")
        self.workers.append(
            subprocess.Popen(
                [PREFECT, "worker", "start", "--pool", "callforge-data", "--limit", "1"],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )

    def stop_workers(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGINT)
        for worker in self.workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()

    def get(self, path: str, body: dict[str, Any] | None = None) -> Any:
        for _ in range(60):  # the server may be restarting
            try:
                response = (
                    httpx.post(self.api + path, json=body, timeout=10)
                    if body is not None
                    else httpx.get(self.api + path, timeout=10)
                )
                if response.status_code < 500:
                    response.raise_for_status()
                    return response.json()
            except httpx.TransportError:
                pass
            time.sleep(1)
        raise RuntimeError(f"GET {path}: the server does not answer")

    def run(self, params: dict[str, Any]) -> str:
        out = self.cli("deployment", "run", "refresh/on-demand", "--params", json.dumps(params))
        return next(line.split()[-1] for line in out.splitlines() if "UUID" in line)

    def state(self, run_id: str) -> str:
        return str(self.get(f"/flow_runs/{run_id}")["state"]["type"])

    def wait(self, run_ids: list[str], timeout: float = 900) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = {r: self.state(r) for r in run_ids}
            if all(s in FINAL for s in states.values()):
                return states
            time.sleep(2)
        return {r: self.state(r) for r in run_ids}

    def running(self) -> list[str]:
        runs = self.get("/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}}})
        return [r["id"] for r in runs]


def wait_mid_verify(data_root: Path, timeout: float = 600) -> Path:
    """The run folder once its first candidate shard has a verdict file (verification started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in (data_root / "runs").glob("*"):
            if list(run.glob("verdicts/shard-*.parquet")):
                return run
        time.sleep(0.1)
    raise RuntimeError(f"{data_root}: verification never started")


def processes_below(pids: list[int], needle: bytes) -> list[int]:
    found = []
    for root in pids:
        for pid in descendants(root):
            try:
                if needle in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
            except OSError:
                continue
    return found


def dataset_rows(data_root: Path) -> tuple[Counter[str], str | None]:
    """Rows per sample id of the newest finished run's dataset, and its content hash."""
    done = []
    for run in (data_root / "runs").glob("*"):
        manifest = run / "dataset" / "manifest.json"
        if manifest.exists():
            done.append((manifest.stat().st_mtime, run))
    if not done:
        return Counter(), None
    run = max(done)[1]
    rows: Counter[str] = Counter()
    for part in (run / "dataset" / "flat").glob("*.parquet"):
        rows.update(pl.read_parquet(part, columns=["id"])["id"].to_list())
    return rows, json.loads((run / "dataset" / "manifest.json").read_text())["content_hash"]


def compare(reference: Counter[str], got: Counter[str]) -> tuple[int, int]:
    lost = sum(max(0, n - got.get(i, 0)) for i, n in reference.items())
    repeated = sum(max(0, n - reference.get(i, 0)) for i, n in got.items())
    return lost, repeated


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=600)
    parser.add_argument("--shard-size", type=int, default=50)
    parser.add_argument("--cap", type=int, default=6, help="teacher.shared_concurrency (the global cap)")
    parser.add_argument("--only", default="concurrent,worker,sandbox,server,postgres")
    args = parser.parse_args()
    pg = LocalPostgres.find()
    if pg is None:
        print(f"SKIPPED: {LocalPostgres.missing}")
        return 0
    work = Path(tempfile.mkdtemp(prefix="callforge-faults-"))
    scenarios = [s for s in args.only.split(",") if s]
    results: list[dict[str, Any]] = []
    os.environ["CALLFORGE_TEACHER_API_KEY"] = "sk-loopback"
    teacher = TeacherServer(latency_s=0.05, faults=every_nth("429", 25, retry_after="1"), keep_bodies=False)
    with pg.started(work / "pg"), teacher:
        stack = Stack(work / "home", pg, pg.create_database("prefect", "prefect", "bench"))
        (work / "home").mkdir()
        stack.start_server()
        try:
            for pool in ("callforge-data", "callforge-gpu"):
                stack.cli("work-pool", "create", pool, "--type", "process")
            stack.cli("--no-prompt", "deploy", "--all")
            stack.cli("automation", "create", "--from-file", "prefect.yaml")
            stack.start_worker()
            stack.start_worker()
            shared_cache = work / "teacher-cache"

            def params(root: Path, cache: Path = shared_cache) -> dict[str, Any]:
                settings = {
                    "generate": {
                        "plan": {"shard_size": args.shard_size, "seed": 0},
                        "teacher": {
                            "model": "loopback", "base_url": teacher.base_url, "concurrency": 16,
                            "shared_concurrency": args.cap, "cache_dir": str(cache),
                        },
                    },
                    "verifiers": ["format", "execution", "dedup"],
                    "task_runner": {"kind": "threads", "max_workers": 2},
                    "shard_retry_delays_s": [5, 15],
                }  # fmt: skip
                return {"data_root": str(root), "limit": args.limit, "settings": settings, "train": False}

            started = time.perf_counter()
            ref_root = work / "reference"
            states = stack.wait([stack.run(params(ref_root))])
            reference, ref_hash = dataset_rows(ref_root)
            ref_peak = teacher.log.max_in_flight
            print(f"reference: {list(states.values())}, {sum(reference.values())} rows, "
                  f"{len(reference)} samples, {time.perf_counter() - started:.0f} s, peak teacher requests in flight "
                  f"{ref_peak}/{args.cap}")  # fmt: skip

            faults: dict[str, Callable[[Path], str]] = {
                "worker": lambda root: kill(processes_below([w.pid for w in stack.workers], b"prefect.engine")
                                            , stack, worker=True),
                "sandbox": lambda root: kill(processes_below([w.pid for w in stack.workers], b"verifiers.sandbox"),
                                             stack),
                "server": lambda root: restart_server(stack),
                "postgres": lambda root: (pg.restart(10), "PostgreSQL down 10 s")[1],
            }  # fmt: skip
            for name in scenarios:
                root = work / name
                teacher.reset()
                t0 = time.perf_counter()
                if name == "concurrent":
                    ids = [stack.run(params(root, root / "cache")), stack.run(params(root, root / "cache"))]
                    states = stack.wait(ids)
                    note, resumed = "two runs at once", False
                    rows = [dataset_rows_of(run) for run in sorted((root / "runs").glob("*"))]
                else:
                    first = stack.run(params(root))
                    wait_mid_verify(root)
                    note = faults[name](root)
                    # a killed flow stays Running until the crash automation marks it (heartbeats stop)
                    states = stack.wait([first], timeout=DETECTION_S + 120)
                    resumed = states[first] != "COMPLETED"
                    if resumed:
                        states.update(stack.wait([stack.run(params(root))]))
                    rows = [dataset_rows(root)]
                for got, content in rows:
                    lost, repeated = compare(reference, got)
                    results.append({
                        "fault": name, "note": note, "states": sorted(states.values()), "resumed": resumed,
                        "lost": lost, "repeated": repeated, "equal": content == ref_hash,
                        "peak": teacher.log.max_in_flight, "seconds": round(time.perf_counter() - t0),
                    })  # fmt: skip
                    print(json.dumps(results[-1]), flush=True)
            deadline = time.monotonic() + DETECTION_S
            while stack.running() and time.monotonic() < deadline:
                time.sleep(5)
            left_running = stack.running()
        finally:
            stack.stop_workers()
            stack.stop_server()
    print()
    print(f"{'fault':<11} {'lost':>5} {'repeated':>9} {'dataset = reference':>20} {'peak/cap':>9}  states")
    for r in results:
        print(f"{r['fault']:<11} {r['lost']:>5} {r['repeated']:>9} {('yes' if r['equal'] else 'NO'):>20} "
              f"{r['peak']:>4}/{args.cap:<4}  {','.join(r['states'])}{' (+resume)' if r['resumed'] else ''}")  # fmt: skip
    print(f"runs left Running {DETECTION_S} s after the last fault: {len(left_running)} {left_running}")
    ok = (
        all(r["lost"] == 0 and r["repeated"] == 0 and r["peak"] <= args.cap for r in results)
        and not left_running
    )
    print(f"goal (0 lost, 0 repeated, 0 Running, peak <= cap): {'met' if ok else 'NOT MET'}")
    return 0


def dataset_rows_of(run: Path) -> tuple[Counter[str], str | None]:
    rows: Counter[str] = Counter()
    for part in (run / "dataset" / "flat").glob("*.parquet"):
        rows.update(pl.read_parquet(part, columns=["id"])["id"].to_list())
    manifest = run / "dataset" / "manifest.json"
    return rows, json.loads(manifest.read_text())["content_hash"] if manifest.exists() else None


def kill(pids: list[int], stack: Stack, *, worker: bool = False) -> str:
    """SIGKILL ``pids`` (with ``worker``: also the workers above them, then start replacements)."""
    victims = list(pids)
    if worker:
        victims += [w.pid for w in stack.workers if any(p in descendants(w.pid) for p in pids)]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    if worker:
        for w in stack.workers:
            if w.pid in victims:
                w.wait(10)
        stack.workers = [w for w in stack.workers if w.poll() is None]
        stack.start_worker()
    return f"SIGKILL {victims}"


def restart_server(stack: Stack) -> str:
    stack.stop_server()
    time.sleep(5)
    stack.start_server()
    return "Prefect server down 5 s"


if __name__ == "__main__":
    sys.exit(main())
