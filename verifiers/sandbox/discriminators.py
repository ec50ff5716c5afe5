"""Discriminators the way servers read them, for openapi-core.

OpenAPI resolves a discriminator value through ``mapping`` and, without an entry, as a schema name
(``Dog`` -> ``#/components/schemas/Dog``). Real specs often skip the mapping while each branch fixes
the property's value itself: OpenAI's tool branch ``FunctionTool`` declares ``type: {enum: [function]}``
and every request says ``"type": "function"``. Read literally, no request can pass (the name rule wants
``FunctionTool``, the branch's enum wants ``function``), and ingestion leaves such a branch unpinned
(``schemas/openapi/convert.py``). So the sandbox adds the mapping the spec implies: each value a branch
fixes for the property maps to that branch, unless the mapping already names that value.
"""

from __future__ import annotations

from typing import Any

from schemas.openapi.pointers import unescape

_MAX_ALLOF_DEPTH = 8


def map_branch_values(root: Any) -> None:
    """Add ``mapping`` entries, in place, for the values each ``oneOf``/``anyOf`` branch of a
    discriminated schema fixes for the discriminator property (local ``#/`` refs only)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        discriminator = node.get("discriminator")
        if isinstance(discriminator, dict) and isinstance(discriminator.get("propertyName"), str):
            _map(root, node, discriminator)
        stack.extend(node.values())


def _map(root: Any, node: dict[str, Any], discriminator: dict[str, Any]) -> None:
    prop = discriminator["propertyName"]
    mapping = discriminator.get("mapping")
    if mapping is not None and not isinstance(mapping, dict):
        return
    added: dict[str, str] = {}
    for key in ("oneOf", "anyOf"):
        branches = node.get(key)
        for branch in branches if isinstance(branches, list) else []:
            ref = branch.get("$ref") if isinstance(branch, dict) else None
            if not isinstance(ref, str) or not ref.startswith("#/"):
                continue
            for value in _fixed_values(root, ref, prop, 0):
                if isinstance(value, str) and value not in (mapping or {}) and value not in added:
                    added[value] = ref
    if added:
        discriminator["mapping"] = {**(mapping or {}), **added}


def _fixed_values(root: Any, ref: str, prop: str, depth: int) -> list[Any]:
    schema = _local(root, ref)
    if not isinstance(schema, dict) or depth > _MAX_ALLOF_DEPTH:
        return []
    for part in [schema, *(p for p in schema.get("allOf") or [] if isinstance(p, dict))]:
        properties = part.get("properties")
        declared = properties.get(prop) if isinstance(properties, dict) else None
        if isinstance(declared, dict) and "const" in declared:
            return [declared["const"]]
        if isinstance(declared, dict) and isinstance(declared.get("enum"), list):
            return list(declared["enum"])
        if part is not schema and isinstance(part.get("$ref"), str) and part["$ref"].startswith("#/"):
            found = _fixed_values(root, part["$ref"], prop, depth + 1)
            if found:
                return found
    return []


def _local(root: Any, ref: str) -> Any:
    node = root
    for token in ref[2:].split("/"):
        key = unescape(token)
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node
