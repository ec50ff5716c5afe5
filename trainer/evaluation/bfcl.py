"""Reading the Berkeley Function Calling Leaderboard's data files and predictions made on them.

    entries = load_entries(Path("BFCL_v4_parallel.json"), Path("possible_answer/BFCL_v4_parallel.json"))
    predictions = load_predictions(Path("predictions.jsonl"))

A question file is JSON Lines named ``BFCL_v<N>_<category>.json``: ``{"id", "question", "function"}``,
each function ``{"name", "description", "parameters"}`` in BFCL's types (string, integer, float,
boolean, array, tuple, dict, any). The matching answer file (same name, in ``possible_answer/``) holds
``{"id", "ground_truth": [{name: {param: [acceptable values…]}}]}``; ``""`` among the values means the
parameter may be left out. The category comes from the file name, as in BFCL; (ir)relevance
categories have no answer file. Only BFCL's single-turn Python categories are scored
(``SCORED_CATEGORIES``); a folder's other files are listed as skipped.

A prediction file is JSON Lines ``{"id", "calls": [{"name", "arguments"}]}`` (an empty ``calls`` is an
abstention), ``callforge evaluate``'s ``{"id", "reply"}`` (read by ``trainer.replies``), or a BFCL
result file ``{"id", "result"}`` whose result is a Python-call string such as
``"[math.gcd(a=12, b=18)]"`` (decoded with Python's ``ast``, literals only) or a list of
``{name: arguments}``. A reply that cannot be decoded is kept as ``None``: wrong where a call was due.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.errors import ConfigError, RecordError
from trainer.evaluation.scoring import Call, ReferenceCall

SCORED_CATEGORIES = (
    "simple_python",
    "simple",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
    "irrelevance",
    "live_irrelevance",
    "live_relevance",
)
_FILE_NAME = re.compile(r"^BFCL_v\d+_(?P<category>[a-z_]+)\.json$")
MAX_FILE_BYTES = 256 * 1024 * 1024  # BFCL's largest file is ~10 MB; a bigger one is not BFCL data
MAX_LINE_BYTES = 4 * 1024 * 1024
MAX_CALLS = 256  # a reply with more calls than this is not an answer to one question
MAX_DEPTH = 64  # nesting of an argument value; real tool arguments stay far below it


@dataclass(frozen=True)
class BfclEntry:
    """One BFCL question: its functions (name → ``parameters``) and the acceptable calls."""

    id: str
    category: str
    functions: dict[str, dict[str, Any]]
    references: list[ReferenceCall]
    raw_functions: list[dict[str, Any]]  # as in the file: what BFCL's own checker reads
    raw_truth: list[dict[str, Any]]


def category_of(path: Path) -> str:
    """The category a BFCL file name names (``BFCL_v4_live_simple.json`` → ``live_simple``)."""
    match = _FILE_NAME.match(path.name)
    if match is None:
        raise ConfigError(
            f"{path}: not a BFCL data file name; expected BFCL_v<N>_<category>.json (the category comes "
            "from the name, as in BFCL)"
        )
    return match["category"]


def read_json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line; errors name the file and line."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise RecordError(f"{path}: {path.stat().st_size} bytes, more than the {MAX_FILE_BYTES} accepted")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if len(raw) > MAX_LINE_BYTES:
                raise RecordError(f"{path}:{number}: a line of {len(raw)} bytes (at most {MAX_LINE_BYTES})")
            if not raw.strip():
                continue
            try:
                yield number, json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise RecordError(f"{path}:{number}: not JSON ({exc})") from None
            except RecursionError:
                raise RecordError(f"{path}:{number}: JSON nested too deeply") from None


def _object_with_id(path: Path, number: int, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise RecordError(f"{path}:{number}: expected a JSON object with a string 'id'")
    return value


def _data_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if _FILE_NAME.match(p.name))
    return [path]


def load_entries(questions: Path, answers: Path | None) -> tuple[list[BfclEntry], list[str]]:
    """Entries of every scored category in ``questions`` (a file or folder) with their answers
    (a file, or a folder holding the matching file names). Returns the entries and the categories
    skipped because callforge does not score them."""
    entries: list[BfclEntry] = []
    skipped: list[str] = []
    for file in _data_files(questions):
        category = category_of(file)
        if category not in SCORED_CATEGORIES:
            if not questions.is_dir():
                raise ConfigError(
                    f"{file}: category {category!r} is not scored (only {', '.join(SCORED_CATEGORIES)})"
                )
            skipped.append(category)
            continue
        truth = _answers_for(file, category, answers)
        for number, raw in read_json_lines(file):
            row = _object_with_id(file, number, raw)
            functions = _functions(file, number, row.get("function"))
            if not category.endswith("relevance") and row["id"] not in truth:
                raise RecordError(f"{file}:{number}: no possible answer for id {row['id']!r}")
            raw_truth = truth.get(row["id"], [])
            references = [ReferenceCall.from_bfcl(c) for c in raw_truth]
            raw_functions = row["function"] if isinstance(row["function"], list) else [row["function"]]
            entries.append(BfclEntry(row["id"], category, functions, references, raw_functions, raw_truth))
    if not entries:
        raise ConfigError(f"{questions}: no BFCL question file of a scored category here")
    return entries, skipped


def _answers_for(file: Path, category: str, answers: Path | None) -> dict[str, list[dict[str, Any]]]:
    if category.endswith("relevance"):
        return {}
    if answers is None:
        raise ConfigError(f"{file}: category {category!r} needs its possible_answer file (--bfcl-answers)")
    path = answers / file.name if answers.is_dir() else answers
    if category_of(path) != category:
        raise ConfigError(f"{path}: answers for {category_of(path)!r}, but the questions are {category!r}")
    truth: dict[str, list[dict[str, Any]]] = {}
    for number, raw in read_json_lines(path):
        row = _object_with_id(path, number, raw)
        calls = row.get("ground_truth")
        if not isinstance(calls, list) or not all(
            isinstance(c, dict) and len(c) == 1 and isinstance(next(iter(c.values())), dict) for c in calls
        ):
            raise RecordError(
                f"{path}:{number}: 'ground_truth' must be a list of {{name: {{param: [values]}}}}"
            )
        for call in calls:
            for param, options in next(iter(call.values())).items():
                if not isinstance(options, list):
                    raise RecordError(f"{path}:{number}: values of {param!r} must be a list, got {options!r}")
        truth[row["id"]] = calls
    return truth


def _functions(file: Path, number: int, functions: Any) -> dict[str, dict[str, Any]]:
    if isinstance(functions, dict):
        functions = [functions]
    if not isinstance(functions, list) or not all(
        isinstance(f, dict) and isinstance(f.get("name"), str) for f in functions
    ):
        raise RecordError(f"{file}:{number}: 'function' must be a list of objects with a 'name'")
    return {f["name"]: f.get("parameters") or {} for f in functions}


# ------------------------------------------------------------------------------------ predictions


def load_predictions(path: Path) -> dict[str, list[Call] | None]:
    """Predicted calls per id (``None``: the reply could not be decoded)."""
    predictions: dict[str, list[Call] | None] = {}
    for number, raw in read_json_lines(path):
        row = _object_with_id(path, number, raw)
        if row["id"] in predictions:
            raise RecordError(f"{path}:{number}: id {row['id']!r} predicted twice")
        if "calls" in row:
            predictions[row["id"]] = _structured_calls(path, number, row["calls"])
        elif "result" in row:
            predictions[row["id"]] = decode_result(row["result"])
        elif isinstance(row.get("reply"), str):  # `callforge evaluate`'s predictions-<label>.jsonl
            predictions[row["id"]] = _reply_calls(row["reply"])
        else:
            raise RecordError(
                f"{path}:{number}: expected 'calls' (a list of {{name, arguments}}), 'result' (BFCL) or 'reply'"
            )
    return predictions


def _reply_calls(reply: str) -> list[Call] | None:
    """A saved reply's calls; None where it is unreadable or a failed request (as ``evaluate`` reads it)."""
    from trainer.evaluation.backends import request_failed
    from trainer.replies import parse_tool_calls

    parsed = parse_tool_calls(reply)
    if parsed.error or request_failed(reply):
        return None
    return [Call(c.name, c.arguments) for c in parsed.calls]


