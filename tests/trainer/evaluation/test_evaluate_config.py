"""Bad evaluation input fails before any model loads, with a message naming the key, file or split."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import ConfigError
from tests.trainer.evaluation.evaluation_fixtures import ReplayBackend
from trainer.evaluation.evaluate import evaluate

LOCAL = {"label": "base", "model": "/nonexistent/model"}  # never loaded: every case fails first


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory, samples_factory, dataset_saver) -> Path:
    samples = samples_factory(4, seed=3)
    return dataset_saver(tmp_path_factory.mktemp("config"), {"test_seen": samples, "test_unseen": []})


@pytest.mark.parametrize(
    ("models", "config", "message"),
    [
        ([{**LOCAL, "kind": "remote"}], {}, r"models\[0\]: kind: Input should be 'local' or 'endpoint'"),
        (
            [{**LOCAL, "temperature": 0.7}],
            {},
            r"models\[0\]: temperature: unknown key \(.*valid keys: label, kind",
        ),
        ([{**LOCAL, "labl": "x"}], {}, r"did you mean 'label'\?"),
        (
            [{**LOCAL, "kind": "endpoint", "constrained": True}],
            {},
            r"constrained applies to local models only \(model 'base' is an endpoint\)",
        ),
        ([LOCAL, {**LOCAL, "model": "other"}], {}, r"labels must be unique; \['base'\]"),
        ([LOCAL], {"split": ["test_seen"]}, r"evaluate config: split: unknown key \(did you mean 'splits'\?"),
        ([LOCAL], {"max_new_tokens": 0}, r"max_new_tokens: Input should be greater than or equal to 1"),
        ([LOCAL], {"execution": True}, r"execution=True needs the tool catalog"),
        ([], {}, r"give at least one model"),
    ],
    ids=[
        "kind",
        "unknown-key",
        "typo",
        "endpoint-constrained",
        "duplicate",
        "config-typo",
        "range",
        "catalog",
        "none",
    ],
)
def test_bad_models_and_settings_are_named(dataset: Path, tmp_path: Path, models, config, message) -> None:
    with pytest.raises(ConfigError, match=message):
        evaluate(dataset, models, config, tmp_path / "out")


def test_missing_dataset_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope: no such dataset directory"):
        evaluate(tmp_path / "nope", [LOCAL], {}, tmp_path / "out")


def test_directory_without_a_dataset_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"no Hugging Face DatasetDict here \(expected hf/dataset_dict.json\)"
    ):
        evaluate(tmp_path, [LOCAL], {}, tmp_path / "out")


def test_missing_split_lists_the_splits_there_are(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"split\(s\) \['validation'\] not in the dataset \(it has \['test_seen', 'test_unseen'\]\)",
    ):
        evaluate(dataset, [LOCAL], {"splits": ["test_seen", "validation"]}, tmp_path / "out")


def test_empty_splits_are_an_error(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"the splits \['test_unseen'\] hold no examples"):
        evaluate(dataset, [LOCAL], {"splits": ["test_unseen"]}, tmp_path / "out")


def test_bad_execution_option_is_named(dataset: Path, tmp_path: Path) -> None:
    from schemas.catalog import Catalog

    with pytest.raises(ConfigError, match=r"execution_options: sandbox: unknown key"):
        evaluate(
            dataset,
            [LOCAL],
            {"execution": True, "execution_options": {"sandbox": "thread"}},
            tmp_path / "out",
            catalog=Catalog([]),
        )


def test_nothing_is_written_when_the_input_is_bad(dataset: Path, tmp_path: Path) -> None:
    backend = ReplayBackend("replay", ["<tool_call>\n{}\n</tool_call>"] * 4)
    with pytest.raises(ConfigError):
        evaluate(dataset, [], {"splits": ["validation"]}, tmp_path / "out", backends=[backend])
    assert not (tmp_path / "out").exists() and backend.calls == 0


class FailingBackend:
    label = "failing"

    def generate(self, conversations, tools, *, max_new_tokens: int) -> list[str]:
        raise RuntimeError("the model server went away")


def test_a_failing_model_leaves_the_previous_evaluation_intact(dataset: Path, tmp_path: Path) -> None:
    good = ReplayBackend("replay", ["no call"] * 4)
    evaluate(dataset, [], {"splits": ["test_seen"]}, tmp_path / "out", backends=[good])
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    again = ReplayBackend("replay", ["no call"] * 4)
    with pytest.raises(RuntimeError, match="went away"):
        evaluate(dataset, [], {"splits": ["test_seen"]}, tmp_path / "out", backends=[again, FailingBackend()])
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no partial folder left behind
