"""Array parameters whose items are objects or arrays: each item is read as JSON text.

OpenAPI's parameter styles spell arrays of primitives only; how an object *inside* an array is
written is left undefined (OAS 3.1.1, "Style Values"). The request builder writes each such item as
compact JSON, so ``[{}, {"a": 1, "b": 2}]`` in a ``simple`` header is ``{},{"a":1,"b":2}``. Stock
openapi-core splits that text at every comma and then fails to cast the piece ``{}`` to an object,
refusing a request OpenAPI does not rule on. The sandbox reads such a value as JSON items instead:

- ``simple`` and non-exploded ``form`` (comma-separated): the whole value as one JSON array, so a
  comma inside an item does not split it;
- any other style (exploded ``form``, the delimited ones): openapi-core's own split, then each piece
  that is the JSON text of an object or array is decoded.

A value that is not JSON is left as openapi-core read it, so the schema check still names it.

In: a ``StyleDeserializer`` openapi-core built for one parameter. Out: the same deserializer, its
loader wrapped when the parameter's schema is an array of structured items.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema_path import SchemaPath
from openapi_core.deserializing.styles.datatypes import DeserializerCallable
from openapi_core.deserializing.styles.deserializers import StyleDeserializer

_COMMA_STYLES = frozenset({"simple", "form"})


def has_structured_items(schema: SchemaPath) -> bool:
    """True for an array schema whose ``items`` is an object or array schema."""
    if _types(schema) != {"array"} or "items" not in schema:
        return False
    items = schema / "items"
    kinds = _types(items)
    if kinds:
        return kinds <= {"object", "array", "null"} and bool(kinds - {"null"})
    return "properties" in items or "additionalProperties" in items or "items" in items


def _types(schema: SchemaPath) -> set[str]:
    if "type" not in schema:
        return set()
    kind = (schema / "type").read_value()
    return {kind} if isinstance(kind, str) else {str(k) for k in kind}


def read_items_as_json(deserializer: StyleDeserializer) -> StyleDeserializer:
    """Wrap ``deserializer``'s loader so structured items are decoded from JSON text (in place)."""
    inner = deserializer.deserializer_callable
    if inner is None:  # a style openapi-core does not know: it warns and passes the text through
        return deserializer
    deserializer.deserializer_callable = _json_items_loader(inner, deserializer.style)
    return deserializer


def _json_items_loader(inner: DeserializerCallable, style: str) -> DeserializerCallable:
    def load(explode: bool, name: str, schema_type: str, location: Any) -> Any:
        if style in _COMMA_STYLES and not (style == "form" and explode):
            whole = _decoded_array(location[name])  # KeyError: missing, as openapi-core reports it
            if whole is not None:
                return whole
        value = inner(explode, name, schema_type, location)
        if isinstance(value, list):
            return [_decoded_item(item) for item in value]
        return value

    return load


def _decoded_array(text: Any) -> list[Any] | None:
    """``{..},{..}`` as a list of objects / arrays, or None when it is not JSON items."""
    if not isinstance(text, str):
        return None
    try:
        found = json.loads(f"[{text}]")
    except ValueError:
        return None
    if found and all(isinstance(item, dict | list) for item in found):
        return found
    return None


def _decoded_item(item: Any) -> Any:
    if not isinstance(item, str) or not item.lstrip().startswith(("{", "[")):
        return item
    try:
        found = json.loads(item)
    except ValueError:
        return item
    return found if isinstance(found, dict | list) else item
