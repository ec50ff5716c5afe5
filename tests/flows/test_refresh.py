"""``refresh`` end to end on the small spec, and what it leaves on disk and in Prefect.

One refresh per module (a few seconds); each test checks one property of it: the run directory,
the manifest and report, each artifact read back through the Prefect client, the flow-run names and
tags, and the published event.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
)

from flows.refresh import refresh

KEYS = {
    "mini-ingest-summary": "table",
    "mini-generate-progress": "progress",
    "mini-verify-progress": "progress",
    "mini-teacher-stats": "table",
    "mini-verifier-pass-rates": "table",
    "mini-rejection-reasons": "table",
    "mini-verifier-warnings": "table",
    "mini-split-sizes": "table",
    "mini-dataset-changes": "table",
    "mini-run-summary": "markdown",
    "mini-dataset": "markdown",  # Prefect stores a link artifact as markdown `[text](uri)`
}


@pytest.fixture(scope="module")
def finished(
    prefect_server: None, tmp_path_factory: pytest.TempPathFactory, mini_kwargs: dict
) -> dict[str, Any]:
    return refresh(**mini_kwargs, data_root=str(tmp_path_factory.mktemp("refresh") / "data"))


async def _artifacts(flow_run_ids: list[str] | None = None) -> dict[str, Any]:
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=list(KEYS))),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=flow_run_ids)) if flow_run_ids else None,
        )
    latest: dict[str, Any] = {}
    for artifact in sorted(found, key=lambda a: a.created):
        latest[artifact.key] = artifact
    return latest


def _subflow_runs(finished: dict[str, Any]) -> list[Any]:
    async def read() -> list[Any]:
        async with get_client() as client:
            runs = await client.read_flow_runs()
        return [r for r in runs if r.parameters.get("config", {}).get("run_name") == finished["run_name"]]

    return asyncio.run(read())


def _table(artifact: Any) -> list[dict[str, Any]]:
    return json.loads(artifact.data)


def test_every_stage_wrote_its_outputs(finished: dict[str, Any]) -> None:
    run = Path(finished["run_dir"])
    expected = [
        "catalog/catalog.jsonl",
        "catalog/ingest_report.json",
        "plan/items.jsonl",
        "candidates/shard-00000.parquet",
        "verified/shard-00000.parquet",
        "verdicts/shard-00000.parquet",
        "dataset/manifest.json",
        "manifest.json",
        "report.md",
    ]
    assert [p for p in expected if not (run / p).exists()] == []


def test_manifest_records_every_stage_finished(finished: dict[str, Any]) -> None:
    manifest = json.loads((Path(finished["run_dir"]) / "manifest.json").read_text("utf-8"))
    assert {name: bool(stage["finished_at"]) for name, stage in manifest["stages"].items()} == {
        "ingest": True,
        "generate": True,
        "verify": True,
        "assemble": True,
    }
    assert manifest["stages"]["generate"]["counts"]["items"] == 18  # 4 tools x 3 + 2 x 2 + 2 x 1


def test_report_has_sections_and_examples(finished: dict[str, Any]) -> None:
    report = Path(finished["report"]).read_text("utf-8")
    for heading in (
        "## Stages",
        "## Verifier pass rates",
        "## Verifier warnings",
        "## Splits",
        "## Examples",
    ):
        assert heading in report


def test_artifacts_have_the_expected_keys_and_kinds(finished: dict[str, Any]) -> None:
    found = asyncio.run(_artifacts())
    assert {key: a.type for key, a in found.items()} == KEYS


def test_ingest_summary_counts_the_tools(finished: dict[str, Any]) -> None:
    [row] = _table(asyncio.run(_artifacts())["mini-ingest-summary"])
    assert (row["operations"], row["tools"], row["tiers (tools)"]) == (8, 8, "1: 4, 2: 2, 3: 2")


def test_split_sizes_add_up_to_the_dataset(finished: dict[str, Any]) -> None:
    rows = _table(asyncio.run(_artifacts())["mini-split-sizes"])
    assert {r["split"]: r["samples"] for r in rows} == finished["assemble"]["splits"]


def test_pass_rates_cover_each_verifier_per_tier(finished: dict[str, Any]) -> None:
    rows = _table(asyncio.run(_artifacts())["mini-verifier-pass-rates"])
    assert {(r["verifier"], r["tier"]) for r in rows if r["verifier"] == "format"} == {
        ("format", "1"),
        ("format", "2"),
        ("format", "3"),
    }
    assert sum(r["judged"] for r in rows if r["verifier"] == "format") == finished["verify"]["samples"]


def test_progress_artifacts_end_at_100(finished: dict[str, Any]) -> None:
    found = asyncio.run(_artifacts())
    assert [float(found[k].data) for k in ("mini-generate-progress", "mini-verify-progress")] == [
        100.0,
        100.0,
    ]


def test_progress_counts_samples_across_every_shard(finished: dict[str, Any]) -> None:
    found = asyncio.run(_artifacts())
    generate, verify = finished["generate"], finished["verify"]
    assert found["mini-generate-progress"].description == (
        f"generate: 3 of 3 shards, {generate['items']} of {generate['items']} items: "
        f"{generate['samples']} samples, {generate['failures']} failures"
    )
    judged = verify["samples"] + verify["repeated"]
    assert found["mini-verify-progress"].description == (
        f"verify: 3 of 3 shards, {judged} of {judged} samples: "
        f"{verify['accepted']} accepted, {verify['rejected']} rejected"
    )


def test_dataset_link_points_at_the_dataset(finished: dict[str, Any]) -> None:
    artifact = asyncio.run(_artifacts())["mini-dataset"]
    assert Path(finished["dataset_dir"]).as_uri() in artifact.data


def test_run_summary_is_the_report(finished: dict[str, Any]) -> None:
    artifact = asyncio.run(_artifacts())["mini-run-summary"]
    assert f"# callforge run `{finished['run_name']}`" in artifact.data


def test_stage_runs_are_named_and_tagged(finished: dict[str, Any]) -> None:
    runs = {r.name.split("-")[0]: r for r in _subflow_runs(finished)}
    assert set(runs) == {"ingest", "generate", "verify", "assemble"}
    generate = runs["generate"]
    assert generate.name == f"generate-{finished['run_name']}"  # the run folder's name: unique per run
    assert {"stage:generate", "spec:mini", "teacher:offline-templates"} <= set(generate.tags)


def _refresh_run(finished: dict[str, Any]) -> Any:
    async def read() -> list[Any]:
        async with get_client() as client:
            return await client.read_flow_runs()

    [run] = [r for r in asyncio.run(read()) if r.name == finished["run_name"]]
    return run


def test_the_refresh_run_is_named_after_its_folder_and_tagged(finished: dict[str, Any]) -> None:
    run = _refresh_run(finished)
    assert run.name == Path(finished["run_dir"]).name
    assert {"spec:mini", "teacher:offline-templates", "dataset:mini", "publish"} <= set(run.tags)
    assert "limited" not in run.tags


def test_the_refresh_run_carries_its_summary(finished: dict[str, Any]) -> None:
    run = _refresh_run(finished)
    [summary] = asyncio.run(_artifacts([str(run.id)])).values()  # on the parent run, not in a stage
    assert summary.key == "mini-run-summary"
    text = summary.data
    assert text.startswith("**finished in ")
    for heading in (
        "## Stages",
        "## Verifier pass rates",
        "## Top rejection reasons",
        "## Splits",
        "## Changes since the previous version",
        "## Dataset",
    ):
        assert heading in text, heading
    assert str(Path(finished["dataset_dir"])) in text
    assert text == "**" + text.split("**")[1] + "**\n\n" + Path(finished["report"]).read_text("utf-8")


def test_the_refresh_run_closes_with_its_numbers(finished: dict[str, Any]) -> None:
    closing = f"refresh {finished['run_name']} finished"
    [line] = [m for m in _logs_containing(_refresh_run(finished).id, closing) if m.startswith(closing)]
    verify = finished["verify"]
    assert f"verify {verify['accepted']} of {verify['samples']} accepted" in line
    rates = next(part for part in line.split("; ") if part.startswith("pass rates "))
    assert {r.rsplit(" ", 1)[0] for r in rates.removeprefix("pass rates ").split(", ")} == {
        "format",
        "execution",
        "semantic",
        "dedup",
    }
    splits = ", ".join(f"{k} {v}" for k, v in finished["assemble"]["splits"].items())
    assert f"splits {splits}" in line
    assert f"dataset mini {finished['assemble']['version']}" in line and "published as a new version" in line


def test_stages_log_their_counts(finished: dict[str, Any]) -> None:
    runs = {r.name.split("-")[0]: r for r in _subflow_runs(finished)}
    generate = finished["generate"]
    assert (
        f"generate: {generate['items']} items in {generate['shards']} shards -> {generate['samples']} samples"
        in "\n".join(_logs_containing(runs["generate"].id, "generate: "))
    )
    verify = finished["verify"]
    assert f"-> {verify['accepted']} accepted" in "\n".join(_logs_containing(runs["verify"].id, "verify: "))


def _logs_containing(flow_run_id: Any, text: str) -> list[str]:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    async def read() -> list[Any]:
        async with get_client() as client:
            return await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))

    deadline = time.monotonic() + 20
    while not (found := [e.message for e in asyncio.run(read()) if text in e.message]):
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return found


def test_shard_task_runs_are_untagged(finished: dict[str, Any]) -> None:
    """Tags stay on the flow runs: a tagged task run costs a tag-limit check (flows.stage_support)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    runs = {r.name.split("-")[0]: r for r in _subflow_runs(finished)}
    flow_run_ids = [runs["generate"].id, runs["verify"].id]

    async def read() -> list[Any]:
        async with get_client() as client:
            return await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=flow_run_ids))
            )

    deadline = time.monotonic() + 20  # task runs are recorded from events by the server
    while len(task_runs := asyncio.run(read())) < 6 and time.monotonic() < deadline:
        time.sleep(0.5)
    # Named by the shard file each writes: generate-shard-00000 writes candidates/shard-00000.parquet.
    assert sorted(r.name for r in task_runs) == [
        f"{stage}-shard-{i:05d}" for stage in ("generate", "verify") for i in range(3)
    ]
    assert [r.tags for r in task_runs] == [[] for _ in task_runs]


def test_published_event_carries_the_dataset_path(finished: dict[str, Any]) -> None:
    from prefect.events.filters import EventFilter, EventNameFilter

    async def read() -> list[Any]:
        async with get_client() as client:
            page = await client.read_events(
                filter=EventFilter(event=EventNameFilter(name=["callforge.dataset.published"])), limit=50
            )
        return page.events

    def published() -> list[dict[str, Any]]:
        return [e.payload for e in asyncio.run(read()) if e.payload.get("run_name") == finished["run_name"]]

    deadline = time.monotonic() + 20  # events are written by the server's event pipeline, not inline
    while not (payloads := published()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert [p["dataset_dir"] for p in payloads] == [finished["dataset_dir"]]