def _structured_calls(path: Path, number: int, calls: Any) -> list[Call]:
    if not isinstance(calls, list) or len(calls) > MAX_CALLS:
        raise RecordError(f"{path}:{number}: 'calls' must be a list of at most {MAX_CALLS} calls")
    out = []
    for i, call in enumerate(calls):
        if (
            not isinstance(call, dict)
            or not isinstance(call.get("name"), str)
            or not isinstance(call.get("arguments", {}), dict)
        ):
            raise RecordError(
                f"{path}:{number}: calls[{i}] must be {{'name': str, 'arguments': object}}, got {call!r:.200}"
            )
        if _depth(call.get("arguments", {})) > MAX_DEPTH:
            raise RecordError(f"{path}:{number}: calls[{i}] arguments nest deeper than {MAX_DEPTH} levels")
        out.append(Call(call["name"], call.get("arguments", {})))
    return out


def _depth(value: Any) -> int:
    """How deeply ``value`` nests (iteratively: a hostile value cannot exhaust the stack here)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


def decode_result(result: Any) -> list[Call] | None:
    """A BFCL result: a Python-call string, or a list of ``{name: arguments}`` (arguments may be a
    JSON string). ``None`` when it is neither."""
    if isinstance(result, list):
        calls = []
        for item in result:
            if not isinstance(item, dict) or len(item) != 1:
                return None
            ((name, arguments),) = item.items()
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments)
                except (json.JSONDecodeError, RecursionError):
                    return None
            if not isinstance(arguments, dict) or _depth(arguments) > MAX_DEPTH:
                return None
            calls.append(Call(name, arguments))
        return calls
    if isinstance(result, str):
        return decode_python_calls(result)
    return None


def decode_python_calls(text: str) -> list[Call] | None:
    """``"[f(a=1), g.h(b='x')]"`` → calls; only keyword arguments with literal values are read."""
    text = text.strip()
    if len(text) > MAX_LINE_BYTES:
        return None
    if not text.startswith("["):
        text = f"[{text}]"
    try:
        tree = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        return None
    if not isinstance(tree, ast.List | ast.Tuple) or len(tree.elts) > MAX_CALLS:
        return None
    calls = []
    for node in tree.elts:
        if not isinstance(node, ast.Call) or node.args:
            return None
        name = _dotted_name(node.func)
        if name is None:
            return None
        try:
            arguments = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg is not None}
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            return None
        if _depth(arguments) > MAX_DEPTH:
            return None
        if len(arguments) != len(node.keywords):
            return None  # a **kwargs spread
        calls.append(Call(name, _json_shaped(arguments)))
    return calls


def _dotted_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        owner = _dotted_name(node.value)
        return f"{owner}.{node.attr}" if owner else None
    return None


def _json_shaped(value: Any) -> Any:
    """Tuples as lists, as a JSON round trip would make them (BFCL's answers went through JSON)."""
    if isinstance(value, tuple | list):
        return [_json_shaped(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_shaped(v) for k, v in value.items()}
    return value
