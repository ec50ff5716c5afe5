"""Values a query implies: the grounding rules for values stated the way people state them.

``leaf_problem(leaf, facts, lexicon)`` says why an argument value is not grounded in the query, or
``None`` when it is. On top of the literal matching of ``verifiers.grounding`` it accepts:

* bookkeeping ids — ``ITEMS[].ID = 1`` (fields the lexicon lists, numbered by position) and id-keyed map
  keys numbered 1..n (``Assign: {"1": …, "2": …}``) when the query states no other id for them;
* ranges and spacing — "nodes 1 through 4", "1번부터 4번까지", "the first three", "5 m apart" (its
  multiples);
* unit conversions — "1500 mm" for a field in m (units from the lexicon, or "(m)" in a field's
  description); the bare 1500 is then a unit mistake (``unit``);
* signs from direction words — "downward 10 kN" is ``FZ: -10``; +10 is a sign mistake (``sign``);
* codes and enum values implied by words — the lexicon's entries ("fixed" -> ``1111111``), an
  ``x-enum-descriptions`` list, or an enum value that abbreviates a query word (``CONC`` <- concrete,
  ``REACTIONG`` <- reaction); a value when the words imply another is a ``code`` mistake;
* and it refuses what people do not mean: path and file-name strings must appear exactly (``path``),
  and a value stated only where the query rules it out ("already", "not 3 but 4", "이미") is
  ``not_wanted`` — also when the value recurs elsewhere but the ruled-out mention names this argument.

Reasons: ``not_stated``, ``unit``, ``sign``, ``code``, ``path``, ``not_wanted``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from verifiers.grounding import Leaf, QueryFacts, _same, as_number, grounded, label_terms
from verifiers.intent import not_wanted_spans
from verifiers.lexicon import NUMBER_WORDS, abbreviates, fold, token_terms, tokens
from verifiers.spec_lexicon import EMPTY, ToolLexicon
from verifiers.units import canonical_unit, convert, dimension, stated_units

_RANGE = re.compile(
    r"(?<![\d.])(\d+)\s*(?:번|번째)?\s*(?:through|thru|to|until|till|~|–|부터|에서)\s*(?:node |element )?(\d+)(?!\d|\.\d)"
)
_FIRST = re.compile(r"\bfirst (\d+|" + "|".join(w for w in NUMBER_WORDS if w.isascii()) + r")\b")
_SPACING = re.compile(
    r"(\d+(?:\.\d+)?)\s*(mm|cm|m)?\s*(?:apart|spacing|intervals?|on cent(?:er|re)s|간격)"
    r"|(?:spacing|interval|every|간격)\s*(?:of\s*)?(\d+(?:\.\d+)?)\s*(mm|cm|m)?"
)
_DESCRIBED_UNIT = re.compile(r"\((mm|cm|m|km|kn|n|kn\*?m|kn/m2|mpa|kpa)\)", re.IGNORECASE)
_ID_LABEL = re.compile(
    r"\b(?:nodes?|elements?|elems?|members?|beams?|joints?|materials?|sections?|groups?|stories|story|no\.?|#)"
    r"\s*(\d+)(?!\d|\.\d|\s*(?:mm|cm|m|kn|n)\b)|(\d+)\s*번|(?:절점|요소|노드|재료|단면)\s*(\d+)"
)
_PATH_LIKE = re.compile(r"[/\\]|\.[a-z0-9]{2,5}$", re.IGNORECASE)
_ENUM_DESCRIPTIONS = ("x-enum-descriptions", "x-enumDescriptions", "x-enum-varnames", "x-enumNames")
_BOOKKEEPING = frozenset({"ID", "NO"})


@dataclass(frozen=True)
class Mention:
    """A number the query states (or implies through a range or spacing), with its unit, if any."""

    value: float
    start: int
    unit: str | None = None


@dataclass
class _Extras:
    mentions: list[Mention]
    ranges: list[tuple[int, int]]
    excluded: list[tuple[int, int]]
    id_numbers: set[float]


def _extras(facts: QueryFacts) -> _Extras:
    found = facts.memo.get("implication")
    if isinstance(found, _Extras):
        return found
    text = facts.folded
    units = {s.start: s.unit for s in stated_units(text)}
    mentions = [Mention(v, start, units.get(start)) for v, start in facts.numbers]
    ranges: list[tuple[int, int]] = []
    for match in _RANGE.finditer(text):
        a, b = int(match.group(1)), int(match.group(2))
        if a < b <= a + 500:
            ranges.append((a, b))
            mentions.extend(Mention(float(n), match.start()) for n in range(a + 1, b))
    for match in _FIRST.finditer(text):
        raw = match.group(1)
        count = int(raw) if raw.isdigit() else int(NUMBER_WORDS[raw])
        if 1 < count <= 500:
            ranges.append((1, count))
            mentions.extend(Mention(float(n), match.start()) for n in range(1, count + 1))
    for match in _SPACING.finditer(text):
        raw, unit = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        step = float(raw)
        if step > 0:
            mentions.extend(Mention(step * k, match.start(), unit) for k in range(0, 201))
    id_numbers = {float(next(g for g in m.groups() if g)) for m in _ID_LABEL.finditer(text)}
    extras = _Extras(mentions, ranges, not_wanted_spans(text), id_numbers)
    facts.memo["implication"] = extras
    return extras


def stated_ranges(facts: QueryFacts) -> list[tuple[int, int]]:
    """Inclusive integer ranges the query states ("1 through 4", "1번부터 4번까지", "first three")."""
    return _extras(facts).ranges


def id_numbers(facts: QueryFacts) -> set[float]:
    """Numbers the query labels as ids ("node 5", "5번", "절점 5")."""
    return _extras(facts).id_numbers


def _inside(offset: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= offset < b for a, b in spans)


def field_unit(leaf: Leaf, lexicon: ToolLexicon) -> str | None:
    """The unit a number field takes: the lexicon's, else one written as "(m)" in its description."""
    unit = lexicon.units.get(leaf.name)
    if unit:
        return unit
    for text in (leaf.label.get("description"), leaf.label.get("title")):
        if isinstance(text, str) and (match := _DESCRIBED_UNIT.search(text)):
            return match.group(1)
    return None


