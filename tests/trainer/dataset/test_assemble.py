"""assemble(): a run directory in, a split, exported, versioned dataset out — and nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

import trainer.dataset.exports
from flows.cli import main
from schemas.catalog import Catalog
from schemas.errors import RecordError
from schemas.manifest import RunManifest
from schemas.models import Tool
from tests.trainer.dataset.assembly_fixtures import make_catalog, make_samples, write_run
from trainer.dataset.assembly import AssembleConfig, assemble
from trainer.dataset.card import export_hash
from trainer.dataset.splits import SPLITS
from trainer.dataset.store import DatasetVersions, SampleStore


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    catalog = make_catalog((6, 6, 6))
    return write_run(
        tmp_path / "runs" / "r1", catalog, make_samples(catalog, 300, seed=5, with_execution=True)
    )


def test_assemble_writes_every_export_card_and_manifest(run_dir: Path) -> None:
    result = assemble(run_dir, AssembleConfig(split={"seed": 2}))
    out = run_dir / "dataset"
    expected = ["hf/dataset_dict.json", "README.md", "manifest.json"]
    expected += [
        f"{fmt}/{split}.{ext}"
        for fmt in ("trl", "xlam", "flat")
        for split in SPLITS
        for ext in ("jsonl", "parquet")
    ]
    assert [p for p in expected if not (out / p).is_file()] == []
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["counts"] == result.report.totals()
    assert manifest["held_out_tools"] == result.report.held_out_tools
    assert manifest["seed"] == 2
    assert manifest["fingerprints"]["specs"][0]["sha256"] == "ab" * 32
    assert manifest["content_hash"] == export_hash(out)


def test_the_same_input_gives_the_same_content_hash(run_dir: Path) -> None:
    first = assemble(run_dir, AssembleConfig(split={"seed": 2})).manifest["content_hash"]
    second = assemble(run_dir, AssembleConfig(split={"seed": 2})).manifest["content_hash"]
    other_seed = assemble(run_dir, AssembleConfig(split={"seed": 3})).manifest["content_hash"]
    assert first == second != other_seed


def test_assembly_leaves_the_run_manifest_to_its_one_writer(run_dir: Path) -> None:
    # flows.run_record writes runs/<run>/manifest.json (the flow and `callforge assemble` call it);
    # assembly writes only the dataset's own manifest.
    result = assemble(run_dir, AssembleConfig())
    assert not (run_dir / "manifest.json").exists()
    assert (result.dataset_dir / "manifest.json").exists()


def test_callforge_assemble_records_the_stage_in_the_run_manifest(run_dir: Path) -> None:
    assert main(["assemble", "--run", str(run_dir), "--seed", "2"]) == 0
    stage = RunManifest.model_validate_json((run_dir / "manifest.json").read_text("utf-8")).stages["assemble"]
    result = assemble(run_dir, AssembleConfig(split={"seed": 2}))
    assert stage.finished_at and stage.counts == result.report.totals()
    # Versions are <created-at>-<content hash>: the same content, whatever second each was made in.
    assert stage.details["version"].rsplit("-", 1)[1] == result.version.rsplit("-", 1)[1]


def test_a_store_publishes_a_version_and_moves_latest(run_dir: Path, tmp_path: Path) -> None:
    result = assemble(run_dir, AssembleConfig(dataset_name="demo"), store=SampleStore(tmp_path / "store"))
    versions = DatasetVersions(tmp_path / "datasets" / "demo")
    assert versions.latest() == result.version
    loaded = datasets.load_from_disk(str(versions.path(result.version) / "hf"))
    assert {split: len(loaded[split]) for split in SPLITS} == result.report.totals()


def test_a_crash_mid_write_leaves_latest_and_the_previous_version_intact(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SampleStore(tmp_path / "store")
    first = assemble(run_dir, AssembleConfig(split={"seed": 1}), store=store)

    def crash(out_dir: Path, *args, **kwargs):
        (out_dir / "xlam").mkdir()
        (out_dir / "xlam" / "train.jsonl").write_text('{"query": "half a li', "utf-8")
        raise RuntimeError("disk full")

    monkeypatch.setattr(trainer.dataset.exports, "write_xlam", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        assemble(run_dir, AssembleConfig(split={"seed": 2}), store=store)
    versions = DatasetVersions(tmp_path / "datasets" / "callforge")
    assert versions.latest() == first.version
    assert versions.versions() == [first.version]
    previous = datasets.load_from_disk(str(versions.path(first.version) / "hf"))
    assert len(previous["train"]) == first.report.totals()["train"]
    assert json.loads((run_dir / "dataset" / "manifest.json").read_text("utf-8"))["version"] == first.version
    leftovers = [
        p.name
        for p in (*run_dir.iterdir(), *(versions.root / "versions").iterdir())
        if p.name.startswith(".")
    ]
    assert leftovers == []


def _edit(catalog: Catalog, name: str, description: str) -> Catalog:
    tools = [
        Tool(**{**t.model_dump(exclude={"fingerprint"}), "description": description}) if t.name == name else t
        for t in catalog
    ]
    return Catalog(tools, catalog.manifest)


def test_a_refresh_replaces_only_the_changed_tools_samples(tmp_path: Path) -> None:
    store = SampleStore(tmp_path / "store")
    catalog = make_catalog((6, 6, 6))
    old = make_samples(catalog, 300, seed=5)
    assemble(
        write_run(tmp_path / "runs" / "r1", catalog, old),
        AssembleConfig(split={"unseen_fraction": 0}),
        store=store,
    )

    edited = _edit(catalog, "t1_tool_02", "Create t1 tool 02 records, now with labels")
    fresh = [s for s in make_samples(edited, 300, seed=77) if s.calls and s.calls[0].name == "t1_tool_02"]
    result = assemble(
        write_run(tmp_path / "runs" / "r2", edited, fresh),
        AssembleConfig(split={"unseen_fraction": 0}),
        store=store,
    )

    assert result.diff is not None and result.diff.changed == ["t1_tool_02"]
    exported = {s_id for split in SPLITS for s_id in _ids(result.dataset_dir, split)}
    stale = {s.id for s in old if "t1_tool_02" in ({c.name for c in s.calls} if s.calls else set(s.tools))}
    assert exported.isdisjoint(stale - {s.id for s in fresh})
    assert {s.id for s in fresh} <= exported
    assert result.retired == {"tool_changed": len(stale)}
    assert result.manifest["store"]["diff"]["changed"] == ["t1_tool_02"]


def _ids(dataset_dir: Path, split: str) -> list[str]:
    lines = (dataset_dir / "xlam" / f"{split}.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line)["id"] for line in lines]


def test_a_run_without_verified_samples_is_a_record_error(tmp_path: Path) -> None:
    catalog = make_catalog((4, 0, 0))
    run = write_run(tmp_path / "run", catalog, [])
    with pytest.raises(RecordError, match="no verified samples"):
        assemble(run, AssembleConfig())


def test_the_cli_prints_where_the_dataset_is_and_the_split_table(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "assemble",
            "--run",
            str(run_dir),
            "--seed",
            "4",
            "--unseen-tools",
            "t1_tool_01,t2_tool_03",
            "--store",
            str(tmp_path / "store"),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert f"dataset: {run_dir / 'dataset'}" in printed
    assert all(split in printed for split in SPLITS)
    assert json.loads((run_dir / "dataset" / "manifest.json").read_text("utf-8"))["held_out_tools"] == [
        "t1_tool_01",
        "t2_tool_03",
    ]


def test_the_cli_reports_an_unknown_held_out_tool(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assemble", "--run", str(run_dir), "--unseen-tools", "nope"]) == 1
    assert "nope" in capsys.readouterr().err
