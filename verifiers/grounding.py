"""Is every argument value of a call taken from the query? The embedded, model-free half of ``semantic``.

Inputs are a query and a call's arguments with the tool's parameter schema; outputs are the argument
*leaves* (every scalar, plus the keys of id-keyed maps such as GEN NX's ``Assign: {"1": {...}}``) and,
for each, whether the query grounds it:

* numbers match numerically (``3`` = ``3.0`` = ``"3"``; ``1,000``; ``50%`` = 0.5; number words such as
  "three", "셋", "origin"/"원점" = 0), a negative value needs a minus or "minus"/"negative" in the query;
* strings match case-insensitively as a substring (also with ``_``/``-`` read as spaces and with spaces
  removed, for Korean), or when most of their words occur in the query; ISO dates when year, month and
  day all occur;
* booleans, enum members and nulls are grounded when they equal the schema's default or ``const``, or
  when the query names the argument (its name, title or description words, Korean glossary included,
  an English synonym, or a word that a key word of four letters or more begins: CALC "calculated");
  ``false`` without a default counts as "not asked for".

What it does not cover: unit conversions (3 km vs 3000), paraphrased free text that shares few words
with the query, values the query implies without stating. Those come out ungrounded — tune
``string_coverage`` or use the judge mode for such data.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from verifiers.lexicon import (
    NUMBER_WORDS,
    english_terms,
    fold,
    ko_match,
    name_words,
    names_term,
    stem,
    token_terms,
    tokens,
)

_NUMBER = re.compile(r"(?<![\d.])-?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?(%?)")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_NEGATION = ("-", "minus", "negative", "마이너스", "음수")
_WORDS = re.compile(r"[^\W_]+")
_KO_NUMBER_WORDS = [(w, v) for w, v in NUMBER_WORDS.items() if "\uac00" <= w[0] <= "\ud7a3"]


@dataclass(frozen=True)
class Leaf:
    """One scalar of a call's arguments (or a key of an id-keyed map), with what labels it."""

    path: tuple[Any, ...]
    value: Any
    schema: Mapping[str, Any]
    name: str  # the nearest declared property name above or at this leaf ("" at the top of a map)
    label: Mapping[str, Any]  # that property's schema (title, description)
    is_key: bool = False
    order: int = -1  # position of this leaf's property among its parent's declared properties

    @property
    def parent(self) -> tuple[Any, ...]:
        return self.path[:-1]


def _deref(root: Mapping[str, Any], schema: Any, depth: int = 0) -> Mapping[str, Any]:
    """Follow local ``$ref``s and merge ``allOf`` so a sub-schema can be read directly."""
    if not isinstance(schema, Mapping):
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#") and depth < 32:
        target: Any = root
        for part in ref[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, Mapping) else None
        merged = {**_deref(root, target, depth + 1), **{k: v for k, v in schema.items() if k != "$ref"}}
        schema = merged
    if "allOf" in schema and depth < 32:
        merged = dict(schema)
        for branch in schema.get("allOf", []):
            resolved = _deref(root, branch, depth + 1)
            merged.setdefault("properties", {})
            merged["properties"] = {**resolved.get("properties", {}), **merged["properties"]}
            for key in ("type", "enum", "default", "additionalProperties", "items", "description", "title"):
                if key in resolved and key not in merged:
                    merged[key] = resolved[key]
        schema = merged
    return schema


def _child(root: Mapping[str, Any], schema: Mapping[str, Any], key: Any) -> tuple[Mapping[str, Any], bool]:
    """(sub-schema of ``key``, whether ``key`` is a declared property name)."""
    schema = _deref(root, schema)
    for branch in [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]:
        branch = _deref(root, branch)
        if isinstance(key, int):
            prefix = branch.get("prefixItems")
            if isinstance(prefix, list) and key < len(prefix):
                return _deref(root, prefix[key]), False
            if isinstance(branch.get("items"), Mapping):
                return _deref(root, branch["items"]), False
            continue
        props = branch.get("properties", {})
        if isinstance(props, Mapping) and key in props:
            return _deref(root, props[key]), True
        for pattern, sub in (branch.get("patternProperties") or {}).items():
            if re.search(pattern, key):
                return _deref(root, sub), False
        if isinstance(branch.get("additionalProperties"), Mapping):
            return _deref(root, branch["additionalProperties"]), False
    return {}, not isinstance(key, int)


