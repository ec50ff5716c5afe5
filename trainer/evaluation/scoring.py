"""The verdict on a reply's calls, under one of two documented rule sets: ``bfcl`` and ``callforge``.

    >>> ref = ReferenceCall.from_bfcl({"convert": {"unit": ["m", "meter"], "digits": [2, ""]}})
    >>> schema = {"type": "dict", "properties": {"unit": {"type": "string"},
    ...           "digits": {"type": "integer"}}, "required": ["unit"]}
    >>> check_call(Call("convert", {"unit": "Meter"}), ref, schema, Rules.BFCL).valid
    True
    >>> check_call(Call("convert", {"unit": "meter!"}), ref, schema, Rules.BFCL).error_type
    'value_error:string'

A reference call gives, per argument, the values any of which is right (``values``) and whether the
argument may be left out (``omittable``; BFCL writes this as an extra ``""`` among the values).

``bfcl`` gives the verdict of the Berkeley Function Calling Leaderboard's AST checker on its
single-turn Python categories (simple, multiple, parallel, parallel_multiple, the live ones and the
(ir)relevance ones), with the same ``error_type`` names:

* the function name must be exactly the reference's; every required parameter present; no
  parameter outside the schema or outside the reference;
* types are exact (``bool`` is not ``int``); an ``int`` may stand for a ``float`` parameter, the only
  coercion, and only at the top level; array items are type-checked one level deep;
* strings compare after removing spaces and ``, . / - _ * ^``, lower-casing and reading ``'`` as
  ``"`` — nothing else: ``"units!"`` is not ``"units"``, a tab is not a space;
* numbers compare exactly (``1234567891`` is not ``1234567890``);
* an argument left out is right only when the reference marks it omittable;
* BFCL's own quirks are kept: where the reference's values have another type than the schema's
  (a "variable" name for a number), a value of the reference's type is compared exactly; an
  omittable string argument also accepts ``""``; nested values compare with Python ``==``.

The one deliberate difference: parallel calls are paired with the reference by an optimal assignment
(a perfect matching), where BFCL pairs greedily and so rejects some correct answers (e.g. its
``parallel_178``).

``callforge`` is the project's rule set; it is never more lenient than ``bfcl`` on strings or numbers
and differs where BFCL's rules are accidents of its implementation:

* an optional argument may be left out, or given, when its value equals the schema's ``default``;
* an omittable argument is not satisfied by ``""`` (the marker is not a value);
* types follow JSON Schema at every depth: ``bool`` never equals a number (BFCL's ``True == 1`` inside
  lists and dicts), a ``float`` never stands for an ``int`` unless the schema says ``number``, an
  ``int`` may stand for a ``float`` at any depth;
* the string rule applies at any depth where the schema declares a string; where it declares
  another type (BFCL's "variable" case) or none, strings compare exactly;
* objects compare key by key at any depth (BFCL compares nested objects with ``==``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from trainer.evaluation.values import (
    OK,
    CallVerdict,
    bfcl_argument,
    callforge_argument,
    callforge_value,
    declared_type,
    fail,
    is_default,
    standardize,
)

__all__ = [
    "Call",
    "CallVerdict",
    "ReferenceCall",
    "Rules",
    "callforge_value",
    "check_call",
    "check_calls",
    "declared_type",
    "perfect_matching",
    "standardize",
]


class Rules(StrEnum):
    BFCL = "bfcl"
    CALLFORGE = "callforge"


@dataclass(frozen=True)
class Call:
    """A predicted call: a function name and its arguments."""

    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class ReferenceCall:
    """What a right call looks like: per argument, every acceptable value, and which may be left out.

    ``nested_options`` marks BFCL's form, where an object value is itself ``{key: [acceptable…]}``
    (and a list of objects a list of such); the project's own references hold plain values.
    """

    name: str
    values: Mapping[str, Sequence[Any]]
    omittable: frozenset[str] = field(default_factory=frozenset)
    nested_options: bool = False

    @classmethod
    def from_bfcl(cls, item: Mapping[str, Any]) -> ReferenceCall:
        """From one entry of a BFCL ``ground_truth`` list: ``{name: {param: [value, …, ""?]}}``."""
        ((name, params),) = item.items()
        values = {p: [v for v in options if v != ""] for p, options in params.items()}
        omittable = frozenset(p for p, options in params.items() if "" in options)
        return cls(name=name, values=values, omittable=omittable, nested_options=True)

    @classmethod
    def exact(
        cls,
        name: str,
        arguments: Mapping[str, Any],
        acceptable: Mapping[str, Sequence[Any]] | None = None,
        omittable: Sequence[str] = (),
    ) -> ReferenceCall:
        """From a reference call, its extra acceptable values and its omittable arguments."""
        keys = list(arguments) + [k for k in (acceptable or {}) if k not in arguments]
        values: dict[str, list[Any]] = {}
        for key in keys:
            options = [arguments[key]] if key in arguments else []
            options += [v for v in (acceptable or {}).get(key, ()) if v not in options]
            values[key] = options
        for key in omittable:
            values.setdefault(key, [])
        return cls(name=name, values=values, omittable=frozenset(omittable))

    @classmethod
    def from_schema(
        cls, name: str, arguments: Mapping[str, Any], parameters: Mapping[str, Any] | None
    ) -> ReferenceCall:
        """A reference call with what its tool's schema makes acceptable: an optional argument whose
        value is the schema's ``default`` may be left out, and one left out may be given as the default.

            >>> schema = {"properties": {"unit": {"type": "string", "default": "kN"}}, "required": []}
            >>> ref = ReferenceCall.from_schema("set_load", {}, schema)
            >>> dict(ref.values), sorted(ref.omittable)
            ({'unit': ['kN']}, ['unit'])
        """
        properties = (parameters or {}).get("properties") or {}
        required = set((parameters or {}).get("required") or [])
        values = {k: [v] for k, v in arguments.items()}
        omittable = set()
        for key, schema in properties.items():
            if key in required or not isinstance(schema, Mapping) or "default" not in schema:
                continue
            if key not in arguments:
                values[key] = [schema["default"]]
                omittable.add(key)
            elif callforge_value(arguments[key], schema["default"], schema):
                omittable.add(key)
        return cls(name=name, values=values, omittable=frozenset(omittable))

    def bfcl_options(self, key: str) -> list[Any]:
        """The argument's values as BFCL writes them (``""`` last when it may be left out)."""
        return [*self.values[key], ""] if key in self.omittable else list(self.values[key])


