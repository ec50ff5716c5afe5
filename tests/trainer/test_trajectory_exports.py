"""Multi-turn exports: TRL rows train on every assistant turn and nothing else (the installed TRL, a tiny
tokenizer built here), and the BFCL layout matches BFCL's own multi-turn files field by field."""

from __future__ import annotations

import ast
import functools
import json
from pathlib import Path
from typing import Any

import pytest

from schemas.trajectories import Trajectory
from tests.generators.test_trajectory_generator import _draw
from trainer.dataset.trajectory_exports import bfcl_entry, call_string, hf_features, trl_rows, write_bfcl

BFCL_DATA = Path(__file__).resolve().parents[2] / ".bfcl" / "bfcl_eval" / "data"
CATEGORIES = ("base", "miss_param", "miss_func", "long_context")


@functools.lru_cache(maxsize=1)
def drawn() -> tuple[Trajectory, ...]:
    return tuple(_draw(200, seed=11))


def with_tool_messages(t: Trajectory) -> Trajectory:
    """``t`` with a tool message after every call (what the verifier fills in from the replay)."""
    messages: list[dict[str, Any]] = []
    for m in t.messages:
        messages.append(m)
        for call in m.get("tool_calls") or []:
            content = json.dumps({"TOOL-RESULT": call["function"]["name"]})
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call["id"],
                    "name": call["function"]["name"],
                    "content": content,
                }
            )
    return Trajectory.model_validate(t.to_record() | {"messages": messages})


def pick(category: str) -> Trajectory:
    return with_tool_messages(next(t for t in drawn() if t.category == category and len(t.turns) >= 3))


# ------------------------------------------------------------------------------------------------ TRL


def test_a_miss_func_trajectory_gives_a_row_without_the_tool_and_one_without_the_declined_reply() -> None:
    t = pick("miss_func")
    (withheld,) = [n for names in (t.missed_function or {}).values() for n in names]
    before, after = trl_rows(t)
    assert withheld not in [tool["function"]["name"] for tool in before["tools"]]
    assert withheld in [tool["function"]["name"] for tool in after["tools"]]
    called_before = [c["function"]["name"] for m in before["messages"] for c in m.get("tool_calls") or []]
    assert withheld not in called_before
    # in the row that offers the tool, no assistant message declines: every user request is answered
    (arrival,) = (int(k) for k in t.missed_function or {})
    declines = t.turn_messages()[arrival - 1][1][-1]["content"]
    assert "can't" in declines or "없습니다" in declines
    assert declines not in [m.get("content") for m in after["messages"]]
    assert len([m for m in after["messages"] if m["role"] == "user"]) == len(t.turns) - 1


def test_trl_trains_on_every_assistant_turn_and_only_there(tiny_model: Path, tmp_path: Path) -> None:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    rows = [row for c in CATEGORIES for row in trl_rows(pick(c))]
    features = hf_features()
    dataset = Dataset.from_dict({k: [r[k] for r in rows] for k in features}, features=features)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    assert "{% generation %}" in tokenizer.chat_template
    args = SFTConfig(
        output_dir=str(tmp_path / "out"),
        assistant_only_loss=True,
        max_length=None,  # never cut: the check below needs whole conversations
        report_to=[],
        use_cpu=True,
        dataset_num_proc=None,
    )
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    multi_turn_calls = 0
    for index, row in enumerate(rows):
        batch = trainer.data_collator([trainer.train_dataset[index]])
        ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
        learned = tokenizer.decode([i for i, lab in zip(ids, labels, strict=True) if lab != -100])
        context = tokenizer.decode([i for i, lab in zip(ids, labels, strict=True) if lab == -100])
        calls = [c for m in row["messages"] if m["role"] == "assistant" for c in m.get("tool_calls") or []]
        # every call of every turn is learned (a prompt cut at the first assistant turn learns one)
        assert learned.count("<tool_call>") == len(calls), row["id"]
        multi_turn_calls += len(calls) > 1
        for m in row["messages"]:
            if m["role"] == "assistant" and m["content"]:
                assert m["content"] in learned, row["id"]
            if m["role"] in ("user", "tool"):
                assert m["content"] not in learned, (row["id"], m["role"])
                assert m["content"].strip() in context, (row["id"], m["role"])
    assert multi_turn_calls >= 4  # rows with calls in several turns were checked


# ----------------------------------------------------------------------------------------------- BFCL


def call_strings_parse(calls: list[str]) -> bool:
    for text in calls:
        node = ast.parse(text, mode="eval").body
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            return False
        for value in [*node.args, *(k.value for k in node.keywords)]:
            ast.literal_eval(value)
    return True


