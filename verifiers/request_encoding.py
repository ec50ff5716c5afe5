"""How values go on the wire: OpenAPI parameter styles and request-body encodings.

In: one argument's value plus its binding (style, explode, per-part media type). Out: encoded text
(path segments, ``key=value`` query fragments, header and cookie values) or body bytes. Every item is
percent-encoded on its own and the style's delimiters are written literally, so ``["a,b", "c"]`` in
form style is ``a%2Cb,c``. ``request.py`` puts the pieces together.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from schemas.models import ArgumentBinding, Tool

JSON_MEDIA = "application/json"
MULTIPART_MEDIA = "multipart/form-data"
# Array (and object) delimiters of the non-exploded styles. tabDelimited is how ingestion names
# Swagger 2.0 ``collectionFormat: tsv`` (OpenAPI 3 has no such style): items joined by a tab.
_QUERY_DELIMITERS = {"spaceDelimited": "%20", "pipeDelimited": "|", "tabDelimited": "%09"}
_FORM_DELIMITERS = {"spaceDelimited": " ", "pipeDelimited": "|", "tabDelimited": "\t"}  # urlencode() escapes


class RequestBuildError(ValueError):
    """A call that cannot be turned into an HTTP request; ``code`` is a snake_case reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_json_media(media_type: str | None) -> bool:
    base = (media_type or "").split(";")[0].strip().lower()
    return base == JSON_MEDIA or base.endswith("+json")


# ------------------------------------------------------------------------------------------ values