def check_call(
    call: Call, reference: ReferenceCall, parameters: Mapping[str, Any] | None, rules: Rules
) -> CallVerdict:
    """One predicted call against one reference call, with the reference function's ``parameters``."""
    if call.name != reference.name:
        return fail(
            "simple_function_checker:wrong_func_name", f"expected {reference.name!r}, got {call.name!r}"
        )
    properties = (parameters or {}).get("properties") or {}
    for key in (parameters or {}).get("required") or []:
        if key not in call.arguments:
            return fail(
                "simple_function_checker:missing_required", f"missing required parameter {key!r}", key
            )
    for key, value in call.arguments.items():
        schema = properties.get(key)
        if key not in properties or key not in reference.values:
            if rules is Rules.CALLFORGE and key in properties and is_default(value, schema):
                continue
            return fail("simple_function_checker:unexpected_param", f"unexpected parameter {key!r}", key)
        if rules is Rules.BFCL:
            verdict = bfcl_argument(key, value, reference.bfcl_options(key), schema)
        else:
            verdict = callforge_argument(key, value, reference.values[key], schema, reference.nested_options)
        if not verdict.valid:
            return CallVerdict(False, verdict.error_type, verdict.message, key)
    for key in reference.values:
        if key in call.arguments or key in reference.omittable:
            continue
        if rules is Rules.CALLFORGE and any(
            is_default(v, properties.get(key)) for v in reference.values[key]
        ):
            continue
        return fail(
            "simple_function_checker:missing_optional", f"parameter {key!r} left out; it may not be", key
        )
    return OK


def check_calls(
    calls: Sequence[Call],
    references: Sequence[ReferenceCall],
    functions: Mapping[str, Mapping[str, Any]],
    category: str,
    rules: Rules,
) -> CallVerdict:
    """A whole reply against a whole reference, as BFCL judges the ``category`` (its file's name part:
    ``simple_python``, ``multiple``, ``parallel``, ``live_parallel_multiple``, ``irrelevance`` …).

    ``functions`` maps a function name to its ``parameters`` schema. Parallel calls are paired by a
    perfect matching, so their order does not matter.
    """
    if "irrelevance" in category:
        if calls:
            return fail("irrelevance_error:decoder_success", "called a function where none fits")
        return OK
    if "relevance" in category:
        return OK if calls else fail("relevance_error:decoder_failed", "no function call")
    if "parallel" in category:
        if len(calls) != len(references):
            return fail(
                "parallel_function_checker_no_order:wrong_count",
                f"{len(calls)} calls for {len(references)} expected",
            )
        grid = [[check_call(c, r, functions.get(r.name), rules) for c in calls] for r in references]
        if perfect_matching([[v.valid for v in row] for row in grid]):
            return OK
        failing = next((v for row in grid for v in row if not v.valid), None)
        return fail(
            "parallel_function_checker_no_order:cannot_find_match",
            failing.message if failing else "no pairing of calls with the reference",
        )
    kind = "multiple" if "multiple" in category else "simple"
    if len(calls) != len(references) or not references:
        return fail(f"{kind}_function_checker:wrong_count", f"{len(calls)} calls for {len(references)}")
    reference = references[0]
    return check_call(calls[0], reference, functions.get(reference.name), rules)


def perfect_matching(valid: Sequence[Sequence[bool]]) -> bool:
    """True when every row can be paired with its own column through ``True`` cells (an optimal
    assignment, where BFCL's greedy pairing can miss one)."""
    if not valid:
        return True
    grid = np.array(valid, dtype=float)
    rows, cols = linear_sum_assignment(grid, maximize=True)
    return len(rows) == grid.shape[0] and bool(grid[rows, cols].all())
