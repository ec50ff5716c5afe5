"""The multi-turn trajectory record: a stateful conversation with an API, in JSONL, beside ``Sample``.

One JSON line per trajectory, exactly::

    {"id", "spec", "category": "base"|"miss_param"|"miss_func"|"long_context", "language": "en"|"ko",
     "tools": [OpenAI function tools], "initial_state": {TABLE: {ROW_ID: row}},
     "messages": [chat messages],
     "turns": [{"gold_calls": [{"name", "arguments"}], "outputs": [strings the assistant must say]}],
     "missed_function": {"TURN_INDEX": [tool names]}}        # optional, miss_func only

``messages``: ``user`` (``content``); ``assistant`` with optional ``content`` and ``tool_calls``
(``[{"id", "type": "function", "function": {"name", "arguments": {...}}}]``); ``tool`` with
``tool_call_id``, ``name`` and ``content``. ``turns`` has one entry per user message, in order; empty
``gold_calls`` means the assistant should call nothing (it asks or declines). Tools named in
``missed_function`` are not offered before that turn and are offered from it on (as in BFCL). A tool
message may be absent (the verifier executes the call and fills it in).

``trajectory_to_trl`` / ``trajectory_from_trl`` convert to and from the TRL/HF conversational layout
(``messages`` + ``tools``, the record's other fields as columns, nested ones as JSON strings so Arrow
never merges their structs). ``schemas.records.from_trl`` refuses such records: it makes single-turn
samples and will not flatten turns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas import atomic
from schemas.errors import RecordError
from schemas.records import decode_arguments

Category = Literal["base", "miss_param", "miss_func", "long_context"]
MAX_LINE_BYTES = 4 << 20  # one trajectory line; GEN NX tools offered in full stay well below
MAX_MESSAGES = 400
_ROLES = ("system", "user", "assistant", "tool")


class GoldCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    arguments: dict[str, Any]


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gold_calls: list[GoldCall] = Field(default_factory=list)
    outputs: list[str] = Field(default_factory=list)


class Trajectory(BaseModel):
    """One multi-turn record (see the module docstring for the JSONL layout)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    spec: str
    category: Category
    language: Literal["en", "ko"]
    tools: list[dict[str, Any]]
    initial_state: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    messages: list[dict[str, Any]] = Field(max_length=MAX_MESSAGES)
    turns: list[Turn]
    missed_function: dict[str, list[str]] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Trajectory:
        self.messages = [_message(m, i) for i, m in enumerate(self.messages)]
        users = sum(1 for m in self.messages if m["role"] == "user")
        if users != len(self.turns):
            raise ValueError(f"{users} user messages but {len(self.turns)} turns: one turn per user message")
        names = set(self.tool_names())
        if self.missed_function is not None:
            if self.category != "miss_func":
                raise ValueError("missed_function is for the miss_func category only")
            for key, withheld in self.missed_function.items():
                if not key.isdigit() or not 0 < int(key) < len(self.turns):
                    raise ValueError(
                        f"missed_function key {key!r}: expected a turn index 1..{len(self.turns) - 1}"
                    )
                if unknown := [n for n in withheld if n not in names]:
                    raise ValueError(f"missed_function[{key}] names tools not in 'tools': {unknown}")
        return self

    def tool_names(self) -> list[str]:
        return [str(t.get("function", t).get("name")) for t in self.tools]

    def offered(self, turn: int) -> list[str]:
        """The tools offered during ``turn``: all but those withheld until a later turn."""
        withheld = {
            name for key, names in (self.missed_function or {}).items() if int(key) > turn for name in names
        }
        return [n for n in self.tool_names() if n not in withheld]

    def user_texts(self) -> list[str]:
        """The user messages' contents, one per turn, in order."""
        return [str(m["content"]) for m in self.messages if m["role"] == "user"]

    def turn_messages(self) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Per turn: its user message and the messages after it up to the next user message."""
        out: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        for message in self.messages:
            if message["role"] == "user":
                out.append((message, []))
            elif out:
                out[-1][1].append(message)
        return out

    def to_record(self) -> dict[str, Any]:
        record = self.model_dump(mode="json")
        if record["missed_function"] is None:
            del record["missed_function"]
        return record

    def to_json_line(self) -> str:
        return json.dumps(self.to_record(), ensure_ascii=False, separators=(",", ":"))


def _message(message: Any, index: int) -> dict[str, Any]:
    """One chat message checked and in canonical form (arguments as objects, not JSON strings)."""
    where = f"messages[{index}]"
    if not isinstance(message, Mapping) or message.get("role") not in _ROLES:
        raise ValueError(f"{where}: expected an object with role one of {list(_ROLES)}")
    role = message["role"]
    out = dict(message)
    if role == "system" and index != 0:
        raise ValueError(f"{where}: a system message may only come first")
    if role in ("user", "system") and not isinstance(message.get("content"), str):
        raise ValueError(f"{where}: a {role} message needs a string 'content'")
    if role == "tool":
        for key in ("tool_call_id", "name", "content"):
            if not isinstance(message.get(key), str):
                raise ValueError(f"{where}: a tool message needs a string {key!r}")
    if role == "assistant":
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            raise ValueError(f"{where}: assistant 'content' must be a string or absent")
        calls = message.get("tool_calls")
        if calls is not None:
            if not isinstance(calls, list):
                raise ValueError(f"{where}.tool_calls: expected a list")
            out["tool_calls"] = [_tool_call(c, f"{where}.tool_calls[{j}]") for j, c in enumerate(calls)]
    return out


def _tool_call(call: Any, where: str) -> dict[str, Any]:
    fn = call.get("function") if isinstance(call, Mapping) else None
    if (
        not isinstance(fn, Mapping)
        or not isinstance(fn.get("name"), str)
        or not isinstance(call.get("id"), str)
    ):
        raise ValueError(
            f"{where}: expected {{'id', 'type': 'function', 'function': {{'name', 'arguments'}}}}"
        )
    # a JSON string (OpenAI's wire form) is decoded: the record keeps objects
    arguments = decode_arguments(fn.get("arguments", {}), f"{where}.function.arguments")
    return {"id": call["id"], "type": "function", "function": {"name": fn["name"], "arguments": arguments}}


def parse_trajectory(record: Any, *, where: str = "trajectory") -> Trajectory:
    """A record (a parsed JSON line) as a ``Trajectory``; ``RecordError`` names what is wrong and where."""
    if not isinstance(record, Mapping):
        raise RecordError(f"{where}: expected a JSON object")
    try:
        return Trajectory.model_validate(dict(record))
    except ValidationError as exc:
        first = exc.errors()[0]
        at = ".".join(str(p) for p in first["loc"]) or "record"
        rid = record.get("id") if isinstance(record.get("id"), str) else "?"
        raise RecordError(f"{where} (id {rid}): {at}: {first['msg']}") from None


def read_trajectories(path: str | Path) -> Iterator[tuple[int, Trajectory | RecordError]]:
    """(line number, trajectory or the error that line has) for every non-empty line of a JSONL file."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise RecordError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            if len(raw) > MAX_LINE_BYTES:
                yield number, RecordError(f"{where}: line of {len(raw)} bytes, more than {MAX_LINE_BYTES}")
                continue
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield number, RecordError(f"{where}: not valid JSON ({exc})")
                continue
            try:
                yield number, parse_trajectory(record, where=where)
            except RecordError as exc:
                yield number, exc


