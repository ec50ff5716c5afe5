"""One OpenAPI operation -> the parts of a Tool: argument schema, HTTP binding, description.

Arguments come in a fixed order (path, query, header, cookie, then body) and that order settles
name clashes: the first keeps its name, a later one is prefixed with its location (``body_id``,
``query_id``…), then numbered. ``ArgumentBinding.name`` always keeps the wire name. Argument names
are kept as the spec spells them when they are safe for every function-calling API
(``^[A-Za-z0-9_.-]{1,64}$``); others (``filter[name]``, ``$top``) are rewritten, the binding
remembering the original.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from schemas.models import ArgumentBinding, HttpBinding, ParamLocation
from schemas.openapi.bodies import UnsupportedBody, openapi3_body, swagger2_body
from schemas.openapi.parameters import Argument, merged_parameters, parameter_argument, path_arguments
from schemas.openapi.pointers import join
from schemas.openapi.refs import Target, UnresolvedRef
from schemas.openapi.security import operation_security
from schemas.openapi.servers import server_for
from schemas.openapi.spec import Spec

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MAX_DESCRIPTION = 1024  # long enough for a real summary + description, short enough for a prompt
_SAFE_ARGUMENT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_BODY_FIELDS = frozenset({ParamLocation.BODY_PROPERTY, ParamLocation.FORM})
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_.-]+")
_PREFIX = {
    ParamLocation.PATH: "path",
    ParamLocation.QUERY: "query",
    ParamLocation.HEADER: "header",
    ParamLocation.COOKIE: "cookie",
    ParamLocation.BODY: "body",
    ParamLocation.BODY_PROPERTY: "body",
    ParamLocation.FORM: "form",
}


class SkipOperation(Exception):
    """An operation that cannot become a tool; ``code`` is a stable reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class OperationDraft:
    """A tool without its name, tier and category (those are settled across the whole catalog)."""

    path: str
    method: str
    pointer: str  # in the root document
    operation_id: str | None
    tags: list[str]
    description: str
    deprecated: bool
    parameters: dict[str, Any]
    binding: HttpBinding


def operation_target(spec: Spec, item: Target, method: str) -> Target:
    """The Operation Object of ``method`` in the path item ``item``, its ``$ref`` chain followed.

    OpenAPI has no Reference Object for operations, yet multi-file specs (DigitalOcean's, 659
    operations) write ``get: {$ref: 'resources/droplets/list.yml'}`` and tools like Redocly bundle
    them; the file and pointer returned are where the operation really lives, so its own relative
    ``$ref``s resolve from there. A reference that leads nowhere raises SkipOperation (a warning).
    """
    raw = item.node[method]
    pointer = join(item.pointer, method)
    try:
        return spec.resolver.follow(raw, item.file, pointer)
    except UnresolvedRef as exc:
        raise SkipOperation("missing_ref", f"operation $ref: {exc}") from None


