"""The trajectory record: its exact JSONL layout, its checks, the TRL round trip, and from_trl's refusal."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from schemas.errors import RecordError
from schemas.records import from_trl
from schemas.trajectories import (
    parse_trajectory,
    read_trajectories,
    trajectory_from_trl,
    trajectory_to_trl,
)

TOOLS = [
    {
        "type": "function",
        "function": {"name": "post_db_node", "description": "d", "parameters": {"type": "object"}},
    },
    {
        "type": "function",
        "function": {"name": "get_db_node", "description": "d", "parameters": {"type": "object"}},
    },
]
RECORD = {
    "id": "t1",
    "spec": "specs/gennx/openapi.yaml",
    "category": "miss_func",
    "language": "en",
    "tools": TOOLS,
    "initial_state": {"NODE": {"1": {"X": 0, "Y": 0, "Z": 0}}},
    "messages": [
        {"role": "user", "content": "How many nodes?"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_db_node", "arguments": {}}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "name": "get_db_node", "content": '{"NODE":{"1":{"X":0}}}'},
        {"role": "assistant", "content": "One node."},
        {"role": "user", "content": "Add node 2 at x = 5."},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "post_db_node", "arguments": '{"Assign": {"2": {"X": 5}}}'},
                }
            ],
        },
    ],
    "turns": [
        {"gold_calls": [{"name": "get_db_node", "arguments": {}}], "outputs": ["One"]},
        {"gold_calls": [{"name": "post_db_node", "arguments": {"Assign": {"2": {"X": 5}}}}]},
    ],
    "missed_function": {"1": ["post_db_node"]},
}


def test_a_record_reads_and_writes_back_in_the_exact_layout() -> None:
    trajectory = parse_trajectory(RECORD)
    line = json.loads(trajectory.to_json_line())
    assert list(line) == [
        "id", "spec", "category", "language", "tools", "initial_state", "messages", "turns", "missed_function"
    ]  # fmt: skip
    # arguments sent as a JSON string (OpenAI's wire form) are kept as an object
    assert line["messages"][5]["tool_calls"][0]["function"]["arguments"] == {"Assign": {"2": {"X": 5}}}
    assert line["turns"][1] == {
        "gold_calls": [{"name": "post_db_node", "arguments": {"Assign": {"2": {"X": 5}}}}],
        "outputs": [],
    }


def test_missed_function_is_omitted_when_absent() -> None:
    record = {**copy.deepcopy(RECORD), "category": "base"}
    del record["missed_function"]
    assert "missed_function" not in json.loads(parse_trajectory(record).to_json_line())


def test_withheld_tools_are_offered_from_their_turn_on() -> None:
    trajectory = parse_trajectory(RECORD)
    assert trajectory.offered(0) == ["get_db_node"]
    assert trajectory.offered(1) == ["post_db_node", "get_db_node"]


def test_turn_messages_split_at_each_user_message() -> None:
    split = parse_trajectory(RECORD).turn_messages()
    assert [user["content"] for user, _ in split] == ["How many nodes?", "Add node 2 at x = 5."]
    assert [len(rest) for _, rest in split] == [3, 1]


def _broken(change) -> dict:
    record = copy.deepcopy(RECORD)
    change(record)
    return record


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        (_broken(lambda r: r["turns"].pop()), "2 user messages but 1 turns"),
        (_broken(lambda r: r.update(category="base")), "miss_func category only"),
        (_broken(lambda r: r.update(missed_function={"0": ["post_db_node"]})), "turn index 1..1"),
        (_broken(lambda r: r.update(missed_function={"1": ["nope"]})), "not in 'tools'"),
        (_broken(lambda r: r.update(category="multi")), "category"),
        (_broken(lambda r: r["messages"].append({"role": "robot", "content": "x"})), "role one of"),
        (_broken(lambda r: r["messages"][2].pop("tool_call_id")), "tool_call_id"),
        (
            _broken(lambda r: r["messages"][5]["tool_calls"][0]["function"].update(arguments="{x")),
            "not valid JSON",
        ),
        (_broken(lambda r: r["messages"][5]["tool_calls"][0].pop("id")), "'id', 'type'"),
        (_broken(lambda r: r.update(extra=1)), "extra"),
        (
            _broken(lambda r: r["messages"].append({"role": "system", "content": "late"})),
            "may only come first",
        ),
    ],
)
def test_malformed_records_are_refused_with_where(record: dict, fragment: str) -> None:
    with pytest.raises(RecordError, match="id t1") as err:
        parse_trajectory(record)
    assert fragment in str(err.value)


def test_read_trajectories_reports_bad_lines_and_keeps_going(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(RECORD) + "\n\n{not json\n" + json.dumps({**RECORD, "turns": []}) + "\n")
    results = list(read_trajectories(path))
    assert [n for n, _ in results] == [1, 3, 4]
    assert not isinstance(results[0][1], RecordError)
    assert "t.jsonl:3: not valid JSON" in str(results[1][1])
    assert "t.jsonl:4" in str(results[2][1])


def test_the_trl_export_round_trips_to_the_same_record() -> None:
    trajectory = parse_trajectory(RECORD)
    row = trajectory_to_trl(trajectory)
    assert set(row) >= {"messages", "tools"}
    assert all(isinstance(row[k], str) for k in ("initial_state", "turns", "missed_function"))
    # through JSON, as a dataset file stores it
    assert trajectory_from_trl(json.loads(json.dumps(row))) == trajectory


def test_the_trl_export_round_trips_without_missed_function() -> None:
    record = {**copy.deepcopy(RECORD), "category": "base"}
    del record["missed_function"]
    trajectory = parse_trajectory(record)
    assert trajectory_from_trl(trajectory_to_trl(trajectory)) == trajectory


def test_from_trl_refuses_a_multi_turn_record_instead_of_flattening_it() -> None:
    row = trajectory_to_trl(parse_trajectory(RECORD))
    with pytest.raises(RecordError, match="multi-turn conversation \\(2 user messages\\)"):
        from_trl(row)
