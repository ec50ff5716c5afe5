"""Publishing a dataset version: the same content is the same version; changes against the previous one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.errors import RecordError
from tests.trainer.dataset.assembly_fixtures import make_catalog, make_samples, write_run
from trainer.dataset.assembly import AssembleConfig, assemble
from trainer.dataset.changes import SAMPLE_IDS_FILE, read_split_ids
from trainer.dataset.splits import SPLITS
from trainer.dataset.store import DatasetVersions, SampleStore

CONFIG = AssembleConfig(dataset_name="demo", split={"seed": 3})


@pytest.fixture
def catalog():
    return make_catalog((4, 4, 4))


@pytest.fixture
def first_run(tmp_path: Path, catalog) -> Path:
    return write_run(tmp_path / "runs" / "r1", catalog, make_samples(catalog, 120, seed=5))


def _versions(tmp_path: Path) -> DatasetVersions:
    return DatasetVersions(tmp_path / "datasets" / "demo")


def test_an_unchanged_rerun_publishes_nothing_and_keeps_latest(tmp_path: Path, first_run: Path) -> None:
    store = SampleStore(tmp_path / "store")
    first = assemble(first_run, CONFIG, store=store)
    latest_file = _versions(tmp_path).root / "LATEST"
    stamp = latest_file.stat().st_mtime_ns
    again = assemble(first_run, CONFIG, store=store)
    assert (first.publication, again.publication) == ("new", "unchanged")
    assert again.version == first.version and not again.published
    assert _versions(tmp_path).versions() == [first.version]
    assert latest_file.stat().st_mtime_ns == stamp  # not even rewritten with the same text
    assert (
        json.loads((first_run / "dataset" / "manifest.json").read_text("utf-8"))["version"] == first.version
    )


def test_new_content_is_a_new_version_and_moves_latest(tmp_path: Path, first_run: Path, catalog) -> None:
    store = SampleStore(tmp_path / "store")
    first = assemble(first_run, CONFIG, store=store)
    more = write_run(tmp_path / "runs" / "r2", catalog, make_samples(catalog, 60, seed=99))
    second = assemble(more, CONFIG, store=store)
    assert second.publication == "new" and second.version != first.version
    assert _versions(tmp_path).latest() == second.version
    assert _versions(tmp_path).versions() == sorted([first.version, second.version])


def test_content_of_an_older_version_moves_latest_back_to_it(tmp_path: Path, first_run: Path) -> None:
    store = SampleStore(tmp_path / "store")
    first = assemble(first_run, CONFIG, store=store)
    other = assemble(first_run, AssembleConfig(dataset_name="demo", split={"seed": 4}), store=store)
    back = assemble(first_run, CONFIG, store=store)
    assert (other.publication, back.publication) == ("new", "restored")
    assert back.version == first.version and back.published
    assert _versions(tmp_path).latest() == first.version
    assert len(_versions(tmp_path).versions()) == 2


def test_publish_off_writes_the_run_dataset_only(tmp_path: Path, first_run: Path) -> None:
    result = assemble(first_run, CONFIG, store=SampleStore(tmp_path / "store"), publish=False)
    assert result.publication == "off" and result.version_dir is None and not result.published
    assert _versions(tmp_path).latest() is None and _versions(tmp_path).versions() == []
    assert (first_run / "dataset" / "manifest.json").is_file()


def test_datasets_are_named_per_config(tmp_path: Path, first_run: Path) -> None:
    store = SampleStore(tmp_path / "store")
    assemble(first_run, AssembleConfig(dataset_name="alpha"), store=store)
    assert DatasetVersions(tmp_path / "datasets" / "alpha").latest() is not None
    assert not (tmp_path / "datasets" / "callforge").exists()


@pytest.mark.parametrize("name", ["", "Has Caps", "../up", "a/b", "-dash-first", "x" * 65])
def test_a_dataset_name_must_be_a_plain_slug(name: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="dataset_name"):
        AssembleConfig(dataset_name=name)


def test_sample_ids_list_every_exported_sample_and_are_not_hashed(tmp_path: Path, first_run: Path) -> None:
    result = assemble(first_run, CONFIG, store=SampleStore(tmp_path / "store"))
    ids = read_split_ids(result.dataset_dir)
    assert ids is not None and {k: len(v) for k, v in ids.items()} == result.report.totals()
    xlam = (result.dataset_dir / "xlam" / "train.jsonl").read_text("utf-8").splitlines()
    assert sorted(json.loads(line)["id"] for line in xlam) == ids["train"]
    (result.dataset_dir / SAMPLE_IDS_FILE).write_text("{}", "utf-8")
    from trainer.dataset.card import export_hash

    assert export_hash(result.dataset_dir) == result.manifest["content_hash"]


def test_changes_count_samples_added_and_retired_per_split(tmp_path: Path, first_run: Path, catalog) -> None:
    store = SampleStore(tmp_path / "store")
    first = assemble(first_run, CONFIG, store=store)
    assert first.changes is not None and first.changes.previous is None
    assert sorted(first.changes.tools_added) == sorted(t.name for t in catalog)
    assert {r.split: (r.before, r.added, r.retired) for r in first.changes.splits} == {
        s: (0, n, 0) for s, n in first.report.totals().items()
    }
    more = write_run(tmp_path / "runs" / "r2", catalog, make_samples(catalog, 60, seed=99))
    second = assemble(more, CONFIG, store=store)
    changes = second.changes
    assert changes is not None and changes.previous == first.version
    assert (changes.tools_added, changes.tools_changed, changes.tools_removed) == ([], [], [])
    before, now = read_split_ids(first.version_dir), read_split_ids(second.dataset_dir)
    assert before is not None and now is not None
    for row in changes.splits:
        old, new = set(before[row.split]), set(now[row.split])
        assert (row.before, row.now, row.added, row.retired) == (
            len(old),
            len(new),
            len(new - old),
            len(old - new),
        )
    assert any(row.added for row in changes.splits)
    assert second.manifest["changes"] == changes.to_dict()


def test_an_unchanged_rerun_reports_no_sample_changes(tmp_path: Path, first_run: Path) -> None:
    store = SampleStore(tmp_path / "store")
    assemble(first_run, CONFIG, store=store)
    again = assemble(first_run, CONFIG, store=store)
    assert again.changes is not None and not again.changes.samples_changed
    assert {r.split for r in again.changes.splits} == set(SPLITS)


def test_a_previous_version_without_sample_ids_gives_unknown_counts(
    tmp_path: Path, first_run: Path, catalog
) -> None:
    store = SampleStore(tmp_path / "store")
    first = assemble(first_run, CONFIG, store=store)
    assert first.version_dir is not None
    (first.version_dir / SAMPLE_IDS_FILE).unlink()  # a version published before the file existed
    more = write_run(tmp_path / "runs" / "r2", catalog, make_samples(catalog, 60, seed=99))
    changes = assemble(more, CONFIG, store=store).changes
    assert changes is not None
    assert [(r.before, r.added, r.retired) for r in changes.splits] == [(None, None, None)] * len(
        changes.splits
    )


def _attachment(folder: Path, text: str) -> Path:
    """A stand-in for the multi-turn stage's folder: a manifest and one data file."""
    (folder / "trl").mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text('{"run": "any"}\n')
    (folder / "trl" / "train.jsonl").write_text(text)
    (folder / "test_unseen.jsonl").write_text('{"id": "a"}\n{"id": "b"}\n')
    return folder