def _phrase_in(phrase: str, facts: QueryFacts) -> bool:
    folded = fold(phrase)
    if "\uac00" <= folded[0] <= "\ud7a3":
        return folded in facts.compact or folded in facts.folded
    return re.search(rf"(?<![\w-]){re.escape(folded)}(?![\w-])", facts.folded) is not None


def _names_leaf(leaf: Leaf, facts: QueryFacts, offset: int) -> bool:
    """Whether one of the two tokens before ``offset`` names ``leaf`` (its key, a word of its label,
    an abbreviation of the key such as SECT for "section", or a Korean glossary word for it)."""
    index = facts.token_index(offset)
    key = fold(leaf.name)
    terms = label_terms(leaf)
    for token, _ in facts.tokens[max(index - 2, 0) : index]:
        if token == key or not terms.isdisjoint(token_terms(token)):
            return True
        if token.isascii() and abbreviates(key, token):
            return True
    return False


def _split_mentions(facts: QueryFacts, extras: _Extras) -> tuple[list[Mention], list[Mention]]:
    """The query's number mentions outside and inside its excluded spans ("except 3"), once per query."""
    split = facts.memo.get("split_mentions")
    if split is None:
        wanted = [m for m in extras.mentions if not _inside(m.start, extras.excluded)]
        unwanted = [m for m in extras.mentions if _inside(m.start, extras.excluded)]
        split = facts.memo["split_mentions"] = (wanted, unwanted)
    return split


def _number_problem(leaf: Leaf, number: float, facts: QueryFacts, lexicon: ToolLexicon) -> str | None:
    extras = _extras(facts)
    unit = field_unit(leaf, lexicon)
    unit = canonical_unit(unit) if unit else None
    unit_dimension = dimension(unit) if unit else None
    signed = leaf.name in lexicon.direction_fields
    direction = _direction(facts, lexicon) if signed else None
    wanted, unwanted = _split_mentions(facts, extras)

    def matches(mentions: list[Mention], target: float) -> list[Mention]:
        out = []
        for m in mentions:
            value = m.value
            if unit_dimension and m.unit and dimension(m.unit) == unit_dimension and m.unit != unit:
                converted = convert(value, m.unit, unit or "")
                if converted is not None and abs(converted - target) <= 1e-9 * max(1.0, abs(target)):
                    out.append(m)
                continue
            if abs(value - target) <= 1e-9 * max(1.0, abs(target)):
                out.append(m)
        return out

    magnitude = abs(number)
    if signed and direction is not None and number != 0:
        if (direction == "negative") != (number < 0) and not (number < 0 and facts.negated):
            return "sign" if matches(wanted, magnitude) else "not_stated"
        target = magnitude
    else:
        target = number
    found = matches(wanted, target)
    if not found and number < 0 and facts.negated:
        found = matches(wanted, magnitude)
    if found:
        if any(_names_leaf(leaf, facts, m.start) for m in matches(unwanted, target)) and not any(
            _names_leaf(leaf, facts, m.start) for m in found
        ):
            return "not_wanted"
        return None
    if matches(unwanted, target):
        return "not_wanted"
    if unit_dimension and any(
        m.unit and dimension(m.unit) == unit_dimension and m.unit != unit and abs(m.value - target) < 1e-9
        for m in wanted
    ):
        return "unit"
    return "not_stated"


