"""Checking a call's arguments against its tool's JSON Schema, fast on success and precise on failure.

Each tool's schema is compiled once (cached by tool fingerprint) with ``fastjsonschema`` — about 20x
faster than a compiled ``jsonschema`` validator — after converting the few JSON Schema 2020-12
keywords it lacks into their draft-07 spelling. Schemas it still cannot compile (``$dynamicRef``,
``unevaluatedProperties``, remote refs, …) get a compiled ``jsonschema`` validator instead. Only when
validation fails does a second, precise pass run ``jsonschema`` to list every error and map each one to
a stable reason code with the JSON pointer of the offending argument.

    >>> issues = argument_issues(tool, {"Assign": {"1": {"X": "zero"}}})
    >>> [(i.code, i.pointer) for i in issues]
    [('missing_required', '/Assign/1/Y'), ('missing_required', '/Assign/1/Z'), ('type_error', '/Assign/1/X')]

Formats: ``date``, ``date-time``, ``time``, ``email``, ``ipv4``, ``ipv6``, ``hostname``, ``uri`` and
``uuid`` are checked; OpenAPI's ``int32``/``int64``/``float``/``double``/``byte``/``binary``/``password``
and other unknown formats are annotations and pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import fastjsonschema
import jsonschema
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from schemas.models import Tool

# Codes in the spirit of BFCL's AST-checker error taxonomy; order = precedence when several apply.
ARGUMENT_CODES: tuple[str, ...] = (
    "missing_required",
    "unexpected_argument",
    "type_error",
    "enum_violation",
    "pattern_violation",
    "format_violation",
    "range_violation",
    "schema_violation",
)
_KEYWORD_CODE = {
    "required": "missing_required",
    "dependentRequired": "missing_required",
    "dependencies": "missing_required",
    "additionalProperties": "unexpected_argument",
    "unevaluatedProperties": "unexpected_argument",
    "type": "type_error",
    "enum": "enum_violation",
    "const": "enum_violation",
    "pattern": "pattern_violation",
    "format": "format_violation",
    **dict.fromkeys(
        (
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "multipleOf",
            "minLength",
            "maxLength",
            "minItems",
            "maxItems",
            "minProperties",
            "maxProperties",
        ),
        "range_violation",
    ),
}
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CHECKED_FORMATS = {"date", "date-time", "time", "email", "ipv4", "ipv6", "hostname", "uri", "uuid"}
_UNSUPPORTED_BY_FAST = {
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
    "unevaluatedProperties",
    "unevaluatedItems",
}
# Keywords that constrain a value (a $ref sibling with one of these must not be dropped, see _to_draft07).
_ANNOTATIONS = {
    "description",
    "title",
    "examples",
    "example",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
}


@dataclass(frozen=True)
class Issue:
    """One problem with one call: a reason code, the JSON pointer into the call's arguments, a message."""

    code: str
    pointer: str
    message: str
    call_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "pointer": self.pointer, "message": self.message}
        if self.call_index is not None:
            out["call_index"] = self.call_index
        return out


def _escape(token: Any) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(path: Any) -> str:
    """JSON pointer of a path of keys and indexes (``["Assign", "1", "X"]`` -> ``/Assign/1/X``)."""
    tokens = [str(p) for p in path]
    if not tokens:
        return ""
    joined = "/".join(tokens)
    if "~" not in joined and joined.count("/") == len(tokens) - 1:
        return "/" + joined  # nothing to escape: the common case, built in one join
    return "".join("/" + _escape(p) for p in tokens)


def _to_draft07(node: Any, formats: set[str]) -> Any:
    """A copy of a 2020-12 schema in draft-07 spelling for fastjsonschema; records formats used."""
    if isinstance(node, list):
        return [_to_draft07(n, formats) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_draft07(v, formats) for k, v in node.items() if k not in ("$schema", "$id")}
    if isinstance(node.get("format"), str):
        formats.add(node["format"])
        if node["format"] not in _CHECKED_FORMATS:
            del out["format"]
    if "prefixItems" in out:
        tail = out.pop("items", None)
        out["items"] = out.pop("prefixItems")
        if tail is not None:
            out["additionalItems"] = tail
    if "dependentRequired" in out or "dependentSchemas" in out:
        deps = dict(out.pop("dependentSchemas", {}))
        deps.update(out.pop("dependentRequired", {}))
        out["dependencies"] = deps
    # draft-07 ignores every sibling of $ref; 2020-12 applies them. Keep them with allOf.
    if "$ref" in out and any(k not in _ANNOTATIONS and k != "$ref" for k in out):
        ref = out.pop("$ref")
        out = {"allOf": [{"$ref": ref}, out]}
    return out


class _TooBig(Exception):
    """Inlining would grow the schema past ``_INLINE_BUDGET`` nodes; compile it with its refs."""


