"""The incremental store: keyed by tool fingerprint, append-only, and a refresh touches only what changed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from generators.config import PlanConfig
from generators.plan import build_plan
from schemas.catalog import Catalog
from schemas.errors import RecordError
from schemas.models import Sample, Tool
from tests.trainer.dataset.assembly_fixtures import make_catalog, make_samples
from trainer.dataset.store import DatasetVersions, SampleStore


def _edited(catalog: Catalog, **changes: dict) -> Catalog:
    """``catalog`` with some tools' fields replaced (fingerprints recomputed)."""
    tools = [
        Tool(**{**t.model_dump(exclude={"fingerprint"}), **changes[t.name]}) if t.name in changes else t
        for t in catalog
    ]
    return Catalog(tools, catalog.manifest)


def _schema_change(tool: Tool) -> dict:
    parameters = {
        **tool.parameters,
        "properties": {**tool.parameters["properties"], "Mode": {"type": "string"}},
    }
    return {"parameters": parameters}


@pytest.fixture
def filled(tmp_path: Path):
    catalog = make_catalog((10, 10, 10))
    samples = make_samples(catalog, 600, seed=8)
    store = SampleStore(tmp_path / "store")
    store.add(samples, catalog, run="r1")
    return store, catalog, samples


def _keyed_on(sample: Sample, name: str) -> bool:
    """Whether ``sample``'s validity depends on tool ``name`` (its calls; for irrelevance, its offered tools)."""
    return name in ({c.name for c in sample.calls} if sample.calls else set(sample.tools))


def _subjects(samples: list[Sample]) -> Counter:
    return Counter(s.calls[0].name for s in samples if s.calls)


def test_satisfied_counts_active_samples_per_subject(filled) -> None:
    store, catalog, samples = filled
    assert store.satisfied(catalog) == dict(_subjects(samples))


def test_an_edited_spec_regenerates_only_the_changed_tools(filled) -> None:
    store, catalog, _ = filled
    edited = _edited(
        catalog,
        t1_tool_03={"description": "Create or replace t1 tool 03 records"},
        t2_tool_04=_schema_change(catalog["t2_tool_04"]),
    )
    diff = store.diff(edited)
    assert (diff.added, diff.changed, diff.removed) == ([], ["t1_tool_03", "t2_tool_04"], [])
    satisfied = store.satisfied(edited)
    assert "t1_tool_03" not in satisfied and "t2_tool_04" not in satisfied
    config = PlanConfig(quotas={"1": (3, 3), "2": (3, 3), "3": (3, 3)})
    assert all(n >= 3 for name, n in satisfied.items())  # every unchanged tool is over quota
    plan = build_plan(edited, config, satisfied=satisfied)
    assert {item.subject for item in plan} == {"t1_tool_03", "t2_tool_04"}


def test_diff_counts_the_samples_that_move(filled) -> None:
    store, catalog, samples = filled
    removed = "t3_tool_01"
    changed = "t1_tool_05"
    tools = [t for t in _edited(catalog, **{changed: {"description": "new words"}}) if t.name != removed]
    new_tool = make_catalog((11, 0, 0))["t1_tool_10"]
    diff = store.diff(Catalog([*tools, new_tool]))
    calling = {name: sum(_keyed_on(s, name) for s in samples) for name in (removed, changed)}
    assert (diff.added, diff.changed, diff.removed) == (["t1_tool_10"], [changed], [removed])
    assert diff.retiring == calling
    assert f"t1_tool_05 ({calling[changed]} samples retiring)" in diff.summary()


def test_retired_samples_stay_on_disk_but_are_not_active(filled) -> None:
    store, catalog, samples = filled
    edited = _edited(catalog, t2_tool_02={"description": "changed"})
    retired = store.retire(edited)
    calling = {s.id for s in samples if _keyed_on(s, "t2_tool_02")}
    assert retired == {"tool_changed": len(calling)}
    assert {s.id for s in store.active_samples(edited)} == {s.id for s in samples} - calling
    on_disk = pl.read_parquet(sorted((store.root / "samples").glob("part-*.parquet")))
    assert calling <= set(on_disk["id"])
    assert store.retire(edited) == {}  # nothing left to retire


@pytest.mark.parametrize(
    ("style", "changed_role", "stays_active"),
    [
        ("multiple", "distractor", True),  # the call does not depend on a distractor's schema
        ("multiple", "target", False),
        ("irrelevance", "distractor", False),  # "nothing fits" depends on every offered tool
    ],
)
def test_which_tool_changes_retire_a_sample(
    tmp_path: Path, style: str, changed_role: str, stays_active: bool
) -> None:
    catalog = make_catalog((10, 0, 0))
    sample = next(s for s in make_samples(catalog, 50, seed=1) if s.style.value == style)
    targets = {c.name for c in sample.calls}
    tool = next(t for t in sample.tools if (t in targets) == (changed_role == "target"))
    store = SampleStore(tmp_path)
    store.add([sample], catalog)
    edited = _edited(catalog, **{tool: {"description": "different"}})
    assert [s.id for s in store.active_samples(edited)] == ([sample.id] if stays_active else [])


def test_subjects_credit_irrelevance_samples_to_their_plan_tool(tmp_path: Path) -> None:
    catalog = make_catalog((10, 0, 0))
    irrelevant = [s for s in make_samples(catalog, 50, seed=1) if not s.calls]
    store = SampleStore(tmp_path)
    store.add(irrelevant, catalog, subjects={s.id: "t1_tool_09" for s in irrelevant})
    assert store.satisfied(catalog) == {"t1_tool_09": len(irrelevant)}


def test_adding_the_same_samples_again_adds_nothing(filled) -> None:
    store, catalog, samples = filled
    parts = sorted((store.root / "samples").glob("part-*.parquet"))
    assert store.add(samples, catalog) == 0
    assert sorted((store.root / "samples").glob("part-*.parquet")) == parts


def test_existing_parts_are_never_rewritten(filled) -> None:
    store, catalog, _ = filled
    before = {p: p.read_bytes() for p in store.root.rglob("part-*.parquet")}
    edited = _edited(catalog, t1_tool_01={"description": "changed"})
    store.add(make_samples(edited, 100, seed=99), edited)
    store.retire(edited)
    assert all(p.read_bytes() == data for p, data in before.items())
    assert len(list(store.root.rglob("part-*.parquet"))) > len(before)


def test_a_part_missing_from_the_index_is_ignored(filled) -> None:
    store, catalog, samples = filled
    orphan = make_samples(catalog, 20, seed=123)
    SampleStore(store.root / "elsewhere").add(orphan, catalog)
    (store.root / "elsewhere" / "samples" / "part-000000.parquet").rename(
        store.root / "samples" / "part-999999.parquet"
    )
    assert {s.id for s in store.active_samples(catalog)} == {s.id for s in samples}


def test_a_corrupt_index_is_a_record_error_naming_the_file(filled) -> None:
    store, catalog, _ = filled
    (store.root / "index.json").write_text("{not json", "utf-8")
    with pytest.raises(RecordError, match=r"index\.json"):
        store.satisfied(catalog)


def test_publishing_a_version_moves_latest(tmp_path: Path) -> None:
    versions = DatasetVersions(tmp_path / "datasets" / "demo")
    for name in ("v1", "v2"):
        source = tmp_path / name
        source.mkdir()
        (source / "data.txt").write_text(name, "utf-8")
        versions.publish(source, name)
    assert versions.latest() == "v2"
    assert versions.versions() == ["v1", "v2"]
    assert (versions.path("v1") / "data.txt").read_text("utf-8") == "v1"
