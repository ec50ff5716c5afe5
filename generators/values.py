"""Argument values that honour a JSON Schema, compiled once per tool into fast samplers.

``compile_schema(parameters)`` walks a tool's parameter schema once and returns a
``Sampler = Callable[[random.Random], Any]``; calling it draws one value. Supported: ``type`` (also as
a list, e.g. ``["number", "null"]``, null drawn only when it is the only type), ``enum``, ``const``,
``examples`` / ``example`` (drawn first with probability ``example_p`` -- specs' examples are realistic --
and only when they validate), ``default``, string ``format`` (date, date-time, time, email, uuid,
uri/url, hostname, ipv4, ipv6, byte, duration), ``pattern``, ``minLength``/``maxLength``, numeric
bounds (also exclusive, draft-4 and 2020 forms) and ``multipleOf``, ``minItems``/``maxItems``/
``uniqueItems``/``prefixItems``, objects with ``required`` plus a random subset of optional
properties (``readOnly`` ones left out; ``dependentRequired`` honoured), maps via ``additionalProperties`` / ``patternProperties``
with keys from ``propertyNames`` (GEN NX ``Assign``: ids matching ``^[0-9]+$``), ``$ref`` into the
document (``#/$defs/...``) with a recursion cap, ``allOf`` (merged), ``oneOf`` / ``anyOf`` (a branch,
siblings of a branch's ``$ref`` merged in). Examples are used only when they validate, ``format``
included; defaults only when they keep their ``format``.

Not covered: ``not``, ``if``/``then``/``else``, ``dependentSchemas``, ``contains``, external ``$ref``s
(drawn as an empty object). Values stay short and "round" (integers, one decimal) so a query can state
them exactly.
"""

from __future__ import annotations

import bisect
import copy
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from generators import formats, numbers
from generators.formats import draw_int, pick
from generators.patterns import UnsupportedPattern, compile_pattern

Sampler = Callable[[random.Random], Any]
_FORMATS = Draft202012Validator.FORMAT_CHECKER


@dataclass(frozen=True)
class ValueOptions:
    optional_p: float = 0.35  # chance to include each optional property
    max_optional: int = 4  # at most this many optional properties per object (queries stay readable)
    example_p: float = 0.5  # chance to use a spec example when the schema has valid ones
    default_p: float = 0.3  # chance to use a schema default when there is one
    map_entries: tuple[int, int] = (1, 3)  # entries of an additionalProperties map (GEN NX: ids)
    array_items: tuple[int, int] = (1, 3)
    max_ref_depth: int = 3  # $refs followed before objects shrink to their required properties
    # Caps that keep any spec's values small (a real Adyen spec declares maxItems: 2147483647). A
    # schema's upper bounds are clipped to these; a lower bound above a hard limit fails the tool with
    # SchemaTooLarge rather than allocating it.
    max_array_items: int = 8  # drawn array length never exceeds this (nor a schema's maxItems)
    max_string_length: int = 64  # drawn strings never exceed this (nor a schema's maxLength)
    max_sample_chars: int = 20_000  # a whole drawn value, as JSON, is redrawn (then refused) above this
    hard_limit: int = 1_000  # minItems / minLength / minProperties above this make a tool unusable


class SchemaTooLarge(ValueError):
    """A schema whose smallest valid value exceeds the sampler's limits (or whose draws keep doing so)."""


_MERGE_MAX = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_MERGE_MIN = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")


def _const(value: Any) -> Sampler:
    return lambda rng: value


