"""The values a schema fixes for a discriminator property, however its ``$ref``s are spelt.

Ingestion (``convert.py``, over converted ``#/$defs/`` definitions) and the sandbox
(``verifiers/sandbox/discriminators.py``, over the spec's own ``#/components/`` tree) ask the same
question of a ``oneOf``/``anyOf`` branch: does it fix its own value for the property (``const`` or
``enum``, directly or through ``allOf``)? Each passes the lookup that resolves a ``$ref`` in its tree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MAX_ALLOF_DEPTH = 8


def fixed_values(resolve: Callable[[str], Any], ref: str, prop: str, depth: int = 0) -> list[Any] | None:
    """The values the schema ``ref`` names fixes for ``prop``, or None when it does not fix them
    (or ``resolve`` cannot find it, e.g. a definition still being converted)."""
    body = resolve(ref) if depth <= MAX_ALLOF_DEPTH else None
    if not isinstance(body, dict):
        return None
    for part in [body, *(p for p in body.get("allOf") or [] if isinstance(p, dict))]:
        properties = part.get("properties")
        declared = properties.get(prop) if isinstance(properties, dict) else None
        if isinstance(declared, dict) and "const" in declared:
            return [declared["const"]]
        if isinstance(declared, dict) and isinstance(declared.get("enum"), list):
            return list(declared["enum"])
        if part is not body and isinstance(part.get("$ref"), str):
            found = fixed_values(resolve, part["$ref"], prop, depth + 1)
            if found is not None:
                return found
    return None