def build_operation(
    spec: Spec,
    path: str,
    method: str,
    item: Target,
    schemes: dict[str, dict[str, Any]],
    credentials: frozenset[tuple[str, str]],
) -> OperationDraft:
    """Build the draft for ``method`` of the path item ``item`` (resolved); raises SkipOperation."""
    target = operation_target(spec, item, method)
    op, op_file, pointer = target.node, target.file, target.pointer
    raw_path = path
    path, fixed_query = split_path_key(path)
    if not isinstance(op, dict):
        raise SkipOperation("invalid_operation", f"the operation is {type(op).__name__}, not an object")
    params = merged_parameters(
        spec,
        [
            (item.node.get("parameters"), item.file, join(item.pointer, "parameters")),
            (op.get("parameters"), op_file, join(pointer, "parameters")),
        ],
        credentials,
    )
    arguments = [parameter_argument(spec, p) for p in path_arguments(spec, path, params, pointer)]
    for location in ("query", "header", "cookie"):
        arguments += [parameter_argument(spec, p) for p in params if p.location == location]
    declared_query = {p.name for p in params if p.location == "query"}
    arguments += [
        Argument(wire=k, location=ParamLocation.QUERY, schema={"type": "string", "const": v}, required=True)
        for k, v in fixed_query
        if k not in declared_query
    ]
    try:
        if spec.major == 2:
            body = swagger2_body(spec, params, op, op_file, pointer)
        elif "requestBody" in op:
            body = openapi3_body(spec, op["requestBody"], op_file, join(pointer, "requestBody"))
        else:
            body = None
    except UnsupportedBody as exc:
        raise SkipOperation("unsupported_media_type", str(exc)) from exc
    if body is not None:
        arguments += body.arguments
    parameters, bindings = _signature(spec, arguments)
    server_url, variables = server_for(
        spec,
        [
            (op.get("servers"), join(pointer, "servers")),
            (item.node.get("servers"), join(item.pointer, "servers")),
            (spec.root.get("servers"), "/servers"),
        ],
        swagger2_schemes=op.get("schemes"),
    )
    security, used = operation_security(spec, op, pointer, schemes)
    binding = HttpBinding(
        method=method.upper(),
        path=path,
        server_url=server_url,
        server_variables=variables,
        arguments=bindings,
        body_media_type=body.media_type if body is not None else None,
        body_required=body.required if body is not None else False,
        security=security,
        security_schemes=used,
    )
    tags = [t for t in op.get("tags", []) if isinstance(t, str)] if isinstance(op.get("tags"), list) else []
    operation_id = op.get("operationId") if isinstance(op.get("operationId"), str) else None
    return OperationDraft(
        path=path,
        method=method.upper(),
        pointer=join("/paths", raw_path, method),  # where it sits in the root document, even via a $ref
        operation_id=operation_id,
        tags=tags,
        description=tool_description(op, method, path, operation_id),
        deprecated=op.get("deprecated") is True,
        parameters=parameters,
        binding=binding,
    )


