"""Schema-conformant success responses for an operation: the spec's own example, else one built from
the response schema.

In: an operation node of the original spec (``jsonschema_path.SchemaPath``; ``$ref``s, including ones
into other files, are followed as it is walked). Out: ``CannedResponse(status, content_type, body)``.

Example precedence: the media type's ``example``, its first ``examples`` value, the schema's
``example``, its first ``examples`` item (3.1). Synthesis covers types (3.1 type lists too), ``enum``,
``const``, ``default``, formats (date, date-time, email, uri, uuid, …), numeric bounds and
``multipleOf``, string lengths, array ``minItems``, required and optional properties,
``additionalProperties``/``minProperties``, ``allOf`` (merged), ``oneOf``/``anyOf`` (first branch),
``nullable``. Not covered: ``pattern`` (a few common shapes are tried, else a plain string),
``not``, ``if/then/else``, ``uniqueItems`` with ``minItems`` > 1 of one shape, and schemas recursive
past ``MAX_DEPTH`` (optional properties stop early so recursion ends).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from jsonschema_path import SchemaPath

from verifiers.request_encoding import is_json_media

MAX_DEPTH = 8
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "12:00:00Z",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "uri": "https://example.com/resource",
    "url": "https://example.com/resource",
    "uri-reference": "/resource",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "byte": "c2FuZGJveA==",
    "binary": "sandbox",
    "password": "sandbox-secret",
}
_PATTERN_GUESSES = ("1", "a", "A", "abc", "ABC", "ABC-1", "a1", "2024-01-01", "x", "0", "ab_12", "sandbox")


@dataclass(frozen=True)
class CannedResponse:
    status: int
    content_type: str | None
    body: bytes


def success_response(operation: SchemaPath) -> CannedResponse:
    """The response the sandbox gives for a valid request to ``operation``."""
    responses = operation / "responses" if "responses" in operation else None
    codes = list(responses.str_keys()) if responses is not None else []
    chosen = _pick_status(codes)
    if chosen is None or responses is None:
        return CannedResponse(200, "application/json", b"{}")
    status = 200 if chosen in ("default", "2XX") else int(chosen)
    response = responses / chosen
    if "content" not in response or status == 204:
        return CannedResponse(status, None, b"")
    content = response / "content"
    media_types = list(content.str_keys())
    if not media_types:
        return CannedResponse(status, None, b"")
    media_name = next((m for m in media_types if is_json_media(m)), media_types[0])
    media = content / media_name
    value = _example(media)
    if value is _MISSING:
        value = synthesize(media / "schema") if "schema" in media else {}
    if is_json_media(media_name) or media_name in JSON_RANGES:
        # A media range is not a Content-Type: a range that admits JSON answers as the JSON it is built as.
        concrete = "application/json" if media_name in JSON_RANGES else media_name
        return CannedResponse(status, concrete, _json(value))
    if isinstance(value, bytes | str):
        data = value.encode("utf-8") if isinstance(value, str) else value
    else:
        data = _json(value)
    return CannedResponse(status, media_name, data)


def _pick_status(codes: list[str]) -> str | None:
    success = sorted(c for c in codes if c.isdigit() and 200 <= int(c) < 300)
    if "200" in success:
        return "200"
    if success:
        return success[0]
    for fallback in ("2XX", "default"):
        if fallback in codes:
            return fallback
    return None


JSON_RANGES = ("*/*", "application/*")


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _Missing:
    pass


_MISSING: Any = _Missing()


def _example(media: SchemaPath) -> Any:
    if "example" in media:
        return _plain(media / "example")
    if "examples" in media:
        for _name, example in (media / "examples").str_items():
            if "value" in example:
                return _plain(example / "value")
    return _schema_example(media / "schema") if "schema" in media else _MISSING


def _schema_example(schema: SchemaPath) -> Any:
    """The schema's own ``example``, else its first ``examples`` item (3.1), else ``_MISSING``."""
    if "example" in schema:
        return _plain(schema / "example")
    if "examples" in schema:
        items = list(schema / "examples")
        if items:
            return _plain(items[0])
    return _MISSING


def _plain(node: SchemaPath) -> Any:
    """A fully resolved plain value (example bodies may themselves contain ``$ref``-free JSON)."""
    value = node.read_value()
    return json.loads(json.dumps(value, default=str))


