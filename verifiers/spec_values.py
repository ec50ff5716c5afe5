"""The ``code_not_in_spec`` check: a code-like value the spec's examples never show for its field.

Where a spec lists allowed values (``enum``) the schema check enforces them (``enum_violation``). Many
fields have none, only an example (GEN NX: a section's ``DB_NAME`` is ``"KS21"`` in the spec's example,
with no list of databases); a teacher that guesses ``"KS"`` passes every schema check and the sandbox.
This check flags a string value of such a field (:attr:`schemas.field_values.FieldValues.codes_only`)
that none of the spec's examples use. It is a *warning* by default, since an example shows one value
of a set, not the set: the format verifier records it on a passing verdict (``details["warnings"]``)
unless its option ``reject_codes_not_in_spec`` is on, when it fails the sample.

What it does not cover: fields whose examples are not code-like (names, prose, numbers), and tools whose
schema carries no examples at all (no evidence, no warning).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.field_values import FieldValues, field_values, values_at
from schemas.models import Tool
from verifiers.arguments import Issue, pointer

CODE = "code_not_in_spec"


def code_fields(tool: Tool) -> tuple[FieldValues, ...]:
    """The fields of ``tool`` whose only evidence of their values is code-like spec examples (a walk of
    its schema: callers keep the result per tool)."""
    return tuple(f for f in field_values(tool.parameters) if f.codes_only)


def unlisted_codes(
    fields: tuple[FieldValues, ...], arguments: Mapping[str, Any], call_index: int | None = None
) -> list[Issue]:
    """An issue for each string value at a ``fields`` path that the field's examples do not show."""
    issues = []
    for entry in fields:
        for keys, value in values_at(arguments, entry.path):
            if isinstance(value, str) and value not in entry.examples:
                shown = ", ".join(map(str, entry.examples))
                issues.append(
                    Issue(
                        CODE,
                        pointer(keys),
                        f"{value!r} is not a value the spec shows for {entry.label} (its examples: {shown})",
                        call_index,
                    )
                )
    return issues
