"""The value rules of the two rule sets: whether one argument's value is right.

``bfcl_argument`` is BFCL's rule for one argument (options in BFCL's form, ``""`` = may be left out);
``callforge_value`` the project's for one value against one reference value. What each rule set is,
and where they differ, is documented in ``trainer.evaluation.scoring``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


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


def fail(error_type: str, message: str, argument: str = "") -> CallVerdict:
    return CallVerdict(False, error_type, message, argument)


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
        return OK if value in options else fail("value_error:others", f"{key!r}: {value!r} not expected")
    if expected is float and type(value) is int:
        value = float(value)
    option_type = _first_type(options)
    # BFCL calls an option of another type than the schema's a "variable": a value of the option's
    # type then passes the type check and is compared exactly.
    variable = option_type is not None and option_type is not expected
    inner = declared_type((schema or {}).get("items")) if expected is list else None
    # Compared through a local: ``type(value) is expected`` would narrow ``value`` to ``object``.
    value_type = type(value)
    if value_type is expected:
        if inner is not None and not _bfcl_items_typed(value, options, inner):
            nested = "type_error:nested" if option_type is list else "type_error:simple"
            return fail(nested, f"{key!r}: items of {value!r} are not {inner.__name__}")
    elif option_type is not None and value_type is option_type:
        variable = True
    else:
        return fail("type_error:simple", f"{key!r}: expected {expected.__name__}, got {value_type.__name__}")
    if not variable:
        if expected is dict:
            return _bfcl_dict(key, value, options)
        if expected is list and inner is dict:
            return _bfcl_dict_list(key, value, options)
        if expected is str:
            if standardize(value) in [standardize(o) for o in options if type(o) is str]:
                return OK
            return fail("value_error:string", f"{key!r}: {value!r} is not one of {list(options)}")
        if expected is list:
            got = [_standardized(v) for v in value]
            if any(got == [_standardized(v) for v in _iterable(o)] for o in options):
                return OK
            return fail("value_error:list/tuple", f"{key!r}: {value!r} is not one of {list(options)}")
    if value in options:
        return OK
    return fail("value_error:others", f"{key!r}: {value!r} is not one of {list(options)}")


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
    return fail(error, f"{key!r}: {value!r} matches none of {list(options)}")


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
    return fail(error, f"{key!r}: {value!r} matches none of {list(options)}")


# ------------------------------------------------------------------------------- callforge values


def is_default(value: Any, schema: Mapping[str, Any] | None) -> bool:
    return schema is not None and "default" in schema and callforge_value(value, schema["default"], schema)


def callforge_argument(
    key: str, value: Any, options: Sequence[Any], schema: Mapping[str, Any] | None, nested_options: bool
) -> CallVerdict:
    """One argument against its acceptable values under the callforge rules."""
    if nested_options:
        if any(_nested_option(value, option, schema) for option in options):
            return OK
    elif any(callforge_value(value, option, schema) for option in options):
        return OK
    kind = "value_error:string" if type(value) is str else "value_error:others"
    return fail(kind, f"{key!r}: {value!r} is not one of {list(options)}")


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
            if "" not in allowed and not any(is_default(a, sub) for a in allowed):
                return False
        elif key not in option:
            if not is_default(got[key], sub):
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
        elif not is_default(got[key] if key in got else want[key], sub):
            return False
    return True
