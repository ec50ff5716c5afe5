"""Checks the generators' tests share, written independently of the code under test."""

from __future__ import annotations

from typing import Any


def leaf_texts(value: Any) -> list[str]:
    """How each leaf of a call's arguments must read in its query: strings verbatim, numbers as Python
    prints them, booleans as true/false; keys of id-keyed maps (all-digit keys) count as leaves too."""
    if isinstance(value, dict):
        keys = [str(k) for k in value] if value and all(str(k).isdigit() for k in value) else []
        return keys + [t for v in value.values() for t in leaf_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in leaf_texts(v)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if value is None:
        return ["null"]
    return [str(value)]


def ungrounded(query: str, arguments: dict[str, Any]) -> list[str]:
    """The leaves of ``arguments`` that ``query`` does not state."""
    return [text for text in leaf_texts(arguments) if text not in query]