def scalar_text(value: Any) -> str:
    """A primitive as text on the wire: JSON spelling for booleans and null, compact JSON for nesting."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def quote_item(value: Any) -> str:
    """Percent-encode one item: every reserved character, '/' and spaces included, UTF-8 for the rest."""
    return quote(scalar_text(value), safe="")


def serialize_path(name: str, value: Any, style: str | None, explode: bool | None) -> str:
    """One path parameter, percent-encoded, in style ``simple`` (default), ``label`` or ``matrix``."""
    style = style or "simple"
    explode = bool(explode)
    if style == "label":
        sep = "." if explode else ","
        if isinstance(value, list):
            return "." + sep.join(quote_item(v) for v in value)
        if isinstance(value, dict):
            items = (
                [f"{quote_item(k)}={quote_item(v)}" for k, v in value.items()]
                if explode
                else [f"{quote_item(k)},{quote_item(v)}" for k, v in value.items()]
            )
            return "." + sep.join(items)
        return "." + quote_item(value)
    if style == "matrix":
        qn = quote_item(name)
        if isinstance(value, list):
            return (
                "".join(f";{qn}={quote_item(v)}" for v in value)
                if explode
                else f";{qn}=" + ",".join(quote_item(v) for v in value)
            )
        if isinstance(value, dict):
            if explode:
                return "".join(f";{quote_item(k)}={quote_item(v)}" for k, v in value.items())
            return f";{qn}=" + ",".join(f"{quote_item(k)},{quote_item(v)}" for k, v in value.items())
        return f";{qn}={quote_item(value)}"
    # simple
    if isinstance(value, list):
        return ",".join(quote_item(v) for v in value)
    if isinstance(value, dict):
        if explode:
            return ",".join(f"{quote_item(k)}={quote_item(v)}" for k, v in value.items())
        return ",".join(f"{quote_item(k)},{quote_item(v)}" for k, v in value.items())
    return quote_item(value)


def serialize_query(name: str, value: Any, style: str | None, explode: bool | None) -> list[str]:
    """One query parameter as encoded ``key=value`` fragments (to be joined with '&')."""
    style = style or "form"
    explode = True if explode is None and style == "form" else bool(explode)
    qn = quote_item(name)
    if style == "deepObject" and isinstance(value, dict):
        return _deep_object(name, value)
    if isinstance(value, list):
        if explode:
            return [f"{qn}={quote_item(v)}" for v in value]
        delimiter = _QUERY_DELIMITERS.get(style, ",")
        return [f"{qn}=" + delimiter.join(quote_item(v) for v in value)]
    if isinstance(value, dict):
        if explode:
            return [f"{quote_item(k)}={quote_item(v)}" for k, v in value.items()]
        delimiter = _QUERY_DELIMITERS.get(style, ",")
        return [
            f"{qn}=" + delimiter.join(f"{quote_item(k)}{delimiter}{quote_item(v)}" for k, v in value.items())
        ]
    return [f"{qn}={quote_item(value)}"]


def _deep_object(prefix: str, value: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for key, item in value.items():
        name = f"{prefix}[{key}]"
        if isinstance(item, dict):
            out.extend(_deep_object(name, item))
        elif isinstance(item, list):
            out.extend(f"{quote(name, safe='[]')}={quote_item(v)}" for v in item)
        else:
            out.append(f"{quote(name, safe='[]')}={quote_item(item)}")
    return out


def serialize_header(value: Any, explode: bool | None) -> str:
    """A header value in style ``simple``; control characters (line breaks: header injection) are refused."""
    if isinstance(value, list):
        text = ",".join(scalar_text(v) for v in value)
    elif isinstance(value, dict):
        sep = "=" if explode else ","
        text = ",".join(f"{k}{sep}{scalar_text(v)}" for k, v in value.items())
    else:
        text = scalar_text(value)
    if any((ord(c) < 0x20 and c != "\t") or c == "\x7f" for c in text):
        raise RequestBuildError(
            "invalid_header_value", f"header value {text[:40]!r} contains a control character"
        )
    return text


def serialize_cookie(name: str, value: Any) -> str:
    if isinstance(value, list):
        return f"{name}=" + ",".join(quote_item(v) for v in value)
    if isinstance(value, dict):
        return f"{name}=" + ",".join(f"{quote_item(k)},{quote_item(v)}" for k, v in value.items())
    return f"{name}={quote_item(value)}"


# -------------------------------------------------------------------------------------------- bodies


def encode_form(fields: list[tuple[str, Any, ArgumentBinding | None]]) -> bytes:
    """``application/x-www-form-urlencoded``: arrays repeat the key, objects spread their properties.

    A field whose encoding does not explode joins its array items with its style's delimiter: a comma
    (``form``), a space (``spaceDelimited``, sent as ``+``), ``|`` (``pipeDelimited``, sent as
    ``%7C``) or a tab (``tabDelimited``, Swagger 2.0 tsv, sent as ``%09``).
    """
    pairs: list[tuple[str, str]] = []
    for name, value, binding in fields:
        explode = True if binding is None or binding.explode is None else binding.explode
        if isinstance(value, list):
            if explode:
                pairs.extend((name, scalar_text(v)) for v in value)
            else:
                delimiter = _FORM_DELIMITERS.get(binding.style or "form", ",") if binding else ","
                pairs.append((name, delimiter.join(scalar_text(v) for v in value)))
        elif isinstance(value, dict) and explode:
            pairs.extend((str(k), scalar_text(v)) for k, v in value.items())
        else:
            pairs.append((name, scalar_text(value)))
    return urlencode(pairs).encode("ascii")


def encode_multipart(
    fields: list[tuple[str, Any, ArgumentBinding | None]], binary: set[str]
) -> tuple[bytes, str]:
    """``multipart/form-data`` bytes and the Content-Type (with its boundary).

    An array is one part per item (OpenAPI 3: a multipart array is repeated parts, each in its items'
    content type), so ``ids=[1, 2]`` is two ``ids`` parts. Each part (or item) goes as a file part
    (``application/octet-stream`` or its declared non-text type, with a filename) when its name is in
    ``binary``; as ``application/json`` when it is an object or array or its declared type is JSON;
    else as text. The boundary is a hash of the parts, so equal calls give equal bytes.
    """
    parts: list[tuple[str, bytes, str | None, str | None]] = []  # name, payload, content type, filename
    for name, value, binding in fields:
        declared = binding.content_type if binding else None
        for item in value if isinstance(value, list) else [value]:
            parts.append(_part(name, item, declared, name in binary))
    digest = hashlib.sha256(b"".join(n.encode() + b"\0" + p for n, p, _, _ in parts)).hexdigest()[:24]
    boundary = f"callforge-{digest}"
    chunks: list[bytes] = []
    for name, payload, ctype, filename in parts:
        disposition = f'form-data; name="{_quote_param(name)}"'
        if filename:
            disposition += f'; filename="{_quote_param(filename)}"'
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if ctype:
            head += f"Content-Type: {ctype}\r\n"
        chunks.append(head.encode("utf-8") + b"\r\n" + payload + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"{MULTIPART_MEDIA}; boundary={boundary}"


def _part(
    name: str, value: Any, declared: str | None, binary: bool
) -> tuple[str, bytes, str | None, str | None]:
    """One multipart part: (name, payload, content type or None for plain text, filename or None)."""
    declared_base = (declared or "").split(";")[0].strip().lower()
    is_file = (
        bool(declared_base) and not declared_base.startswith("text/") and not is_json_media(declared_base)
    )
    if binary or is_file:
        payload = value.encode("utf-8") if isinstance(value, str) else json.dumps(value).encode("utf-8")
        return name, payload, declared or "application/octet-stream", name
    if isinstance(value, dict | list) or (declared and is_json_media(declared)):
        return name, json.dumps(value, ensure_ascii=False).encode("utf-8"), declared or JSON_MEDIA, None
    return name, scalar_text(value).encode("utf-8"), declared, None


def _quote_param(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def binary_properties(tool: Tool) -> set[str]:
    """Argument names whose schema says they carry file content (format binary/byte or contentMediaType)."""
    props = tool.parameters.get("properties", {})
    out = set()
    for name, schema in props.items():
        if isinstance(schema, dict) and (
            schema.get("format") in ("binary", "byte") or "contentMediaType" in schema
        ):
            out.add(name)
    return out