def _signature(spec: Spec, arguments: list[Argument]) -> tuple[dict[str, Any], dict[str, ArgumentBinding]]:
    """Name the arguments and build the tool's parameter schema (with its reachable $defs)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    bindings: dict[str, ArgumentBinding] = {}
    for argument in arguments:
        name = _argument_name(argument, properties)
        properties[name] = argument.schema
        if argument.required:
            required.append(name)
        bindings[name] = ArgumentBinding(
            location=argument.location,
            name=argument.wire,
            style=argument.style,
            explode=argument.explode,
            required=argument.required,
            content_type=argument.content_type,
        )
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    dependent = _body_dependencies(arguments, list(properties))
    if dependent:
        parameters["dependentRequired"] = dependent
    # Only bound arguments can reach the request: anything else a model invents is an error.
    parameters["additionalProperties"] = False
    defs = spec.converter.reachable(properties.values())
    if defs:
        parameters["$defs"] = defs
    return parameters, bindings


def _body_dependencies(arguments: list[Argument], names: list[str]) -> dict[str, list[str]]:
    """``dependentRequired`` for an optional body whose schema requires some properties.

    The body may be left out, so those properties are not required arguments; but once any body
    property is sent the body exists and must hold them (``names[i]`` is ``arguments[i]``'s name).
    """
    in_body = [(n, a) for n, a in zip(names, arguments, strict=True) if a.location in _BODY_FIELDS]
    needed = [n for n, a in in_body if a.required_in_body and not a.required]
    if not needed:
        return {}
    return {n: [m for m in needed if m != n] for n, _ in in_body if [m for m in needed if m != n]}


def _argument_name(argument: Argument, taken: dict[str, Any]) -> str:
    wire = argument.wire
    base = wire if _SAFE_ARGUMENT.match(wire) else (_UNSAFE_RUN.sub("_", wire).strip("_")[:64] or "argument")
    if base not in taken:
        return base
    prefixed = f"{_PREFIX[argument.location]}_{base}"[:64]
    candidate, n = prefixed, 1
    while candidate in taken:
        n += 1
        candidate = f"{prefixed[: 64 - len(str(n)) - 1]}_{n}"
    return candidate


def tool_description(op: dict[str, Any], method: str, path: str, operation_id: str | None = None) -> str:
    """Summary and description, trimmed to MAX_DESCRIPTION characters.

    Without both: the ``operationId`` made readable (``listGuildMembers`` -> "List guild members"),
    then ``METHOD path`` as the last resort.
    """
    summary = raw.strip() if isinstance(raw := op.get("summary"), str) else ""
    text = raw.strip() if isinstance(raw := op.get("description"), str) else ""
    if summary and text and not text.startswith(summary):
        text = f"{summary}\n\n{text}"
    text = text or summary or readable_operation_id(operation_id) or f"{method.upper()} {path}"
    if len(text) > MAX_DESCRIPTION:
        cut = text[: MAX_DESCRIPTION - 1]
        space = cut.rfind(" ")
        text = (cut[:space] if space > MAX_DESCRIPTION // 2 else cut).rstrip() + "…"
    return text


_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|[_\-\s./:]+")


def readable_operation_id(operation_id: str | None) -> str:
    """``listGuildMembers`` / ``list_guild_members`` / ``Droplets-List`` -> "List guild members"; "" if none.

    Acronyms keep their case (``getHTTPLogs`` -> "Get HTTP logs"); an id with no letters gives "".
    """
    if not operation_id or not any(c.isalpha() for c in operation_id):
        return ""
    words = [w for w in _WORD_BREAK.split(operation_id.strip()) if w]
    words = [w if w.isupper() and len(w) > 1 else w.lower() for w in words]
    return " ".join(words)[:1].upper() + " ".join(words)[1:] if words else ""


def split_path_key(key: str) -> tuple[str, list[tuple[str, str]]]:
    """A path key as (path template, fixed query pairs): ``/chat?beta=true`` -> ``/chat``, [("beta", "true")].

    OpenAPI path keys have no query or fragment, yet real specs write them to tell operations apart
    (``/files?beta=true``, ``/contacts#add``). Sent as written, the ``?`` starts the real query and the
    ``#`` is never sent at all, so: the query becomes required constant query arguments and the
    fragment is dropped (``operation_items`` warns about both).
    """
    path, _, query = key.partition("#")[0].partition("?")
    return path, [(k, v) for k, v in parse_qsl(query, keep_blank_values=True)]


def operation_items(spec: Spec) -> list[tuple[str, str, Target]]:
    """Every (path, method, resolved path item) of the document, sorted by (path, method)."""
    paths = spec.root.get("paths") or {}
    found = []
    for path, raw in paths.items():
        pointer = join("/paths", path)
        if path.startswith("x-"):
            continue  # a specification extension, not a path
        if not path.startswith("/"):
            spec.warn(pointer, "invalid_path", f"path {path!r} does not start with '/'; ignored")
            continue
        if "?" in path or "#" in path:
            clean, fixed = split_path_key(path)
            parts = (
                [f"the query {', '.join(f'{k}={v}' for k, v in fixed)} becomes fixed arguments"]
                if fixed
                else []
            )
            parts += ["the fragment is dropped (never sent over HTTP)"] if "#" in path else []
            spec.warn(
                pointer,
                "path_with_query_or_fragment",
                f"path key {path!r} is not a path template; tools call {clean}: {'; '.join(parts)}",
            )
        item = spec.follow(raw, spec.file, pointer, "path item")
        if item is None:
            continue
        if not isinstance(item.node, dict):
            spec.warn(pointer, "invalid_path", "a path item must be an object; ignored")
            continue
        item = Target(item.node, item.file, item.pointer or pointer)
        found += [(path, method, item) for method in HTTP_METHODS if method in item.node]
    return sorted(found, key=lambda entry: (entry[0], entry[1]))
