"""Multi-turn exports: TRL/HF conversational rows for training, and BFCL's multi-turn layout for evaluation.

    rows = trl_rows(trajectory)                      # [{"messages", "tools", "id", "category", "language", "spec"}]
    entry, answer = bfcl_entry(trajectory, "gennx")  # BFCL_v4_multi_turn_*.json line, possible_answer line

**TRL.** ``messages`` (system, user, assistant with ``tool_calls``, ``tool``) and ``tools`` as TRL's
conversational tool-calling layout reads them: ``SFTConfig(assistant_only_loss=True)`` with a chat template
carrying ``{% generation %}`` markers trains on every assistant message of every turn (calls and words)
and on nothing else (``tests/trainer/test_trajectory_exports.py`` checks it with the installed TRL). One
trajectory is one row, except in ``miss_func``: a row has one ``tools`` list, but the withheld tool is
offered only from its turn on. Such a trajectory gives two rows: ``<id>#before`` (the turns before the
tool arrives, without it: the assistant learns to decline) and ``<id>#after`` (the whole conversation
with every tool, minus the declined exchange: the asking user message is followed directly by the calls
that answer it). Training on the declined reply with the tool in view would teach refusing an offered
tool.

**HF.** ``hf/`` is a ``DatasetDict`` of those rows with ``messages`` / ``tools`` as ``List(Json())`` (as
the single-turn export: Arrow would otherwise merge different tools' argument structs into null-filled
ones).

**BFCL.** One entry per trajectory in BFCL v3/v4 multi-turn layout, checked field by field against
BFCL's own ``BFCL_v4_multi_turn_*.json`` files: ``id``, ``question`` (per turn, a list of user messages;
a ``miss_func`` arrival turn is ``[]``, as in BFCL), ``initial_config`` (``{CLASS: initial_state}``),
``path`` (``CLASS.tool`` of the gold calls, in order, unique), ``involved_classes`` (``[CLASS]``),
``excluded_function`` (``[]``: every tool of the record is offered), ``missed_function`` (miss_func
only, same keys as the record). ``CLASS`` is the spec's slug (``gennx``): BFCL names a Python class
whose methods are the tools; here the tools are the record's, so each entry also carries ``function``
(the tools in BFCL's function-doc form: ``name``, ``description``, ``parameters``), which BFCL reads
from ``multi_turn_func_doc/`` for its own classes. The possible answer is ``{"id", "ground_truth"}``,
per turn a list of call strings ``tool(key=value, ...)`` with Python literals, as BFCL writes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from schemas import atomic
from schemas.records import DEFAULT_SYSTEM_PROMPT
from schemas.trajectories import Trajectory
from trainer.dataset.encoders import conversation_features


def _trl_message(message: dict[str, Any]) -> dict[str, Any]:
    if message["role"] == "assistant":
        out: dict[str, Any] = {"role": "assistant", "content": message.get("content") or ""}
        if message.get("tool_calls"):
            out["tool_calls"] = [
                {"type": "function", "function": c["function"]} for c in message["tool_calls"]
            ]
        return out
    if message["role"] == "tool":
        return {"role": "tool", "name": message["name"], "content": message["content"]}
    return {"role": message["role"], "content": message["content"]}


def trl_rows(trajectory: Trajectory, *, system_prompt: str = DEFAULT_SYSTEM_PROMPT) -> list[dict[str, Any]]:
    """The trajectory as TRL training rows (one, or two for miss_func: see the module docstring)."""
    meta = {"category": trajectory.category, "language": trajectory.language, "spec": trajectory.spec}
    by_name = {str(t.get("function", t).get("name")): t for t in trajectory.tools}
    head = (
        []
        if trajectory.messages and trajectory.messages[0]["role"] == "system"
        else [{"role": "system", "content": system_prompt}]
    )
    turns = trajectory.turn_messages()
    arrival = min((int(k) for k in trajectory.missed_function or {}), default=None)
    if arrival is None:
        messages = head + [_trl_message(m) for m in trajectory.messages]
        return [{"messages": messages, "tools": list(trajectory.tools), "id": trajectory.id, **meta}]
    system = [m for m in trajectory.messages[:1] if m["role"] == "system"]
    before: list[dict[str, Any]] = head + [_trl_message(m) for m in system]
    for user, rest in turns[:arrival]:
        before += [_trl_message(user), *(_trl_message(m) for m in rest)]
    after: list[dict[str, Any]] = head + [_trl_message(m) for m in system]
    for index, (user, rest) in enumerate(turns):
        if index == arrival - 1:  # the asking message stays, the declining reply goes
            after.append(_trl_message(user))
        elif index == arrival:  # "it works now" goes, the calls answer the request above
            after += [_trl_message(m) for m in rest]
        else:
            after += [_trl_message(user), *(_trl_message(m) for m in rest)]
    offered_first = [by_name[n] for n in trajectory.offered(0)]
    return [
        {"messages": before, "tools": offered_first, "id": f"{trajectory.id}#before", **meta},
        {"messages": after, "tools": list(trajectory.tools), "id": f"{trajectory.id}#after", **meta},
    ]


def hf_features():  # -> datasets.Features
    """The Hugging Face features of the multi-turn TRL export: the single-turn export's conversation
    columns, then the trajectory's labels."""
    from datasets import Features, Value

    return Features(
        {
            **conversation_features(),
            "category": Value("string"),
            "language": Value("string"),
            "spec": Value("string"),
        }
    )