def write_trajectories(path: str | Path, trajectories: Iterable[Trajectory]) -> None:
    """The records as JSONL, one line each, replacing ``path`` whole (what ``read_trajectories`` reads)."""
    atomic.write_text(Path(path), "".join(t.to_json_line() + "\n" for t in trajectories))


# ---------------------------------------------------------------------------------------------- TRL

_JSON_COLUMNS = ("initial_state", "turns", "missed_function")


def trajectory_to_trl(trajectory: Trajectory) -> dict[str, Any]:
    """The TRL/HF conversational layout: ``messages`` and ``tools`` as TRL reads them, the rest as
    columns (``initial_state``, ``turns`` and ``missed_function`` as JSON strings)."""
    record = trajectory.to_record()
    out = {k: record[k] for k in ("messages", "tools", "id", "spec", "category", "language")}
    for key in _JSON_COLUMNS:
        out[key] = json.dumps(record.get(key), ensure_ascii=False, separators=(",", ":"))
    return out


def trajectory_from_trl(record: Mapping[str, Any]) -> Trajectory:
    """A TRL row written by ``trajectory_to_trl`` back to the ``Trajectory`` it came from."""
    data = dict(record)
    rid = data.get("id") or "?"
    for key in (*_JSON_COLUMNS, "tools"):
        value = data.get(key)
        if isinstance(value, str):
            try:
                data[key] = json.loads(value)
            except json.JSONDecodeError as exc:
                raise RecordError(f"TRL trajectory {rid}: column {key!r} is not valid JSON ({exc})") from exc
    if data.get("missed_function") is None:
        data.pop("missed_function", None)
    return parse_trajectory(data, where=f"TRL trajectory {rid}")
