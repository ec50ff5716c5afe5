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

import functools
from collections.abc import Callable, Mapping
from typing import Any

from schemas.field_values import ITEM, MAP_KEY, FieldValues, field_values, values_at
from schemas.models import Tool
from verifiers.arguments import Issue, pointer

CODE = "code_not_in_spec"


Check = Callable[[Any], bool]


class CodeFields:
    """A tool's fields to check, with a compiled test that every value there is listed (the common case,
    run on every sample of the tool: one closure per field, no path walking or allocation)."""

    def __init__(self, fields: tuple[FieldValues, ...]) -> None:
        self.fields = fields
        self._checks = tuple(_compile(f.path, frozenset(f.examples)) for f in fields)
        self._shown = tuple(", ".join(map(str, f.examples)) for f in fields)  # for the messages

    def __bool__(self) -> bool:
        return bool(self.fields)

    def all_listed(self, arguments: Any) -> bool:
        """True when no value at these fields is a string outside its examples."""
        return all(check(arguments) for check in self._checks)


def _compile(path: tuple[str, ...], listed: frozenset[Any]) -> Check:
    def leaf(value: Any) -> bool:
        return not isinstance(value, str) or value in listed

    check: Check = leaf
    for step in reversed(path):
        inner = check
        if step == MAP_KEY:
            check = _each_value(inner)
        elif step == ITEM:
            check = _each_item(inner)
        else:
            check = _key(step, inner)
    return check


def _each_value(inner: Check) -> Check:
    return lambda value: not isinstance(value, dict) or all(inner(v) for v in value.values())


def _each_item(inner: Check) -> Check:
    return lambda value: not isinstance(value, list) or all(inner(v) for v in value)


def _key(step: str, inner: Check) -> Check:
    return lambda value: not isinstance(value, dict) or step not in value or inner(value[step])


def code_fields(tool: Tool) -> CodeFields:
    """The fields of ``tool`` whose only evidence of their values is code-like spec examples (a walk of
    its schema: callers keep the result per tool)."""
    return CodeFields(tuple(f for f in field_values(tool.parameters) if f.codes_only))


def unlisted_codes(
    fields: CodeFields, arguments: Mapping[str, Any], call_index: int | None = None
) -> list[Issue]:
    """An issue for each string value at a ``fields`` path that the field's examples do not show."""
    issues: list[Issue] = []
    # A field whose compiled check passes has no unlisted value: only the others are walked for the
    # pointers and messages (the same issues, in the same order, as walking every field).
    for entry, check, shown in zip(fields.fields, fields._checks, fields._shown, strict=True):
        if check(arguments):
            continue
        for keys, value in values_at(arguments, entry.path, functools.partial(_unlisted, entry.examples)):
            issues.append(
                Issue(
                    CODE,
                    pointer(keys),
                    f"{value!r} is not a value the spec shows for {entry.label} (its examples: {shown})",
                    call_index,
                )
            )
    return issues


def _unlisted(examples: tuple[Any, ...], value: Any) -> bool:
    return isinstance(value, str) and value not in examples
