"""Whether a parameter schema admits more than one call: ``takes_values``.

The planner (``generators.plan``) gives tools that take no values varying styles instead of repeated
simple items, and the hold-out (``trainer.dataset.holdout``) does not treat two argument-free tools as
sharing a schema worth generalising to; both ask this one question.
"""

from __future__ import annotations

from typing import Any


def takes_values(schema: Any, depth: int = 0) -> bool:
    """Whether a schema admits more than one value (False for ``{}`` and objects of empty objects)."""
    if not isinstance(schema, dict) or depth > 20:
        return False
    if "$ref" in schema or "items" in schema:
        return True
    # extra keys count only where nothing is declared (a declared fixed body -- GEN NX's whole-table
    # DELETE {"Assign": {"1": {}}} -- is one call however open its schema is)
    if isinstance(schema.get("additionalProperties"), dict) and not schema.get("properties"):
        return True
    if schema.get("maxProperties") == 0:
        return False
    if "enum" in schema or "const" in schema:
        return len(schema.get("enum", [])) > 1
    if any(takes_values(s, depth + 1) for key in ("oneOf", "anyOf", "allOf") for s in schema.get(key, [])):
        return True
    if schema.get("type", "object") != "object" or "patternProperties" in schema:
        return True
    return any(takes_values(s, depth + 1) for s in (schema.get("properties") or {}).values())
