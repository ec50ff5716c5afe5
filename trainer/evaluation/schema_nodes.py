"""JSON Schema compiled into the few node kinds the tool-call grammar walks (``trainer.evaluation.call_grammar``).

    nodes: list[Node] = []
    root = SchemaCompiler(parameters, nodes).compile(parameters, top=True)

Kinds: ``string`` (min/max length), ``number`` (integer or not, bounds), ``literal`` (JSON texts from
``enum`` / ``const`` / booleans / null), ``object`` (declared keys, required keys, or free keys with one
value schema: a map), ``array`` (items, min/max items), ``union`` (``anyOf`` / ``oneOf`` / type lists)
and generic JSON (a union of everything) for what is not understood. Local ``$ref`` may recurse: a
reference gets its node id before its target is compiled. ``number_cost`` sizes what a number still
needs, with exact arithmetic on its bounds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from math import ceil, floor
from typing import Any

INF = 10**9  # the cost of what cannot be completed


@dataclass(frozen=True, slots=True)
class Node:
    """A compiled schema: ``kind`` is string | number | literal | object | array | union | any."""

    kind: str
    options: tuple[str, ...] = ()  # literal: JSON texts
    alts: tuple[int, ...] = ()  # union: node ids
    keys: tuple[tuple[str, int], ...] = ()  # object: (key, node id)
    required: frozenset[str] = frozenset()
    extra: int | None = None  # object: node id of free-key values (a map), None = closed
    key: int | None = None  # object: node id of the string schema free keys follow (propertyNames)
    item: int = -1  # array
    low: int = 0  # minItems / minLength / minProperties
    high: int | None = None  # maxItems / maxLength / maxProperties
    number: tuple[Any, ...] | None = None  # (integer, lo, hi, lo_strict, hi_strict)
    chars: frozenset[str] | None = None  # string: the characters a simple ``pattern`` allows


_SIMPLE = re.compile(r"\^(\[(?:[^\]\\]|\\.)+\]|\\d|\\w)(\+|\*|\{(\d+)(?:(,)(\d*))?\})\$")
_CLASSES = {"d": "0123456789", "w": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"}


def simple_pattern(pattern: Any) -> tuple[frozenset[str], int, int | None] | None:
    """``^[class]+$``-shaped patterns (``+``, ``*``, ``{m}``, ``{m,}``, ``{m,n}``; ``\\d``, ``\\w``, ranges)
    as (allowed characters, min length, max length); None for anything else (not enforced)."""
    match = _SIMPLE.fullmatch(pattern) if isinstance(pattern, str) else None
    if match is None:
        return None
    atom, quantifier, low, comma, high = match.groups()
    if atom.startswith("\\"):
        chars = set(_CLASSES[atom[1]])
    else:
        body = atom[1:-1]
        if body.startswith("^"):
            return None  # a negated class: not supported
        chars, i = set(), 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                chars.update(_CLASSES.get(body[i + 1], body[i + 1]))
                i += 2
                continue
            if i + 2 < len(body) and body[i + 1] == "-":
                chars.update(chr(c) for c in range(ord(ch), ord(body[i + 2]) + 1))
                i += 3
                continue
            chars.add(ch)
            i += 1
    chars -= {'"', "\\"}  # strings are written without escapes
    if quantifier == "+":
        return frozenset(chars), 1, None
    if quantifier == "*":
        return frozenset(chars), 0, None
    return frozenset(chars), int(low), (int(high) if high else None) if comma else int(low)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class SchemaCompiler:
    """Appends the nodes of one schema (and its ``$ref`` targets) to a shared node list."""

    def __init__(self, root: dict[str, Any], nodes: list[Node]) -> None:
        self.root, self.nodes = root, nodes
        self.refs: dict[str, int] = {}  # $ref -> node id

    def add(self, node: Node) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    def any(self) -> int:
        leaf = [self.add(Node("string")), self.add(Node("number", number=(False, None, None, False, False)))]
        leaf.append(self.add(Node("literal", options=("true", "false", "null"))))
        union = self.add(Node("union"))
        obj = self.add(Node("object", extra=union, key=leaf[0]))
        arr = self.add(Node("array", item=union))
        self.nodes[union] = Node("union", alts=(*leaf, obj, arr))
        return union

    def resolve(self, ref: str) -> Any:
        node: Any = self.root
        for part in ref.removeprefix("#").strip("/").split("/") if ref.strip("#/") else []:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def compile(self, schema: Any, *, top: bool = False) -> int:
        if not isinstance(schema, dict):
            return self.any()  # true / false / junk: generic JSON
        if isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#"):
            ref = schema["$ref"]
            if ref not in self.refs:  # reserve the id first: a recursive schema refers to itself
                self.refs[ref] = self.add(Node("any"))
                try:
                    target = self.resolve(ref)
                except (KeyError, IndexError, ValueError):
                    target = True
                self.nodes[self.refs[ref]] = self.nodes[self.compile(target)]
            return self.refs[ref]
        if "const" in schema:
            return self.add(Node("literal", options=(dumps(schema["const"]),)))
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.add(Node("literal", options=tuple(dict.fromkeys(dumps(v) for v in schema["enum"]))))
        if isinstance(schema.get("allOf"), list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = self.resolve(part["$ref"]) if isinstance(part, dict) and "$ref" in part else part
                for key, value in (part if isinstance(part, dict) else {}).items():
                    if key == "properties":
                        merged["properties"] = {**merged.get("properties", {}), **value}
                    elif key == "required":
                        merged["required"] = [*merged.get("required", []), *value]
                    else:
                        merged.setdefault(key, value)
            return self.compile(merged, top=top)
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                base = {k: v for k, v in schema.items() if k != key}
                alts = [self.compile({**base, **a} if isinstance(a, dict) else a) for a in schema[key]]
                return self.add(Node("union", alts=tuple(alts)))
        kind = schema.get("type")
        if isinstance(kind, list):
            alts = [self.compile({**schema, "type": k}, top=top) for k in kind] if kind else [self.any()]
            return self.add(Node("union", alts=tuple(alts)))
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else None
        return self._typed(kind, schema, top)

    def _typed(self, kind: str | None, schema: dict[str, Any], top: bool) -> int:
        if kind == "string":
            low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
            simple = simple_pattern(schema.get("pattern"))
            if simple is None:
                return self.add(Node("string", low=low, high=high))
            chars, pattern_low, pattern_high = simple
            if pattern_high is not None:
                high = pattern_high if high is None else min(high, pattern_high)
            return self.add(Node("string", low=max(low, pattern_low), high=high, chars=chars))
        if kind in ("integer", "number"):
            lo, hi = schema.get("minimum"), schema.get("maximum")
            lo_strict = hi_strict = False
            exclusive_lo, exclusive_hi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
            if isinstance(exclusive_lo, int | float) and not isinstance(exclusive_lo, bool):
                lo, lo_strict = exclusive_lo, True
            elif exclusive_lo is True:
                lo_strict = True  # draft-04 spelling: minimum is exclusive
            if isinstance(exclusive_hi, int | float) and not isinstance(exclusive_hi, bool):
                hi, hi_strict = exclusive_hi, True
            elif exclusive_hi is True:
                hi_strict = True
            bounds = tuple(None if b is None else Fraction(str(b)) for b in (lo, hi))
            return self.add(Node("number", number=(kind == "integer", *bounds, lo_strict, hi_strict)))
        if kind == "boolean":
            return self.add(Node("literal", options=("true", "false")))
        if kind == "null":
            return self.add(Node("literal", options=("null",)))
        if kind == "array":
            items = schema.get("items")
            item = self.compile(items) if isinstance(items, dict) else self.any()
            return self.add(
                Node("array", item=item, low=int(schema.get("minItems", 0)), high=schema.get("maxItems"))
            )
        if kind != "object":
            return self.any()
        properties = schema.get("properties") or {}
        required = [k for k in schema.get("required", []) if isinstance(k, str)]
        extra_schema = schema.get("additionalProperties", None if top else True)
        extra = None
        if extra_schema not in (None, False):
            extra = self.compile(extra_schema) if isinstance(extra_schema, dict) else self.any()
        keys = [(k, self.compile(v)) for k, v in properties.items()]
        keys += [(k, extra if extra is not None else self.any()) for k in required if k not in properties]
        names = schema.get("propertyNames")
        key = self.compile({**names, "type": "string"} if isinstance(names, dict) else {"type": "string"})
        # Declared keys only when there are some; free keys (a map) only when there are none.
        return self.add(
            Node(
                "object",
                keys=tuple(keys),
                required=frozenset(required),
                extra=None if keys else extra,
                key=key,
                low=int(schema.get("minProperties", 0)),
                high=schema.get("maxProperties"),
            )
        )


def number_grammar(text: str, integer: bool) -> tuple[bool, bool]:
    """(is ``text`` a prefix of a JSON number we write, is it a complete one). No exponents."""
    body = text[1:] if text.startswith("-") else text
    whole, dot, frac = body.partition(".")
    if not whole:
        return (not dot and not frac and text in ("", "-")), False
    if not whole.isdigit() or (whole.startswith("0") and len(whole) > 1):
        return False, False
    if dot and (integer or (frac and not frac.isdigit())):
        return False, False
    return True, not dot or bool(frac)


@lru_cache(maxsize=65536)
def number_cost(text: str, spec: tuple[Any, ...]) -> int | None:
    """Fewest characters that turn ``text`` into a number within the bounds (None: impossible)."""
    integer, lo, hi, lo_strict, hi_strict = spec
    prefix_ok, complete = number_grammar(text, integer)
    if not prefix_ok:
        return None
    if lo is None and hi is None:
        return 0 if complete else 1
    negative = text.startswith("-")
    body = text[1:] if negative else text
    whole, dot, frac = body.partition(".")
    # Work on magnitudes: a negative number's bounds flip.
    low, high = (None if hi is None else -hi, None if lo is None else -lo) if negative else (lo, hi)
    low_strict, high_strict = (hi_strict, lo_strict) if negative else (lo_strict, hi_strict)

    def fits(start: Fraction, step: Fraction, last: int) -> bool:  # some start + t*step, 0 <= t <= last
        t_lo, t_hi = 0, last
        if low is not None:
            t = ceil((low - start) / step)
            t_lo = max(t_lo, t + (1 if low_strict and start + t * step == low else 0))
        if high is not None:
            t = floor((high - start) / step)
            t_hi = min(t_hi, t - (1 if high_strict and start + t * step == high else 0))
        return t_lo <= t_hi

    best: int | None = None
    if dot:  # the fraction has begun: j more digits
        base = Fraction(int(whole)) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)
        for j in range(0 if frac else 1, 20):
            if fits(base, Fraction(1, 10 ** (len(frac) + j)), 10**j - 1):
                return j
        return None
    for k in range(0, 20):  # k more whole digits, then maybe "." and j digits
        if (whole == "0" and k) or (not whole and not k):
            continue
        if whole:
            start, last = Fraction(int(whole) * 10**k), 10**k - 1
        else:
            start, last = (Fraction(0), 9) if k == 1 else (Fraction(10 ** (k - 1)), 9 * 10 ** (k - 1) - 1)
        if best is not None and k >= best:
            break
        if fits(start, Fraction(1), last):
            return k if best is None else min(best, k)
        if not integer:
            for j in range(1, 20 - k):
                if best is not None and k + 1 + j >= best:
                    break
                if fits(start, Fraction(1, 10**j), (last + 1) * 10**j - 1):
                    best = k + 1 + j
    return best


def canonical_number(text: str) -> str:
    sign = "-" if text.startswith("-") else ""
    body = text[len(sign) :]
    whole, dot, frac = body.partition(".")
    whole = whole if whole in ("", "0") else "1"
    return sign + whole + dot + ("0" if frac else "")
