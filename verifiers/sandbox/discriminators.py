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

from functools import partial
from typing import Any

from schemas.openapi.discriminators import fixed_values
from schemas.openapi.refs import walk


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
            for value in fixed_values(partial(_local, root), ref, prop) or []:
                if isinstance(value, str) and value not in (mapping or {}) and value not in added:
                    added[value] = ref
    if added:
        discriminator["mapping"] = {**(mapping or {}), **added}


def _local(root: Any, ref: str) -> Any:
    """The node a local ``#/…`` ref names in ``root`` (None for other refs or a missing node)."""
    if not ref.startswith("#/"):
        return None
    try:
        return walk(root, ref[1:])
    except KeyError:
        return None
