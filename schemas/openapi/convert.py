"""OpenAPI Schema Objects (Swagger 2.0, OpenAPI 3.0 and 3.1) -> JSON Schema 2020-12, request side.

Every schema reached through a ``$ref`` becomes one named definition, converted once and kept
in :attr:`SchemaConverter.defs`; the reference becomes ``{"$ref": "#/$defs/<name>"}``. Recursion
therefore terminates by construction (a definition being converted is already named), and a
tool's ``$defs`` is the closure of the definitions its own argument schemas reach
(:meth:`SchemaConverter.reachable`), never the whole spec.

What changes on the way:

- 3.0 ``nullable`` / 2.0 ``x-nullable`` -> ``"type": [t, "null"]`` (plus ``null`` in ``enum``), or
  ``anyOf [..., {"type": "null"}]`` when there is no ``type``; 3.1 type arrays pass through.
- ``example`` -> ``examples: [...]``; boolean ``exclusiveMinimum``/``exclusiveMaximum`` (2.0/3.0)
  -> the numeric 2020-12 form; a list ``items`` -> ``prefixItems``; 2.0 ``type: file`` -> binary string.
- ``readOnly`` properties are left out (with their ``required`` entries): these are request schemas.
- A ``discriminator`` pins its property in each ``oneOf``/``anyOf`` ``$ref`` branch to the names that
  select it (``{"$ref": ..., "properties": {prop: {"enum": [mapping keys or schema name]}}}``).
- Other OpenAPI-only and unknown keywords are dropped (``xml``, ``externalDocs``,
  ``x-*`` …), as are ``$id``/``$schema``/nested ``$defs``, which would break ``#/$defs`` refs.
- A keyword with an invalid value (a ``pattern`` Python cannot compile, ``required: true``, an
  empty ``enum``, a YAML date or ``.inf`` in ``default``) is dropped with a warning, so the result
  passes ``check_schema`` and survives canonical JSON. 3.0 spellings in a 3.1 document are
  converted all the same, with a ``legacy_keyword`` warning.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from schemas.errors import SpecError
from schemas.openapi.budgets import ENV_PREFIX, SpecBudgets, count_values
from schemas.openapi.discriminators import fixed_values
from schemas.openapi.pointers import escape, join, unescape
from schemas.openapi.refs import RefResolver, Target, UnresolvedRef, mapping_ref
from schemas.openapi.report import WarningLog

DEFS_PREFIX = "#/$defs/"
JSON_TYPES = frozenset({"null", "boolean", "object", "array", "number", "string", "integer"})

# Keywords whose value is one schema / a map of schemas / a list of schemas.
_SCHEMA = frozenset(
    {
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
        "additionalProperties",
    }
)
_SCHEMA_MAP = frozenset({"patternProperties", "dependentSchemas"})
_SCHEMA_LIST = frozenset({"allOf", "anyOf", "oneOf"})
_NON_NEGATIVE_INT = frozenset(
    {
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "minContains",
        "maxContains",
    }
)
_NUMBER = frozenset({"minimum", "maximum"})
_BOOLEAN = frozenset({"uniqueItems", "readOnly", "writeOnly", "deprecated"})
_STRING = frozenset({"format", "contentEncoding", "contentMediaType"})
_TEXT = frozenset({"title", "description"})  # strings; a YAML number here is turned into text
_ANY = frozenset({"default", "const"})
_DATA = _ANY | {"enum", "examples", "example"}  # values, not schemas: must survive canonical JSON
# Kept when a nullable schema without `type` is wrapped in anyOf: they describe the whole value.
_ANNOTATIONS = ("title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly")

# Where converted output holds subschemas; used to find the $defs a schema reaches.
_OUT_SCHEMA = _SCHEMA | {"items"}
_OUT_SCHEMA_MAP = _SCHEMA_MAP | {"properties"}
_OUT_SCHEMA_LIST = _SCHEMA_LIST | {"prefixItems"}

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class SchemaConverter:
    """Converts the schemas of one spec; holds that spec's named definitions.

    ``convert(node, file, pointer)`` takes a raw schema node, the absolute file it lives in and
    its JSON pointer there (for warnings and for resolving relative ``$ref``s).
    """

    def __init__(
        self,
        resolver: RefResolver,
        warnings: WarningLog,
        *,
        openapi_31: bool = False,
        budgets: SpecBudgets | None = None,
    ) -> None:
        self.resolver = resolver
        self.budgets = budgets or SpecBudgets()
        # schemas being converted inside one another, and how many of those were entered by a $ref:
        # conversion recurses, so both are bounded (budgets max_depth, max_ref_depth) to end in a
        # SpecError long before Python's recursion limit.
        self._nesting = 0
        self._ref_nesting = 0
        self.warnings = warnings
        # 3.0 spellings (boolean exclusive bounds, `nullable`) are honoured everywhere, and
        # flagged in a 3.1 document, where they are invalid (strict validators reject the file).
        self.openapi_31 = openapi_31
        self.defs: dict[str, Any] = {}
        self._names: dict[tuple[Path, str], str] = {}
        self._taken: set[str] = set()
        self._deps: dict[str, frozenset[str]] = {}
        self._ref_names: dict[str, str] = {}  # "#/$defs/a~1b" -> "a/b"
        self._patterns: dict[str, bool] = {}

    # ------------------------------------------------------------------------------ public API

    def convert(self, node: Any, file: Path, pointer: str) -> Any:
        """The JSON Schema 2020-12 form of ``node`` (a schema or boolean)."""
        if node is True or node is False:
            return node
        if self._nesting >= self.budgets.max_depth:
            raise SpecError(
                self.resolver.name(file),
                pointer,
                f"schemas nested more than {self.budgets.max_depth} deep, $refs included (budget "
                f"max_depth; raise it with {ENV_PREFIX}MAX_DEPTH if the spec is genuine)",
            )
        self._nesting += 1
        try:
            return self._convert(node, file, pointer)
        finally:
            self._nesting -= 1

    def _convert(self, node: Any, file: Path, pointer: str) -> Any:
        if not isinstance(node, dict):
            self._warn(
                file,
                pointer,
                "invalid_schema",
                f"expected a schema object, got {type(node).__name__}; using {{}}",
            )
            return {}
        ref = node.get("$ref")
        out: dict[str, Any] = {}
        if isinstance(ref, str):
            name = self.define(ref, file, join(pointer, "$ref"))
            if name is not None:
                out["$ref"] = self.ref_to(name)
        return self._keywords(node, file, pointer, out)

    def define(self, ref: str, file: Path, at: str) -> str | None:
        """The definition name for schema ``ref`` (written in ``file`` at ``at``); converts it once.

        Returns None (and warns) when the reference leads nowhere.
        """
        try:
            target = self.resolver.resolve(ref, file, at)
        except UnresolvedRef as exc:
            self._warn(file, at, "missing_ref", f"{exc}; the schema becomes {{}}")
            return None
        key = (target.file, target.pointer)
        name = self._names.get(key)
        if name is not None:
            return name
        name = self._new_name(target)
        self._names[key] = name  # named before converting: a recursive reference finds it
        if self._ref_nesting >= self.budgets.max_ref_depth:
            raise SpecError(
                self.resolver.name(file),
                at,
                f"more than {self.budgets.max_ref_depth} schema $refs followed inside one another (a chain "
                f"or a nesting; budget max_ref_depth, {ENV_PREFIX}MAX_REF_DEPTH)",
            )
        self._ref_nesting += 1
        try:
            self.defs[name] = self.convert(target.node, target.file, target.pointer)
        finally:
            self._ref_nesting -= 1
        if self._alias_cycle(name):
            self._warn(
                target.file,
                target.pointer,
                "circular_ref",
                "a $ref chain that only refers to itself; using {}",
            )
            self.defs[name] = {}
        return name

    @staticmethod
    def ref_to(name: str) -> str:
        return DEFS_PREFIX + escape(name)

    def def_name(self, ref: str) -> str | None:
        """The definition name behind a converted ``#/$defs/...`` reference."""
        return self._ref_names.get(ref)

    def reachable(self, schemas: Iterable[Any]) -> dict[str, Any]:
        """The ``$defs`` a set of converted schemas needs: every definition they reach, by name."""
        todo = set()
        for schema in schemas:
            todo |= self._refs_in(schema)
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name in seen or name not in self.defs:
                continue
            seen.add(name)
            deps = self._deps.get(name)
            if deps is None:
                deps = self._deps[name] = frozenset(self._refs_in(self.defs[name]))
            todo |= deps - seen
        return {name: self.defs[name] for name in sorted(seen)}

    def is_read_only(self, node: Any, file: Path, pointer: str) -> bool:
        """True when a (raw) schema is marked ``readOnly``, directly or on what its ``$ref`` names."""
        if not isinstance(node, dict):
            return False
        if node.get("readOnly") is True:
            return True
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return False
        try:
            target = self.resolver.resolve(ref, file, join(pointer, "$ref"))
        except UnresolvedRef:
            return False
        return isinstance(target.node, dict) and target.node.get("readOnly") is True

    # ------------------------------------------------------------------------------ internals

    def _warn(self, file: Path, pointer: str, code: str, message: str) -> None:
        self.warnings.add(self.resolver.name(file), pointer, code, message)

    def _new_name(self, target: Target) -> str:
        if target.pointer:
            base = target.pointer.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
        else:
            base = target.file.stem
        base = _NAME_UNSAFE.sub("_", base).strip("_") or "schema"
        name, n = base, 1
        while name in self._taken:
            n += 1
            name = f"{base}_{n}"
        self._taken.add(name)
        self._ref_names[self.ref_to(name)] = name
        return name

    def _alias_cycle(self, name: str) -> bool:
        """True when definition ``name`` is only ``$ref``s leading back to itself (A -> B -> A)."""
        seen = {name}
        body = self.defs.get(name)
        while isinstance(body, dict) and len(body) == 1 and "$ref" in body:
            target = self._ref_names.get(body["$ref"])
            if target is None:
                return False  # a $ref to something that is not a definition ends the chain
            if target in seen:
                return True
            seen.add(target)
            body = self.defs.get(target)
        return False

    def _refs_in(self, schema: Any) -> set[str]:
        found: set[str] = set()
        stack = [schema]
        while stack:
            node = stack.pop()
            if type(node) is not dict:
                continue
            for key, value in node.items():
                if key == "$ref":
                    name = self._ref_names.get(value)
                    if name is not None:
                        found.add(name)
                elif key in _OUT_SCHEMA:
                    stack.append(value)
                elif key in _OUT_SCHEMA_MAP:
                    stack.extend(value.values())
                elif key in _OUT_SCHEMA_LIST:
                    stack.extend(value)
        return found

    def _keywords(self, node: dict[str, Any], file: Path, pointer: str, out: dict[str, Any]) -> Any:
        read_only: set[str] = set()
        for key, value in node.items():
            if key in ("$ref", "nullable", "x-nullable", "required"):
                continue  # handled around the loop
            if key == "properties":
                if isinstance(value, dict):
                    out[key] = self._properties(value, file, join(pointer, key), read_only)
                else:
                    self._invalid(file, pointer, key, value, "an object of schemas")
            elif key == "type":
                self._type(value, file, pointer, out)
            elif key == "items":
                self._items(value, file, pointer, out)
            elif key == "additionalItems":
                if isinstance(node.get("items"), list):
                    out["items"] = self.convert(value, file, join(pointer, key))
            elif key in _SCHEMA:
                out[key] = self.convert(value, file, join(pointer, key))
            elif key in _SCHEMA_LIST:
                if isinstance(value, list) and value:
                    out[key] = [self.convert(v, file, join(pointer, key, i)) for i, v in enumerate(value)]
                else:
                    self._invalid(file, pointer, key, value, "a non-empty list of schemas")
            elif key in _SCHEMA_MAP:
                if isinstance(value, dict):
                    out[key] = {k: self.convert(v, file, join(pointer, key, k)) for k, v in value.items()}
                else:
                    self._invalid(file, pointer, key, value, "an object of schemas")
            elif key in _TEXT:
                if isinstance(value, str | int | float) and not isinstance(value, bool):
                    out[key] = str(value)
                elif value is not None:
                    self._invalid(file, pointer, key, value, "a string")
            elif key in _STRING:
                if isinstance(value, str):
                    out[key] = value
                else:
                    self._invalid(file, pointer, key, value, "a string")
            elif (
                key in _DATA
                and count_values(value, self.budgets.max_example_nodes) > self.budgets.max_example_nodes
            ):
                self._warn(
                    file,
                    join(pointer, key),
                    "oversized_value",
                    f"{key} holds more than {self.budgets.max_example_nodes:,} values (budget "
                    "max_example_nodes); dropped",
                )
            elif key in _DATA and not is_json_value(value):
                self._invalid(
                    file, pointer, key, value, "plain JSON data (finite numbers, no YAML-only types)"
                )
            elif key in _ANY:
                out[key] = value
            elif key in _BOOLEAN:
                if isinstance(value, bool):
                    out[key] = value
                else:
                    self._invalid(file, pointer, key, value, "true or false")
            elif key in _NON_NEGATIVE_INT:
                if _is_number(value) and value >= 0 and float(value).is_integer():
                    out[key] = int(value)
                else:
                    self._invalid(file, pointer, key, value, "a non-negative integer")
            elif key in _NUMBER:
                if node.get("exclusiveMinimum" if key == "minimum" else "exclusiveMaximum") is True:
                    continue  # 2.0/3.0 `exclusiveMinimum: true` turns this bound into the exclusive one
                if _is_number(value):
                    out[key] = value
                else:
                    self._invalid(file, pointer, key, value, "a number")
            elif key in ("exclusiveMinimum", "exclusiveMaximum"):
                self._exclusive(node, key, value, file, pointer, out)
            elif key == "multipleOf":
                if _is_number(value) and value > 0:
                    out[key] = value
                else:
                    self._invalid(file, pointer, key, value, "a number greater than 0")
            elif key == "pattern":
                if isinstance(value, str) and self._compiles(value):
                    out[key] = value
                else:
                    self._invalid(file, pointer, key, value, "a regular expression Python's re can compile")
            elif key == "enum":
                if isinstance(value, list) and value:
                    out[key] = value
                else:
                    self._invalid(file, pointer, key, value, "a non-empty list")
            elif key == "examples":
                # 2020-12 wants a list; 3.0 media-type style {name: {value: …}} maps are unwrapped.
                if isinstance(value, list):
                    out[key] = value
                elif isinstance(value, dict):
                    out[key] = [
                        v.get("value") if isinstance(v, dict) and "value" in v else v for v in value.values()
                    ]
            elif key == "example":
                out.setdefault("examples", [value])
            elif key == "dependentRequired":
                if isinstance(value, dict) and all(_string_list(v) for v in value.values()):
                    out[key] = {k: list(dict.fromkeys(v)) for k, v in value.items()}
                else:
                    self._invalid(file, pointer, key, value, "an object of string lists")
            # Anything else is an OpenAPI-only keyword (discriminator, xml, externalDocs), an
            # extension (x-*), or identity/vocabulary keywords that would change how our
            # "#/$defs/..." references resolve ($id, $schema, $defs): dropped.
        if "required" in node:
            self._required(node["required"], read_only, file, pointer, out)
        if isinstance(node.get("discriminator"), dict):
            self._discriminator(node, file, pointer, out)
        if node.get("nullable") is True or node.get("x-nullable") is True:
            if "nullable" in node:
                self._legacy(file, pointer, "nullable", "nullable", 'a type array with "null"')
            return _nullable(out)
        return out

    def _discriminator(self, node: dict[str, Any], file: Path, pointer: str, out: dict[str, Any]) -> None:
        """Pin the discriminator property of each ``oneOf``/``anyOf`` ``$ref`` branch to the names
        that select it (its mapping keys, else the schema's own name), next to the branch's ``$ref``.

        A validator of the spec resolves the property's value to a schema: any other string is
        refused ("reference ... could not be resolved"), so a value generator must know the names.
        """
        disc = node["discriminator"]
        prop = disc.get("propertyName")
        mapping = disc.get("mapping") if isinstance(disc.get("mapping"), dict) else {}
        if not isinstance(prop, str):
            return
        at = join(pointer, "discriminator", "mapping")
        by_def: dict[str, list[str]] = {}
        for key, target in mapping.items():
            if not isinstance(target, str):
                continue
            ref = mapping_ref(target)
            name = self.define(ref, file, join(at, key))
            if name is not None:
                by_def.setdefault(self.ref_to(name), []).append(key)
        for key in ("oneOf", "anyOf"):
            raw, branches = node.get(key), out.get(key)
            if not isinstance(raw, list) or not isinstance(branches, list) or len(raw) != len(branches):
                continue
            for i, (source, branch) in enumerate(zip(raw, branches, strict=True)):
                if not isinstance(branch, dict) or set(branch) != {"$ref"}:
                    continue
                names = by_def.get(branch["$ref"])
                if names is None and isinstance(source, dict) and isinstance(source.get("$ref"), str):
                    names = [unescape(source["$ref"].rsplit("/", 1)[-1])]
                    own = fixed_values(self._definition, branch["$ref"], prop)
                    if own is not None and not set(map(str, own)) & set(names):
                        # No mapping, and the branch fixes its own value ("type": {"enum": ["function"]}
                        # under schema FunctionTool, as OpenAI's spec does): pinning the schema's name
                        # beside it would leave no valid value. The branch's own enum discriminates.
                        continue
                if names:
                    branches[i] = {**branch, "properties": {prop: {"enum": names}}}

    def _definition(self, ref: str) -> Any:
        """The converted definition a ``#/$defs/`` ref names (None for any other ref)."""
        return self.defs.get(unescape(ref[len(DEFS_PREFIX) :])) if ref.startswith(DEFS_PREFIX) else None

    def _properties(
        self, props: dict[str, Any], file: Path, pointer: str, read_only: set[str]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, schema in props.items():
            at = join(pointer, name)
            if self.is_read_only(schema, file, at):
                read_only.add(name)  # the server sets it; a request must not send it
                continue
            out[name] = self.convert(schema, file, at)
        return out

    def _type(self, value: Any, file: Path, pointer: str, out: dict[str, Any]) -> None:
        if value == "file":  # Swagger 2.0 upload: a binary string in 2020-12 terms
            out["type"] = "string"
            out.setdefault("format", "binary")
        elif isinstance(value, str) and value in JSON_TYPES:
            out["type"] = value
        elif isinstance(value, list) and value and all(isinstance(t, str) and t in JSON_TYPES for t in value):
            out["type"] = list(dict.fromkeys(value))
            if not self.openapi_31:  # Swagger 2.0 / OpenAPI 3.0 have no type lists, yet specs write them
                self._warn(
                    file,
                    join(pointer, "type"),
                    "type_list",
                    f"type {value!r} is a list, which only OpenAPI 3.1 allows; read as any of those types",
                )
        else:
            self._invalid(file, pointer, "type", value, f"one of {sorted(JSON_TYPES)} or a list of them")

    def _items(self, value: Any, file: Path, pointer: str, out: dict[str, Any]) -> None:
        if isinstance(value, list):  # draft-4 tuple form
            out["prefixItems"] = [
                self.convert(v, file, join(pointer, "items", i)) for i, v in enumerate(value)
            ]
        else:
            out["items"] = self.convert(value, file, join(pointer, "items"))

    def _exclusive(
        self, node: dict[str, Any], key: str, value: Any, file: Path, pointer: str, out: dict[str, Any]
    ) -> None:
        bound = "minimum" if key == "exclusiveMinimum" else "maximum"
        if isinstance(value, bool):  # 2.0/3.0 form: a flag on minimum/maximum
            if value and _is_number(node.get(bound)):
                out[key] = node[bound]
            self._legacy(file, pointer, key, f"boolean {key}", f"a number: {key}: <bound>")
        elif _is_number(value):
            out[key] = value
        else:
            self._invalid(file, pointer, key, value, "a number (or, before 3.1, a boolean)")

    def _required(
        self, value: Any, read_only: set[str], file: Path, pointer: str, out: dict[str, Any]
    ) -> None:
        if not _string_list(value):
            self._invalid(file, pointer, "required", value, "a list of property names")
            return
        names = [n for n in dict.fromkeys(value) if n not in read_only]
        if names:
            out["required"] = names

    def _compiles(self, pattern: str) -> bool:
        ok = self._patterns.get(pattern)
        if ok is None:
            try:
                re.compile(pattern)
                ok = True
            except (re.error, RecursionError, OverflowError):
                ok = False
            self._patterns[pattern] = ok
        return ok

    def _legacy(self, file: Path, pointer: str, key: str, what: str, instead: str) -> None:
        if self.openapi_31:
            message = f"{what} is OpenAPI 3.0 syntax, invalid in 3.1 (use {instead}); converted"
            self._warn(file, join(pointer, key), "legacy_keyword", message)

    def _invalid(self, file: Path, pointer: str, key: str, value: Any, expected: str) -> None:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        self._warn(
            file,
            join(pointer, key),
            "invalid_schema_keyword",
            f"{key} must be {expected}, got {shown}; dropped",
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_json_value(value: Any) -> bool:
    """True for plain JSON data: what YAML can add (dates, bytes, sets, NaN/inf) is not."""
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(is_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json_value(v) for k, v in value.items())
    return False


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _nullable(out: dict[str, Any]) -> dict[str, Any]:
    """Allow ``null`` as well: widen ``type`` (and ``enum``), or wrap in ``anyOf`` when there is no type."""
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"] if kind != "null" else kind
    elif isinstance(kind, list):
        if "null" not in kind:
            out["type"] = [*kind, "null"]
    else:
        if not out:
            return out  # {} already accepts null
        outer = {k: out.pop(k) for k in _ANNOTATIONS if k in out}
        return {"anyOf": [out, {"type": "null"}], **outer}
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out
