"""``unlisted_codes`` walks only the fields whose compiled check fails: the issues stay exactly those of
walking every field (the implementation before that shortcut, kept here as the reference), on the real
GEN NX catalog's tools with the hand-labelled GEN NX samples' arguments (correct and defective), as
they are and with code-like values swapped in."""

from __future__ import annotations

import random
from typing import Any

from schemas.field_values import values_at
from tests.verifiers.gennx_fixtures import gennx_catalog, labelled
from verifiers.arguments import Issue, pointer
from verifiers.spec_values import CODE, CodeFields, code_fields, unlisted_codes


def reference(fields: CodeFields, arguments: Any, call_index: int | None) -> list[Issue]:
    issues: list[Issue] = []
    if fields.all_listed(arguments):
        return issues
    for entry in fields.fields:
        for keys, value in values_at(arguments, entry.path):
            if isinstance(value, str) and value not in entry.examples:
                shown = ", ".join(map(str, entry.examples))
                message = f"{value!r} is not a value the spec shows for {entry.label} (its examples: {shown})"
                issues.append(Issue(CODE, pointer(keys), message, call_index))
    return issues


def swapped(value: Any, rng: random.Random) -> Any:
    """``value`` with some strings replaced by code-like strings no spec example uses."""
    if isinstance(value, dict):
        return {k: swapped(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [swapped(v, rng) for v in value]
    if isinstance(value, str) and rng.random() < 0.5:
        return rng.choice(["KS99", "ZZ_TOP", value.upper() + "X"])
    return value


def test_the_issues_are_those_of_walking_every_field():
    catalog = gennx_catalog()
    samples = [case.sample for name in ("dev", "heldout") for case in labelled(name)]
    calls = [(index, call.name, call.arguments) for s in samples for index, call in enumerate(s.calls)]
    # And every tool's own top-level property examples, as arguments (most tools are in no labelled set).
    for tool in catalog:
        properties = tool.parameters.get("properties", {})
        example = {
            k: v["examples"][0] for k, v in properties.items() if isinstance(v, dict) and v.get("examples")
        }
        calls.append((0, tool.name, example))
    rng = random.Random(3)
    compared = flagged = 0
    for index, name, given in calls:
        tool = catalog.get(name)
        fields = code_fields(tool) if tool is not None and isinstance(given, dict) else None
        if not fields:
            continue
        for arguments in (given, swapped(given, rng), swapped(given, rng)):
            expected = reference(fields, arguments, index)
            assert unlisted_codes(fields, arguments, index) == expected, (name, arguments)
            compared += 1
            flagged += bool(expected)
    assert compared > 200 and 50 < flagged < compared  # both outcomes, many times
