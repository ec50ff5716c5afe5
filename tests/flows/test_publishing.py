"""Publishing through ``refresh``: one dataset per spec, nothing new for an unchanged or limited run.

Four light refreshes on one data root (format verifier only, no sandbox), in this order:

1. the small spec with ``limit``, on the empty data root: writes its run's dataset (new samples a
   full run would publish) but publishes nothing and emits nothing;
2. the small spec, a full run: publishes dataset ``mini`` (a first version, an event);
3. another spec (the public petstore sample), limited but asked to publish: dataset ``readme-2``;
4. the small spec again, unchanged: the same version, ``LATEST`` untouched, no event. Run after (3), it
   also shows that another spec's refresh retired none of this spec's samples.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter

from flows.refresh import refresh
from trainer.dataset.store import DatasetVersions

PETSTORE = Path(__file__).resolve().parents[1] / "data" / "specs" / "readme_2.0_petstore.json"
OTHER = "readme-2"  # flows.config.spec_slug of the file name
LIGHT = {"verifiers": ["format"], "sandbox": False}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(prefect_server: None, tmp_path_factory: pytest.TempPathFactory, mini_kwargs: dict) -> dict[str, Any]:
    """Four refreshes (limited, first, another spec, again), shared by every test of the module: what is
    published depends on the order of runs over one data root, so they cannot be split up."""
    root = tmp_path_factory.mktemp("publishing") / "data"
    mini = {**mini_kwargs, "data_root": str(root), "settings": {**mini_kwargs["settings"], **LIGHT}}
    out: dict[str, Any] = {"root": root}
    out["limited"] = refresh(**{**mini, "limit": 5})
    out["datasets_after_limited"] = sorted(p.name for p in (root / "datasets").glob("*"))
    out["first"] = refresh(**mini)
    latest = root / "datasets" / "mini" / "LATEST"
    out["latest_stamp"] = latest.stat().st_mtime_ns
    out["other"] = refresh(
        spec=str(PETSTORE), data_root=str(root), limit=6, publish=True, settings=mini["settings"]
    )
    out["again"] = refresh(**mini)
    out["latest_stamp_after"] = latest.stat().st_mtime_ns
    return out


def _published_runs() -> list[str]:
    async def read() -> list[Any]:
        async with get_client() as client:
            page = await client.read_events(
                filter=EventFilter(event=EventNameFilter(name=["callforge.dataset.published"])), limit=50
            )
        return page.events

    return [e.payload.get("run_name") for e in asyncio.run(read())]


def test_each_spec_publishes_its_own_dataset(runs: dict[str, Any]) -> None:
    datasets = runs["root"] / "datasets"
    assert sorted(p.name for p in datasets.iterdir()) == sorted(["mini", OTHER])
    assert DatasetVersions(datasets / "mini").latest() == runs["first"]["assemble"]["version"]
    assert DatasetVersions(datasets / OTHER).latest() == runs["other"]["assemble"]["version"]


def test_an_unchanged_rerun_adds_no_version(runs: dict[str, Any]) -> None:
    first, again = runs["first"]["assemble"], runs["again"]["assemble"]
    assert (first["publication"], again["publication"]) == ("new", "unchanged")
    assert again["version"] == first["version"]
    assert DatasetVersions(runs["root"] / "datasets" / "mini").versions() == [first["version"]]
    assert runs["latest_stamp_after"] == runs["latest_stamp"]


def test_an_unchanged_rerun_says_so_in_its_report(runs: dict[str, Any]) -> None:
    report = Path(runs["again"]["report"]).read_text("utf-8")
    assert "unchanged: the same content as LATEST, nothing published" in report
    assert "## Changes since the previous version" in report


def test_a_limited_run_publishes_nothing(runs: dict[str, Any]) -> None:
    limited = runs["limited"]
    assert limited["generate"]["samples"] > 0  # it made new samples: what a full run would publish
    assert limited["assemble"]["publication"] == "off" and limited["assemble"]["version_dir"] is None
    assert Path(limited["dataset_dir"], "manifest.json").is_file()  # the run's own dataset is written
    assert runs["datasets_after_limited"] == []


def test_only_new_versions_emit_the_event_the_fine_tune_follows(runs: dict[str, Any]) -> None:
    expected = {runs["first"]["run_name"], runs["other"]["run_name"]}
    deadline = time.monotonic() + 20  # events reach the server's event store asynchronously
    while not expected <= set(seen := _published_runs()) and time.monotonic() < deadline:
        time.sleep(0.5)
    mine = {runs[k]["run_name"] for k in ("first", "other", "again", "limited")}
    assert sorted(r for r in seen if r in mine) == sorted(expected)
