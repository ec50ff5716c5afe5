"""The multi-turn stage on GEN NX: generated, verified, split and written as the dataset layout says."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from flows.config import RunConfig
from flows.ingest import CATALOG_DIR
from schemas.trajectories import read_trajectories
from tests.verifiers.gennx_fixtures import gennx_catalog
from trainer.dataset.trajectory_splits import SPLITS, subject_table

COUNTS = {"base": 12, "miss_param": 6, "miss_func": 6, "long_context": 6}


@pytest.fixture(scope="module")
def stage(prefect_server: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunConfig, dict[str, Any]]:
    from flows.multi_turn import multi_turn_flow

    root = tmp_path_factory.mktemp("multi-turn")
    config = RunConfig.resolve(
        overrides={"data_root": str(root), "run_name": "gennx-mt", "multi_turn": {"counts": COUNTS}}
    )
    gennx_catalog().save(config.run_dir / CATALOG_DIR)
    return config, multi_turn_flow(config)


def test_gennx_makes_multi_turn_by_default_and_another_spec_does_not() -> None:
    assert RunConfig.resolve().makes_multi_turn
    assert not RunConfig.resolve(overrides={"specs": ["tests/data/mini.yaml"]}).makes_multi_turn
    assert not RunConfig.resolve(overrides={"multi_turn": {"enabled": False}}).makes_multi_turn
    with pytest.raises(Exception, match="counts"):
        RunConfig.resolve(overrides={"multi_turn": {"counts": {"base": -1}}})


def test_the_stage_writes_every_split_and_export(stage: tuple[RunConfig, dict[str, Any]]) -> None:
    config, out = stage
    folder = Path(out["multi_turn_dir"])
    assert folder == config.run_dir / "multi_turn" / "dataset"  # staged: assemble attaches it
    assert out["total"] == sum(COUNTS.values()) and out["verified"] == out["total"]
    records = {}
    for name in SPLITS:
        records[name] = [t for _, t in read_trajectories(folder / f"{name}.jsonl")]
        assert (folder / "trl" / f"{name}.jsonl").is_file()
    assert sum(map(len, records.values())) == out["verified"]
    assert records["train"] and records["test_unseen"]
    # verified records carry the replayed tool messages
    assert any(m["role"] == "tool" for m in records["train"][0].messages)  # type: ignore[union-attr]
    trained = {subject_table(t) for t in records["train"]}  # type: ignore[arg-type]
    assert not {subject_table(t) for t in records["test_unseen"]} & trained  # type: ignore[arg-type]
    from datasets import load_from_disk

    assert set(load_from_disk(str(folder / "hf"))) == set(SPLITS)
    assert list((folder / "bfcl" / "train").glob("BFCL_v4_multi_turn_*.json"))


def test_the_manifest_counts_each_stage(stage: tuple[RunConfig, dict[str, Any]]) -> None:
    _config, out = stage
    manifest = json.loads((Path(out["multi_turn_dir"]) / "manifest.json").read_text())
    stages = manifest["stages"]
    assert stages["generated"]["wanted"] == stages["generated"]["drawn"] == sum(COUNTS.values())
    assert stages["verified"]["valid"] == out["verified"]
    assert stages["split"]["counts"] == out["splits"]
    assert manifest["lengths"]["max_length"] == 5120 and manifest["lengths"]["p99_chars"] > 0
    by_category: dict[str, int] = {}
    for split in stages["split"]["per_category"].values():
        for category, n in split.items():
            by_category[category] = by_category.get(category, 0) + n
    assert by_category == COUNTS


def test_the_stage_publishes_its_markdown_artifact(stage: tuple[RunConfig, dict[str, Any]]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read() -> list[Any]:
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["gennx-multi-turn"]))
            )

    (artifact, *_) = sorted(asyncio.run(read()), key=lambda a: a.created, reverse=True)
    assert "| verify (state replay) | 30 | 30 | 100.0% |" in artifact.data
    assert "Top rejection reasons" in artifact.data


def test_another_run_of_the_stage_writes_the_same_content(stage: tuple[RunConfig, dict[str, Any]]) -> None:
    """What an unchanged refresh needs to publish nothing: the staged folder hashes the same in a new
    run (own run folder, own sandbox sessions); only its manifest, which names the run, differs."""
    from flows.multi_turn import multi_turn_flow
    from trainer.dataset.card import export_hash

    config, out = stage
    again = config.model_copy(update={"run_name": "gennx-mt-again"})
    gennx_catalog().save(again.run_dir / CATALOG_DIR)
    second = multi_turn_flow(again)
    assert Path(second["multi_turn_dir"]).parent.parent == again.run_dir
    assert export_hash(Path(second["multi_turn_dir"])) == export_hash(Path(out["multi_turn_dir"]))


def test_the_stage_logs_no_library_prints_under_a_printing_parent(
    stage: tuple[RunConfig, dict[str, Any]],
) -> None:
    """The refresh logs prints (``log_prints=True``); datasets' fingerprinting makes dill disassemble a
    function with ``print`` while it captures stdout, which Prefect's print patch would turn into dozens
    of bytecode lines in the stage's log. The stage does not inherit ``log_prints``."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from flows.multi_turn import multi_turn_flow

    config, _ = stage
    printed = config.model_copy(update={"run_name": "gennx-mt-printed"})
    gennx_catalog().save(printed.run_dir / CATALOG_DIR)

    @flow(log_prints=True)
    def printing_parent() -> Any:
        return multi_turn_flow(printed, return_state=True).state_details.flow_run_id

    run_id = printing_parent()

    async def read() -> list[str]:
        async with get_client() as client:
            logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        return [entry.message for entry in logs]

    deadline = time.monotonic() + 20
    messages = asyncio.run(read())
    while not any("Finished in state" in m for m in messages):
        assert time.monotonic() < deadline, messages
        time.sleep(0.5)
        messages = asyncio.run(read())
    assert not [m for m in messages if "LOAD_" in m or "RETURN_VALUE" in m]