def write_trl(out_dir: Path, splits: Mapping[str, Sequence[Trajectory]]) -> dict[str, int]:
    """``trl/SPLIT.jsonl`` and ``hf/`` (a DatasetDict); returns rows per split."""
    from datasets import Dataset, DatasetDict

    (out_dir / "trl").mkdir(parents=True, exist_ok=True)
    rows = {split: [row for t in items for row in trl_rows(t)] for split, items in splits.items()}
    for split, items in rows.items():
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items)
        atomic.write_text(out_dir / "trl" / f"{split}.jsonl", text)
    features = hf_features()
    columns = list(features)
    dataset = DatasetDict(
        {
            split: Dataset.from_dict({c: [r[c] for r in items] for c in columns}, features=features)
            for split, items in rows.items()
        }
    )
    # an empty split is saved as one empty shard (datasets otherwise cannot load it back)
    dataset.save_to_disk(str(out_dir / "hf"), num_shards={s: 1 for s, r in rows.items() if not r})
    return {split: len(items) for split, items in rows.items()}


# --------------------------------------------------------------------------------------------- BFCL


def call_string(name: str, arguments: Mapping[str, Any]) -> str:
    """``post_db_node(Assign={'9': {'X': 0.0}})``: a call as BFCL's ground truth writes it (Python literals)."""
    return f"{name}(" + ", ".join(f"{k}={v!r}" for k, v in arguments.items()) + ")"


def bfcl_entry(trajectory: Trajectory, cls: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The BFCL multi-turn entry and its possible answer; ``cls`` is the class name (the spec's slug)."""
    arrivals = {int(k) for k in trajectory.missed_function or {}}
    question: list[list[dict[str, str]]] = []
    ground_truth: list[list[str]] = []
    path: list[str] = []
    for index, ((user, _), turn) in enumerate(zip(trajectory.turn_messages(), trajectory.turns, strict=True)):
        # BFCL's arrival turn has no user message: the tool appears and the model retries
        question.append([] if index in arrivals else [{"role": "user", "content": user["content"]}])
        ground_truth.append([call_string(c.name, c.arguments) for c in turn.gold_calls])
        for call in turn.gold_calls:
            if f"{cls}.{call.name}" not in path:
                path.append(f"{cls}.{call.name}")
    entry: dict[str, Any] = {
        "id": trajectory.id,
        "question": question,
        "initial_config": {cls: trajectory.initial_state},
        "path": path,
        "involved_classes": [cls],
        "excluded_function": [],
        "function": [dict(t.get("function", t)) for t in trajectory.tools],
    }
    if trajectory.missed_function:
        entry["missed_function"] = {k: list(v) for k, v in trajectory.missed_function.items()}
    return entry, {"id": trajectory.id, "ground_truth": ground_truth}


def write_bfcl(out_dir: Path, splits: Mapping[str, Sequence[Trajectory]], cls: str) -> dict[str, int]:
    """``bfcl/<split>/BFCL_v4_multi_turn_<category>.json`` and ``bfcl/<split>/possible_answer/…``
    (JSON lines, as BFCL ships them); returns entries per split."""
    counts: dict[str, int] = {}
    for split, items in splits.items():
        by_category: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
        for t in items:
            by_category.setdefault(t.category, []).append(bfcl_entry(t, cls))
        folder = out_dir / "bfcl" / split
        (folder / "possible_answer").mkdir(parents=True, exist_ok=True)
        for category, pairs in by_category.items():
            name = f"BFCL_v4_multi_turn_{category}.json"
            atomic.write_text(folder / name, "".join(_line(e) for e, _ in pairs))
            atomic.write_text(folder / "possible_answer" / name, "".join(_line(a) for _, a in pairs))
        counts[split] = len(items)
    return counts


def _line(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"
