"""Per-spec lexicons: how the people who use an API name its values, read from a YAML file.

A lexicon (``specs/gennx/lexicon.yaml`` is the example) tells the semantic verifier what the spec alone
does not: the unit a number field takes (``X: m``), which fields a direction word signs ("downward"
-> negative ``FZ``), which words imply a code (``"fixed support"`` -> ``CONSTRAINT: "1111111"``), which
fields are bookkeeping ids, and extra words naming what a tool works on. It is found next to the spec
a tool came from (``lexicon.yaml`` or ``<spec stem>.lexicon.yaml``), or passed explicitly.

    >>> lexicon = lexicon_for(tool)          # ToolLexicon for one tool (empty when none applies)
    >>> lexicon.units.get("Z"), lexicon.codes("CONSTRAINT")
    ('m', [('1111111', ('fixed', 'fix', …)), …])

A lexicon only ever widens what counts as stated (or names the value a query implies); a missing
entry leaves the literal checks in charge. Files are bounded in size and validated; a bad file raises
``ConfigError`` naming the file and the entry.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from schemas.errors import ConfigError
from schemas.models import Tool

log = logging.getLogger(__name__)
MAX_LEXICON_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ValueWords:
    """Words implying one or more values of a field."""

    values: tuple[Any, ...]
    words: tuple[str, ...]


@dataclass(frozen=True)
class ToolLexicon:
    """The part of the loaded lexicons that applies to one tool."""

    units: Mapping[str, str] = field(default_factory=dict)
    direction_fields: frozenset[str] = frozenset()
    negative_words: tuple[str, ...] = ()
    positive_words: tuple[str, ...] = ()
    values: Mapping[str, tuple[ValueWords, ...]] = field(default_factory=dict)
    bookkeeping: frozenset[str] = frozenset()
    objects: tuple[str, ...] = ()

    def codes(self, field_name: str) -> tuple[ValueWords, ...]:
        return self.values.get(field_name, ())


EMPTY = ToolLexicon()


def _words(entry: Mapping[str, Any], where: str) -> tuple[str, ...]:
    out: list[str] = []
    for lang in ("en", "ko", "words"):
        raw = entry.get(lang, [])
        if not isinstance(raw, list) or not all(isinstance(w, str) and w.strip() for w in raw):
            raise ConfigError(f"{where}: {lang!r} must be a list of non-empty strings")
        out.extend(w.strip() for w in raw)
    return tuple(out)


def _paths(entry: Mapping[str, Any], where: str) -> tuple[re.Pattern[str], ...]:
    raw = entry.get("paths", [])
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise ConfigError(f"{where}: 'paths' must be a list of regular expressions")
    try:
        return tuple(re.compile(p) for p in raw)
    except re.error as exc:
        raise ConfigError(f"{where}: bad 'paths' pattern: {exc}") from None


@dataclass(frozen=True)
class Lexicon:
    """One lexicon file, parsed."""

    source: str
    units: tuple[tuple[tuple[re.Pattern[str], ...], Mapping[str, str]], ...] = ()
    direction_fields: frozenset[str] = frozenset()
    negative_words: tuple[str, ...] = ()
    positive_words: tuple[str, ...] = ()
    values: tuple[tuple[tuple[re.Pattern[str], ...], str, ValueWords], ...] = ()
    bookkeeping: frozenset[str] = frozenset()
    objects: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = ()

    @classmethod
    def parse(cls, data: Any, source: str) -> Lexicon:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: a lexicon is a YAML mapping, got {type(data).__name__}")
        unknown = set(data) - {"version", "units", "directions", "values", "bookkeeping", "objects"}
        if unknown:
            raise ConfigError(f"{source}: unknown top-level keys {sorted(unknown)}")
        units = []
        for i, entry in enumerate(data.get("units") or []):
            where = f"{source}: units[{i}]"
            fields = entry.get("fields") if isinstance(entry, Mapping) else None
            if not isinstance(fields, Mapping) or not all(isinstance(v, str) for v in fields.values()):
                raise ConfigError(f"{where}: 'fields' must map field names to unit names")
            units.append((_paths(entry, where), {str(k): v for k, v in fields.items()}))
        directions = data.get("directions") or {}
        if not isinstance(directions, Mapping):
            raise ConfigError(f"{source}: 'directions' must be a mapping")
        values = []
        for i, entry in enumerate(data.get("values") or []):
            where = f"{source}: values[{i}]"
            if not isinstance(entry, Mapping) or not isinstance(entry.get("field"), str):
                raise ConfigError(f"{where}: needs 'field' (a field name)")
            if "value" in entry:
                implied: tuple[Any, ...] = (entry["value"],)
            elif isinstance(entry.get("values"), list):
                implied = tuple(entry["values"])
            else:
                raise ConfigError(f"{where}: needs 'value' or 'values'")
            values.append((_paths(entry, where), entry["field"], ValueWords(implied, _words(entry, where))))
        objects = []
        for pattern, words in (data.get("objects") or {}).items():
            where = f"{source}: objects[{pattern!r}]"
            if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                raise ConfigError(f"{where}: must be a list of words")
            objects.append((_paths({"paths": [pattern]}, where)[0], tuple(words)))
        bookkeeping = data.get("bookkeeping") or []
        if not isinstance(bookkeeping, list):
            raise ConfigError(f"{source}: 'bookkeeping' must be a list of field names")
        return cls(
            source=source,
            units=tuple(units),
            direction_fields=frozenset(str(f) for f in directions.get("fields", [])),
            negative_words=_words(directions.get("negative") or {}, f"{source}: directions.negative"),
            positive_words=_words(directions.get("positive") or {}, f"{source}: directions.positive"),
            values=tuple(values),
            bookkeeping=frozenset(str(f) for f in bookkeeping),
            objects=tuple(objects),
        )


@functools.lru_cache(maxsize=64)
def _load(path: str, mtime: float) -> Lexicon:
    file = Path(path)
    if file.stat().st_size > MAX_LEXICON_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_LEXICON_BYTES} bytes; is this a lexicon?")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return Lexicon.parse(data, path)


def load_lexicon(path: Path) -> Lexicon:
    """Parse (and cache, by path and modification time) one lexicon file."""
    if not path.is_file():
        raise ConfigError(f"lexicon {str(path)!r} does not exist or is not a file")
    return _load(str(path), path.stat().st_mtime)


def _beside(spec_file: str) -> Path | None:
    spec = Path(spec_file)
    for candidate in (spec.with_name(f"{spec.stem}.lexicon.yaml"), spec.with_name("lexicon.yaml")):
        if candidate.is_file():
            return candidate
    return None


def _matches(patterns: Iterable[re.Pattern[str]], path: str) -> bool:
    patterns = tuple(patterns)
    return not patterns or any(p.search(path) for p in patterns)


def combine(lexicons: Iterable[Lexicon], path: str) -> ToolLexicon:
    """The entries of ``lexicons`` that apply to a tool at HTTP path ``path``."""
    units: dict[str, str] = {}
    values: dict[str, list[ValueWords]] = {}
    direction_fields: set[str] = set()
    negative: list[str] = []
    positive: list[str] = []
    bookkeeping: set[str] = set()
    objects: list[str] = []
    for lexicon in lexicons:
        for patterns, fields in lexicon.units:
            if _matches(patterns, path):
                units.update(fields)
        for patterns, name, words in lexicon.values:
            if _matches(patterns, path):
                values.setdefault(name, []).append(words)
        direction_fields |= lexicon.direction_fields
        negative.extend(lexicon.negative_words)
        positive.extend(lexicon.positive_words)
        bookkeeping |= lexicon.bookkeeping
        for pattern, nouns in lexicon.objects:
            if pattern.search(path):
                objects.extend(nouns)
    return ToolLexicon(
        units=units,
        direction_fields=frozenset(direction_fields),
        negative_words=tuple(negative),
        positive_words=tuple(positive),
        values={k: tuple(v) for k, v in values.items()},
        bookkeeping=frozenset(bookkeeping),
        objects=tuple(objects),
    )


def lexicon_for(tool: Tool, extra: tuple[Path, ...] = ()) -> ToolLexicon:
    """The lexicon entries for ``tool``: the file beside its spec (if any) plus ``extra`` files."""
    return _for(tool.source.file, tool.binding.path, extra)


@functools.lru_cache(maxsize=8192)
def _for(spec_file: str, path: str, extra: tuple[Path, ...]) -> ToolLexicon:
    found: list[Lexicon] = []
    beside = _beside(spec_file) if spec_file else None
    if beside is not None:
        found.append(load_lexicon(beside))
    found.extend(load_lexicon(p) for p in extra)
    return combine(found, path) if found else EMPTY
