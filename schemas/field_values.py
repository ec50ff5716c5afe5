"""What a tool's schema says about the values of each field: its allowed values and its spec examples.

A teacher that is not shown a field's real codes guesses them (a cutting line's ``DIR`` written ``"Z"``
where the spec's example says ``"NORMAL"``), and a guess that fits the type passes every schema check.
:func:`field_values` walks a tool's ``parameters`` once and lists, per field, the ``enum`` it declares
and the values the spec's examples give it -- an example on the field itself, or on any object above it
(GEN NX: the body example ``{"Assign": {"1": {"DIR": "NORMAL", ...}}}`` says ``Assign/*/DIR`` is
``"NORMAL"``). Prompts show these lists; the format verifier's ``code_not_in_spec`` check uses the
fields whose only evidence is examples (:attr:`FieldValues.codes_only`).

A field's ``path`` names properties, ``*`` for any key of a map (``additionalProperties``) and ``[]``
for any item of an array::

    >>> [(f.label, f.allowed, f.examples) for f in field_values(tool.parameters)]
    [('Assign.*.DIR', ('NORMAL', 'DIR'), ('NORMAL',)), ('Assign.*.NAME', (), ('Cut-Line#1',)), ...]

Bounded for any schema: ``$ref`` chains are followed at most :data:`MAX_DEPTH` deep and never into a
definition already on the path (recursion), and at most :data:`MAX_FIELDS` fields are listed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 24
MAX_FIELDS = 400
MAX_VALUES = 12  # examples kept per field: enough to list, few enough to show
MAP_KEY, ITEM = "*", "[]"

# A code is a short upper-case token (NORMAL, KS21, EX, 2L, AISC10(US)); words, names and sentences are
# not, so a field whose examples are "Cut-Line#1" or "LT_Const" is free text, whatever its name.
_CODE = re.compile(r"^(?=[0-9]*[A-Z])[A-Z0-9][A-Z0-9_+\-.()/]{0,23}$")
# Fields whose value is free text or a user's own name for something even when an example looks like a
# code (a load case NAME or LCNAME "DL"); a database's or design code's name (DB_NAME) is a code.
_TEXT_FIELD = re.compile(
    r"^(?!.*(DB|CODE))(.*NAME(_.*)?|.*(DESC|TITLE|MEMO|COMMENT|LABEL|GROUP|LANE|PATH|FILE|NOTE|REMARK).*)$",
    re.I,
)


@dataclass
class FieldValues:
    """One field: where it is, the values the schema allows and the values the spec's examples use."""

    path: tuple[str, ...]
    allowed: tuple[Any, ...] = ()
    examples: tuple[Any, ...] = ()
    description: str = ""
    _seen: list[Any] = field(default_factory=list, repr=False, compare=False)

    @property
    def label(self) -> str:
        return ".".join(self.path)

    @property
    def codes_only(self) -> bool:
        """Whether the spec gives this field no allowed values, only example values that are codes.

        Such a field's value is probably one of a fixed set the spec does not list; a value outside
        its examples is worth a warning (``code_not_in_spec``)."""
        name = next((p for p in reversed(self.path) if p not in (MAP_KEY, ITEM)), "")
        return (
            not self.allowed
            and bool(self.examples)
            and not _TEXT_FIELD.search(name)
            and all(isinstance(v, str) and _CODE.match(v) for v in self.examples)
        )


def field_values(parameters: dict[str, Any]) -> list[FieldValues]:
    """Every field of ``parameters`` (a tool's JSON Schema) with allowed values or example values."""
    walker = _Walker(defs if isinstance(defs := parameters.get("$defs"), dict) else {})
    walker.walk(parameters, (), [], (), 0)
    return list(walker.found.values())


