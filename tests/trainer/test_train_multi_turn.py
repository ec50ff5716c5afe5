"""``callforge train`` with ``multi_turn: true``: the dataset's multi-turn rows are trained on beside the
single-turn ones (tiny model, CPU)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from schemas.errors import ConfigError
from schemas.trajectories import Trajectory
from tests.trainer.test_tiny import TOOLS  # the one-tool weather catalog the tiny model knows
from trainer.dataset.trajectory_exports import write_trl


def trajectory(n: int, city: str, other: str) -> Trajectory:
    """Two turns, each one call with its tool message and an answer (hand-written, small)."""
    messages: list[dict[str, Any]] = []
    for turn, where in enumerate((city, other)):
        call = {
            "id": f"c{turn}",
            "type": "function",
            "function": {"name": "get_weather", "arguments": {"city": where}},
        }
        messages += [
            {"role": "user", "content": f"What is the weather in {where}?"},
            {"role": "assistant", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"c{turn}", "name": "get_weather", "content": '{"temp": 3}'},
            {"role": "assistant", "content": f"It is 3 degrees in {where}."},
        ]
    turns = [
        {"gold_calls": [{"name": "get_weather", "arguments": {"city": w}}], "outputs": ["3"]}
        for w in (city, other)
    ]
    return Trajectory.model_validate(
        {
            "id": f"t{n}",
            "spec": "weather.yaml",
            "category": "base",
            "language": "en",
            "tools": TOOLS,
            "messages": messages,
            "turns": turns,
        }
    )


@pytest.fixture(scope="module")
def with_multi_turn(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("with-multi-turn") / "dataset"
    shutil.copytree(small_dataset, folder)
    cities = ["Oslo", "Bergen", "Paris", "Lyon", "Rome", "Milan"]
    made = [trajectory(i, cities[i], cities[(i + 1) % 6]) for i in range(6)]
    write_trl(
        folder / "multi_turn",
        {"train": made[:4], "validation": made[4:5], "test_seen": made[5:], "test_unseen": []},
    )
    return folder


def test_multi_turn_rows_are_trained_on_when_asked(
    tiny_model: Path, with_multi_turn: Path, tmp_path: Path, quick_config
) -> None:
    from trainer.train import train

    result = train(with_multi_turn, str(tiny_model), quick_config(multi_turn=True), tmp_path / "out")
    assert result.dataset.splits["multi_turn/train"] == 4
    assert result.dataset.splits["multi_turn/validation"] == 1
    assert result.global_step == 3 and result.train_loss is not None


def test_without_the_flag_the_multi_turn_rows_are_left_alone(with_multi_turn: Path) -> None:
    from trainer.trainset import add_multi_turn, load_training_splits, locate_dataset_dict

    root = locate_dataset_dict(with_multi_turn)
    plain = load_training_splits(root)
    both = add_multi_turn(plain, with_multi_turn, root)
    assert len(both["train"]) == len(plain["train"]) + 4
    assert len(both["validation"]) == len(plain["validation"]) + 1
    # the appended rows keep every turn: four assistant messages, two with calls
    last = both["train"][len(both["train"]) - 1]["messages"]
    assert sum(1 for m in last if m["role"] == "assistant" and m.get("tool_calls")) == 2


def test_multi_turn_on_a_dataset_without_it_is_a_config_error(
    tiny_model: Path, small_dataset: Path, tmp_path: Path, quick_config
) -> None:
    from trainer.train import train

    with pytest.raises(ConfigError, match="multi_turn"):
        train(small_dataset, str(tiny_model), quick_config(multi_turn=True), tmp_path / "out")
