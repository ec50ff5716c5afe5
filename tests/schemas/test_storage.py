"""Catalog files, Parquet shards and atomic writes."""

from __future__ import annotations

import os

import pytest

from schemas import atomic
from schemas.catalog import Catalog
from schemas.errors import RecordError
from schemas.models import Verdict
from schemas.shards import (
    read_failures,
    read_samples,
    read_verdicts,
    write_failures,
    write_samples,
    write_verdicts,
)
from tests.schemas.contract_fixtures import make_sample, make_tool, node_call


def test_catalog_round_trips(tmp_path):
    catalog = Catalog([make_tool(), make_tool("get_db_node")])
    loaded = Catalog.load(catalog.save(tmp_path / "catalog"))
    assert [t.model_dump() for t in loaded] == [t.model_dump() for t in catalog]


def test_catalog_rejects_duplicate_names():
    with pytest.raises(ValueError, match="duplicate tool name"):
        Catalog([make_tool(), make_tool()])


def test_catalog_error_names_file_and_line(tmp_path):
    path = tmp_path / "catalog.jsonl"
    path.write_text(make_tool().model_dump_json() + "\n" + '{"name": "broken"}\n')
    with pytest.raises(RecordError, match=r"catalog\.jsonl:2: invalid tool record"):
        Catalog.load(tmp_path)


def test_missing_catalog_says_what_to_run(tmp_path):
    with pytest.raises(RecordError, match="callforge ingest"):
        Catalog.load(tmp_path)


def test_catalog_lookup_error_names_the_tool():
    with pytest.raises(KeyError, match="ghost"):
        Catalog([make_tool()])["ghost"]


def test_sample_shard_round_trips(tmp_path):
    samples = [make_sample(), make_sample(style="parallel", calls=[node_call("1"), node_call("2")])]
    assert read_samples(write_samples(tmp_path / "s.parquet", samples)) == samples


def test_verdict_shard_round_trips(tmp_path):
    verdicts = [
        Verdict(sample_id="a", verifier="format", passed=True),
        Verdict(sample_id="b", verifier="execution", passed=None, code="http_503", details={"tries": 3}),
    ]
    assert read_verdicts(write_verdicts(tmp_path / "v.parquet", verdicts)) == verdicts


def test_failure_shard_round_trips(tmp_path):
    failures = [{"item_id": "i1", "code": "malformed_json", "message": "no JSON", "details": {"raw": "x"}}]
    assert read_failures(write_failures(tmp_path / "f.parquet", failures)) == failures


def test_atomic_write_leaves_no_temp_files(tmp_path):
    atomic.write_text(tmp_path / "a.txt", "one")
    atomic.write_text(tmp_path / "a.txt", "two")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "two"


def test_atomic_directory_replaces_only_on_success(tmp_path):
    target = tmp_path / "dataset"
    with atomic.directory(target) as tmp:
        (tmp / "v").write_text("1")
    with pytest.raises(RuntimeError), atomic.directory(target) as tmp:
        (tmp / "v").write_text("half-written")
        raise RuntimeError("crash mid-write")
    assert (target / "v").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


def test_atomic_directory_replaces_existing(tmp_path):
    target = tmp_path / "dataset"
    for version in ("1", "2"):
        with atomic.directory(target) as tmp:
            (tmp / "v").write_text(version)
    assert (target / "v").read_text() == "2"


def test_atomic_outputs_follow_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        file = atomic.write_text(tmp_path / "a.txt", "x")
        with atomic.directory(tmp_path / "d") as tmp:
            (tmp / "f").write_text("y")
    finally:
        os.umask(previous)
    assert file.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755


def test_run_manifest_load_or_new(tmp_path):
    from schemas.manifest import RunManifest

    fresh = RunManifest.load_or_new(tmp_path, run_name="r1")
    assert fresh.run_name == "r1" and not (tmp_path / "manifest.json").exists()
    (tmp_path / "manifest.json").write_text(fresh.model_dump_json())
    assert RunManifest.load_or_new(tmp_path, run_name="other").run_name == "r1"
    (tmp_path / "manifest.json").write_text('{"run_name": 3}')
    with pytest.raises(RecordError, match=r"manifest\.json: invalid run manifest"):
        RunManifest.load_or_new(tmp_path, run_name="r1")