class _Walker:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.found: dict[tuple[str, ...], FieldValues] = {}

    def walk(
        self, schema: Any, path: tuple[str, ...], values: list[Any], refs: tuple[str, ...], depth: int
    ) -> None:
        if not isinstance(schema, dict) or depth > MAX_DEPTH or len(self.found) >= MAX_FIELDS:
            return
        ref = schema.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            target = self.defs.get(name) if ref.startswith("#/$defs/") else None
            if isinstance(target, dict) and name not in refs:
                siblings = {k: v for k, v in schema.items() if k != "$ref"}
                self.walk({**target, **siblings}, path, values, (*refs, name), depth + 1)
            return
        own = schema.get("examples")
        if isinstance(own, list):
            values = values + own
        enum = schema.get("enum")
        if isinstance(enum, list) and path:
            self._record(path, enum, values, schema)
            return
        for key in ("allOf", "anyOf", "oneOf"):
            for branch in schema.get(key) or ():
                self.walk(branch, path, values, refs, depth + 1)
        properties = schema.get("properties")
        if isinstance(properties, dict):
            for name, sub in properties.items():
                inner = [v[name] for v in values if isinstance(v, dict) and name in v]
                self.walk(sub, (*path, name), inner, refs, depth + 1)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            declared = properties if isinstance(properties, dict) else {}
            inner = [x for v in values if isinstance(v, dict) for k, x in v.items() if k not in declared]
            self.walk(extra, (*path, MAP_KEY), inner, refs, depth + 1)
        items = schema.get("items")
        if isinstance(items, dict):
            inner = [x for v in values if isinstance(v, list) for x in v]
            self.walk(items, (*path, ITEM), inner, refs, depth + 1)
        scalar = [v for v in values if isinstance(v, str | int | float) and not isinstance(v, bool)]
        if path and scalar and not any(k in schema for k in ("properties", "items", "additionalProperties")):
            self._record(path, [], scalar, schema)

    def _record(
        self, path: tuple[str, ...], enum: list[Any], values: list[Any], schema: dict[str, Any]
    ) -> None:
        entry = self.found.get(path)
        if entry is None:
            if len(self.found) >= MAX_FIELDS:
                return
            entry = self.found[path] = FieldValues(path)
        allowed = list(entry.allowed) + [v for v in enum if v not in entry.allowed]
        entry.allowed = tuple(allowed)
        for value in values:
            if (
                len(entry._seen) < MAX_VALUES
                and value not in entry._seen
                and not isinstance(value, dict | list)
            ):
                entry._seen.append(value)
        entry.examples = tuple(entry._seen)
        description = schema.get("description")
        if not entry.description and isinstance(description, str):
            entry.description = description.strip()


def values_at(
    arguments: Any, path: tuple[str, ...], where: Callable[[Any], bool] | None = None
) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Each value of ``arguments`` at ``path`` (``*``: every map key, ``[]``: every item), with the
    concrete keys that reach it (for a JSON pointer), in document order. With ``where``, only the
    values it accepts: keys are one list pushed and popped on the way down and copied only for a
    value yielded, since a field usually sits among many rows of which few are wanted (the
    ``code_not_in_spec`` check runs this on every flagged call)."""
    found: list[tuple[tuple[str, ...], Any]] = []
    keys: list[str] = []
    end = len(path)  # a schema field path: the recursion is as deep as the path, no deeper

    def walk(value: Any, at: int) -> None:
        if at == end:
            if where is None or where(value):
                found.append((tuple(keys), value))
            return
        step = path[at]
        if step == MAP_KEY and isinstance(value, dict):
            for key, sub in value.items():
                keys.append(str(key))
                walk(sub, at + 1)
                keys.pop()
        elif step == ITEM and isinstance(value, list):
            for index, sub in enumerate(value):
                keys.append(str(index))
                walk(sub, at + 1)
                keys.pop()
        elif isinstance(value, dict) and step in value:
            keys.append(step)
            walk(value[step], at + 1)
            keys.pop()

    walk(arguments, 0)
    return iter(found)


def _without_examples(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_examples(v) for k, v in schema.items() if k != "examples"}
    if isinstance(schema, list):
        return [_without_examples(v) for v in schema]
    return schema


def has_examples(parameters: dict[str, Any]) -> bool:
    """Whether a tool's top-level arguments carry spec examples (request examples land there)."""
    properties = parameters.get("properties")
    return isinstance(properties, dict) and any(
        isinstance(p, dict) and isinstance(p.get("examples"), list) and p["examples"]
        for p in properties.values()
    )


def documented_siblings(tools: Iterable[Any]) -> dict[str, Any]:
    """Tool name -> the tool whose examples stand for it: for a tool without request examples, another
    on the same path with them and the same schema otherwise (a create documented, its update not:
    GEN NX documents ``POST /db/EPMT`` and ``PUT`` writes the same rows). A ``POST`` wins a choice."""
    tools = list(tools)
    documented: dict[str, list[Any]] = {}
    for tool in tools:
        if has_examples(tool.parameters):
            documented.setdefault(tool.binding.path, []).append(tool)
    out: dict[str, Any] = {}
    for tool in tools:
        candidates = documented.get(tool.binding.path)
        if not candidates or has_examples(tool.parameters) or not tool.parameters.get("properties"):
            continue
        shape = _without_examples(tool.parameters)
        same = [c for c in candidates if _without_examples(c.parameters) == shape]
        if same:
            out[tool.name] = min(same, key=lambda c: (c.binding.method.upper() != "POST", c.name))
    return out
