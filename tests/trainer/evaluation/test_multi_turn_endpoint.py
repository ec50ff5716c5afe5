"""Turn-by-turn evaluation of an OpenAI-compatible endpoint on loopback, over the hand-written GEN NX
trajectories (tests/data/trajectories, written by a person, each labelled with its verdict).

The loopback server plays each trajectory's own assistant messages, one reply per request, as native
``tool_calls``: the good records are gold answers (every entry must pass), and each defective record
is a model making that defect (wrong reference, wrong order that changes state, a required answer not
said, a withheld tool called, ...): it must fail at the turn its label names. The tool results the
model sees are the sandbox's, never the record's: a record whose defect is a fabricated tool message
is therefore, in a rollout, a model that read the real result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.cli import main
from tests.trainer.evaluation.evaluation_fixtures import ChatServer, completion, error_answer
from tests.verifiers.gennx_fixtures import gennx_catalog
from tests.verifiers.trajectory_fixtures import ROOT, entries, records
from trainer.evaluation.backends import ModelSpec
from trainer.evaluation.config import EvaluateConfig
from trainer.evaluation.evaluate import evaluate
from verifiers.sandbox import SandboxServer

GENNX = str(ROOT / "specs" / "gennx" / "openapi.yaml")
PLAYER = "You are playing trajectory "

# The verifier's reason for a defect -> the reason the rollout must give at the same turn, or None
# where the rollout must pass it. A write in a turn whose gold makes none (acting before the user
# gave the value), an invented value and an invalid call all leave a state the gold does not have.
ROLLOUT_REASON: dict[str, str | None] = {
    "state_mismatch": "state_mismatch",
    "withheld_tool": "tool_not_offered",
    "unknown_tool": "tool_not_offered",
    "missing_output": "missing_output",
    "missing_gold_result": "missing_gold_result",
    "missing_parameter_call": "state_mismatch",
    "ungrounded_value": "state_mismatch",
    "invalid_call": "state_mismatch",
    # Passed by a rollout: a duplicate is a good record seen twice, and the one unasked write re-puts
    # the same row: BFCL's state and response checks cannot see a write that changes nothing.
    "duplicate_trajectory": None,
    "unexpected_call": None,
}
# A fabricated tool message cannot happen in a rollout (the sandbox answers every call): what is
# left of each such record is what the assistant did with the fabrication.
FABRICATED: dict[str, tuple[int, str] | None] = {
    "en-bad-fabricated-read": (0, "missing_output"),  # the real read shows node 3; it names another
    "ko-bad-fabricated-success": (0, "state_mismatch"),  # the write it claimed never happened
    "en-bad-fabricated-later": None,  # the words it said hold for the real result too
}


def _scripts() -> dict[str, list[list[dict[str, Any]]]]:
    """Per trajectory id, per turn: the record's assistant messages in order."""
    out: dict[str, list[list[dict[str, Any]]]] = {}
    for record in records():
        turns: list[list[dict[str, Any]]] = []
        for message in record["messages"]:
            if message["role"] == "user":
                turns.append([])
            elif message["role"] == "assistant":
                turns[-1].append(message)
        out[record["id"]] = turns
    return out


