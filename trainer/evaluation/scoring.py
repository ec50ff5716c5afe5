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

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment


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


@dataclass(frozen=True)
class CallVerdict:
    valid: bool
    error_type: str = ""
    message: str = ""
    argument: str = ""  # the argument the verdict is about, where it is about one


OK = CallVerdict(True)

# BFCL's parameter types (its data) and JSON Schema's (ours), as the Python type a value must have.
_PY_TYPES: dict[str, type] = {
    "string": str,
    "any": str,
    "integer": int,
    "float": float,
    "number": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "object": dict,
}
_STRIPPED = re.compile(r"[ ,./\-_*^]")


def standardize(text: str) -> str:
    """BFCL's string rule: drop spaces and ``, . / - _ * ^``, lower-case, read ``'`` as ``"``."""
    return _STRIPPED.sub("", text).lower().replace("'", '"')


def declared_type(schema: Mapping[str, Any] | None) -> type | None:
    """The Python type a schema's ``type`` asks for; ``None`` when it names no single known type."""
    kind = (schema or {}).get("type")
    return _PY_TYPES.get(kind) if isinstance(kind, str) else None


def _fail(error_type: str, message: str, argument: str = "") -> CallVerdict:
    return CallVerdict(False, error_type, message, argument)


def check_call(
    call: Call, reference: ReferenceCall, parameters: Mapping[str, Any] | None, rules: Rules
) -> CallVerdict:
    """One predicted call against one reference call, with the reference function's ``parameters``."""
    if call.name != reference.name:
        return _fail(
            "simple_function_checker:wrong_func_name", f"expected {reference.name!r}, got {call.name!r}"
        )
    properties = (parameters or {}).get("properties") or {}
    for key in (parameters or {}).get("required") or []:
        if key not in call.arguments:
            return _fail(
                "simple_function_checker:missing_required", f"missing required parameter {key!r}", key
            )
    for key, value in call.arguments.items():
        schema = properties.get(key)
        if key not in properties or key not in reference.values:
            if rules is Rules.CALLFORGE and key in properties and _is_default(value, schema):
                continue
            return _fail("simple_function_checker:unexpected_param", f"unexpected parameter {key!r}", key)
        if rules is Rules.BFCL:
            verdict = bfcl_argument(key, value, reference.bfcl_options(key), schema)
        else:
            verdict = _callforge_argument(key, value, reference, schema)
        if not verdict.valid:
            return CallVerdict(False, verdict.error_type, verdict.message, key)
    for key in reference.values:
        if key in call.arguments or key in reference.omittable:
            continue
        if rules is Rules.CALLFORGE and any(
            _is_default(v, properties.get(key)) for v in reference.values[key]
        ):
            continue
        return _fail(
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
            return _fail("irrelevance_error:decoder_success", "called a function where none fits")
        return OK
    if "relevance" in category:
        return OK if calls else _fail("relevance_error:decoder_failed", "no function call")
    if "parallel" in category:
        if len(calls) != len(references):
            return _fail(
                "parallel_function_checker_no_order:wrong_count",
                f"{len(calls)} calls for {len(references)} expected",
            )
        grid = [[check_call(c, r, functions.get(r.name), rules) for c in calls] for r in references]
        if perfect_matching([[v.valid for v in row] for row in grid]):
            return OK
        failing = next((v for row in grid for v in row if not v.valid), None)
        return _fail(
            "parallel_function_checker_no_order:cannot_find_match",
            failing.message if failing else "no pairing of calls with the reference",
        )
    kind = "multiple" if "multiple" in category else "simple"
    if len(calls) != len(references) or not references:
        return _fail(f"{kind}_function_checker:wrong_count", f"{len(calls)} calls for {len(references)}")
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


# ------------------------------------------------------------------------------------ BFCL values


def _first_type(options: Sequence[Any]) -> type | None:
    return next((type(v) for v in options if v != ""), None)


def _standardized(value: Any) -> Any:
    return standardize(value) if type(value) is str else value


def bfcl_argument(
    key: str, value: Any, options: Sequence[Any], schema: Mapping[str, Any] | None
) -> CallVerdict:
    """One argument under BFCL's rules; ``options`` in BFCL's form (``""`` = may be left out)."""
    expected = declared_type(schema)
    if expected is None:  # not a BFCL type: the value must simply be one of the options
        return OK if value in options else _fail("value_error:others", f"{key!r}: {value!r} not expected")
    if expected is float and type(value) is int:
        value = float(value)
    option_type = _first_type(options)
    # BFCL calls an option of another type than the schema's a "variable": a value of the option's
    # type then passes the type check and is compared exactly.
    variable = option_type is not None and option_type is not expected
    inner = declared_type((schema or {}).get("items")) if expected is list else None
    if type(value) is expected:
        if inner is not None and not _bfcl_items_typed(value, options, inner):
            nested = "type_error:nested" if option_type is list else "type_error:simple"
            return _fail(nested, f"{key!r}: items of {value!r} are not {inner.__name__}")
    elif option_type is not None and type(value) is option_type:
        variable = True
    else:
        return _fail(
            "type_error:simple", f"{key!r}: expected {expected.__name__}, got {type(value).__name__}"
        )
    if not variable:
        if expected is dict:
            return _bfcl_dict(key, value, options)
        if expected is list and inner is dict:
            return _bfcl_dict_list(key, value, options)
        if expected is str:
            if standardize(value) in [standardize(o) for o in options if type(o) is str]:
                return OK
            return _fail("value_error:string", f"{key!r}: {value!r} is not one of {list(options)}")
        if expected is list:
            got = [_standardized(v) for v in value]
            if any(got == [_standardized(v) for v in _iterable(o)] for o in options):
                return OK
            return _fail("value_error:list/tuple", f"{key!r}: {value!r} is not one of {list(options)}")
    if value in options:
        return OK
    return _fail("value_error:others", f"{key!r}: {value!r} is not one of {list(options)}")


def _iterable(option: Any) -> Sequence[Any]:
    return option if isinstance(option, list | str) else [option]


def _bfcl_items_typed(value: list[Any], options: Sequence[Any], inner: type) -> bool:
    # An option that is not a list (the "" marker) sets no item types: BFCL then accepts any items.
    for option in options:
        if type(option) is not list:
            return True
        option_type = _first_type(option)
        if all(type(v) is inner or (option_type is not None and type(v) is option_type) for v in value):
            return True
    return False


def _bfcl_one_dict(value: Any, option: Any) -> str:
    if not isinstance(value, Mapping) or not isinstance(option, Mapping):
        return "value_error:dict_key"
    for k, v in value.items():
        if k not in option:
            return "value_error:dict_key"
        if _standardized(v) not in [_standardized(o) for o in _iterable(option[k])]:
            return "value_error:dict_value"
    for k, allowed in option.items():
        if k not in value and "" not in _iterable(allowed):
            return "value_error:dict_key"
    return ""


def _bfcl_dict(key: str, value: Mapping[str, Any], options: Sequence[Any]) -> CallVerdict:
    error = "dict_checker:unclear"
    for option in options:
        if option == "":
            continue
        error = _bfcl_one_dict(value, option)
        if not error:
            return OK
    return _fail(error, f"{key!r}: {value!r} matches none of {list(options)}")


def _bfcl_dict_list(key: str, value: list[Any], options: Sequence[Any]) -> CallVerdict:
    error = "list_dict_checker:unclear"
    for option in options:
        if not isinstance(option, list | str) or len(value) != len(option):
            error = "value_error:list_dict_count"
            continue
        verdicts = [_bfcl_dict(key, v, [o]) for v, o in zip(value, option, strict=True)]
        failed = next((v for v in verdicts if not v.valid), None)
        if failed is None:
            return OK
        error = failed.error_type
    return _fail(error, f"{key!r}: {value!r} matches none of {list(options)}")


# ------------------------------------------------------------------------------- callforge values


def _is_default(value: Any, schema: Mapping[str, Any] | None) -> bool:
    return schema is not None and "default" in schema and callforge_value(value, schema["default"], schema)


def _callforge_argument(
    key: str, value: Any, reference: ReferenceCall, schema: Mapping[str, Any] | None
) -> CallVerdict:
    options = reference.values[key]
    if reference.nested_options:
        if any(_nested_option(value, option, schema) for option in options):
            return OK
    elif any(callforge_value(value, option, schema) for option in options):
        return OK
    kind = "value_error:string" if type(value) is str else "value_error:others"
    return _fail(kind, f"{key!r}: {value!r} is not one of {list(options)}")


def callforge_value(got: Any, want: Any, schema: Mapping[str, Any] | None = None) -> bool:
    """True when ``got`` is right for a reference value ``want`` under the callforge rules."""
    declared = declared_type(schema)
    if type(want) is bool or type(got) is bool:
        return type(got) is type(want) and got == want
    if type(want) in (int, float) and type(got) in (int, float):
        if type(got) is float and type(want) is int and declared is not float:
            return False  # a float stands for an int only where the schema says "number"
        return got == want
    if type(want) is str and type(got) is str:
        # The string rule only where the schema declares a string: where it declares another type the
        # string is a name (BFCL's "variable"), and where it says nothing BFCL's own rule depends on
        # the depth, so exact comparison is the rule that is never more lenient.
        return standardize(got) == standardize(want) if declared is str else got == want
    if type(want) is list and type(got) is list:
        items = (schema or {}).get("items")
        items = items if isinstance(items, Mapping) else None
        return len(got) == len(want) and all(
            callforge_value(g, w, items) for g, w in zip(got, want, strict=True)
        )
    if isinstance(want, Mapping) and isinstance(got, Mapping):
        return _callforge_object(got, want, schema)
    return got is None and want is None


def _nested_option(got: Any, option: Any, schema: Mapping[str, Any] | None) -> bool:
    """``got`` against one BFCL-form option: objects hold ``{key: [acceptable…]}`` (also inside a
    list of objects); anything else is a plain value."""
    if isinstance(option, Mapping) and isinstance(got, Mapping):
        return _options_object(got, option, schema)
    if type(option) is list and option and all(isinstance(o, Mapping) for o in option):
        items = (schema or {}).get("items")
        items = items if isinstance(items, Mapping) else None
        return (
            type(got) is list
            and len(got) == len(option)
            and all(
                isinstance(g, Mapping) and _options_object(g, o, items)
                for g, o in zip(got, option, strict=True)
            )
        )
    return callforge_value(got, option, schema)


def _options_object(
    got: Mapping[str, Any], option: Mapping[str, Any], schema: Mapping[str, Any] | None
) -> bool:
    for key in set(got) | set(option):
        sub = _property_schema(schema, key)
        allowed = option.get(key)
        allowed = allowed if isinstance(allowed, list) else [allowed]
        if key not in got:
            if "" not in allowed and not any(_is_default(a, sub) for a in allowed):
                return False
        elif key not in option:
            if not _is_default(got[key], sub):
                return False
        elif not any(callforge_value(got[key], a, sub) for a in allowed if a != ""):
            return False
    return True


def _property_schema(schema: Mapping[str, Any] | None, key: str) -> Mapping[str, Any] | None:
    properties = (schema or {}).get("properties") or {}
    if key in properties:
        return properties[key]
    extra = (schema or {}).get("additionalProperties")
    return extra if isinstance(extra, Mapping) else None


def _callforge_object(
    got: Mapping[str, Any], want: Mapping[str, Any], schema: Mapping[str, Any] | None
) -> bool:
    for key in set(got) | set(want):
        sub = _property_schema(schema, key)
        if key in got and key in want:
            if not callforge_value(got[key], want[key], sub):
                return False
        elif not _is_default(got[key] if key in got else want[key], sub):
            return False
    return True
