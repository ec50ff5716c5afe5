"""Teacher client and offline generator speed, against baselines measured in the same run.

    .venv/bin/python benchmarks/teacher.py            # ~1 minute
    .venv/bin/python benchmarks/teacher.py --quick    # fewer requests and samples

1. Zero-latency loopback teacher (its own process, so its CPU is not ours): requests/s and client CPU
   per request of ``OpenAITeacher.complete`` (openai client, retries, stats; cache off), against a bare
   ``httpx2`` POST + ``json.loads`` of the same requests as the floor. Target: <= 2 ms CPU per request.
   Both transports when aiohttp is installed.
2. 200 ms latency, concurrency 64: achieved throughput as a fraction of the ideal 64 / 0.2 = 320
   requests/s, side by side against one server process in alternating rounds: the bare httpx2 client
   (what this machine allows right now) and ``OpenAITeacher`` on httpx and on aiohttp (when
   installed). Target: >= 80% of ideal with <= 1 ms client CPU per request.
3. The offline generator over the GEN NX catalog (ingested from ``specs/gennx`` when present, else the
   test fixture catalog): samples/s, by wall clock and by this process's CPU time (the honest figure on
   a shared machine), against ``Sample.create`` alone on the same samples. Target: >= 5,000 samples/s.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402

from generators.config import PlanConfig, TeacherConfig  # noqa: E402
from generators.offline import OfflineGenerator  # noqa: E402
from generators.plan import build_plan  # noqa: E402
from generators.teacher import OpenAITeacher  # noqa: E402
from schemas.catalog import Catalog  # noqa: E402
from schemas.models import Sample  # noqa: E402

SERVER = ROOT / "tests" / "generators" / "teacher_server.py"


class LoopbackProcess:
    """``tests/generators/teacher_server.py`` in a subprocess; reports its own CPU via GET /stats."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s

    def __enter__(self) -> LoopbackProcess:
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), "--latency", str(self.latency_s)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"loopback server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        return self

    def stats(self) -> dict[str, Any]:
        return httpx2.get(f"http://127.0.0.1:{self.port}/stats").json()

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _messages(i: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You write training data for function calling."},
        {"role": "user", "content": f"Request {i}. Target calls in order: []\nLanguage: en"},
    ]


async def _teacher_run(
    base_url: str, n: int, concurrency: int, backend: str
) -> tuple[float, float, dict[str, Any]]:
    config = TeacherConfig(
        model="loopback", base_url=base_url, concurrency=concurrency, max_retries=0, http_backend=backend
    )
    async with OpenAITeacher(config, prompt_version="bench") as teacher:
        await asyncio.gather(*(teacher.complete(_messages(-1 - i)) for i in range(concurrency)))  # warm up
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(teacher.complete(_messages(i), seed=i) for i in range(n)))
        return time.perf_counter() - wall, time.process_time() - cpu, teacher.stats.as_dict()


async def _bare_run(base_url: str, n: int, concurrency: int) -> tuple[float, float]:
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx2.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:

        async def one(i: int) -> None:
            async with semaphore:
                response = await client.post(
                    "/chat/completions", json={"model": "loopback", "messages": _messages(i), "seed": i}
                )
                json.loads(response.content)["choices"][0]["message"]["content"]

        await asyncio.gather(*(one(-1 - i) for i in range(concurrency)))
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - wall, time.process_time() - cpu


def bench_zero_latency(n: int, backend: str) -> None:
    with LoopbackProcess(0.0) as server:
        bare_wall, bare_cpu = asyncio.run(_bare_run(server.base_url, n, 64))
        before = server.stats()
        wall, cpu, stats = asyncio.run(_teacher_run(server.base_url, n, 64, backend))
        server_cpu = server.stats()["cpu_s"] - before["cpu_s"]
    per_request_ms = cpu / n * 1000
    print(f"[zero latency, concurrency 64, {n} requests, http backend {backend}]")
    print(f"  bare httpx2 baseline : {n / bare_wall:8.0f} req/s  client CPU {bare_cpu / n * 1000:.3f} ms/req")
    print(f"  OpenAITeacher        : {n / wall:8.0f} req/s  client CPU {per_request_ms:.3f} ms/req"
          f"  (server CPU {server_cpu / n * 1000:.3f} ms/req, not counted)")  # fmt: skip
    print(
        f"  client CPU vs baseline: {per_request_ms / (bare_cpu / n * 1000):.2f}x;"
        f" target <= 2 ms/req: {'PASS' if per_request_ms <= 2.0 else 'FAIL'}"
    )
    print(
        f"  teacher stats: requests {stats['requests']}, failures {stats['failures']}, p50 {stats['latency_p50_s']} s"
    )