def synthesize(schema: SchemaPath, depth: int = 0) -> Any:
    """A value that satisfies ``schema`` (within the limits listed in the module docstring)."""
    # SchemaPath iterates over child paths, not keys: .keys() is needed here
    keys = {str(key) for key in schema.keys()} if schema.is_traversable() else set()  # noqa: SIM118
    if not keys:
        return {}
    if "const" in keys:
        return _plain(schema / "const")
    example = _schema_example(schema)
    if example is not _MISSING:
        return example
    if "enum" in keys:
        values = (schema / "enum").read_value()
        non_null = [v for v in values if v is not None]
        return non_null[0] if non_null else (values[0] if values else None)
    if "default" in keys:
        return _plain(schema / "default")
    if "allOf" in keys:
        merged: dict[str, Any] = {}
        for part in schema / "allOf":
            value = synthesize(part, depth + 1)
            if not isinstance(value, dict):
                return value
            merged.update(value)
        if keys & {"properties", "required", "type"}:
            own = _object(schema, depth, keys)
            merged.update(own)
        return merged
    for combinator in ("oneOf", "anyOf"):
        if combinator in keys:
            branches = list(schema / combinator)
            non_null = [
                b
                for b in branches
                if not (b.is_traversable() and "type" in b and (b / "type").read_value() == "null")
            ]
            if non_null:
                return synthesize(non_null[0], depth + 1)
    kind = _type(schema, keys)
    if kind == "object":
        return _object(schema, depth, keys)
    if kind == "array":
        return _array(schema, depth, keys)
    if kind == "string":
        return _string(schema, keys)
    if kind == "integer":
        return int(_number(schema, keys, integer=True))
    if kind == "number":
        return _number(schema, keys, integer=False)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return {}


def _type(schema: SchemaPath, keys: set[str]) -> str:
    if "type" in keys:
        declared = (schema / "type").read_value()
        if isinstance(declared, list):
            non_null = [t for t in declared if t != "null"]
            return non_null[0] if non_null else "null"
        return str(declared)
    if keys & {"properties", "additionalProperties", "required"}:
        return "object"
    if "items" in keys:
        return "array"
    return "object"


def _object(schema: SchemaPath, depth: int, keys: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    required = set((schema / "required").read_value()) if "required" in keys else set()
    limit = (schema / "maxProperties").read_value() if "maxProperties" in keys else math.inf
    if "properties" in keys and depth < MAX_DEPTH:
        for name, prop in (schema / "properties").str_items():
            optional = name not in required
            if optional and (depth >= 3 or len(out) >= limit):
                continue
            if (
                prop.is_traversable()
                and "writeOnly" in prop
                and (prop / "writeOnly").read_value()
                and optional
            ):
                continue
            out[name] = synthesize(prop, depth + 1)
    minimum = (schema / "minProperties").read_value() if "minProperties" in keys else 0
    extra = schema / "additionalProperties" if "additionalProperties" in keys else None
    n = 1
    while len(out) < minimum and depth < MAX_DEPTH:
        name = str(n)
        n += 1
        if name not in out:
            out[name] = (
                synthesize(extra, depth + 1) if extra is not None and extra.is_traversable() else "value"
            )
    return out


def _array(schema: SchemaPath, depth: int, keys: set[str]) -> list[Any]:
    count = (schema / "minItems").read_value() if "minItems" in keys else 1
    if "maxItems" in keys:
        count = min(count, (schema / "maxItems").read_value())
    if depth >= MAX_DEPTH or "items" not in keys:
        return [] if count == 0 or "items" not in keys else [synthesize(schema / "items", MAX_DEPTH)] * count
    item = synthesize(schema / "items", depth + 1)
    return [item] * count


def _string(schema: SchemaPath, keys: set[str]) -> str:
    fmt = (schema / "format").read_value() if "format" in keys else None
    text = _FORMATS.get(str(fmt), "string") if fmt else "string"
    if "pattern" in keys:
        pattern = re.compile(str((schema / "pattern").read_value()))
        if not pattern.search(text):
            text = next((g for g in _PATTERN_GUESSES if pattern.search(g)), text)
    low = (schema / "minLength").read_value() if "minLength" in keys else 0
    high = (schema / "maxLength").read_value() if "maxLength" in keys else None
    if len(text) < low:
        text = text + "x" * (low - len(text))
    if high is not None and len(text) > high:
        text = text[:high]
    return text


def _number(schema: SchemaPath, keys: set[str], *, integer: bool) -> float:
    def read(name: str) -> Any:
        return (schema / name).read_value() if name in keys else None

    low, high = read("minimum"), read("maximum")
    ex_low, ex_high = read("exclusiveMinimum"), read("exclusiveMaximum")
    step = 1 if integer else 0.5
    # OpenAPI 3.0 spells exclusive bounds as booleans next to minimum/maximum
    if ex_low is True and low is not None:
        ex_low, low = low, None
    if ex_high is True and high is not None:
        ex_high, high = high, None
    value: float = 1
    if low is not None and value < low:
        value = low
    if isinstance(ex_low, int | float) and not isinstance(ex_low, bool) and value <= ex_low:
        value = ex_low + step
    if high is not None and value > high:
        value = high
    if isinstance(ex_high, int | float) and not isinstance(ex_high, bool) and value >= ex_high:
        value = ex_high - step
    multiple = read("multipleOf")
    if multiple:
        value = math.ceil(value / multiple) * multiple
    if integer:
        return math.ceil(value)
    return value
