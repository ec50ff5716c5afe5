"""One teacher limit for every shard and run: Prefect global concurrency limits and a shared hold-off."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from flows.refresh import refresh
from flows.teacher_limit import HoldOff, endpoint_slug, limit_names, teacher_gate
from generators.config import TeacherConfig
from tests.generators.teacher_server import TeacherServer


@pytest.mark.parametrize(
    ("base_url", "slug"),
    [
        (None, "api-openai-com"),
        ("http://10.0.0.5:8000/v1", "10-0-0-5-8000-v1"),
        ("https://gw.example/x", "gw-example-x"),
    ],
)
def test_one_limit_name_per_endpoint(base_url: str | None, slug: str) -> None:
    config = TeacherConfig(model="m", base_url=base_url)
    assert endpoint_slug(config) == slug
    assert limit_names(config) == (f"callforge-teacher-{slug}-inflight", f"callforge-teacher-{slug}-rate")


def test_no_shared_limit_no_gate() -> None:
    assert teacher_gate(TeacherConfig(model="m")) is None
    assert teacher_gate(TeacherConfig(shared_concurrency=4)) is None  # offline: no teacher to limit
    assert teacher_gate(TeacherConfig(model="m", requests_per_second=2.0)) is not None


def test_a_hold_off_only_moves_later(tmp_path: Path) -> None:
    hold = HoldOff(tmp_path / ".hold-off")
    assert hold.until() == 0.0
    assert hold.extend(10, now=1000.0) == 1010.0
    assert hold.extend(2, now=1001.0) == 1010.0  # a shorter Retry-After does not shorten it
    assert HoldOff(tmp_path / ".hold-off").until() == 1010.0  # shared through the file
    assert hold.extend(30, now=1001.0) == 1031.0


def test_every_sender_waits_out_a_hold_off(tmp_path: Path) -> None:
    hold = HoldOff(tmp_path / ".hold-off")
    hold.extend(0.4)
    started = time.monotonic()
    asyncio.run(HoldOff(tmp_path / ".hold-off").wait())  # another sender, same file
    assert time.monotonic() - started >= 0.35


@pytest.mark.slow
def test_two_runs_together_never_exceed_the_shared_limit(
    prefect_server: None, mini_kwargs: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two whole refreshes at once, the only way to see limits shared across runs (~15 s of work).

    The rest (33-106 s measured) is Prefect's SQLite test server, not this test's setup: with two runs
    writing, some of its transactions get SQLITE_BUSY, it answers 503 (increment-with-lease, task_runs,
    flow_runs) and Prefect's client backs off 2, 4, 8 s (no Retry-After); and in one run alone (load 0,
    103 s) the log went silent for exactly 60 s, Prefect's SQLite ``busy_timeout`` outside its own
    unit-test mode, before a 503 to increment-with-lease: a write waiting out a lock held elsewhere in
    the server. ``flows.teacher_limit`` says these limits are meant for a PostgreSQL-backed server."""
    from prefect.client.orchestration import get_client

    monkeypatch.setenv("CALLFORGE_TEACHER_API_KEY", "sk-loopback")
    with TeacherServer(latency_s=0.2) as server:
        teacher = {"model": "loopback", "base_url": server.base_url, "shared_concurrency": 3}
        settings = {
            **mini_kwargs["settings"],
            "generate": {**mini_kwargs["settings"]["generate"], "teacher": teacher},
            "verifiers": ["format"],
            "sandbox": False,
        }
        results: dict[str, Any] = {}

        def run(name: str) -> None:
            results[name] = refresh(
                **{**mini_kwargs, "settings": settings, "data_root": str(tmp_path / name)}
            )

        threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        assert set(results) == {"a", "b"}
        # 2 runs x 2 shard workers x 16 per shard could put 24 requests (6 per shard) in flight at once
        assert server.log.max_in_flight == 3
        # one request per work item: the 18 planned in each run, plus the items a top-up round added for
        # tools the loopback teacher's replies left short (flows.top_up)
        items = sum(
            len((Path(out["run_dir"]) / "plan" / "items.jsonl").read_text("utf-8").splitlines())
            for out in results.values()
        )
        assert items >= 36 and server.log.chat_requests == items
    inflight, _ = limit_names(TeacherConfig(**teacher))
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(inflight).limit == 3


def test_the_setup_creates_both_limits_and_a_slot_takes_them(prefect_server: None, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client

    from flows.teacher_limit import ensure_limits

    config = TeacherConfig(
        model="m", base_url="http://10.9.8.7:8000/v1", shared_concurrency=2, requests_per_second=4.0,
        cache_dir=tmp_path,
    )  # fmt: skip
    ensure_limits(config)
    ensure_limits(config.model_copy(update={"shared_concurrency": 3}))  # a changed config updates them
    inflight, rate = limit_names(config)
    with get_client(sync_client=True) as client:
        concurrent, rated = (client.read_global_concurrency_limit_by_name(n) for n in (inflight, rate))
    assert (concurrent.limit, concurrent.slot_decay_per_second) == (3, 0.0)
    assert (rated.limit, rated.slot_decay_per_second) == (4, 4.0)
    gate = teacher_gate(config)
    assert gate is not None

    async def send(times: int) -> None:
        for _ in range(times):
            async with gate.slot():
                pass

    asyncio.run(send(3))
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(inflight).active_slots == 0  # all released
