"""Shard cache keys: each input that decides a shard's output changes the key, nothing else does."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.caching import ShardJob, items_hash, shard_cache_key

BASE = {
    "spec_fingerprint": "f" * 32,
    "teacher_model": "offline-templates",
    "prompt_version": "apigen-v1",
    "items_hash": items_hash(["a", "b"]),
    "config_hash": "c" * 32,
}


def job(**changes: object) -> ShardJob:
    fields = {
        "stage": "generate",
        "run_dir": "/r",
        "shard_index": 1,
        "output": "candidates/shard-00001.parquet",
    }
    key_parts = {**BASE, **changes.pop("key_parts", {})}  # type: ignore[dict-item]
    return ShardJob(**{**fields, **changes, "key_parts": key_parts})


@pytest.mark.parametrize(
    "change",
    [
        {"key_parts": {"spec_fingerprint": "e" * 32}},
        {"key_parts": {"teacher_model": "gpt-4o-mini"}},
        {"key_parts": {"prompt_version": "apigen-v2"}},
        {"key_parts": {"items_hash": items_hash(["b", "a"])}},
        {"key_parts": {"config_hash": "d" * 32}},
        {"shard_index": 2},
        {"stage": "verify"},
    ],
)
def test_each_input_changes_the_key(change: dict) -> None:
    assert job(**change).cache_key != job().cache_key


def test_paths_do_not_change_the_key() -> None:
    moved = job(run_dir="/elsewhere", inputs={"start": 0, "stop": 6})
    assert moved.cache_key == job().cache_key


def test_key_fn_accepts_model_and_serialised_dict() -> None:
    one = job()
    assert (
        shard_cache_key(None, {"job": one})
        == shard_cache_key(None, {"job": one.model_dump()})
        == one.cache_key
    )


def test_key_is_readable_and_stage_scoped() -> None:
    assert job().cache_key.startswith("generate-00001-")


def test_output_exists_follows_the_file(tmp_path: Path) -> None:
    one = job(run_dir=str(tmp_path))
    assert not one.output_exists
    one.output_path.parent.mkdir(parents=True)
    one.output_path.write_bytes(b"x")
    assert one.output_exists