# Inlined defs are copied once per use; past this many nodes, keep the refs (bounded compile time).
_INLINE_BUDGET = 20_000


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a draft-07 schema with each non-recursive local ``$ref`` replaced by its target.

    fastjsonschema compiles a ``$ref`` into a call of another generated function that formats its
    error-path argument with ``str.format(**locals())`` on every call — on success too — which costs
    more than the check itself for small defs. Inlined, the same checks run in the caller. Recursive
    refs (a def reaching itself, or ``#``), refs that do not resolve and non-object targets are kept
    as they are, and so are the root's ``$defs``/``definitions`` (so kept refs still resolve). A
    ``$ref`` node's siblings are dropped with it: draft-07 ignores them, and ``_to_draft07`` has
    already moved the ones 2020-12 applies into an ``allOf``.
    """
    count = 0

    def resolve(ref: str) -> Any:
        node: Any = schema
        for raw in ref[2:].split("/") if ref != "#" else []:
            token = unquote(raw).replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return None
        return node

    def walk(node: Any, stack: frozenset[str]) -> Any:
        nonlocal count
        count += 1
        if count > _INLINE_BUDGET:
            raise _TooBig
        if isinstance(node, list):
            return [walk(n, stack) for n in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/") and ref not in stack:
            target = resolve(ref)
            if isinstance(target, dict) and target is not schema:
                return walk(target, stack | {ref})
        return {k: walk(v, stack) for k, v in node.items()}

    try:
        out = {k: v if k in ("$defs", "definitions") else walk(v, frozenset()) for k, v in schema.items()}
    except (_TooBig, RecursionError):
        return schema
    return out


def _fast_compile(schema: dict[str, Any], *, detailed: bool) -> Callable[[Any], Any]:
    # use_default=False: fastjsonschema otherwise writes schema defaults INTO the validated arguments,
    # mutating samples (and their content ids) as it checks them. detailed_exceptions=False: a bare
    # message, no schema literal in every raise (the success path is the same code either way).
    return fastjsonschema.compile(
        schema, formats={"uuid": _UUID.pattern}, use_default=False, detailed_exceptions=detailed
    )


def _uses(node: Any, keywords: set[str]) -> bool:
    if isinstance(node, dict):
        if keywords & node.keys():
            return True
        if isinstance(node.get("$ref"), str) and not node["$ref"].startswith("#"):
            return True  # remote refs: let jsonschema's referencing report them
        return any(_uses(v, keywords) for v in node.values())
    if isinstance(node, list):
        return any(_uses(v, keywords) for v in node)
    return False


class ToolArguments:
    """A tool's compiled argument checker. Build through ``compiled(tool)`` to share the cache."""

    def __init__(self, tool: Tool) -> None:
        self.tool_name = tool.name
        schema = tool.parameters
        self.properties = set(schema.get("properties", {}))
        extra = schema.get("additionalProperties")
        # Tool signatures are closed by default: an argument the tool does not declare is a made-up
        # argument (BFCL counts it as an error), unless the schema explicitly allows extra keys.
        self.closed = not schema.get("patternProperties") and extra in (None, False)
        cls = validator_for(schema, default=jsonschema.Draft202012Validator)
        self.precise = cls(schema, format_checker=_format_checker(cls))
        self.fast: Callable[[Any], Any] | None = None
        self._converted: dict[str, Any] = {}
        self._detailed: Callable[[Any], Any] | None = None
        if not _uses(schema, _UNSUPPORTED_BY_FAST):
            formats: set[str] = set()
            converted = _to_draft07(schema, formats)
            if isinstance(converted, dict):
                converted = _inline_refs(converted)
            if self.closed:
                # Closing the top level inside the compiled validator makes a valid call one function
                # call; the precise pass below still reports each extra key by name.
                converted["additionalProperties"] = False
            try:
                self.fast = _fast_compile(converted, detailed=False)
                self._converted = converted
            except Exception:  # fastjsonschema rejects some valid schemas; jsonschema still works
                self.fast = None

    def _detailed_failure(self, arguments: Any) -> fastjsonschema.JsonSchemaValueException | None:
        """The first failure with its rule and path, from a validator compiled with detailed
        exceptions, only when one is needed (see ``issues``): its code, with the schema repeated in
        every ``raise``, is twice the size and three times the compile time of ``fast``'s, which
        would be paid for every tool of a catalog on every refresh."""
        if self._detailed is None:
            self._detailed = _fast_compile(self._converted, detailed=True)
        try:
            self._detailed(arguments)
        except fastjsonschema.JsonSchemaValueException as exc:
            return exc
        except Exception:  # e.g. RecursionError: the caller keeps the lean validator's failure
            return None
        return None

    @property
    def raising(self) -> Callable[[Any], Any]:
        """A function that returns when ``arguments`` validate and raises otherwise (the hot path)."""
        if self.fast is not None:
            return self.fast

        def check(arguments: Any) -> None:
            if self.issues(arguments):
                raise ValueError("invalid arguments")

        return check

    def valid(self, arguments: Any) -> bool:
        """The fast yes/no: whether ``arguments`` validate (including no undeclared top-level key)."""
        if self.fast is None:
            return not self.issues(arguments)
        try:
            self.fast(arguments)
            return True
        except Exception:  # a validation failure, or e.g. RecursionError on absurdly deep data
            return False

    def issues(self, arguments: Mapping[str, Any]) -> list[Issue]:
        """Every problem with ``arguments``; ``[]`` when they validate."""
        unexpected = [k for k in arguments if k not in self.properties] if self.closed else []
        failure: fastjsonschema.JsonSchemaValueException | None = None
        if self.fast is not None:
            try:
                self.fast(arguments)
                return []
            except fastjsonschema.JsonSchemaValueException as exc:
                failure = exc
            except Exception as exc:  # e.g. RecursionError on absurdly deep data
                failure = fastjsonschema.JsonSchemaValueException(str(exc), rule="schema")
        issues = [
            Issue("unexpected_argument", pointer([k]), f"{k!r} is not an argument of {self.tool_name}")
            for k in unexpected
        ]
        issues.extend(self._precise(arguments, set(unexpected)))
        if failure is not None and not issues:
            # The fast pass failed where jsonschema found nothing (their format checks differ slightly).
            if failure.rule != "schema":
                failure = self._detailed_failure(arguments) or failure
            path = [p for p in (failure.path or [])[1:]]
            code = _KEYWORD_CODE.get(failure.rule or "", "schema_violation")
            issues.append(Issue(code, pointer(path), failure.message))
        return _ordered(issues)

    def _precise(self, arguments: Mapping[str, Any], already: set[str]) -> list[Issue]:
        out: list[Issue] = []
        try:
            errors = list(self.precise.iter_errors(arguments))
        except Exception as exc:  # jsonschema itself failing on odd data is still a schema problem
            return [
                Issue(
                    "schema_violation", "", f"arguments could not be validated: {type(exc).__name__}: {exc}"
                )
            ]
        for error in errors:
            out.extend(_classify(error, already))
        return out


def _classify(error: ValidationError, already: set[str]) -> list[Issue]:
    """Map one jsonschema error (descending into anyOf/oneOf) to issues with precise pointers."""
    if error.context:
        error = best_match([error]) or error
    path = list(error.absolute_path)
    keyword = str(error.validator)
    if keyword in ("required", "dependentRequired", "dependencies") and isinstance(error.instance, dict):
        names = error.validator_value if keyword == "required" else _dependency_names(error)
        missing = [n for n in names if n not in error.instance]
        if missing:
            return [
                Issue("missing_required", pointer([*path, n]), f"required argument {n!r} is missing")
                for n in missing
            ]
    if keyword in ("additionalProperties", "unevaluatedProperties") and isinstance(error.instance, dict):
        declared = set(error.schema.get("properties", {}))
        patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
        extra = [k for k in error.instance if k not in declared and not any(p.search(k) for p in patterns)]
        extra = [k for k in extra if path or k not in already]  # the top level was reported already
        return [
            Issue("unexpected_argument", pointer([*path, k]), f"{k!r} is not allowed here") for k in extra
        ]
    if "propertyNames" in error.schema_path and isinstance(error.instance, str):
        path = [*path, error.instance]
        return [Issue("pattern_violation", pointer(path), f"key {error.instance!r}: {error.message}")]
    return [Issue(_KEYWORD_CODE.get(keyword, "schema_violation"), pointer(path), error.message)]


def _dependency_names(error: ValidationError) -> list[str]:
    value = error.validator_value
    if isinstance(value, dict):
        names: list[str] = []
        for key, deps in value.items():
            if key in error.instance and isinstance(deps, list):
                names.extend(deps)
        return names
    return list(value) if isinstance(value, list) else []


def _ordered(issues: list[Issue]) -> list[Issue]:
    rank = {c: i for i, c in enumerate(ARGUMENT_CODES)}
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda i: (rank.get(i.code, len(rank)), i.pointer))


def _format_checker(cls: type[Validator]) -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(
        formats=[f for f in cls.FORMAT_CHECKER.checkers if f in _CHECKED_FORMATS]
    )
    checker.checks("uuid")(lambda value: not isinstance(value, str) or bool(_UUID.match(value)))
    return checker


_CACHE: dict[str, ToolArguments] = {}


def compiled(tool: Tool) -> ToolArguments:
    """The cached checker for ``tool`` (keyed by fingerprint: an edited tool gets a new one)."""
    checker = _CACHE.get(tool.fingerprint)
    if checker is None:
        checker = _CACHE[tool.fingerprint] = ToolArguments(tool)
    return checker


def argument_issues(tool: Tool, arguments: Mapping[str, Any]) -> list[Issue]:
    """Problems with ``arguments`` for ``tool`` (``[]`` = valid)."""
    return compiled(tool).issues(arguments)