def _direction(facts: QueryFacts, lexicon: ToolLexicon) -> str | None:
    negative = any(_phrase_in(w, facts) for w in lexicon.negative_words)
    positive = any(_phrase_in(w, facts) for w in lexicon.positive_words)
    if negative == positive:
        return None
    return "negative" if negative else "positive"


_QUERY_PATH = re.compile(r"[a-z]:/[^\s,;'\"]*|(?:[\w.~-]+/)+[\w.-]+")


def _path_problem(value: str, facts: QueryFacts) -> str | None:
    text = fold(value).strip().replace("\\", "/")
    query = facts.folded.replace("\\", "/")
    if text in query:
        return None
    head, _, base = text.rpartition("/")
    # The query writes a path ending in this file name: the value must be that path.
    if any(p.rstrip(".").endswith(base) for p in _QUERY_PATH.findall(query)):
        return "path"
    if (
        base
        and base in query
        and all(part in facts.spaced for part in (f" {p} " for p in re.findall(r"[^\W_]+", head)))
    ):
        return None
    return "path"


def _phrase_starts(phrase: str, facts: QueryFacts) -> list[int]:
    folded = fold(phrase)
    if "\uac00" <= folded[0] <= "\ud7a3":
        return [m.start() for m in re.finditer(re.escape(folded), facts.folded)]
    return [m.start() for m in re.finditer(rf"(?<![\w-]){re.escape(folded)}(?![\w-])", facts.folded)]


def _implied_by_words(
    leaf: Leaf, facts: QueryFacts, lexicon: ToolLexicon, anchors: Collection[int] = ()
) -> tuple[bool, bool]:
    """(the words imply this value, the words imply some other value of this field)."""
    this = other = False
    placed: list[tuple[int, bool]] = []  # (phrase offset, implies this value)
    for entry in lexicon.codes(leaf.name):
        starts = [s for w in entry.words for s in _phrase_starts(w, facts)]
        if starts:
            mine = any(_same(v, leaf.value) or _same(str(v), str(leaf.value)) for v in entry.values)
            placed.extend((s, mine) for s in starts)
            if mine:
                this = True
            else:
                other = True
    if this and other and anchors:
        # Several values implied: the phrase nearest before the row's own mention speaks for it.
        def distance(item: tuple[int, bool]) -> int:
            gaps = [a - item[0] if item[0] <= a else 10_000 + item[0] - a for a in anchors]
            return min(gaps)

        nearest = min(placed, key=distance)
        this, other = nearest[1], not nearest[1]
    schema = leaf.schema
    enum = schema.get("enum")
    if isinstance(enum, list) and isinstance(leaf.value, str):
        for key in _ENUM_DESCRIPTIONS:
            described = schema.get(key)
            if isinstance(described, list) and len(described) == len(enum):
                for member, text in zip(enum, described, strict=True):
                    if isinstance(text, str) and set(token_terms_of(text)) & facts.terms:
                        this, other = (True, other) if member == leaf.value else (this, True)
    return this, other


def token_terms_of(text: str) -> list[str]:
    return [term for token, _ in tokens(text) for term in token_terms(token)]


def _abbreviates(value: str, facts: QueryFacts) -> bool:
    """An enum-like value that abbreviates a query word (CONC <- concrete) or that a long query word
    begins (REACTIONG <- reaction)."""
    code = fold(value)
    if not re.fullmatch(r"[a-z]{3,}", code):
        return False
    for token, _ in facts.tokens:
        if not token.isascii() or len(token) < 4:
            continue
        if token.startswith(code) or (len(token) >= 5 and code.startswith(token)):
            return True
    return False


