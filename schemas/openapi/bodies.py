"""Request bodies -> tool arguments: JSON (and ``+json``), urlencoded and multipart forms.

The media type is chosen by preference: ``application/json``, then other JSON types (``+json``,
``*/*``), then ``application/x-www-form-urlencoded``, then ``multipart/form-data``. A JSON object
body with known properties is flattened: each (non-readOnly) top-level property becomes an argument
at location ``body-property``; any other body (array, primitive, free-form object, oneOf) is one
argument at location ``body``. Form bodies become ``form`` arguments, one per field.

Media-type examples (``example``, or ``examples`` entries with an inline ``value``) are kept as JSON
Schema ``examples``: on the whole-body argument as they are, or split by top-level key onto the
flattened ``body-property`` arguments (GEN NX: ``{"Assign": {...}}`` gives ``Assign`` its example). At
most :data:`MAX_BODY_EXAMPLES` per argument, each within the spec budget ``max_example_nodes``; the
argument's schema is copied first, since converted property schemas may be shared.

A body in no supported media type (XML only, octet-stream, image/png…) is left out with a warning
when optional; when required, the operation cannot be called without it and is skipped
(:class:`UnsupportedBody`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from schemas.models import ParamLocation
from schemas.openapi.budgets import count_values
from schemas.openapi.convert import SchemaConverter, is_json_value
from schemas.openapi.parameters import Argument, RawParameter, swagger2_form_argument
from schemas.openapi.pointers import join
from schemas.openapi.spec import Spec

JSON = "application/json"
URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
_FLATTEN_BLOCKERS = ("anyOf", "oneOf", "not", "if")
# A tool shows its examples to the teacher on every prompt: a few real ones teach the codes and shapes,
# more only make prompts longer.
MAX_BODY_EXAMPLES = 3


class UnsupportedBody(Exception):
    """A required request body in no media type callforge can send."""


@dataclass
class Body:
    """The arguments a request body contributes, and how it is sent."""

    media_type: str
    required: bool
    arguments: list[Argument] = field(default_factory=list)


def media_rank(media_type: str) -> int | None:
    """Preference of a media type (lower is better), None when it cannot be sent."""
    base = media_type.split(";", 1)[0].strip().lower()
    if base == JSON:
        return 0
    if base == "application/json-patch+json":
        return 2  # its payload is an RFC 6902 operation list whatever schema the spec declares
    if base.endswith("+json") or base.endswith("/json"):
        return 1
    if base in ("*/*", "application/*"):
        return 3  # anything goes: send JSON
    if base == URLENCODED:
        return 4
    if base == MULTIPART:
        return 5
    return None


def choose_media(types: list[str]) -> str | None:
    """The preferred sendable media type among ``types`` as spelled there (first listed wins a tie)."""
    ranked = [(rank, i, t) for i, t in enumerate(types) if (rank := media_rank(t)) is not None]
    return min(ranked)[2] if ranked else None


def wire_type(media_type: str) -> str:
    """The Content-Type to send for a chosen media type: parameters dropped, wildcards sent as JSON."""
    return JSON if media_rank(media_type) == 3 else media_type.split(";", 1)[0].strip()


def openapi3_body(spec: Spec, raw: Any, file: Path, pointer: str) -> Body | None:
    """An OpenAPI 3 ``requestBody`` (raw, maybe a $ref) -> Body, None when absent or left out."""
    target = spec.follow(raw, file, pointer, "requestBody")
    if target is None or not isinstance(target.node, dict):
        return None
    node, file, pointer = target.node, target.file, target.pointer or pointer
    required = node.get("required") is True
    content = node.get("content")
    if not isinstance(content, dict) or not content:
        spec.warn(pointer, "invalid_request_body", "requestBody has no content; left out", file)
        return None
    key = choose_media(list(content))
    if key is None:
        _unsupported(spec, list(content), required, file, pointer)
        return None
    media = wire_type(key)
    media_node = content[key] if isinstance(content[key], dict) else {}
    at = join(pointer, "content", key)
    schema = spec.converter.convert(media_node.get("schema", {}), file, join(at, "schema"))
    description = node.get("description")
    body = Body(media, required)
    if media in (URLENCODED, MULTIPART):
        fields = object_fields(spec.converter, schema)
        if fields is None:
            message = f"{media} body whose schema is not an object with properties"
            spec.warn(at, "unsupported_media_type", message, file)
            if required:
                raise UnsupportedBody(f"required {media} body has no object schema with properties")
            return None
        encoding = declared if isinstance(declared := media_node.get("encoding"), dict) else {}
        props, required_props = fields
        for name, prop in props.items():
            argument = _form_argument(
                spec.converter, name, prop, required and name in required_props, media, encoding
            )
            body.arguments.append(replace(argument, required_in_body=name in required_props))
        return body
    body.arguments = json_arguments(spec.converter, schema, required, "body", description)
    examples = media_examples(spec, media_node, file, at)
    if examples:
        body.arguments = with_examples(body.arguments, examples)
    return body


def media_examples(spec: Spec, media_node: dict[str, Any], file: Path, pointer: str) -> list[Any]:
    """A media type's example values: ``example``, then each ``examples`` entry's ``value``.

    An entry given by ``$ref`` (to ``components/examples``) is followed; one with only an
    ``externalValue``, or whose value is not plain JSON or exceeds ``max_example_nodes``, is skipped
    (with a warning for the last two)."""
    found: list[Any] = []
    if "example" in media_node:
        found.append((media_node["example"], join(pointer, "example")))
    entries = media_node.get("examples")
    if isinstance(entries, dict):
        for name, entry in entries.items():
            at = join(pointer, "examples", name)
            target = spec.follow(entry, file, at, "example")
            if target is not None and isinstance(target.node, dict) and "value" in target.node:
                found.append((target.node["value"], at))
    budget = spec.converter.budgets.max_example_nodes
    values: list[Any] = []
    for value, at in found:
        if not is_json_value(value):
            spec.warn(at, "invalid_example", "example is not plain JSON data; left out", file)
        elif count_values(value, budget) > budget:
            message = f"example holds more than {budget:,} values (budget max_example_nodes); left out"
            spec.warn(at, "oversized_value", message, file)
        elif value not in values:
            values.append(value)
    return values


def with_examples(arguments: list[Argument], examples: list[Any]) -> list[Argument]:
    """``arguments`` with the body ``examples`` attached (see the module docstring)."""
    whole = len(arguments) == 1 and arguments[0].location is ParamLocation.BODY
    out = []
    for argument in arguments:
        if whole:
            values = examples
        else:
            values = [e[argument.wire] for e in examples if isinstance(e, dict) and argument.wire in e]
        if not values or not isinstance(argument.schema, dict):
            out.append(argument)
            continue
        schema = dict(argument.schema)
        kept = list(schema.get("examples") or [])
        kept += [v for v in values if v not in kept]
        schema["examples"] = kept[:MAX_BODY_EXAMPLES]
        out.append(replace(argument, schema=schema))
    return out


def swagger2_body(
    spec: Spec, params: list[RawParameter], operation: dict[str, Any], file: Path, pointer: str
) -> Body | None:
    """Swagger 2.0 ``in: body`` / ``in: formData`` parameters -> Body (consumes picks the media type)."""
    consumes = operation.get("consumes", spec.root.get("consumes"))
    consumes = [c for c in consumes if isinstance(c, str)] if isinstance(consumes, list) else []
    body_params = [p for p in params if p.location == "body"]
    form_params = [p for p in params if p.location == "formData"]
    if body_params:
        param = body_params[-1]
        required = param.node.get("required") is True
        chosen = choose_media(consumes or [JSON])
        media = wire_type(chosen) if chosen is not None else None
        if media is None or media in (URLENCODED, MULTIPART):
            _unsupported(spec, consumes, required, file, join(pointer, "consumes"))
            return None
        schema = spec.converter.convert(
            param.node.get("schema", {}), param.file, join(param.pointer, "schema")
        )
        description = param.node.get("description")
        return Body(
            media, required, json_arguments(spec.converter, schema, required, param.name, description)
        )
    if form_params:
        is_file = any(p.node.get("type") == "file" for p in form_params)
        media = MULTIPART if is_file or MULTIPART in consumes else URLENCODED
        arguments = [swagger2_form_argument(spec, p) for p in form_params]
        if media == MULTIPART:  # parts carry a Content-Type, not a form style
            arguments = [
                replace(a, style=None, explode=None, content_type=_part_type(spec.converter, a.schema))
                for a in arguments
            ]
        return Body(media, any(a.required for a in arguments), arguments)
    return None


def json_arguments(
    converter: SchemaConverter, schema: Any, required: bool, whole_name: str, description: Any
) -> list[Argument]:
    """A JSON body: its top-level properties as arguments, or the whole body as one."""
    fields = object_fields(converter, schema)
    if fields is not None:
        props, required_props = fields
        return [
            Argument(
                name,
                ParamLocation.BODY_PROPERTY,
                prop,
                required and name in required_props,
                required_in_body=name in required_props,
            )
            for name, prop in props.items()
        ]
    whole = dict(schema) if isinstance(schema, dict) else {}
    if isinstance(description, str) and description.strip() and "description" not in whole:
        whole["description"] = description.strip()
    return [Argument(whole_name, ParamLocation.BODY, whole, required)]


def object_fields(converter: SchemaConverter, schema: Any) -> tuple[dict[str, Any], set[str]] | None:
    """(properties, required names) of a converted object schema, merging ``allOf`` and ``$ref``s.

    None when the schema is not a plain object with properties (array, primitive, free-form
    object, nullable, oneOf/anyOf…): such a body is sent whole.
    """
    props: dict[str, Any] = {}
    required: set[str] = set()
    if not _collect_fields(converter, schema, props, required, set()) or not props:
        return None
    return props, required


def _collect_fields(
    converter: SchemaConverter, schema: Any, props: dict[str, Any], required: set[str], seen: set[str]
) -> bool:
    if not isinstance(schema, dict) or any(k in schema for k in _FLATTEN_BLOCKERS):
        return False
    kind = schema.get("type", "object")
    if kind != "object":
        return False
    ref = schema.get("$ref")
    if ref is not None:
        name = converter.def_name(ref)
        if name is None or name in seen:
            return False
        seen.add(name)
        if not _collect_fields(converter, converter.defs.get(name), props, required, seen):
            return False
    for member in schema.get("allOf", ()):
        if not _collect_fields(converter, member, props, required, seen):
            return False
    props.update(schema.get("properties", {}))
    required.update(schema.get("required", ()))
    return True


def _form_argument(
    converter: SchemaConverter, name: str, schema: Any, required: bool, media: str, encoding: dict[str, Any]
) -> Argument:
    enc = declared if isinstance(declared := encoding.get(name), dict) else {}
    content_type = part_type if isinstance(part_type := enc.get("contentType"), str) else None
    if media == MULTIPART:
        return Argument(
            name,
            ParamLocation.FORM,
            schema,
            required,
            content_type=content_type or _part_type(converter, schema),
        )
    style = declared_style if isinstance(declared_style := enc.get("style"), str) else "form"
    explode = enc["explode"] if isinstance(enc.get("explode"), bool) else style == "form"
    return Argument(name, ParamLocation.FORM, schema, required, style, explode, content_type)


def _part_type(converter: SchemaConverter, schema: Any, depth: int = 0) -> str:
    """The default Content-Type of a multipart part (OpenAPI 3 encoding defaults).

    An array is sent as one part per item (OpenAPI 3 multipart), so its type is its items' type. A
    ``$ref`` is looked through (OpenAI's ``response_format: {$ref: AudioResponseFormat}``, a string
    enum, is text, as a server reads it, not JSON); a schema with no type to go by is JSON.
    """
    if not isinstance(schema, dict):
        return "text/plain"
    ref = schema.get("$ref")
    if isinstance(ref, str) and "type" not in schema and depth < 8:
        name = converter.def_name(ref)
        target = converter.defs.get(name) if name is not None else None
        return _part_type(converter, target, depth + 1) if isinstance(target, dict) else JSON
    kind = schema.get("type")
    if kind == "array":
        return _part_type(converter, schema.get("items"), depth + 1)
    if schema.get("format") in ("binary", "base64") or schema.get("contentMediaType"):
        return "application/octet-stream"
    if kind == "object" or (
        kind is None and any(k in schema for k in ("anyOf", "oneOf", "allOf", "properties"))
    ):
        return JSON
    return "text/plain"


def _unsupported(spec: Spec, types: list[str], required: bool, file: Path, pointer: str) -> None:
    listed = ", ".join(types) or "none declared"
    if required:
        raise UnsupportedBody(f"required request body only in unsupported media types ({listed})")
    spec.warn(pointer, "unsupported_media_type", f"optional request body only in {listed}; left out", file)
