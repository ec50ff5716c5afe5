"""What a run is called and where its data goes: dataset per spec, absolute paths, publish by default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flows.caching import ShardJob
from flows.config import RunConfig
from flows.monitoring import shard_task_run_name
from flows.run_summary import run_tags
from flows.stage_support import MissingInput, require_input, retry_unless_bad_input
from schemas.errors import ConfigError


@pytest.mark.parametrize(
    ("overrides", "publishes"),
    [
        ({}, True),  # the nightly: a full run publishes
        ({"limit": 100}, False),  # the README's smoke run must not start a fine-tune
        ({"limit": 100, "publish": True}, True),  # unless asked
        ({"publish": False}, False),  # the on-demand deployment
    ],
)
def test_only_full_runs_publish_unless_told(overrides: dict, publishes: bool) -> None:
    assert RunConfig.resolve(overrides=overrides).publishes is publishes


def test_each_spec_has_its_own_dataset_and_store(tmp_path: Path) -> None:
    gennx = RunConfig(data_root=str(tmp_path))
    pets = RunConfig(data_root=str(tmp_path), specs=["specs/petstore/openapi.yaml"])
    assert (gennx.dataset_name, pets.dataset_name) == ("gennx", "petstore")
    assert gennx.datasets_dir == tmp_path / "datasets" / "gennx"
    assert pets.datasets_dir == tmp_path / "datasets" / "petstore"
    assert gennx.store_path != pets.store_path  # a store retires what its catalog lacks: never shared


def test_a_named_dataset_wins_over_the_spec_name(tmp_path: Path) -> None:
    config = RunConfig.resolve(
        overrides={"data_root": str(tmp_path), "assemble": {"dataset_name": "nightly"}}
    )
    assert config.datasets_dir == tmp_path / "datasets" / "nightly"


def test_a_bad_dataset_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="dataset_name"):
        RunConfig.resolve(overrides={"assemble": {"dataset_name": "../gennx"}})


def test_data_paths_are_absolute_whatever_the_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = RunConfig(data_root="data", store_dir="elsewhere/store").with_run_name()
    assert config.run_dir.is_absolute() and config.run_dir.parent.parent == tmp_path / "data"
    assert config.store_path == tmp_path / "elsewhere" / "store"
    assert config.generate.teacher.cache_dir == tmp_path / "data" / "cache" / "teacher"
    assert config.datasets_dir == tmp_path / "data" / "datasets" / "gennx"
    named = RunConfig.resolve(overrides={"assemble": {"datasets_root": "published"}})
    assert named.datasets_dir == tmp_path / "published" / "gennx"
    # Passed to a subflow or a worker, the config keeps the same paths (validation is idempotent).
    monkeypatch.chdir("/")
    again = RunConfig.model_validate(config.model_dump(mode="json"))
    assert (again.run_dir, again.store_path, again.datasets_dir) == (
        config.run_dir,
        config.store_path,
        config.datasets_dir,
    )


def test_the_teacher_cache_location_is_not_part_of_what_is_generated(tmp_path: Path) -> None:
    from flows.generate import attempt_context_of, generation_settings

    here = RunConfig(data_root=str(tmp_path / "a"))
    there = RunConfig(data_root=str(tmp_path / "b"))
    assert generation_settings(here.generate) == generation_settings(there.generate)
    assert attempt_context_of(here) == attempt_context_of(there)
    other = RunConfig.resolve(overrides={"data_root": str(tmp_path / "a"), "generate": {"plan": {"seed": 9}}})
    assert attempt_context_of(other) != attempt_context_of(here)


def _job(**kw: object) -> ShardJob:
    fields = {"stage": "verify", "run_dir": "/r", "shard_index": 12, "output": "verdicts/shard-00012.parquet"}
    return ShardJob.model_validate({**fields, **kw})


@pytest.mark.parametrize("as_dict", [False, True])  # a model in-process, a dict after serialisation
def test_shard_tasks_are_named_by_their_shard_file(as_dict: bool) -> None:
    job = _job()
    assert shard_task_run_name({"job": job.model_dump() if as_dict else job}) == "verify-shard-00012"


def test_a_missing_input_names_the_file_and_is_not_retried(tmp_path: Path) -> None:
    job = _job(run_dir=str(tmp_path / "not-mounted"))
    with pytest.raises(MissingInput) as caught:
        require_input(tmp_path / "not-mounted" / "candidates" / "shard-00012.parquet", job)
    message = str(caught.value)
    assert "shard-00012.parquet" in message and "does not exist either" in message

    class Failed:
        data = caught.value

    assert retry_unless_bad_input(None, None, Failed()) is False
    Failed.data = OSError("connection reset")  # a transient failure still is retried
    assert retry_unless_bad_input(None, None, Failed()) is True


def test_a_present_input_passes(tmp_path: Path) -> None:
    (tmp_path / "x.parquet").write_bytes(b"")
    require_input(tmp_path / "x.parquet", _job(run_dir=str(tmp_path)))


@pytest.mark.parametrize(
    ("overrides", "expected", "absent"),
    [
        ({}, {"spec:gennx", "teacher:offline-templates", "dataset:gennx", "publish"}, {"limited"}),
        ({"limit": 5}, {"no-publish", "limited"}, {"publish"}),
    ],
)
def test_refresh_run_tags(overrides: dict, expected: set[str], absent: set[str]) -> None:
    tags = set(run_tags(RunConfig.resolve(overrides=overrides)))
    assert expected <= tags and not (absent & tags)


def test_paths_stay_absolute_from_the_environment_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert RunConfig(data_root="~/cf").data_root == os.path.join(str(tmp_path), "cf")
