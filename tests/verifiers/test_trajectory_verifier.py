"""The trajectory verifier on the hand-written GEN NX set: every verdict and failed turn, the filled-in
tool messages, the reference-check option, malformed input, and the CLI exactly as documented."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.trajectories import parse_trajectory, read_trajectories
from tests.verifiers.gennx_fixtures import gennx_catalog
from tests.verifiers.trajectory_fixtures import ROOT, entries, expected, record, write_jsonl
from verifiers.sandbox import SandboxServer
from verifiers.trajectory import TrajectorySummary, verify_trajectory_file
from verifiers.trajectory.replay import SandboxReplay
from verifiers.trajectory.verifier import TrajectoryVerifier

GENNX = str(ROOT / "specs" / "gennx" / "openapi.yaml")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer([GENNX], mode="thread") as server:
        yield server


@pytest.fixture(scope="module")
def handwritten(
    sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TrajectorySummary, Path]:
    tmp = tmp_path_factory.mktemp("handwritten")
    path = write_jsonl(tmp / "handwritten.jsonl")
    summary = verify_trajectory_file(path, gennx_catalog(), tmp / "out", sandbox_url=sandbox.base_url)
    return summary, tmp / "out"


def test_the_set_is_big_and_varied_enough() -> None:
    items = entries()
    assert len(items) >= 40
    good = [e for e in items if e["expect"]["valid"]]
    assert Counter(e["language"] for e in good) == {"en": 12, "ko": 12}
    assert {e["category"] for e in good} == {"base", "miss_param", "miss_func", "long_context"}
    kinds = Counter(e.get("defect") for e in items if not e["expect"]["valid"])
    for kind in ("wrong_reference", "wrong_order", "invented_value", "fabricated_result"):
        assert kinds[kind] >= 2, kind
    for kind in ("call_before_parameter", "withheld_tool", "answer_not_said"):
        assert kinds[kind] >= 2, kind
    # a reordering and an extra read that reach the gold's state are among the good ones
    assert {
        "en-good-reordered-creates",
        "ko-good-reordered-creates",
        "en-good-extra-read",
        "ko-good-extra-read",
    } <= {e["id"] for e in good}


@pytest.mark.parametrize("trajectory_id", [e["id"] for e in entries()])
def test_each_handwritten_trajectory_gets_its_verdict_and_failed_turn(
    handwritten: tuple[TrajectorySummary, Path], trajectory_id: str
) -> None:
    summary, _ = handwritten
    verdict = next(v for v in summary.verdicts if v.id == trajectory_id)
    want = expected()[trajectory_id]
    got = {"valid": verdict.valid, "reason": verdict.reason, "failed_turn": verdict.failed_turn}
    assert got == {k: want[k] for k in ("valid", "reason", "failed_turn")}, verdict.message
    assert verdict.valid or verdict.message  # a rejection always says why


def test_verdicts_file_has_one_line_per_record_in_the_documented_shape(
    handwritten: tuple[TrajectorySummary, Path],
) -> None:
    _, out = handwritten
    lines = [json.loads(line) for line in (out / "verdicts.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == [e["id"] for e in entries()]
    assert all(list(line) == ["id", "valid", "reason", "failed_turn"] for line in lines)


def test_verified_records_carry_every_tool_message_and_verify_again_unchanged(
    handwritten: tuple[TrajectorySummary, Path], sandbox: SandboxServer, tmp_path: Path
) -> None:
    _, out = handwritten
    verified = [t for _, t in read_trajectories(out / "verified.jsonl")]
    assert [t.id for t in verified] == [e["id"] for e in entries() if e["expect"]["valid"]]
    for trajectory in verified:
        calls = [c["id"] for m in trajectory.messages for c in m.get("tool_calls") or []]
        answered = [m["tool_call_id"] for m in trajectory.messages if m["role"] == "tool"]
        assert answered == calls, trajectory.id
    beam = next(t for t in verified if t.id == "en-good-beam")
    first_tool = next(m for m in beam.messages if m["role"] == "tool")
    assert json.loads(first_tool["content"]) == {"NODE": {"4": {"X": 12, "Y": 0, "Z": 0}}}
    # the filled-in messages are what the sandbox answers: verifying them again accepts every one
    again = verify_trajectory_file(out / "verified.jsonl", gennx_catalog(), sandbox_url=sandbox.base_url)
    assert again.valid == again.total == len(verified)


def _create_element_before_its_node() -> dict:
    entry = copy.deepcopy(next(e for e in entries() if e["id"] == "en-good-reordered-creates"))
    entry["id"] = "elem-before-node"
    entry["messages"] = [
        {
            "role": "user",
            "content": "Add node 4 at (0, 0, 4) and connect node 3 and node 4 with a beam, material 1, section 1.",
        },
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "c1",
                    "name": "post_db_elem",
                    "arguments": {"Assign": {"2": {"TYPE": "BEAM", "MATL": 1, "SECT": 1, "NODE": [3, 4]}}},
                },
                {
                    "id": "c2",
                    "name": "post_db_node",
                    "arguments": {"Assign": {"4": {"X": 0, "Y": 0, "Z": 4}}},
                },
            ],
        },
        {"role": "assistant", "content": "Done."},
    ]
    entry["turns"] = [
        {
            "gold_calls": [
                {"name": "post_db_node", "arguments": {"Assign": {"4": {"X": 0, "Y": 0, "Z": 4}}}},
                {
                    "name": "post_db_elem",
                    "arguments": {"Assign": {"2": {"TYPE": "BEAM", "MATL": 1, "SECT": 1, "NODE": [3, 4]}}},
                },
            ]
        }
    ]
    return record(entry)


@pytest.mark.parametrize(
    ("check_references", "valid", "reason"), [(False, True, None), (True, False, "state_mismatch")]
)
def test_the_reference_check_tells_an_element_made_before_its_node(
    sandbox: SandboxServer, check_references: bool, valid: bool, reason: str | None
) -> None:
    replay = SandboxReplay(sandbox.base_url, gennx_catalog(), errors_as_200={GENNX})
    try:
        verifier = TrajectoryVerifier(replay, gennx_catalog(), check_references=check_references)
        verdict = verifier.verify(parse_trajectory(_create_element_before_its_node()))
    finally:
        replay.close()
    assert (verdict.valid, verdict.reason) == (valid, reason), verdict.message


def test_malformed_lines_and_unknown_tools_get_verdicts_not_tracebacks(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    good = record(entries()[0])
    unknown = {**copy.deepcopy(good), "id": "unknown-tool"}
    unknown["tools"].append({"type": "function", "function": {"name": "post_db_nothing", "parameters": {}}})
    path = tmp_path / "mixed.jsonl"
    path.write_text("{broken\n" + json.dumps({**good, "turns": []}) + "\n" + json.dumps(unknown) + "\n")
    summary = verify_trajectory_file(path, gennx_catalog(), tmp_path / "out", sandbox_url=sandbox.base_url)
    lines = [(v.id, v.reason, v.failed_turn) for v in summary.verdicts]
    assert lines == [
        ("line-1", "malformed_record", None),
        ("line-2", "malformed_record", None),
        ("unknown-tool", "tool_not_in_catalog", None),
    ]
    assert (tmp_path / "out" / "verified.jsonl").read_text() == ""


@pytest.mark.slow
def test_the_cli_writes_verdicts_and_verified_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.cli import main

    gennx_catalog().save(tmp_path / "catalog")
    path = write_jsonl(tmp_path / "handwritten.jsonl")
    code = main(
        [
            "verify-trajectories",
            "--trajectories",
            str(path),
            "--catalog",
            str(tmp_path / "catalog"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert f"trajectories {len(entries())}, valid 24" in printed
    verdicts = [json.loads(line) for line in (tmp_path / "out" / "verdicts.jsonl").read_text().splitlines()]
    assert {v["id"]: (v["valid"], v["reason"], v["failed_turn"]) for v in verdicts} == {
        k: (v["valid"], v["reason"], v["failed_turn"]) for k, v in expected().items()
    }


def test_the_cli_names_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flows.cli import main

    code = main(
        [
            "verify-trajectories",
            "--trajectories",
            str(tmp_path / "no.jsonl"),
            "--catalog",
            str(tmp_path),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 1
    assert "no.jsonl: no such file" in capsys.readouterr().err
