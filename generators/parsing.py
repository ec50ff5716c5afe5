"""Reading the JSON object a teacher meant to write, from whatever it actually wrote.

Teachers wrap JSON in code fences, put a sentence before or after it, or leave a trailing comma.
:func:`parse_json_object` tries, in order: the text as is; the contents of each ```` ``` ```` fence; the
balanced ``{...}`` spans of the text; each of those again with trailing commas removed. It returns
the first dict that has every key in ``prefer`` (a teacher may write a draft or a schema in one fence
and the answer in the next), else the first dict it found, or raises :class:`JSONExtractionError` saying
what it tried; it never returns something that is not a dict.

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
_SIGNIFICANT = re.compile(r'\\.|[{}\[\]"]', re.S)  # escape pairs first, so an escaped quote is one token


# A {query, calls} answer is a few KB (max_tokens defaults to 1,024); 200,000 characters leaves room
# for verbose teachers while keeping a hostile reply's parse cost to milliseconds.
MAX_REPLY_CHARS = 200_000
# Tool arguments nest a handful of levels (GEN NX: Assign -> id -> object -> array); 64 is far above
# any real schema and far below the interpreter's recursion limit.
MAX_REPLY_DEPTH = 64


class JSONExtractionError(ValueError):
    """No JSON object could be read from the text; ``code`` says why (a failure reason code)."""

    def __init__(self, message: str, code: str = "malformed_json") -> None:
        super().__init__(message)
        self.code = code


def nesting_depth(text: str) -> int:
    """The deepest ``{``/``[`` nesting in ``text``, not counting brackets inside JSON strings.

    A quote only opens a string inside brackets, as in JSON, so prose apostrophes and quotes around
    the object do not hide the brackets after them. Only the significant characters are visited (a
    regex finds them), so a long string value costs next to nothing.
    """
    depth = deepest = 0
    in_string = False
    for match in _SIGNIFICANT.finditer(text):
        token = match.group()
        if in_string:
            in_string = token != '"'  # an escape pair (\", \\) never closes the string
        elif token in "{[":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "}]":
            depth = max(0, depth - 1)
        elif token == '"':
            in_string = depth > 0
    return deepest


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


def parse_json_object(
    text: str,
    *,
    prefer: tuple[str, ...] = (),
    max_chars: int = MAX_REPLY_CHARS,
    max_depth: int = MAX_REPLY_DEPTH,
) -> dict[str, Any]:
    """The first JSON object in ``text`` with every key of ``prefer``, else the first JSON object.

    See the module docstring for where it looks and its limits. Every candidate is a slice of ``text``
    and each is parsed at most once, so the cost stays linear in the reply's size.
    """
    if not text or not text.strip():
        raise JSONExtractionError("the reply is empty")
    if len(text) > max_chars:
        raise JSONExtractionError(
            f"the reply has {len(text):,} characters, more than the {max_chars:,} allowed", "too_large"
        )
    depth = nesting_depth(text)
    if depth > max_depth:
        raise JSONExtractionError(
            f"the reply nests {depth} levels deep, more than the {max_depth} allowed", "too_deep"
        )
    seen: set[str] = set()
    first: dict[str, Any] | None = None
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
            except RecursionError:  # cannot happen under max_depth; kept so no limit change can crash a run
                raise JSONExtractionError("the reply nests too deeply to parse", "too_deep") from None
            if isinstance(value, dict):
                if all(key in value for key in prefer):
                    return value
                first = value if first is None else first
                break  # this candidate parsed; its comma-stripped twin cannot say anything else
            last_error = f"found JSON of type {type(value).__name__}, expected an object"
    if first is not None:
        return first
    raise JSONExtractionError(f"no JSON object in the reply ({last_error})")
