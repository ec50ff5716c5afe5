"""``callforge evaluate`` end to end through the CLI, against a loopback OpenAI-compatible server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flows.cli import main
from tests.trainer.evaluation.evaluation_fixtures import (
    ChatServer,
    export_dataset,
    last_user_text,
    text_answer,
    tool_calls_answer,
)


def answer(body: dict) -> tuple[int, dict]:
    city = re.search(r"weather in (\w+)", last_user_text(body))
    return tool_calls_answer([("get_weather", {"city": city.group(1)})]) if city else text_answer("no")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory, samples_factory, tools) -> Path:
    samples = samples_factory(6, seed=8)
    return export_dataset(
        tmp_path_factory.mktemp("cli") / "dataset", {"test_seen": samples, "test_unseen": []}, tools
    )


def test_evaluate_command_scores_an_endpoint(dataset: Path, tmp_path: Path, capsys) -> None:
    with ChatServer(answer) as server:
        argv = [
            "evaluate",
            "--dataset",
            str(dataset),
            "--splits",
            "test_seen",
            "--out",
            str(tmp_path / "out"),
        ]
        argv += ["--endpoint-model", "m", "--endpoint-base-url", server.base_url]
        assert main(argv) == 0
    printed = capsys.readouterr().out
    # Two of the six queries ask for the weather, and the server answers those with the right call.
    assert re.search(r"endpoint:m test_seen\s+AST match 33\.3% \(n=6\)", printed), printed
    assert (
        tmp_path / "out" / "report.md"
    ).is_file() and f"report: {tmp_path / 'out' / 'report.md'}" in printed


def test_evaluate_command_without_a_model_says_what_to_give(dataset: Path, tmp_path: Path, capsys) -> None:
    assert main(["evaluate", "--dataset", str(dataset), "--out", str(tmp_path / "out")]) == 1
    assert "give --model (and optionally --adapter) and/or --endpoint-model" in capsys.readouterr().err