def _bookkeeping(leaf: Leaf, number: float, lexicon: ToolLexicon) -> bool:
    fields = lexicon.bookkeeping or _BOOKKEEPING
    if leaf.name not in fields or not number.is_integer() or number < 1:
        return False
    index = next((p for p in reversed(leaf.path[:-1]) if isinstance(p, int)), None)
    return index is not None and number <= index + 1


def leaf_problem(
    leaf: Leaf,
    facts: QueryFacts,
    lexicon: ToolLexicon = EMPTY,
    *,
    string_coverage: float = 0.75,
    map_keys: Collection[Any] = (),
    call_numbers: Collection[float] = (),
    anchors: Collection[int] = (),
    row_key: float | None = None,
) -> str | None:
    """Why ``leaf`` is not grounded in the query (a reason from the module docstring), or None.

    ``map_keys`` are the keys of the map a key leaf belongs to (for the 1..n bookkeeping rule) and
    ``call_numbers`` every number the call's leaves use (an id the query states but no leaf uses
    means a 1..n key is not bookkeeping but a wrong id). ``anchors`` are offsets where the query
    states other values of the same row (its id, its name): when the words imply several values of a
    field ("a dead load case DL and a live load case LL"), the phrase nearest before the row's anchor
    decides. ``row_key`` is the id of the row the leaf is in: a value equal to it that the query only
    states as that id ("node 5 at y = 4" called with Y 5) is not stated."""
    value = leaf.value
    if value is None:
        return None
    this, other = _implied_by_words(leaf, facts, lexicon, anchors) if not leaf.is_key else (False, False)
    if this:
        return None
    number = as_number(value)
    if isinstance(value, str) and number is None:
        return _string_problem(leaf, value, facts, string_coverage, other)
    if number is not None and not isinstance(value, bool):
        if _bookkeeping(leaf, number, lexicon):
            return None
        if "default" in leaf.schema and _same(leaf.schema["default"], value):
            return None
        problem = _number_problem(leaf, number, facts, lexicon)
        if (
            problem is None
            and row_key is not None
            and number == row_key
            and not leaf.is_key
            and not isinstance(leaf.path[-1], int)
        ):
            problem = _only_as_id(leaf, number, facts)
        if (
            problem == "not_stated"
            and leaf.is_key
            and _key_bookkeeping(number, map_keys, facts, call_numbers)
        ):
            return None
        if problem == "not_stated" and other:
            return "code"
        return problem
    if grounded(leaf, facts, string_coverage=string_coverage):
        return None
    return "code" if other else "not_stated"


def _only_as_id(leaf: Leaf, number: float, facts: QueryFacts) -> str | None:
    """``not_stated`` when every mention of ``number`` is an id another word labels ("node 5" called
    as ``Y: 5`` in row 5), none of them naming this leaf ("material 1" names ``MATL``)."""
    extras = _extras(facts)
    starts = [m.start for m in extras.mentions if abs(m.value - number) < 1e-9]
    labelled = {m.start(m.lastindex or 1) for m in _ID_LABEL.finditer(facts.folded)}
    if starts and all(s in labelled and not _names_leaf(leaf, facts, s) for s in starts):
        return "not_stated"
    return None


def _key_bookkeeping(
    number: float, keys: Collection[Any], facts: QueryFacts, call_numbers: Collection[float]
) -> bool:
    numbers = [as_number(k) for k in keys]
    if not numbers or any(n is None for n in numbers):
        return False
    if not number.is_integer() or not 1 <= number <= len(numbers):
        return False
    # "Apply a load at node 5" answered with key "1": the query names an id the call never uses.
    return all(n in call_numbers for n in id_numbers(facts))


def _string_problem(leaf: Leaf, value: str, facts: QueryFacts, coverage: float, other: bool) -> str | None:
    extras = _extras(facts)
    if other:
        # The words imply another value: only this value written out in the query stands against them.
        literal = fold(value).strip()
        return None if literal and _phrase_in(literal, facts) else "code"
    if _PATH_LIKE.search(value) and len(value) > 3:
        problem = _path_problem(value, facts)
        if problem:
            return problem
    elif not grounded(leaf, facts, string_coverage=coverage):
        if _abbreviates(value, facts) and not other:
            return None
        return "code" if other else "not_stated"
    needle = fold(value).strip()
    if needle and extras.excluded:
        places = [m.start() for m in re.finditer(re.escape(needle), facts.folded)]
        if places and all(_inside(p, extras.excluded) for p in places):
            return "not_wanted"
    return None
