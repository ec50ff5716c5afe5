"""The teacher path under real failure: the real openai client against the loopback fault server.

Each test breaks one guarantee a naive implementation would miss: a reply that crashes the parser,
a bad reply served again from the cache, a fixed URL that plans nothing, a dead endpoint that exits 0,
a failure record that outlives its item's success. Items lost and repeated requests are counted on
the server's side.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from flows.cli import main
from generators.cache import REJECTED_KEEP_CHARS, ResponseCache
from generators.config import GenerateConfig, PlanConfig, TeacherConfig
from generators.pipeline import generate
from generators.plan import build_plan
from schemas import shards
from schemas.catalog import Catalog
from tests.generators.teacher_server import (
    DEEP_LEVELS,
    HUGE_CHARS,
    Fault,
    RequestInfo,
    TeacherServer,
    always,
    every_nth,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-failure-canary-4410"
LIMIT = 12


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLFORGE_TEACHER_API_KEY", SECRET)


@pytest.fixture
def catalog_dir(catalog: Catalog, tmp_path: Path) -> Path:
    return catalog.save(tmp_path / "catalog")


def dead_url() -> str:
    """A loopback URL nothing listens on (the port was just free)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def cli(
    capsys: pytest.CaptureFixture[str], catalog_dir: Path, out: Path, url: str, *extra: str
) -> tuple[int, str]:
    code = main(
        [
            "generate", "--catalog", str(catalog_dir), "--out", str(out), "--no-progress",
            "--teacher-model", "loopback", "--teacher-base-url", url, "--limit", str(LIMIT),
            "--shard-size", "6", "--cache-dir", str(out.parent / "cache"), *extra,
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def records(out: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """(work-item ids with a sample, failure records) over every shard of a run."""
    samples = [
        s.provenance.work_item or ""
        for p in sorted((out / "candidates").glob("shard-*.parquet"))
        for s in shards.read_samples(p)
    ]
    failures = [
        f for p in sorted((out / "candidates").glob("failures-*.parquet")) for f in shards.read_failures(p)
    ]
    return samples, failures


def plan_ids(out: Path) -> list[str]:
    return [
        line.split('"id":"')[1].split('"')[0]
        for line in (out / "plan" / "items.jsonl").read_text().splitlines()
    ]


def assert_one_record_per_item(out: Path) -> None:
    samples, failures = records(out)
    recorded = samples + [f["item_id"] for f in failures]
    assert sorted(recorded) == sorted(plan_ids(out)), "an item is lost or recorded twice"


# ------------------------------------------------------------------------------- 1. total parsing


def test_a_deep_and_a_huge_reply_cost_their_items_and_nothing_else(
    server: TeacherServer, catalog: Catalog, tmp_path: Path
) -> None:
    items = build_plan(catalog, PlanConfig(seed=5))[:10]
    kinds = {0: "deep", 1: "huge"}
    server.reset(faults=lambda info: Fault(kinds.get(info.index, "ok")))
    teacher = TeacherConfig(model="loopback", base_url=server.base_url, cache_dir=tmp_path / "cache")
    result = generate(items, catalog, GenerateConfig(teacher=teacher))
    assert sorted(f["code"] for f in result.failures) == ["too_deep", "too_large"]
    assert len(result.samples) == len(items) - 2 and server.log.chat_requests == len(items)
    by_code = {f["code"]: f for f in result.failures}
    assert f"{DEEP_LEVELS + 1} levels" in by_code["too_deep"]["message"]
    assert f"{HUGE_CHARS:,} characters" in by_code["too_large"]["message"]
    # Kept apart for diagnosis (the huge one by its head only), never served again.
    cache = ResponseCache(tmp_path / "cache")
    kept = {r.reason: r for r in (cache.rejected(p.stem) for p in cache.root.glob("rejected/*/*.json")) if r}
    assert set(kept) == {"too_deep", "too_large"}
    assert kept["too_large"].chars == HUGE_CHARS and len(kept["too_large"].text) == REJECTED_KEEP_CHARS
    assert kept["too_deep"].text.count("[") == DEEP_LEVELS
    assert len(cache) == len(items) - 2


def test_a_deep_reply_through_the_cli_exits_non_zero_without_a_traceback(
    server: TeacherServer,
    catalog_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.reset(faults=always("deep"))
    code, printed = cli(capsys, catalog_dir, tmp_path / "run", server.base_url)
    gc.collect()  # an unclosed client session is reported when it is collected
    logged = printed + caplog.text
    assert code == 1 and "Traceback" not in logged and "Unclosed" not in logged
    assert f"nothing was generated: all {LIMIT} item(s) failed" in printed and "too_deep" in printed
    assert_one_record_per_item(tmp_path / "run")


# ------------------------------------------------------------------ 2. the cache never poisons a rerun


def test_retry_failed_asks_again_for_bad_replies_instead_of_replaying_them(
    server: TeacherServer, catalog_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    server.reset(faults=every_nth("malformed_json", 3))
    code, _ = cli(capsys, catalog_dir, out, server.base_url, "--max-failure-share", "0.5")
    bad = {f["item_id"] for f in records(out)[1]}
    assert code == 0 and len(bad) == LIMIT // 3 and server.log.chat_requests == LIMIT

    server.reset(faults=always("ok"))
    code, printed = cli(capsys, catalog_dir, out, server.base_url)  # without --retry-failed: settled
    assert code == 0 and server.log.chat_requests == 0 and f"({LIMIT} already generated)" in printed

    code, printed = cli(capsys, catalog_dir, out, server.base_url, "--retry-failed")
    assert code == 0 and server.log.chat_requests == len(bad) and '"cache_hits": 0' in printed
    samples, failures = records(out)
    assert failures == [] and sorted(samples) == sorted(plan_ids(out))  # the failures were superseded

    code, _ = cli(capsys, catalog_dir, out, server.base_url, "--retry-failed")
    assert code == 0 and server.log.chat_requests == len(bad)  # nothing left to ask


def test_a_bad_reply_already_in_the_cache_is_moved_aside_on_first_read(
    server: TeacherServer, catalog: Catalog, tmp_path: Path
) -> None:
    """A cache written before replies were judged (or by another tool) holds a bad answer."""
    items = build_plan(catalog, PlanConfig(seed=9))[:6]
    config = GenerateConfig(
        teacher=TeacherConfig(model="loopback", base_url=server.base_url, cache_dir=tmp_path)
    )
    generate(items, catalog, config)
    poisoned = sorted(tmp_path.glob("??/*.json"))[0]
    entry = json.loads(poisoned.read_text())
    poisoned.write_text(json.dumps({**entry, "text": "Sure! " + entry["text"][:20]}))
    server.reset()
    first = generate(items, catalog, config)
    assert [(f["code"], f["details"]["cached"]) for f in first.failures] == [("malformed_json", True)]
    assert server.log.chat_requests == 0 and not poisoned.exists()
    second = generate(items, catalog, config)
    assert second.failures == [] and server.log.chat_requests == 1  # asked afresh, once


# ---------------------------------------------------------------------------- 3. retry semantics


def test_fixing_the_base_url_retries_what_never_got_an_answer(
    server: TeacherServer, catalog_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code, printed = cli(capsys, catalog_dir, out, dead_url())
    assert code == 1 and "looks unreachable" in printed
    assert {f["code"] for f in records(out)[1]} <= {"teacher_error_connection", "teacher_circuit_open"}
    code, printed = cli(capsys, catalog_dir, out, server.base_url)  # the same command, the URL fixed
    assert code == 0 and "(0 already generated)" in printed and server.log.chat_requests == LIMIT
    samples, failures = records(out)
    assert failures == [] and sorted(samples) == sorted(plan_ids(out))


def test_transient_failures_are_retried_by_default_and_superseded(
    server: TeacherServer, catalog_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    server.reset(faults=every_nth("500", 2))
    code, _ = cli(capsys, catalog_dir, out, server.base_url, "--config", str(_config(tmp_path, max_retries=0)),
                  "--max-failure-share", "0.6")  # fmt: skip
    assert code == 0 and {f["code"] for f in records(out)[1]} == {"teacher_http_500"}
    failed = len(records(out)[1])
    server.reset(faults=always("ok"))
    code, _ = cli(capsys, catalog_dir, out, server.base_url)
    assert code == 0 and server.log.chat_requests == failed  # only the failed ones, answered ones cached
    assert records(out)[1] == [] and len(records(out)[0]) == LIMIT
    assert_one_record_per_item(out)


def test_a_retried_item_that_fails_again_keeps_one_record(
    server: TeacherServer, catalog_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    server.reset(faults=always("wrong_shape"))
    cli(capsys, catalog_dir, out, server.base_url)
    cli(capsys, catalog_dir, out, server.base_url, "--retry-failed")
    cli(capsys, catalog_dir, out, server.base_url, "--retry-failed")
    assert server.log.chat_requests == 3 * LIMIT  # each retry really asked
    assert len(records(out)[1]) == LIMIT
    assert_one_record_per_item(out)


def _config(tmp_path: Path, **teacher: Any) -> Path:
    import yaml

    path = tmp_path / "generate.yaml"
    path.write_text(yaml.safe_dump({"teacher": {"backoff_base_s": 0.01, **teacher}}), "utf-8")
    return path


# ------------------------------------------------------------------------------------ 4. fail fast


def test_a_base_url_that_is_not_a_url_fails_before_any_request(
    catalog_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.perf_counter()
    code, printed = cli(capsys, catalog_dir, tmp_path / "run", "not-a-url")
    assert code == 1 and "teacher.base_url" in printed and "'not-a-url'" in printed
    assert time.perf_counter() - started < 2 and not (tmp_path / "run" / "candidates").exists()


def test_an_unreachable_endpoint_stops_the_run_at_once(
    catalog_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.perf_counter()
    code, printed = cli(capsys, catalog_dir, tmp_path / "run", dead_url(), "--concurrency", "2")
    elapsed = time.perf_counter() - started
    # Without the breaker: 5 retries with backoff per item (about 15 s of sleeping per item here).
    assert code == 1 and elapsed < 5, elapsed
    assert "looks unreachable (8 connection failures in a row" in printed
    samples, failures = records(tmp_path / "run")
    assert samples == [] and len(failures) == 6  # the first shard; the second was never started
    assert len(list((tmp_path / "run" / "candidates").glob("shard-*.parquet"))) == 1


@pytest.mark.parametrize("status", ["401", "403"])
def test_rejected_credentials_stop_the_run_at_the_first_answer(
    server: TeacherServer,
    catalog_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    status: str,
) -> None:
    server.reset(faults=always(status))
    code, printed = cli(capsys, catalog_dir, tmp_path / "run", server.base_url, "--concurrency", "2")
    assert code == 1 and f"refused the credentials (HTTP {status})" in printed
    assert "CALLFORGE_TEACHER_API_KEY" in printed and SECRET not in printed
    assert server.log.chat_requests <= 2  # only those already in flight
    assert {f["code"] for f in records(tmp_path / "run")[1]} == {
        f"teacher_http_{status}",
        "teacher_circuit_open",
    }


@pytest.mark.parametrize(("share", "exit_code"), [(None, 1), ("0.6", 0)])
def test_too_many_failures_fail_the_command(
    server: TeacherServer,
    catalog_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    share: str | None,
    exit_code: int,
) -> None:
    server.reset(faults=every_nth("wrong_shape", 2))
    extra = ("--max-failure-share", share) if share else ()
    code, printed = cli(capsys, catalog_dir, tmp_path / "run", server.base_url, "--concurrency", "1", *extra)
    assert code == exit_code
    assert ("6 of 12 item(s) failed (50%), more than the allowed 25%" in printed) == (exit_code == 1)
    assert_one_record_per_item(tmp_path / "run")


def test_a_flaky_server_that_drops_connections_does_not_trip_the_breaker(
    server: TeacherServer, catalog: Catalog
) -> None:
    """Dropped connections come from a server that is there: retried, not a reason to stop."""
    items = build_plan(catalog, PlanConfig(seed=3))[:20]

    def drops(info: RequestInfo) -> Fault:
        return Fault("drop" if info.attempt <= 2 else "ok")

    server.reset(faults=drops)
    teacher = TeacherConfig(
        model="loopback", base_url=server.base_url, backoff_base_s=0.01, breaker_failures=3
    )
    result = generate(items, catalog, GenerateConfig(teacher=teacher))
    assert result.failures == [] and result.stats["teacher"]["circuit_open"] is None


# ------------------------------------------------------------------------------------- 6. quiet logs


@pytest.mark.parametrize(("flags", "shown"), [((), False), (("-v",), True)])
def test_http_request_lines_only_with_verbose(
    server: TeacherServer,
    catalog_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    flags: tuple[str, ...],
    shown: bool,
) -> None:
    caplog.set_level(0)
    main([*flags, "generate", "--catalog", str(catalog_dir), "--out", str(tmp_path / "run"), "--no-progress",
          "--teacher-model", "loopback", "--teacher-base-url", server.base_url, "--limit", "2"])  # fmt: skip
    http_lines = [
        r for r in caplog.records if r.name.split(".")[0] in ("httpx", "httpx2", "httpcore", "openai")
    ]
    assert bool(http_lines) == shown


# -------------------------------------------------------------------------------- kill and resume


@pytest.mark.slow
def test_a_killed_run_resumes_without_losing_items_or_asking_twice(
    server: TeacherServer, catalog_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, cache_dir = tmp_path / "run", tmp_path / "cache"
    server.latency_s = 0.1
    argv = [sys.executable, "-m", "flows.cli", "generate", "--catalog", str(catalog_dir), "--out", str(out),
            "--no-progress", "--teacher-model", "loopback", "--teacher-base-url", server.base_url,
            "--limit", "16", "--shard-size", "4", "--concurrency", "2", "--cache-dir", str(cache_dir)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (out / "candidates" / "shard-00001.parquet").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.15)  # into the third shard: some of its answers cached, none of it written
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert (out / "candidates" / "shard-00001.parquet").exists()
    answered = len(ResponseCache(cache_dir))
    generated = len(records(out)[0])
    assert generated < 16 and answered >= generated

    server.reset()
    server.latency_s = 0.0
    code, printed = cli(capsys, catalog_dir, out, server.base_url, "--limit", "16", "--shard-size", "4")
    assert code == 0
    assert server.log.chat_requests == 16 - answered  # nothing answered before the kill is asked again
    assert f'"cache_hits": {answered - generated}' in printed
    samples, failures = records(out)
    assert failures == [] and sorted(samples) == sorted(plan_ids(out))  # no item lost, none twice