def play(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The next assistant message of the trajectory named in the system message."""
    messages = body["messages"]
    trajectory = messages[0]["content"][len(PLAYER) :]
    turn = sum(m["role"] == "user" for m in messages) - 1
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    step = sum(m["role"] == "assistant" for m in messages[last_user:])
    script = SCRIPTS[trajectory][turn]
    if step >= len(script):
        return 200, completion({"content": ""})
    message = script[step]
    calls = [
        {
            "id": c["id"],
            "type": "function",
            "function": {"name": c["function"]["name"], "arguments": json.dumps(c["function"]["arguments"])},
        }
        for c in message.get("tool_calls") or []
    ]
    reply: dict[str, Any] = {"content": message.get("content")}
    if calls:
        reply["tool_calls"] = calls
    return 200, completion(reply, "tool_calls" if calls else "stop")


SCRIPTS = _scripts()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer([GENNX], mode="thread") as server:
        yield server


def _with_player(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "messages": [{"role": "system", "content": PLAYER + record["id"]}, *record["messages"]]}


@pytest.fixture(scope="module")
def played(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, ChatServer]:
    root = tmp_path_factory.mktemp("multi-turn")
    path = root / "test_seen.jsonl"
    path.write_text("".join(json.dumps(_with_player(r)) + "\n" for r in records()), encoding="utf-8")
    with ChatServer(play) as server:
        spec = ModelSpec(label="api", kind="endpoint", model="player", base_url=server.base_url)
        settings = EvaluateConfig(multi_turn=str(path), execution_options={"base_url": sandbox.base_url})
        result = evaluate(None, [spec], settings, root / "out", catalog=gennx_catalog())
    lines = [json.loads(x) for x in (root / "out" / "multi-turn-api.jsonl").read_text("utf-8").splitlines()]
    return result.metrics, {line["id"]: line for line in lines}, server


@pytest.mark.parametrize("entry", entries(), ids=lambda e: e["id"])
def test_each_played_trajectory_passes_or_fails_at_its_labelled_turn(played, entry: dict[str, Any]) -> None:
    _, by_id, _ = played
    got = by_id[entry["id"]]
    assert got["error"] is None, got
    want = entry["expect"]
    if want["valid"]:
        failure = None
    elif want["reason"] == "tool_result_mismatch":
        failure = FABRICATED[entry["id"]]
    else:
        reason = ROLLOUT_REASON[want["reason"]]
        failure = None if reason is None else (want["failed_turn"], reason)
    if failure is None:
        assert got["passed"] and got["first_failed_turn"] is None, got["turns"]
    else:
        assert not got["passed"]
        assert (got["first_failed_turn"], got["reason"]) == failure, got["turns"]


def test_metrics_have_accuracy_per_category_with_n_and_pass_k(played) -> None:
    metrics, by_id, _ = played
    figures = metrics["models"]["api"]["multi_turn"]["test_seen"]
    assert figures["entries"] == len(entries()) and figures["errors"] == {}
    assert set(figures["by_category"]) == {"base", "miss_param", "miss_func", "long_context"}
    for category, rate in figures["by_category"].items():
        members = [line for line in by_id.values() if line["category"] == category]
        assert rate["n"] == len(members)
        assert rate["value"] == pytest.approx(sum(m["passed"] for m in members) / len(members))
    assert figures["accuracy"]["value"] == pytest.approx(
        sum(x["passed"] for x in by_id.values()) / len(by_id)
    )
    # en-bad-duplicate has the same gold as en-good-beam: a group of two, one pass^2 figure
    assert figures["pass_k"]["1"]["groups"] == figures["groups"] < len(by_id)
    assert "2" in figures["pass_k"]


def test_the_conversation_sent_back_is_the_models_own_with_real_tool_results(played) -> None:
    _, by_id, server = played
    # the assistant's calls go back as OpenAI wire format (arguments a JSON string), each followed by
    # its tool message carrying the sandbox's answer
    later = [b for b in server.seen.bodies if b["messages"][0]["content"] == PLAYER + "en-good-beam"]
    last = max(later, key=lambda b: len(b["messages"]))["messages"]
    calls = [c for m in last if m["role"] == "assistant" for c in m.get("tool_calls") or []]
    assert calls and all(isinstance(c["function"]["arguments"], str) for c in calls)
    tool = next(m for m in last if m["role"] == "tool")
    assert json.loads(tool["content"]) == {"NODE": {"4": {"X": 12, "Y": 0, "Z": 0}}}
    assert by_id["en-good-beam"]["messages"][-1]["role"] == "assistant"


def test_a_withheld_tool_is_not_offered_before_its_turn(played) -> None:
    _, _, server = played
    trajectory = next(r for r in records() if r.get("missed_function"))
    (turn, withheld), *_ = trajectory["missed_function"].items()
    for body in server.seen.bodies:
        if body["messages"][0]["content"] != PLAYER + trajectory["id"]:
            continue
        offered = {t["function"]["name"] for t in body.get("tools") or []}
        before = sum(m["role"] == "user" for m in body["messages"]) - 1 < int(turn)
        assert (set(withheld) & offered == set()) if before else set(withheld) <= offered


@pytest.mark.slow
def test_the_cli_rolls_out_a_datasets_multi_turn_split_and_counts_backend_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``callforge evaluate --dataset DIR`` picks ``DIR/multi_turn/<split>.jsonl`` and the catalog beside
    the dataset, starts its own sandbox; a request that fails (HTTP 400) is
    an error of that trajectory: counted, never a pass, and the run goes on.

    Slow (~7 s on 2 cores): the CLI starts the sandbox in its own process, which parses the GEN NX spec."""
    good = [r for r, e in zip(records(), entries(), strict=True) if e["expect"]["valid"]][:3]
    failing = good[1]["id"]
    gennx_catalog().save(tmp_path / "run" / "catalog")
    split = tmp_path / "run" / "dataset" / "multi_turn" / "test_seen.jsonl"
    split.parent.mkdir(parents=True)
    split.write_text("".join(json.dumps(_with_player(r)) + "\n" for r in good) + "{not json\n", "utf-8")

    def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body["messages"][0]["content"] == PLAYER + failing:
            return error_answer(400)
        return play(body)

    out = tmp_path / "out"
    with ChatServer(answer) as server:
        argv = ["evaluate", "--dataset", str(split.parent.parent), "--splits", "test_seen", "--out", str(out)]
        assert main([*argv, "--endpoint-model", "m", "--endpoint-base-url", server.base_url]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"endpoint:m test_seen\s+multi-turn 66\.7% \(n=3\).* · 1 errors", printed), printed
    metrics = json.loads((out / "metrics.json").read_text("utf-8"))
    figures = metrics["models"]["endpoint:m"]["multi_turn"]["test_seen"]
    assert figures["errors"] == {"backend_error": 1} and figures["malformed"] == 1
    lines = [json.loads(x) for x in (out / "multi-turn-endpoint-m.jsonl").read_text("utf-8").splitlines()]
    errored = next(line for line in lines if line["id"] == failing)
    assert errored["passed"] is False and errored["first_failed_turn"] == 0
    assert "loopback fault 400" in errored["error_message"]
    report = (out / "report.md").read_text("utf-8")
    assert (
        "## Multi-turn (rollout, turn by turn)" in report
        and "| errors (not the model's) | backend_error 1 |" in report
    )


def test_the_evaluate_flows_table_has_a_multi_turn_row_per_set(played) -> None:
    from flows.evaluate import metric_rows

    metrics, by_id, _ = played
    (row,) = metric_rows(metrics)
    assert row["split"] == "multi_turn:test_seen" and row["n"] == len(by_id) and row["errors"] == 0
    passed = sum(line["passed"] for line in by_id.values())
    assert row["multi_turn_accuracy"] == round(passed / len(by_id), 4)
    assert {
        "multi_turn_base",
        "multi_turn_miss_param",
        "multi_turn_miss_func",
        "multi_turn_long_context",
    } <= set(row)