def bench_latency(n: int, backends: list[str], latency_s: float = 0.2, concurrency: int = 64) -> None:
    """Side by side in one run, against one server process: the bare client (the floor on this
    machine, now) and OpenAITeacher on each transport, in alternating rounds so load changes hit
    every client alike."""
    ideal = concurrency / latency_s
    rounds = 3
    runs: dict[str, list[tuple[float, float]]] = {"bare httpx2 (floor)": []}
    runs |= {f"OpenAITeacher, {b}": [] for b in backends}
    p95: dict[str, float | None] = {}
    with LoopbackProcess(latency_s) as server:
        for _ in range(rounds):
            runs["bare httpx2 (floor)"].append(asyncio.run(_bare_run(server.base_url, n, concurrency)))
            for backend in backends:
                wall, cpu, stats = asyncio.run(_teacher_run(server.base_url, n, concurrency, backend))
                runs[f"OpenAITeacher, {backend}"].append((wall, cpu))
                p95[f"OpenAITeacher, {backend}"] = stats["latency_p95_s"]
    print(f"[{latency_s * 1000:.0f} ms latency, concurrency {concurrency}: ideal {ideal:.0f} req/s; "
          f"{rounds} alternating rounds of {n} requests, the median round shown]")  # fmt: skip
    print(f"  {'client':<28} {'req/s':>7} {'of ideal':>9} {'CPU ms/req':>11} {'p95 s':>7}")
    floor_rate = 0.0
    verdicts = []
    for name, results in runs.items():
        wall, cpu = sorted(results)[len(results) // 2]
        rate = n / wall
        floor_rate = floor_rate or rate
        cpu_ms = cpu / n * 1000
        print(f"  {name:<28} {rate:7.0f} {rate / ideal:9.1%} {cpu_ms:11.3f} {p95.get(name) or '':>7}")
        if name in p95:
            ok = rate / ideal >= 0.8 and cpu_ms <= 1.0
            verdicts.append(f"{name}: {'PASS' if ok else 'FAIL'} ({rate / floor_rate:.2f}x the floor's rate)")
    print("  target >= 80% of ideal and <= 1 ms client CPU per request: " + "; ".join(verdicts))


def _catalog() -> tuple[Catalog, str]:
    spec, tiers = ROOT / "specs" / "gennx" / "openapi.yaml", ROOT / "specs" / "gennx" / "tiers.yaml"
    try:
        from schemas.openapi import ingest

        if spec.exists():
            return ingest(
                [spec], naming="snake", tier_rules=tiers if tiers.exists() else None
            ).catalog, "GEN NX"
    except ImportError:
        pass
    from tests.generators.catalog_fixtures import fixture_catalog

    return fixture_catalog(), "fixture"


def bench_offline(limit: int | None) -> None:
    catalog, name = _catalog()
    items = build_plan(catalog, PlanConfig(seed=1))[:limit]
    cold_cpu, cold_wall = time.process_time(), time.perf_counter()
    generator = OfflineGenerator(catalog)
    samples, failures = generator.generate(items)  # compiles each tool's sampler once
    cold_wall, cold_cpu = time.perf_counter() - cold_wall, time.process_time() - cold_cpu
    cpu, wall = time.process_time(), time.perf_counter()
    samples, failures = generator.generate(items)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    fields = [s.model_dump(exclude={"id"}) for s in samples]
    base_cpu = time.process_time()
    for f in fields:
        Sample.create(**f)
    base_cpu = time.process_time() - base_cpu
    rate_cpu, rate_wall = len(items) / cpu, len(items) / wall
    print(
        f"[offline generator, {name} catalog: {len(catalog)} tools, {len(items)} items, {len(failures)} failures]"
    )
    print(f"  first pass (compiles samplers): {len(items) / cold_wall:8.0f} samples/s wall, "
          f"{len(items) / cold_cpu:8.0f} by CPU")  # fmt: skip
    print(f"  compiled                      : {rate_wall:8.0f} samples/s wall, {rate_cpu:8.0f} by CPU")
    print(f"  Sample.create alone (floor)   : {len(fields) / base_cpu:8.0f} samples/s by CPU; "
          f"generator costs {(cpu / len(items)) / (base_cpu / len(fields)):.1f}x the floor")  # fmt: skip
    print(f"  target >= 5,000 samples/s: {'PASS' if rate_cpu >= 5000 else 'FAIL'} by CPU, "
          f"{'PASS' if rate_wall >= 5000 else 'FAIL'} by wall (load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and samples")
    parser.add_argument("--part", choices=["zero", "latency", "offline"], help="run one part only")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    backends = ["httpx"] + (["aiohttp"] if importlib.util.find_spec("aiohttp") else [])
    if args.part in (None, "zero"):
        for backend in backends:
            bench_zero_latency(1000 if args.quick else 3000, backend)
    if args.part in (None, "latency"):
        bench_latency(640 if args.quick else 1920, backends)
    if args.part in (None, "offline"):
        bench_offline(3000 if args.quick else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