def leaves(arguments: Mapping[str, Any], parameters: Mapping[str, Any] | None) -> list[Leaf]:
    """Every scalar leaf of ``arguments`` (and every key of a map with undeclared keys), in order."""
    root = parameters or {}
    out: list[Leaf] = []

    def walk(
        value: Any,
        schema: Mapping[str, Any],
        path: tuple[Any, ...],
        name: str,
        label: Mapping[str, Any],
        order: int = -1,
    ) -> None:
        if len(path) > 64:
            return  # absurd nesting: nothing sensible to ground
        if isinstance(value, Mapping):
            declared_order = list(_deref(root, schema).get("properties", {}) or {})
            for key, sub in value.items():
                sub_schema, declared = _child(root, schema, key)
                if declared:
                    position = declared_order.index(key) if key in declared_order else -1
                    walk(sub, sub_schema, (*path, key), str(key), sub_schema, position)
                else:  # an id-keyed map: the key is a value the query must state too
                    key_schema = _deref(root, schema).get("propertyNames") or {"type": "string"}
                    out.append(Leaf((*path, key), key, key_schema, name, label, is_key=True))
                    walk(sub, sub_schema, (*path, key), name, label)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                sub_schema, _ = _child(root, schema, index)
                walk(item, sub_schema, (*path, index), name, label)
        else:
            out.append(Leaf(path, value, schema, name, label, order=order))

    walk(arguments, _deref(root, root), (), "", {})
    return out


def label_terms(leaf: Leaf) -> frozenset[str]:
    """Stemmed English words that name a leaf: its property name, title and description words."""
    title, description = leaf.label.get("title"), leaf.label.get("description")
    return _label_terms(
        leaf.name,
        title if isinstance(title, str) else "",
        description[:200] if isinstance(description, str) else "",
    )


@functools.lru_cache(maxsize=16384)
def _label_terms(name: str, title: str, description: str) -> frozenset[str]:
    words = {stem(w) for w in name_words(name)}
    words.update(english_terms(title))
    words.update(english_terms(description))
    return frozenset(w for w in words if w)


