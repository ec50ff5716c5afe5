"""Rebuild the real HTTP request of a ToolCall from its Tool's binding.

In: a ``Tool`` (its ``HttpBinding`` says where each argument goes) and a ``ToolCall``. Out: an
``HttpRequest`` — method, absolute URL with the query string, headers (cookies folded into ``Cookie``)
and the encoded body — ready to hand to any HTTP client::

    >>> req = build_request(tool, ToolCall(name="show_pet", arguments={"pet_id": "a/b c"}))
    >>> req.url
    'http://petstore.example.test/v1/pets/a%2Fb%20c'

Serialisation follows OpenAPI 3 parameter styles: path ``simple`` / ``label`` / ``matrix``; query
``form`` (explode true or false), ``spaceDelimited``, ``pipeDelimited``, ``deepObject``; headers
``simple``; cookies ``form``. Bodies are JSON (``application/json`` and ``*+json``),
``application/x-www-form-urlencoded`` or ``multipart/form-data`` (deterministic boundary, so the
same call always gives the same bytes). A required JSON object body the call sets no property of is
sent as ``{}``.

An argument the binding does not know is still sent — as a property of a JSON object body when the
operation has one, else as a query parameter — so the server, not this module, judges it.
A call that cannot become a request (a path parameter missing, a header value with a line break)
raises ``RequestBuildError`` with a reason code.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from schemas.models import ArgumentBinding, HttpBinding, ParamLocation, Tool, ToolCall
from verifiers.request_encoding import (
    JSON_MEDIA,
    MULTIPART_MEDIA,
    RequestBuildError,
    binary_properties,
    encode_form,
    encode_multipart,
    is_json_media,
    quote_item,
    serialize_cookie,
    serialize_header,
    serialize_path,
    serialize_query,
)

FORM_MEDIA = "application/x-www-form-urlencoded"
__all__ = [
    "Credentials",
    "HttpRequest",
    "RequestBuildError",
    "build_request",
    "is_json_media",
    "join_url",
    "origin_and_prefix",
    "placeholder_credentials",
]


@dataclass(frozen=True)
class Credentials:
    """Auth material added to a request: header, query and cookie values by wire name."""

    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpRequest:
    """One request on the wire. ``headers`` keeps insertion order; ``content`` is None without a body."""

    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None = None
    unbound: tuple[str, ...] = ()  # call arguments the binding does not declare (sent anyway)

    def redacted_headers(self, secret_names: Iterable[str]) -> dict[str, str]:
        """The headers with the values of ``secret_names`` (case-insensitive) replaced by ``***``."""
        hidden = {n.lower() for n in secret_names}
        return {k: ("***" if k.lower() in hidden else v) for k, v in self.headers.items()}


def join_url(base: str, path: str) -> str:
    """``base`` (scheme://host[/prefix], or a relative prefix, or "") joined with an absolute ``path``."""
    return base.rstrip("/") + path


def placeholder_credentials(binding: HttpBinding) -> Credentials:
    """Dummy values that satisfy the first security requirement of ``binding`` (for the sandbox)."""
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    cookies: dict[str, str] = {}
    requirement = binding.security[0] if binding.security else {}
    for scheme_name in requirement:
        scheme = binding.security_schemes.get(scheme_name, {})
        kind = str(scheme.get("type", "")).lower()
        if kind == "apikey":
            target = {"header": headers, "query": query, "cookie": cookies}.get(
                str(scheme.get("in")), headers
            )
            target[str(scheme.get("name", "X-API-Key"))] = "sandbox-key"
        elif kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
            headers["Authorization"] = "Basic " + base64.b64encode(b"sandbox:sandbox").decode()
        elif kind in ("http", "oauth2", "openidconnect"):
            headers["Authorization"] = "Bearer sandbox-token"
    return Credentials(headers, query, cookies)


# ------------------------------------------------------------------------------------------- request


def build_request(
    tool: Tool, call: ToolCall, *, base_url: str | None = None, credentials: Credentials | None = None
) -> HttpRequest:
    """The HTTP request ``call`` makes against ``tool``.

    ``base_url`` replaces the binding's ``server_url`` when given (a sandbox, a real deployment).
    ``credentials`` are added last and win over call arguments of the same wire name.
    Raises ``RequestBuildError`` (code ``missing_path_parameter``, ``invalid_header_value``,
    ``conflicting_body``) when no request can be formed.
    """
    binding = tool.binding
    path = binding.path
    query: list[str] = []
    headers: dict[str, str] = {}
    cookies: list[str] = []
    body_props: dict[str, Any] = {}
    body_whole: list[Any] = []
    form_fields: list[tuple[str, Any, ArgumentBinding | None]] = []
    unbound: list[str] = []
    media = binding.body_media_type
    json_body = media is None or is_json_media(media)

    for arg_name, value in call.arguments.items():
        arg = binding.arguments.get(arg_name)
        if arg is None:
            unbound.append(arg_name)
            if media is not None and json_body:
                body_props[arg_name] = value
            elif media is not None:
                form_fields.append((arg_name, value, None))
            elif value is not None:
                query.extend(serialize_query(arg_name, value, None, None))
            continue
        loc = arg.location
        if loc is ParamLocation.PATH:
            continue  # filled below, in template order
        if value is None and loc in (ParamLocation.QUERY, ParamLocation.HEADER, ParamLocation.COOKIE):
            continue  # null has no spelling in a URL or a header; omitting it is what clients do
        if loc is ParamLocation.QUERY:
            query.extend(serialize_query(arg.name, value, arg.style, arg.explode))
        elif loc is ParamLocation.HEADER:
            headers[arg.name] = serialize_header(value, arg.explode)
        elif loc is ParamLocation.COOKIE:
            cookies.append(serialize_cookie(arg.name, value))
        elif loc is ParamLocation.BODY:
            body_whole.append(value)
        elif loc is ParamLocation.FORM or not json_body:
            form_fields.append((arg.name, value, arg))
        else:  # BODY_PROPERTY with a JSON body
            body_props[arg.name] = value

    path = _fill_path(tool, call, path)
    creds = credentials or Credentials()
    for name, value in creds.query.items():
        query.append(f"{quote_item(name)}={quote_item(value)}")
    for name, value in creds.cookies.items():
        cookies.append(serialize_cookie(name, value))
    for name, value in creds.headers.items():
        headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
        headers[name] = value
    if cookies:
        headers["Cookie"] = "; ".join(cookies)

    content: bytes | None = None
    if body_whole or body_props or form_fields:
        content, content_type = _encode_body(tool, media, body_whole, body_props, form_fields)
        headers["Content-Type"] = content_type
    elif _empty_object_body(binding):
        # A required JSON body whose properties are all optional, and the call set none: the body is
        # an empty object. Sending none is a different request, refused as "missing request body".
        content = b"{}"
        headers["Content-Type"] = media or JSON_MEDIA

    url = join_url(binding.server_url if base_url is None else base_url, path)
    if query:
        url += "?" + "&".join(query)
    return HttpRequest(binding.method, url, headers, content, tuple(unbound))


def _empty_object_body(binding: HttpBinding) -> bool:
    """Whether a call that sets no body argument must still send ``{}``: the body is required, JSON,
    and not one whole-body argument (a required one the call left out is the call's mistake)."""
    return (
        binding.body_required
        and binding.body_media_type is not None
        and is_json_media(binding.body_media_type)
        and all(a.location is not ParamLocation.BODY for a in binding.arguments.values())
    )


def _fill_path(tool: Tool, call: ToolCall, path: str) -> str:
    for arg_name, arg in tool.binding.arguments.items():
        if arg.location is not ParamLocation.PATH:
            continue
        token = "{" + arg.name + "}"
        if token not in path:
            continue
        value = call.arguments.get(arg_name)
        if value is None or value == "":
            raise RequestBuildError(
                "missing_path_parameter", f"path parameter {arg.name!r} (argument {arg_name!r}) has no value"
            )
        path = path.replace(token, serialize_path(arg.name, value, arg.style, arg.explode))
    if "{" in path:
        start = path.index("{")
        missing = path[start + 1 : path.index("}", start)]
        raise RequestBuildError(
            "missing_path_parameter",
            f"path parameter {missing!r} of {tool.binding.path} has no binding or value",
        )
    return path


def _encode_body(
    tool: Tool,
    media: str | None,
    whole: list[Any],
    props: dict[str, Any],
    form_fields: list[tuple[str, Any, ArgumentBinding | None]],
) -> tuple[bytes, str]:
    base = (media or JSON_MEDIA).split(";")[0].strip().lower()
    if base == FORM_MEDIA:
        return encode_form(form_fields + [(k, v, None) for k, v in props.items()]), FORM_MEDIA
    if base == MULTIPART_MEDIA:
        return encode_multipart(
            form_fields + [(k, v, None) for k, v in props.items()], binary_properties(tool)
        )
    if len(whole) > 1 or (whole and (props or form_fields)):
        if whole and isinstance(whole[0], dict) and len(whole) == 1:
            body = {**whole[0], **props, **{n: v for n, v, _ in form_fields}}
        else:
            raise RequestBuildError(
                "conflicting_body", "the call sets the whole body and body properties at once"
            )
    elif whole:
        body = whole[0]
    else:
        body = {**props, **{n: v for n, v, _ in form_fields}}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), media or JSON_MEDIA


def origin_and_prefix(server_url: str) -> tuple[str, str]:
    """``("https://host:443", "/gen")`` for ``https://host:443/gen``; ``("", "/api")`` for a relative URL."""
    parts = urlsplit(server_url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return origin, parts.path.rstrip("/")
