"""Reading the JSON object a teacher meant to write, from whatever it actually wrote.

Teachers wrap JSON in code fences, put a sentence before or after it, or leave a trailing comma.
:func:`parse_json_object` tries, in order: the text as is; the contents of each ```` ``` ```` fence; the
first balanced ``{...}`` in the text; each of those again with trailing commas removed. It returns
the first dict it finds or raises :class:`JSONExtractionError` saying what it tried; it never returns
something that is not a dict.

    >>> parse_json_object('Here you go:\\n```json\\n{"query": "hi", "calls": [],}\\n```')
    {'query': 'hi', 'calls': []}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


class JSONExtractionError(ValueError):
    """No JSON object could be read from the text."""


def _balanced_objects(text: str) -> Iterator[str]:
    """Each top-level ``{...}`` span, tracking strings so braces inside them do not count."""
    depth = 0
    start = -1
    in_string = False
    escaped = False
    for i, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = depth > 0
        elif char == "{":
            if depth == 0:
                start = i
            depth += 1
        elif char == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                yield text[start : i + 1]


def _candidates(text: str) -> Iterator[str]:
    stripped = text.strip()
    yield stripped
    for match in _FENCE.finditer(text):
        yield match.group(1).strip()
    yield from _balanced_objects(text)


def _strip_trailing_commas(text: str) -> str:
    # Only outside strings matters in principle; a ",}" inside a string value is rare enough in
    # teacher output that the simple rewrite is tried only after the exact text failed.
    return _TRAILING_COMMA.sub(r"\1", text)


def parse_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (see the module docstring for where it looks)."""
    if not text or not text.strip():
        raise JSONExtractionError("the reply is empty")
    seen: set[str] = set()
    last_error = "no '{' in the reply"
    for candidate in _candidates(text):
        for attempt in (candidate, _strip_trailing_commas(candidate)):
            if not attempt or attempt in seen:
                continue
            seen.add(attempt)
            try:
                value = json.loads(attempt)
            except ValueError as exc:
                last_error = str(exc)
                continue
            if isinstance(value, dict):
                return value
            last_error = f"found JSON of type {type(value).__name__}, expected an object"
    raise JSONExtractionError(f"no JSON object in the reply ({last_error})")