def test_an_attached_folder_is_published_with_the_version_and_hashed_with_it(
    tmp_path: Path, first_run: Path
) -> None:
    store = SampleStore(tmp_path / "store")
    plain = assemble(first_run, CONFIG, store=store)
    staged = _attachment(tmp_path / "staged", '{"messages": []}\n')
    attached = assemble(first_run, CONFIG, store=store, attachments={"multi_turn": staged})
    # same single-turn content, different dataset: a new version that carries the folder
    assert attached.publication == "new" and attached.version != plain.version
    assert attached.version_dir is not None
    assert (attached.version_dir / "multi_turn" / "trl" / "train.jsonl").read_text() == '{"messages": []}\n'
    assert (first_run / "dataset" / "multi_turn" / "manifest.json").is_file()
    assert attached.manifest["attached"]["multi_turn"]["records"] == {"test_unseen": 2}
    card = (first_run / "dataset" / "README.md").read_text()
    assert (
        "`multi_turn/` (written by its own stage, described by its `manifest.json`): test_unseen 2." in card
    )
    # its manifest is not content (it names the run): rewriting it alone publishes nothing new
    (staged / "manifest.json").write_text('{"run": "another"}\n')
    again = assemble(first_run, CONFIG, store=store, attachments={"multi_turn": staged})
    assert (again.publication, again.version) == ("unchanged", attached.version)
    # a changed data file is new content
    _attachment(staged, '{"messages": [1]}\n')
    changed = assemble(first_run, CONFIG, store=store, attachments={"multi_turn": staged})
    assert changed.publication == "new" and changed.version not in (plain.version, attached.version)


def test_an_unfinished_or_clashing_attachment_is_refused_and_nothing_is_published(
    tmp_path: Path, first_run: Path
) -> None:
    store = SampleStore(tmp_path / "store")
    unfinished = tmp_path / "half"
    (unfinished / "trl").mkdir(parents=True)
    with pytest.raises(RecordError, match=r"no manifest\.json"):
        assemble(first_run, CONFIG, store=store, attachments={"multi_turn": unfinished})
    clash = _attachment(tmp_path / "clash", "x\n")
    with pytest.raises(RecordError, match="exports use that name"):
        assemble(first_run, CONFIG, store=store, attachments={"trl": clash})
    assert _versions(tmp_path).versions() == [] and not (first_run / "dataset").exists()
