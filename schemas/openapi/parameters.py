"""Path, query, header and cookie parameters -> tool arguments with their wire binding.

Path-level parameters are merged with the operation's, the operation winning on the same
(name, in). Each parameter becomes an :class:`Argument` whose schema is converted JSON Schema
carrying the parameter's own description, and whose ``style``/``explode`` are always filled in
(the spec's value or its default), so a request builder never needs to know OpenAPI's defaults.

Not arguments: ``Accept``, ``Content-Type`` and ``Authorization`` headers (OpenAPI says they are
ignored) and parameters that restate an ``apiKey`` security scheme (credentials come from the
environment, never from a model's call).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.models import ParamLocation
from schemas.openapi.convert import is_json_value
from schemas.openapi.pointers import join
from schemas.openapi.spec import Spec

IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
_LOCATIONS = frozenset({"path", "query", "header", "cookie", "body", "formData"})
_TEMPLATE_VAR = re.compile(r"\{([^{}/]+)\}")
# Swagger 2.0 keeps a non-body parameter's schema inline, beside name/in.
_SWAGGER2_SCHEMA_KEYS = (
    "type",
    "format",
    "items",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "enum",
    "multipleOf",
    "x-nullable",
)
# Swagger 2.0 collectionFormat -> (OpenAPI 3 style, explode) for query arrays.
_COLLECTION_FORMATS = {
    "csv": ("form", False),
    "ssv": ("spaceDelimited", False),
    "tsv": ("tabDelimited", False),  # no OpenAPI 3 equivalent; named in the same spirit
    "pipes": ("pipeDelimited", False),
    "multi": ("form", True),
}


@dataclass(frozen=True)
class Argument:
    """One tool argument before naming: its wire name, where it goes and its schema (shared: never mutate)."""

    wire: str
    location: ParamLocation
    schema: Any
    required: bool
    style: str | None = None
    explode: bool | None = None
    content_type: str | None = None
    # A property the body's schema requires while the body itself is optional: it is required
    # whenever any property of the body is sent (``dependentRequired`` in the tool's schema).
    required_in_body: bool = False


@dataclass(frozen=True)
class RawParameter:
    """A resolved Parameter Object with where it was found."""

    name: str
    location: str
    node: dict[str, Any]
    file: Path
    pointer: str


def merged_parameters(
    spec: Spec, lists: list[tuple[Any, Path, str]], credentials: frozenset[tuple[str, str]]
) -> list[RawParameter]:
    """Resolve and merge parameter lists (path level first, then operation level).

    ``lists`` holds (raw list, file, pointer) per level; a later level replaces an earlier entry
    with the same (name, in). Invalid entries, ignored headers and credentials are dropped with a
    warning.
    """
    merged: dict[tuple[str, str], RawParameter] = {}
    for raw_list, file, pointer in lists:
        if raw_list is None:
            continue
        if not isinstance(raw_list, list):
            spec.warn(pointer, "invalid_parameter", "parameters must be a list; ignored", file)
            continue
        for index, raw in enumerate(raw_list):
            target = spec.follow(raw, file, join(pointer, index), "parameter")
            if target is None:
                continue
            node = target.node
            name, location = (node.get("name"), node.get("in")) if isinstance(node, dict) else (None, None)
            if not isinstance(name, str) or location not in _LOCATIONS:
                spec.warn(
                    target.pointer or join(pointer, index),
                    "invalid_parameter",
                    f"a parameter needs a string 'name' and 'in' one of {sorted(_LOCATIONS)}; ignored",
                    target.file,
                )
                continue
            at = join(pointer, index)
            if spec.major == 3 and location in ("body", "formData"):
                spec.warn(
                    at,
                    "invalid_parameter",
                    f"'in: {location}' is Swagger 2.0; use requestBody. Ignored",
                    file,
                )
                continue
            if location == "header" and name.lower() in IGNORED_HEADERS:
                spec.warn(
                    at, "ignored_parameter", f"header {name!r} is set by the client, not an argument", file
                )
                continue
            if (location, name.lower() if location == "header" else name) in credentials:
                spec.warn(
                    at,
                    "credential_parameter",
                    f"{location} {name!r} is an apiKey credential, not an argument",
                    file,
                )
                continue
            merged[(name, location)] = RawParameter(name, location, node, target.file, target.pointer or at)
    return list(merged.values())


def path_arguments(spec: Spec, path: str, params: list[RawParameter], pointer: str) -> list[RawParameter]:
    """The path parameters the template needs: declared ones, plus a string for each undeclared one."""
    names = _TEMPLATE_VAR.findall(path)
    declared = {p.name: p for p in params if p.location == "path"}
    out = []
    for name in names:
        param = declared.get(name)
        if param is None:
            spec.warn(
                pointer,
                "undeclared_path_parameter",
                f"{{{name}}} in the path has no parameter; taken as a string",
            )
            param = RawParameter(
                name,
                "path",
                {  # both spellings: Swagger 2.0 reads `type`, OpenAPI 3 reads `schema`
                    "name": name,
                    "in": "path",
                    "required": True,
                    "type": "string",
                    "schema": {"type": "string"},
                },
                spec.file,
                pointer,
            )
        out.append(param)
    for name, param in declared.items():
        if name not in names:
            spec.warn(
                param.pointer,
                "invalid_parameter",
                f"path parameter {name!r} is not in the path template; ignored",
                param.file,
            )
    return out


def parameter_argument(spec: Spec, param: RawParameter) -> Argument:
    """Convert a path/query/header/cookie parameter into an argument.

    Memoised per parameter location: a shared parameter (``$ref: '#/parameters/pretty'``, used by
    hundreds of Kubernetes operations) is converted once and its argument shared by every tool.
    """
    key = (param.file, param.pointer, param.name, param.location)
    argument = spec.arguments.get(key)
    if argument is None:
        argument = spec.arguments[key] = _parameter_argument(spec, param)
    return argument


def _parameter_argument(spec: Spec, param: RawParameter) -> Argument:
    node = param.node
    content_type = None
    if spec.major == 2:
        source = {k: node[k] for k in _SWAGGER2_SCHEMA_KEYS if k in node}
        schema = spec.converter.convert(source, param.file, param.pointer)
    elif "schema" in node:
        schema = spec.converter.convert(node["schema"], param.file, join(param.pointer, "schema"))
    elif isinstance(node.get("content"), dict) and node["content"]:
        content_type, media = next(iter(node["content"].items()))
        media = media if isinstance(media, dict) else {}
        at = join(param.pointer, "content", content_type, "schema")
        schema = spec.converter.convert(media.get("schema", {}), param.file, at)
    else:
        spec.warn(
            param.pointer,
            "missing_schema",
            f"parameter {param.name!r} has no schema; any value accepted",
            param.file,
        )
        schema = {}
    schema = describe(schema, node)
    style, explode = _serialisation(spec, param, schema)
    required = node.get("required") is True
    if param.location == "path" and not required:
        spec.warn(
            param.pointer,
            "invalid_parameter",
            f"path parameter {param.name!r} must be required; it is",
            param.file,
        )
        required = True
    return Argument(param.name, ParamLocation(param.location), schema, required, style, explode, content_type)


def describe(schema: Any, node: dict[str, Any]) -> dict[str, Any]:
    """Put a parameter's description, deprecation and example onto its (fresh) schema."""
    out: dict[str, Any] = schema if isinstance(schema, dict) else {}
    description = node.get("description")
    if isinstance(description, str) and description.strip():
        out["description"] = description.strip()
    if node.get("deprecated") is True:
        out["deprecated"] = True
    if "example" in node and "examples" not in out and is_json_value(node["example"]):
        out["examples"] = [node["example"]]
    elif isinstance(node.get("examples"), dict) and "examples" not in out:
        values = [e["value"] for e in node["examples"].values() if isinstance(e, dict) and "value" in e]
        if values and is_json_value(values):
            out["examples"] = values
    return out


def _serialisation(spec: Spec, param: RawParameter, schema: dict[str, Any]) -> tuple[str, bool]:
    node, location = param.node, param.location
    default_style = "form" if location in ("query", "cookie", "formData") else "simple"
    if spec.major == 2:
        if node.get("type") == "array":
            fmt = node.get("collectionFormat", "csv")
            style, explode = _COLLECTION_FORMATS.get(fmt, ("form", False))
            if location in ("path", "header") and fmt == "csv":
                style = "simple"
            return style, explode
        return default_style, default_style == "form"
    style = declared if isinstance(declared := node.get("style"), str) else default_style
    explode = node["explode"] if isinstance(node.get("explode"), bool) else style == "form"
    return style, explode


def swagger2_form_argument(spec: Spec, param: RawParameter) -> Argument:
    """A Swagger 2.0 ``in: formData`` parameter as a form-field argument."""
    source = {k: param.node[k] for k in _SWAGGER2_SCHEMA_KEYS if k in param.node}
    schema = describe(spec.converter.convert(source, param.file, param.pointer), param.node)
    style, explode = _serialisation(spec, param, schema)
    return Argument(
        param.name, ParamLocation.FORM, schema, param.node.get("required") is True, style, explode
    )