@dataclass
class QueryFacts:
    """What grounding needs from a query, computed once per sample."""

    text: str
    folded: str = field(init=False)
    compact: str = field(init=False)
    spaced: str = field(init=False)
    tokens: list[tuple[str, int]] = field(init=False)
    numbers: list[tuple[float, int]] = field(init=False)  # (value, char offset)
    terms: set[str] = field(init=False)
    token_terms: list[tuple[str, ...]] = field(init=False)  # per token: the English words it stands for
    negated: bool = field(init=False)
    memo: dict[str, Any] = field(init=False, repr=False, compare=False)
    """Per-query caches of the checks that ask the same question for many argument pairs."""

    def __post_init__(self) -> None:
        self.memo = {}
        self.folded = fold(self.text)
        self.compact = re.sub(r"\s+", "", self.folded)
        self.spaced = " " + " ".join(_WORDS.findall(self.folded)) + " "
        self.tokens = tokens(self.text)
        self.token_terms = [token_terms(token) for token, _ in self.tokens]
        self.terms = {term for terms in self.token_terms for term in terms}
        self.negated = any(n in self.folded for n in _NEGATION)
        numbers: list[tuple[float, int]] = []
        for m in _NUMBER.finditer(self.folded):
            raw = m.group().rstrip("%")
            try:
                value = float(raw.replace(",", ""))
            except ValueError:
                continue
            numbers.append((value, m.start()))
            if "," in raw:  # "1,000" may also be the list "1, 000"
                numbers.extend((float(p), m.start()) for p in raw.split(",") if p.lstrip("-").isdigit())
            if m.group(1):
                numbers.append((value / 100, m.start()))
        starts = [start for _, start in self.tokens]
        for token, start in self.tokens:
            if token in NUMBER_WORDS:
                numbers.append((float(NUMBER_WORDS[token]), start))
            elif "\uac00" <= token[0] <= "\ud7a3":  # 원점에, 셋을: Korean attaches particles
                numbers.extend((float(v), start) for w, v in _KO_NUMBER_WORDS if ko_match(token, w))
        self.numbers = numbers
        self._starts = starts

    def token_index(self, offset: int) -> int:
        return max(bisect.bisect_right(self._starts, offset) - 1, 0)

    def number_offsets(self, value: float) -> list[int]:
        return [start for number, start in self.numbers if _close(number, value)]

    def has_number(self, value: float) -> bool:
        if any(_close(number, value) for number, _ in self.numbers):
            return True
        return value < 0 and self.negated and any(_close(number, -value) for number, _ in self.numbers)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def as_number(value: Any) -> float | None:
    """A leaf value as a finite float: numbers and numeric strings ("3", "3.0"); bools are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (
        isinstance(value, str) and re.fullmatch(r"\s*-?\d+(?:\.\d+)?\s*", value)
    ):
        number = float(value)
    else:
        return None
    return number if math.isfinite(number) else None


def _string_grounded(value: str, facts: QueryFacts, coverage: float) -> bool:
    text = fold(value).strip()
    if not text:
        return True  # an empty string states nothing
    if len(text) <= 3 and text.isascii() and text.isalnum():
        # A short code ("D", "LL", "C24") must stand as a word: "d" is in "dead" and "dl" in
        # "downward load" without either being stated.
        return re.search(rf"(?<![a-z0-9]){re.escape(text)}(?![a-z0-9])", facts.folded) is not None
    if text in facts.folded:
        return True
    if (len(text) >= 5 or not text.isascii()) and re.sub(r"\s+", "", text) in facts.compact:
        return True
    words = _WORDS.findall(text)
    if words and f" {' '.join(words)} " in facts.spaced:  # enum spellings: in_progress ~ "in progress"
        return True
    date = _ISO_DATE.match(text)
    if date:
        return all(facts.has_number(float(part)) for part in date.groups())
    if len(words) >= 2:
        present = sum(1 for w in words if w in facts.folded or stem(w) in facts.terms)
        return present / len(words) >= coverage
    return False


def _named(leaf: Leaf, facts: QueryFacts) -> bool:
    """Whether the query names the argument: its key as written (GEN NX users type "bSPR true"), or a
    word of its name, title or description (Korean through the glossary)."""
    key = fold(leaf.name)
    if len(key) > 1 and any(token == key for token, _ in facts.tokens):
        return True
    return terms_name(label_terms(leaf), facts.terms)


def terms_name(label: frozenset[str], terms: set[str] | frozenset[str]) -> bool:
    """Whether any of a query's ``terms`` names an argument with these label terms (a synonym or a
    word its shortened key begins included: "computed" and "calculated" name OPT_CALC_WHEN_USED)."""
    return not label.isdisjoint(terms) or any(names_term(label, term) for term in terms)


def grounded(leaf: Leaf, facts: QueryFacts, *, string_coverage: float = 0.75) -> bool:
    """Whether the query states (or allows) this leaf's value; see the module docstring for the rules."""
    value, schema = leaf.value, leaf.schema
    if value is None:
        return True
    if "default" in schema and _same(schema["default"], value):
        return True
    if "const" in schema and _same(schema["const"], value):
        return True
    enum = schema.get("enum")
    if isinstance(enum, list) and len(enum) == 1 and _same(enum[0], value):
        return True
    if isinstance(value, bool):
        return (value is False and "default" not in schema) or _named(leaf, facts)
    number = as_number(value)
    if number is not None and facts.has_number(number):
        return True
    if isinstance(value, str) and _string_grounded(value, facts, string_coverage):
        return True
    return isinstance(enum, list) and value in enum and _named(leaf, facts)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    na, nb = as_number(a), as_number(b)
    if na is not None and nb is not None and not isinstance(a, str) and not isinstance(b, str):
        return _close(na, nb)
    return a == b


def value_offsets(leaf: Leaf, facts: QueryFacts) -> tuple[int, ...]:
    """Char offsets where the query states this leaf's value (empty when it does not literally).
    Memoised on ``facts`` by value and type: the row checks ask it for every pair of a call's leaves."""
    value = leaf.value
    if isinstance(value, dict | list):
        return ()
    memo = facts.memo.setdefault("value_offsets", {})
    key = (type(value), value)
    try:
        found = memo.get(key)
    except TypeError:  # an unhashable value (not from JSON): nothing to share
        return tuple(_value_offsets(leaf, facts))
    if found is None:
        found = memo[key] = tuple(_value_offsets(leaf, facts))
    return found


def _value_offsets(leaf: Leaf, facts: QueryFacts) -> list[int]:
    number = as_number(leaf.value)
    if number is not None:
        return facts.number_offsets(number)
    if isinstance(leaf.value, str) and leaf.value.strip():
        needle = fold(leaf.value).strip()
        return [m.start() for m in re.finditer(re.escape(needle), facts.folded)]
    return []


def iter_pairs(items: list[Leaf]) -> Iterator[tuple[Leaf, Leaf]]:
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            yield a, b
