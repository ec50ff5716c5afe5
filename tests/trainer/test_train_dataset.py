"""Finding the DatasetDict a run trains on, and recording which version it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from schemas.errors import ConfigError
from trainer.trainset import dataset_version, load_training_splits, locate_dataset_dict


@pytest.mark.parametrize("layout", [".", "hf", "dataset", "dataset/hf"])
def test_finds_the_dataset_dict_in_every_layout(small_dataset: Path, tmp_path: Path, layout: str) -> None:
    target = tmp_path / "run" / layout
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(small_dataset / "hf", target, dirs_exist_ok=True)
    assert locate_dataset_dict(tmp_path / "run") == target.resolve()


def test_no_dataset_dict_names_the_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"{tmp_path}: no Hugging Face DatasetDict found"):
        locate_dataset_dict(tmp_path)


def test_missing_directory_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="callforge assemble"):
        locate_dataset_dict(tmp_path / "absent")


def test_two_candidates_are_ambiguous(small_dataset: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        shutil.copytree(small_dataset / "hf", tmp_path / name / "hf")
    with pytest.raises(ConfigError, match="several candidates"):
        locate_dataset_dict(tmp_path)


def test_training_splits_keep_only_the_trl_columns(small_dataset: Path) -> None:
    splits = load_training_splits(small_dataset / "hf")
    assert splits["train"].column_names == ["messages", "tools"] and len(splits["validation"]) == 6
    call = splits["train"][0]["messages"][2]["tool_calls"][0]["function"]
    # Json() columns: each call keeps exactly its own arguments, no null-filled keys of other tools.
    assert None not in call["arguments"].values()


def test_empty_validation_split_counts_as_none(samples_factory, dataset_saver, tmp_path: Path) -> None:
    samples = samples_factory(4)
    dataset_saver(tmp_path, {"train": samples, "validation": []})
    assert load_training_splits(tmp_path / "hf")["validation"] is None


def test_empty_train_split_is_a_config_error(samples_factory, dataset_saver, tmp_path: Path) -> None:
    dataset_saver(tmp_path, {"train": [], "validation": samples_factory(2)})
    with pytest.raises(ConfigError, match="split 'train' is missing or empty"):
        load_training_splits(tmp_path / "hf")


def test_records_without_messages_are_refused(tmp_path: Path) -> None:
    from datasets import Dataset, DatasetDict

    DatasetDict({"train": Dataset.from_dict({"query": ["q"]})}).save_to_disk(str(tmp_path / "hf"))
    with pytest.raises(ConfigError, match=r"lacks column\(s\) \['messages', 'tools'\]"):
        load_training_splits(tmp_path / "hf")


def test_version_records_manifest_and_card_beside_the_dict(small_dataset: Path, tmp_path: Path) -> None:
    shutil.copytree(small_dataset / "hf", tmp_path / "dataset" / "hf")
    (tmp_path / "dataset" / "manifest.json").write_text(json.dumps({"version": "v3"}), encoding="utf-8")
    (tmp_path / "dataset" / "README.md").write_text("# card\n", encoding="utf-8")
    version = dataset_version(tmp_path / "dataset", locate_dataset_dict(tmp_path / "dataset"))
    assert version.manifest == {"version": "v3"} and version.card_path.endswith("dataset/README.md")


def test_fingerprint_follows_the_data_not_the_save(samples_factory, dataset_saver, tmp_path: Path) -> None:
    samples = samples_factory(6)
    first = dataset_saver(tmp_path / "a", {"train": samples})
    again = dataset_saver(tmp_path / "b", {"train": samples})
    other = dataset_saver(tmp_path / "c", {"train": samples[:5]})
    fingerprint = {d: dataset_version(d, d / "hf").fingerprint for d in (first, again, other)}
    assert fingerprint[first] == fingerprint[again] != fingerprint[other]