def shape_problems(entry: dict[str, Any], answer: dict[str, Any]) -> list[str]:
    """What in an entry and its answer differs from BFCL's multi-turn layout (run on BFCL's own data too)."""
    problems = []
    if not isinstance(entry.get("id"), str) or answer.get("id") != entry.get("id"):
        problems.append("id")
    question, truth = entry.get("question"), answer.get("ground_truth")
    if not isinstance(question, list) or not all(isinstance(turn, list) for turn in question):
        problems.append("question: a list of turns, each a list of messages")
    elif not all(m.get("role") == "user" and isinstance(m.get("content"), str) for t in question for m in t):
        problems.append("question: user messages with string content")
    if not isinstance(truth, list) or len(truth) != len(question or []):
        problems.append("ground_truth: one list per turn")
    elif not all(isinstance(t, list) and call_strings_parse(t) for t in truth):
        problems.append("ground_truth: call strings")
    config = entry.get("initial_config")
    if not isinstance(config, dict) or not all(isinstance(v, dict) for v in config.values()):
        problems.append("initial_config: {class: state}")
    # BFCL's own files are not consistent here (multi_turn_base_83's path names TicketAPI, not among its
    # involved_classes): the shape is checked on every entry, the consistency on ours only
    classes = entry.get("involved_classes")
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        problems.append("involved_classes")
    path = entry.get("path")
    if not isinstance(path, list) or not all(isinstance(p, str) and p.count(".") == 1 for p in path):
        problems.append("path: Class.function")
    if not isinstance(entry.get("excluded_function", []), list):
        problems.append("excluded_function")
    missed = entry.get("missed_function")
    if missed is not None:
        empty = {str(i) for i, turn in enumerate(question or []) if turn == []}
        if set(missed) != empty or not all(isinstance(v, list) for v in missed.values()):
            problems.append("missed_function: its turns have no question")
    elif any(turn == [] for turn in question or []):
        problems.append("an empty turn without missed_function")
    return problems


def bfcl_pairs(category: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    name = f"BFCL_v4_multi_turn_{category}.json"
    entries = [json.loads(line) for line in (BFCL_DATA / name).read_text().splitlines() if line.strip()]
    answers = {
        a["id"]: a for a in map(json.loads, (BFCL_DATA / "possible_answer" / name).read_text().splitlines())
    }
    return [(e, answers[e["id"]]) for e in entries]


@pytest.mark.skipif(not BFCL_DATA.is_dir(), reason="BFCL data absent (.bfcl/ is installed by `make bfcl`)")
@pytest.mark.parametrize("category", CATEGORIES)
def test_the_bfcl_export_has_the_layout_of_bfcl_own_files(category: str, tmp_path: Path) -> None:
    theirs = bfcl_pairs(category)
    assert all(not shape_problems(e, a) for e, a in theirs)  # the check reads BFCL's own data right
    ours = [t for t in drawn() if t.category == category]
    write_bfcl(tmp_path, {"test_seen": ours}, "gennx")
    name = f"BFCL_v4_multi_turn_{category}.json"
    written = [json.loads(x) for x in (tmp_path / "bfcl" / "test_seen" / name).read_text().splitlines()]
    answers = [
        json.loads(x)
        for x in (tmp_path / "bfcl" / "test_seen" / "possible_answer" / name).read_text().splitlines()
    ]
    assert len(written) == len(ours) > 0
    for entry, answer in zip(written, answers, strict=True):
        assert not shape_problems(entry, answer), entry["id"]
        assert set(entry["initial_config"]) == set(entry["involved_classes"]) == {"gennx"}
        called = {c for calls in answer["ground_truth"] for c in calls}
        assert {p.split(".")[1] for p in entry["path"]} == {c.split("(")[0] for c in called}
        # every field BFCL's entries carry, ours carries (``function``: the tools, BFCL's func-doc form)
        assert set(theirs[0][0]) <= set(entry) <= set(theirs[0][0]) | {"function", "missed_function"}


def test_a_bfcl_entry_keeps_turns_calls_and_state() -> None:
    t = pick("miss_func")
    entry, answer = bfcl_entry(t, "gennx")
    (arrival,) = (int(k) for k in t.missed_function or {})
    assert entry["question"][arrival] == [] and answer["ground_truth"][arrival - 1] == []
    assert entry["initial_config"] == {"gennx": t.initial_state}
    first = t.turns[arrival].gold_calls[0]
    assert answer["ground_truth"][arrival][0] == call_string(first.name, first.arguments)
    # a call string evaluates back to the arguments
    call = ast.parse(answer["ground_truth"][arrival][0], mode="eval").body
    assert isinstance(call, ast.Call)
    assert {k.arg: ast.literal_eval(k.value) for k in call.keywords} == first.arguments


def test_a_shape_problem_is_caught() -> None:
    entry, answer = bfcl_entry(pick("base"), "gennx")
    assert not shape_problems(entry, answer)
    assert shape_problems(entry, {"id": entry["id"], "ground_truth": answer["ground_truth"][:-1]})
    assert shape_problems({**entry, "question": [[{"role": "user", "content": "x"}]] * 9}, answer)
    assert shape_problems(entry, {"id": entry["id"], "ground_truth": [["post_db_node(Assign={"]]})