class SchemaCompiler:
    """Compiles schemas of one document (a tool's ``parameters``) into samplers."""

    def __init__(self, root: dict[str, Any], options: ValueOptions | None = None) -> None:
        self.root = root
        self.options = options or ValueOptions()
        self._memo: dict[tuple[str, int, bool], Sampler] = {}

    # -- references and combinators --------------------------------------------------------------------

    def resolve(self, ref: str) -> dict[str, Any] | None:
        if not ref.startswith("#"):
            return None
        node: Any = self.root
        for part in ref[1:].split("/")[1:] if ref != "#" else []:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node if isinstance(node, dict) else None

    def merge_all_of(self, schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
        """``schema`` with its ``allOf`` (and referenced parts) folded into one schema."""
        if "allOf" not in schema or depth > 8:
            return schema
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            if "$ref" in part:
                part = {
                    **(self.resolve(part["$ref"]) or {}),
                    **{k: v for k, v in part.items() if k != "$ref"},
                }
            merged = _merge(merged, self.merge_all_of(part, depth + 1))
        return merged

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        defs: dict[str, Any] = {k: self.root[k] for k in ("$defs", "definitions") if k in self.root}
        # formats checked too: a spec's example or default may break its own format
        return Draft202012Validator({**defs, **schema}, format_checker=_FORMATS)

    # -- the compiler ---------------------------------------------------------------------------------

    def compile(self, schema: Any, depth: int = 0, filled: bool = False) -> Sampler:
        """A sampler for ``schema``. ``filled``: the value is a row or a list item, which an empty object
        would leave unstated (``[{}, {...}]``, a node without coordinates), so an object with properties
        always gets at least one."""
        if schema is True or not isinstance(schema, dict):
            return _const("value")
        if "$ref" in schema:
            return self._ref(schema, depth, filled)
        schema = self.merge_all_of(schema)
        if "const" in schema:
            return _const(schema["const"])
        base = self._base(schema, depth, filled)
        examples = [e for e in self._valid_examples(schema) if not (filled and e == {})]
        # A map keyed by ids (GEN NX ``Assign``) drawn from its example would repeat the same rows on
        # every draw that takes it (measured: 213 of 891 GEN NX POST samples became exact repeats);
        # its rows are drawn fresh instead.
        if examples and not _is_id_map(schema):
            p = self.options.example_p
            if any(isinstance(e, dict | list) for e in examples):
                # a fresh copy per sample: samples must never share (and so co-mutate) one object
                return lambda rng: copy.deepcopy(pick(rng, examples)) if rng.random() < p else base(rng)
            return lambda rng: pick(rng, examples) if rng.random() < p else base(rng)
        return base

    def _ref(self, schema: dict[str, Any], depth: int, filled: bool = False) -> Sampler:
        ref = schema["$ref"]
        key = (ref, depth, filled)
        if key not in self._memo:
            target = self.resolve(ref)
            if target is None or depth > self.options.max_ref_depth + 3:
                self._memo[key] = _const({})
            else:
                siblings = {k: v for k, v in schema.items() if k != "$ref"}
                self._memo[key] = _const({})  # a placeholder while the target compiles
                self._memo[key] = self.compile({**target, **siblings}, depth + 1, filled)
        return self._memo[key]

    def _valid_examples(self, schema: dict[str, Any]) -> list[Any]:
        found = list(schema.get("examples") or []) if isinstance(schema.get("examples"), list) else []
        if "example" in schema:
            found.append(schema["example"])
        if not found:
            return []
        check = self.validator({k: v for k, v in schema.items() if k not in ("examples", "example")})
        # Keys the request schema does not declare (readOnly ones, dropped at ingestion) are left out of
        # examples: a server that checks the body refuses them (422).
        found = [_declared_only(self, e, schema) for e in found if e is not None]
        return [e for e in found if check.is_valid(e)]

    @staticmethod
    def _keeps_format(schema: dict[str, Any], value: Any) -> bool:
        """Whether a default keeps the schema's ``format``: specs' defaults do not always (``format:
        time`` defaulting to ``23:20:50.52``, no offset), and a server that checks formats refuses them."""
        fmt = schema.get("format")
        return not isinstance(fmt, str) or _FORMATS.conforms(value, fmt)

    def _base(self, schema: dict[str, Any], depth: int, filled: bool = False) -> Sampler:
        for key in ("oneOf", "anyOf"):
            if schema.get(key):
                return self._choice(schema, key, depth, filled)
        if schema.get("enum"):
            choices = list(schema["enum"])
            non_null = [c for c in choices if c is not None] or choices
            return lambda rng: pick(rng, non_null)
        kind = _type_of(schema)
        sampler = {
            "object": self._object,
            "array": self._array,
            "string": self._string,
            "integer": self._integer,
            "number": self._number,
        }.get(kind)
        if kind == "object":
            base = self._object(schema, depth, filled)
        elif sampler is not None:
            base = sampler(schema, depth)
        elif kind == "boolean":
            base = lambda rng: rng.random() < 0.5  # noqa: E731
        else:
            base = _const(None)
        if (
            "default" in schema
            and schema["default"] is not None
            and self._keeps_format(schema, schema["default"])
        ):
            default, p = schema["default"], self.options.default_p
            return lambda rng: default if rng.random() < p else base(rng)
        return base

    def _choice(self, schema: dict[str, Any], key: str, depth: int, filled: bool = False) -> Sampler:
        parent = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf")}
        branches = []
        for branch in schema[key]:
            if "$ref" in branch:  # siblings of the $ref hold too (a discriminator's value, for one)
                rest = {k: v for k, v in branch.items() if k != "$ref"}
                branch = _merge(self.merge_all_of(self.resolve(branch["$ref"]) or {}), rest)
            branches.append(self.compile(_merge(parent, self.merge_all_of(branch)), depth, filled))
        if key == "anyOf":
            return lambda rng: pick(rng, branches)(rng)
        check = self.validator(schema)

        def one_of(rng: random.Random) -> Any:
            value = None
            for _ in range(6):  # "exactly one branch" can fail when branches overlap; draw again
                value = pick(rng, branches)(rng)
                if check.is_valid(value):
                    return value
            return value

        return one_of

    def _object(self, schema: dict[str, Any], depth: int, filled: bool = False) -> Sampler:
        props: dict[str, Any] = schema.get("properties") or {}
        required = [r for r in schema.get("required", []) if r in props]
        shrink = depth > self.options.max_ref_depth
        optional = [
            n
            for n in props
            if n not in required and not (isinstance(props[n], dict) and props[n].get("readOnly"))
        ]
        if shrink:
            optional = []
        # dependentRequired: sending one property obliges others (an optional body's required fields)
        dependent = {
            k: [d for d in v if d in props]
            for k, v in (schema.get("dependentRequired") or {}).items()
            if k in props and isinstance(v, list)
        }
        obliged = [d for deps in dependent.values() for d in deps if d not in required and d not in optional]
        compiled = {
            name: self.compile(_named(props[name], name), depth)
            for name in dict.fromkeys([*required, *optional, *obliged])
        }
        extra = schema.get("additionalProperties")
        pattern_props = schema.get("patternProperties") or {}
        if not props and (isinstance(extra, dict) or pattern_props):
            return self._map(schema, extra, pattern_props, depth)
        min_props = int(schema.get("minProperties", 0))
        max_props = schema.get("maxProperties")
        low = max(0, min_props - len(required))
        high = len(optional) if max_props is None else max(0, int(max_props) - len(required))
        high = max(low, min(high, len(optional), self.options.max_optional))
        low = min(low, high)
        # How many optional properties to take: Binomial(n, optional_p) clipped to [low, high], drawn
        # through its cumulative table (one random number per object instead of one per property).
        counts = _binomial_cdf(len(optional), self.options.optional_p)
        position = {name: i for i, name in enumerate(optional)}

        def sample(rng: random.Random) -> dict[str, Any]:
            k = min(high, max(low, bisect.bisect_right(counts, rng.random())))
            out = {name: compiled[name](rng) for name in required}
            if k:
                # keep the schema's order, whatever order they were drawn in
                for name in sorted(rng.sample(optional, k), key=position.__getitem__):
                    value = compiled[name](rng)
                    if not _hollow(value):  # an empty optional ({}, [{}]) says nothing a query could state
                        out[name] = value
            if filled and not out and optional:
                # a row or list item must state something: take optional properties until one has a value
                for name in rng.sample(optional, len(optional)):
                    value = compiled[name](rng)
                    if value is not None and not _hollow(value):
                        out[name] = value
                        break
            pending = [d for name in out for d in dependent.get(name, ())]
            while pending:
                name = pending.pop()
                if name not in out:
                    out[name] = compiled[name](rng)
                    pending.extend(dependent.get(name, ()))
            return out

        return sample

    def _map(self, schema: dict[str, Any], extra: Any, pattern_props: dict[str, Any], depth: int) -> Sampler:
        names = schema.get("propertyNames") or {}
        pattern = names.get("pattern") if isinstance(names, dict) else None
        if not isinstance(extra, dict) and pattern_props:
            pattern, extra = next(iter(pattern_props.items()))
        value = self.compile(extra, depth, filled=True)
        low, high = self.options.map_entries
        low = max(low, self._bounded(schema, "minProperties"))
        high = max(low, min(high, int(schema.get("maxProperties", high))))
        if depth > self.options.max_ref_depth:
            high = low = max(1, int(schema.get("minProperties", 0))) if schema.get("minProperties") else 0
        key_enum = names.get("enum") if isinstance(names, dict) else None
        numeric = pattern in (None, "^[0-9]+$", r"^\d+$", "^[1-9][0-9]*$", r"^[1-9]\d*$")
        key_sampler = None
        if not numeric and pattern:
            try:
                key_sampler = compile_pattern(pattern)
            except UnsupportedPattern:
                key_sampler = None

        def sample(rng: random.Random) -> dict[str, Any]:
            count = draw_int(rng, low, high)
            if key_enum:
                keys = rng.sample(list(key_enum), min(count, len(key_enum)))
            elif key_sampler is not None:
                keys = list(dict.fromkeys(key_sampler(rng) for _ in range(count * 2)))[:count]
            else:  # ids: a short run of consecutive numbers, like a user creating nodes 11, 12, 13
                start = draw_int(rng, 1, 60)
                keys = [str(start + i) for i in range(count)]
            return {key: value(rng) for key in keys}

        return sample

    def _bounded(self, schema: dict[str, Any], key: str) -> int:
        """A lower bound (``minItems``, ``minLength``, ``minProperties``) within the hard limit."""
        value = int(schema.get(key, 0))
        if value > self.options.hard_limit:
            raise SchemaTooLarge(f"{key}={value} exceeds the sampler's hard_limit={self.options.hard_limit}")
        return value

    def _array(self, schema: dict[str, Any], depth: int) -> Sampler:
        prefix = [self.compile(s, depth, filled=True) for s in schema.get("prefixItems", [])]
        items = (
            self.compile(schema.get("items", {"type": "integer"}), depth, filled=True)
            if schema.get("items") is not False
            else None
        )
        low = self._bounded(schema, "minItems")
        default_low, default_high = self.options.array_items
        high = int(schema.get("maxItems", max(low, default_high) if low else default_high))
        high = max(low, min(high, self.options.max_array_items))
        low = low if "minItems" in schema else min(default_low, high)
        if depth > self.options.max_ref_depth:
            high = low
        if items is None:
            high = min(high, len(prefix))
        unique = bool(schema.get("uniqueItems"))

        def sample(rng: random.Random) -> list[Any]:
            count = draw_int(rng, low, max(low, high))
            out = [f(rng) for f in prefix[:count]]
            seen = {repr(v) for v in out}
            tries = 0
            while len(out) < count and items is not None and tries < count * 8:
                tries += 1
                value = items(rng)
                if unique and repr(value) in seen:
                    continue
                seen.add(repr(value))
                out.append(value)
            return out

        return sample

    def _string(self, schema: dict[str, Any], depth: int) -> Sampler:
        min_len = self._bounded(schema, "minLength")
        max_len = max(
            min_len,
            min(int(schema.get("maxLength", self.options.max_string_length)), self.options.max_string_length),
        )
        if str(schema.get("contentEncoding", "")).lower() in ("base64", "base64url"):
            # encoded bytes: the text must decode (a server that checks contentEncoding refuses words)
            url = str(schema["contentEncoding"]).lower() == "base64url"
            return lambda rng: formats.encoded_bytes(rng, min_len, max_len, url=url)
        if schema.get("pattern"):
            try:
                return compile_pattern(schema["pattern"], min_length=min_len, max_length=max_len)
            except UnsupportedPattern:
                pass
        fmt = formats.FORMATS.get(str(schema.get("format", "")).lower())
        base = fmt or formats.word_sampler(f"{schema.get(_NAME_HINT, '')} {schema.get('title', '')}")
        return lambda rng: formats.fit_length(base(rng), min_len, max_len, rng)

    def _integer(self, schema: dict[str, Any], depth: int) -> Sampler:
        return numbers.integer_sampler(schema)

    def _number(self, schema: dict[str, Any], depth: int) -> Sampler:
        return numbers.number_sampler(schema)


_NAME_HINT = "x-callforge-name"


def _named(schema: Any, name: str) -> Any:
    """The property's schema carrying its name, so a string field called NAME gets a name-like value."""
    return {**schema, _NAME_HINT: name} if isinstance(schema, dict) and "type" in schema else schema


def _hollow(value: Any) -> bool:
    """Whether ``value`` is only empty containers (``{}``, ``[]``, ``[{}]``): nothing a query could state."""
    if isinstance(value, dict):
        return all(_hollow(v) for v in value.values())
    if isinstance(value, list):
        return all(_hollow(v) for v in value)
    return False


def _binomial_cdf(n: int, p: float) -> list[float]:
    """Cumulative P(K <= k) for k = 0..n-1 (``bisect_right(cdf, u)`` turns a uniform u into K)."""
    cdf, total = [], 0.0
    for k in range(n):
        total += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        cdf.append(total)
    return cdf


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        return non_null[0] if non_null else "null"
    if kind:
        return str(kind)
    if "properties" in schema or "additionalProperties" in schema or "patternProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "multipleOf")):
        return "number"
    return "string"


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two schemas that must both hold, as one (good enough for allOf in API specs)."""
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
        elif key == "properties":
            props = dict(out[key])
            for name, sub in value.items():
                props[name] = _merge(props[name], sub) if isinstance(props.get(name), dict) else sub
            out[key] = props
        elif key == "required":
            out[key] = list(dict.fromkeys([*out[key], *value]))
        elif key in _MERGE_MAX and not isinstance(value, bool):
            out[key] = max(out[key], value)
        elif key in _MERGE_MIN and not isinstance(value, bool):
            out[key] = min(out[key], value)
        elif key == "enum":
            # disjoint enums: keep the first schema's (a oneOf branch's own allowed value, e.g. "function",
            # wins over the discriminator pin ingestion adds, which may be the branch's schema name)
            out[key] = [v for v in out[key] if v in value] or out[key]
        else:
            out[key] = value
    return out


def _is_id_map(schema: dict[str, Any]) -> bool:
    """Whether ``schema`` is an object of rows under free keys (no declared properties)."""
    return isinstance(schema.get("additionalProperties"), dict) and not schema.get("properties")


def compile_schema(parameters: dict[str, Any], options: ValueOptions | None = None) -> Sampler:
    """One sampler for a tool's whole ``parameters`` schema, whose draws stay under ``max_sample_chars``
    (redrawn up to three times, then :class:`SchemaTooLarge`)."""
    options = options or ValueOptions()
    inner = SchemaCompiler(parameters, options).compile(parameters)
    limit = options.max_sample_chars

    def sample(rng: random.Random) -> Any:
        for _ in range(4):
            value = inner(rng)
            if _size_within(value, limit):
                return value
        raise SchemaTooLarge(f"drawn arguments keep exceeding max_sample_chars={limit} (as JSON)")

    return sample


def _size_within(value: Any, limit: int) -> bool:
    """Whether ``value`` as JSON is at most ``limit`` characters (counted without serialising it all)."""
    budget = [limit]

    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            budget[0] -= 2
            return all(walk(k) and walk(v) for k, v in node.items())
        if isinstance(node, list):
            budget[0] -= 2
            return all(walk(v) for v in node)
        budget[0] -= len(node) + 3 if isinstance(node, str) else 6
        return budget[0] >= 0

    return walk(value) and budget[0] >= 0


def _declared_only(compiler: SchemaCompiler, value: Any, schema: dict[str, Any], depth: int = 0) -> Any:
    """``value`` without object keys that ``schema`` does not declare, where it declares properties and
    allows nothing else (no ``additionalProperties``/``patternProperties``); nested objects likewise."""
    if depth > 16:
        return value
    if "$ref" in schema:
        schema = compiler.resolve(schema["$ref"]) or {}
    schema = compiler.merge_all_of(schema)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_declared_only(compiler, v, schema["items"], depth + 1) for v in value]
    props = schema.get("properties")
    if not isinstance(value, dict) or not isinstance(props, dict) or not props:
        return value
    open_ended = "patternProperties" in schema or schema.get("additionalProperties") not in (None, False)
    return {
        k: _declared_only(compiler, v, props[k], depth + 1) if isinstance(props.get(k), dict) else v
        for k, v in value.items()
        if k in props or open_ended
    }
