"""The hand-written GEN NX trajectories (tests/data/trajectories/gennx_handwritten.yaml) in record form.

The YAML is written by hand in a compact form — tools by name, tool calls as ``{id, name, arguments}``
— with the expected verdict of each. ``records()`` expands it to the exact JSONL record format
(``schemas/trajectories.py``): every offered tool in full (the catalog's OpenAI function schema) and
tool calls as ``{"id", "type": "function", "function": {"name", "arguments"}}``. Nothing else changes.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from schemas.config_files import load_yaml
from tests.verifiers.gennx_fixtures import gennx_catalog

ROOT = Path(__file__).resolve().parents[2]
HANDWRITTEN = ROOT / "tests" / "data" / "trajectories" / "gennx_handwritten.yaml"
SPEC = "specs/gennx/openapi.yaml"


@functools.lru_cache(maxsize=1)
def entries() -> tuple[dict[str, Any], ...]:
    data = load_yaml(HANDWRITTEN.read_text(encoding="utf-8"))
    return tuple(data["trajectories"])


def expected() -> dict[str, dict[str, Any]]:
    return {e["id"]: {"valid": e["expect"]["valid"], **e["expect"]} for e in entries()}


def _message(message: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in message.items() if k != "tool_calls"}
    if "tool_calls" in message:
        out["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in message["tool_calls"]
        ]
    if out["role"] == "tool" and not isinstance(out["content"], str):
        out["content"] = json.dumps(out["content"], ensure_ascii=False, separators=(",", ":"))
    return out


def record(entry: dict[str, Any]) -> dict[str, Any]:
    catalog = gennx_catalog()
    out = {
        "id": entry["id"],
        "spec": SPEC,
        "category": entry["category"],
        "language": entry["language"],
        "tools": [catalog[name].openai_schema() for name in entry["tools"]],
        "initial_state": entry.get("initial_state") or {},
        "messages": [_message(m) for m in entry["messages"]],
        "turns": [
            {"gold_calls": t.get("gold_calls") or [], "outputs": t.get("outputs") or []}
            for t in entry["turns"]
        ],
    }
    if "missed_function" in entry:
        out["missed_function"] = {str(k): v for k, v in entry["missed_function"].items()}
    return out


def records() -> list[dict[str, Any]]:
    return [record(e) for e in entries()]


def write_jsonl(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for r in records():
            handle.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path
