"""Reading tool calls out of a model's reply text.

    >>> parse_tool_calls('<tool_call>\\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\\n</tool_call>')
    ParsedReply(calls=[ToolCall(name='get_weather', arguments={'city': 'Oslo'})], content='', error=None)

Accepted shapes, in the order tried:

* ``<tool_call>{json}</tool_call>`` blocks (Qwen / Hermes); a missing closing tag ends the block at the
  next ``<tool_call>`` or the end of the text, and text after the JSON inside a block is ignored;
* bare JSON at the start of the reply (Llama 3.1 style, or a model that forgot the tags): one object, a
  list of objects, or several objects one after another, with trailing prose allowed;
* a ``{"name": …}`` object further inside prose.

A call object is ``{"name", "arguments"}``; ``parameters`` is read as ``arguments`` (Llama 3.1) and
``{"function": {…}}`` wrappers (OpenAI) are unwrapped; arguments may be a dict or a JSON string of one.
Text that is not a call is returned as ``content``. ``error`` is set when something looks like a call
but cannot be read (bad JSON, no name, arguments that are not an object); the calls that could be
read are still returned, so a scorer can decide how strict to be. No call and no error is a plain answer.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, Field

from schemas.models import ToolCall

_OPEN, _CLOSE = "<tool_call>", "</tool_call>"
_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|(?=<tool_call>)|\Z)", re.DOTALL)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```\s*$")
_NAME_OBJECT = re.compile(r'\{\s*"(?:name|function)"\s*:')
_DECODER = json.JSONDecoder()


class ParsedReply(BaseModel):
    """The calls found in a reply, the remaining text, and what could not be read (``None`` if all could)."""

    calls: list[ToolCall] = Field(default_factory=list)
    content: str = ""
    error: str | None = None


class _Unreadable(ValueError):
    """A piece of text that looked like a call and is not one."""


def _call_from(obj: Any, where: str) -> ToolCall:
    if not isinstance(obj, dict):
        raise _Unreadable(
            f"{where}: expected a JSON object with 'name' and 'arguments', got {type(obj).__name__}"
        )
    if isinstance(obj.get("function"), dict):  # OpenAI {"type": "function", "function": {...}}
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _Unreadable(f"{where}: the call has no 'name' string (keys: {sorted(obj)})")
    arguments = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise _Unreadable(
                f"{where}: arguments of {name!r} are a string that is not JSON: {exc.msg}"
            ) from None
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise _Unreadable(f"{where}: arguments of {name!r} must be an object, got {type(arguments).__name__}")
    return ToolCall(name=name.strip(), arguments=arguments)


def _calls_from(value: Any, where: str) -> list[ToolCall]:
    if isinstance(value, list):
        return [_call_from(item, f"{where}[{i}]") for i, item in enumerate(value)]
    return [_call_from(value, where)]


def _decode_sequence(text: str, start: int, where: str) -> tuple[list[Any], int]:
    """JSON values from ``text[start:]`` one after another (separated by space, ``,`` or ``;``)."""
    values: list[Any] = []
    pos = start
    while True:
        try:
            value, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            if values:
                return values, pos  # what follows the calls is prose
            raise _Unreadable(f"{where}: not valid JSON at character {exc.pos - start}: {exc.msg}") from None
        values.append(value)
        pos = end
        rest = re.match(r"[\s,;]*", text[pos:])
        nxt = pos + (rest.end() if rest else 0)
        if nxt >= len(text) or text[nxt] not in "{[":
            return values, pos
        pos = nxt


def _parse_blocks(text: str) -> ParsedReply:
    calls: list[ToolCall] = []
    errors: list[str] = []
    for i, match in enumerate(_BLOCK.finditer(text)):
        body = _FENCE.sub("", match.group(1).strip())
        where = f"<tool_call> block {i + 1}"
        try:
            if not body:
                raise _Unreadable(f"{where}: empty")
            values, _ = _decode_sequence(body, 0, where)
            for value in values:
                calls.extend(_calls_from(value, where))
        except _Unreadable as exc:
            errors.append(str(exc))
    content = _BLOCK.sub("", text).replace(_CLOSE, "").strip()
    return ParsedReply(calls=calls, content=content, error="; ".join(errors) or None)


def _parse_bare(text: str) -> ParsedReply:
    stripped = _FENCE.sub("", text.strip()).strip()
    if stripped[:1] in ("{", "["):
        try:
            values, end = _decode_sequence(stripped, 0, "reply")
            calls = [c for i, v in enumerate(values) for c in _calls_from(v, f"reply JSON value {i + 1}")]
        except _Unreadable as exc:
            return ParsedReply(content=text.strip(), error=str(exc))
        return ParsedReply(calls=calls, content=stripped[end:].strip())
    found = _NAME_OBJECT.search(text)
    if found is None:
        return ParsedReply(content=text.strip())
    try:
        values, end = _decode_sequence(text, found.start(), "call inside the reply")
        calls = [c for v in values for c in _calls_from(v, "call inside the reply")]
    except _Unreadable as exc:
        return ParsedReply(content=text.strip(), error=str(exc))
    return ParsedReply(calls=calls, content=(text[: found.start()] + text[end:]).strip())


def parse_tool_calls(text: str) -> ParsedReply:
    """Parse the tool calls of one reply; see the module docstring for what is accepted."""
    if _OPEN in text:
        return _parse_blocks(text)
    return _parse_bare(text)
