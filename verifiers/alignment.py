"""Do the calls line up with how the query is laid out? Swapped values and requests left unanswered.

Three checks over a query (``QueryFacts``) and the argument leaves of a sample's calls:

* ``swapped_pairs`` — two sibling arguments whose values are both in the query but each sits next to
  the *other* argument's label ("width 5, height 3" called as width=3, height=5), or sibling numbers
  that the query gives as a tuple in another order ("(3, 0, 1)" called as X=1, Y=0, Z=3).
* ``unanswered_items`` — the query enumerates items ("Paris and London", "1번, 2번, 3번",
  "node 1 … node 2") and the calls use some of them but not others: a request got no call.
* ``distinct_requests`` — how many of the query's request clauses need a call of their own: clauses
  whose stated values all sit in one row of one call ("rename type 2 to A and set its stiffness to …")
  are one request.

Both abstain (return nothing) when the query gives no such structure; they only speak when the
evidence is local and explicit, because a false alarm rejects a good sample.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from verifiers.grounding import (
    Leaf,
    QueryFacts,
    as_number,
    fold,
    iter_pairs,
    label_terms,
    terms_name,
    value_offsets,
)
from verifiers.lexicon import PARTICLES, STOPWORDS, abbreviates, stem, token_terms, tokens
from verifiers.units import equivalents

# "or" is not here on purpose: "steel or concrete" offers alternatives, it does not ask for both.
_SEPARATORS = {",", "and", ",and", "&", "및", "그리고", ",그리고", "/", "、", "·", ";"}
_LITERALS = {"true", "false", "null", "none", "yes", "no"}  # how values are written, not requests
# Politeness, quantifiers and units: they accompany requests but are not items of one.
_NOT_REQUESTS = frozenset(
    ["thanks", "thank", "please", "pls", "both", "all", "only", "just", "also", "too", "kindly", "cheers",
     "mm", "cm", "km", "kn", "mpa", "kpa", "deg", "degrees", "감사합니다", "고마워", "부탁해", "부탁해요", "모두", "둘", "다"]
)  # fmt: skip
_CONJUNCTIVE = ("이랑", "하고", "과", "와", "랑")  # Korean particles meaning "and"
_COUNTERS = ("번째", "번", "개", "층", "호")
_TUPLE = re.compile(r"\(([^()]*)\)")
_NUMERIC = re.compile(r"-?\d+(?:\.\d+)?")
_BARE_TUPLE = re.compile(r"\s*-?\d+(?:\.\d+)?(?:\s*,\s*-?\d+(?:\.\d+)?)+\s*")
_BY = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:by|x|×)\s*(\d+(?:\.\d+)?)(?!\w|\.\d)")


def _label_positions(terms: frozenset[str], facts: QueryFacts) -> list[int]:
    """Token indexes of the query whose word (or its Korean glossary meaning) is one of ``terms``
    (memoised on ``facts``: every pair of sibling arguments asks again for the same labels)."""
    memo = facts.memo.setdefault("label_positions", {})
    found = memo.get(terms)
    if found is None:
        found = memo[terms] = [
            index for index, meant in enumerate(facts.token_terms) if not terms.isdisjoint(meant)
        ]
    return found


def _distance(labels: list[int], values: list[int]) -> int:
    """Tokens from a label to a value; a value written before its label costs two more (in a
    "label value, label value" list the value before a label belongs to the previous label)."""
    best = 10_000
    for label in labels:
        for value in values:
            best = min(best, value - label if value > label else label - value + 2)
    return best


def _label_tokens(leaf: Leaf, distinctive: frozenset[str], facts: QueryFacts) -> list[int]:
    """Where the query names a leaf: its key as written ("PT1X 95.4") or a word only it has."""
    memo = facts.memo.setdefault("key_positions", {})
    keyed = memo.get(leaf.name)
    if keyed is None:
        key = fold(leaf.name)
        keyed = memo[leaf.name] = [index for index, (token, _) in enumerate(facts.tokens) if token == key]
    found = set(keyed)
    if distinctive:
        found.update(_label_positions(distinctive, facts))
    key = fold(leaf.name)
    if len(key) >= 3 and key.isalpha():
        # An abbreviated key names the word it abbreviates: MATL "material", SECT "section".
        shortened = facts.memo.setdefault("abbreviation_positions", {})
        positions = shortened.get(key)
        if positions is None:
            positions = shortened[key] = [
                index
                for index, (token, _) in enumerate(facts.tokens)
                if token != key and token.isascii() and abbreviates(key, token)
            ]
        found.update(positions)
    return sorted(found)


def _value_tokens(leaf: Leaf, facts: QueryFacts) -> list[int]:
    """Token indexes where the query states ``leaf``'s value (memoised on ``facts`` by value and type:
    1, 1.0 and True are grounded differently)."""
    memo = facts.memo.setdefault("value_tokens", {})
    key = (type(leaf.value), leaf.value)
    found = memo.get(key)
    if found is None:
        found = memo[key] = [facts.token_index(o) for o in value_offsets(leaf, facts)]
    return found


def _by_labels(a: Leaf, b: Leaf, facts: QueryFacts, reach: int) -> bool:
    """Each value sits right by the other's label and neither sits by its own (so a label repeated
    elsewhere in a long query, or a value that happens to recur, does not raise a false alarm)."""
    terms_a, terms_b = label_terms(a), label_terms(b)
    labels_a = _label_tokens(a, terms_a - terms_b, facts)
    labels_b = _label_tokens(b, terms_b - terms_a, facts)
    if not labels_a or not labels_b or set(labels_a) & set(labels_b):
        return False
    values_a = _value_tokens(a, facts)
    values_b = _value_tokens(b, facts)
    if not values_a or not values_b:
        return False
    own = min(_distance(labels_a, values_a), _distance(labels_b, values_b))
    crossed = max(_distance(labels_a, values_b), _distance(labels_b, values_a))
    return crossed <= reach < own


def _by_tuple(siblings: list[Leaf], facts: QueryFacts) -> list[tuple[Leaf, Leaf]]:
    # Only the numeric siblings form the tuple: "(3, 4, 0)" for X, Y, Z; "1920 by 1080" for WIDTH, HEIGHT.
    pairs = [
        (leaf, number)
        for leaf in siblings
        if leaf.order >= 0 and (number := as_number(leaf.value)) is not None
    ]
    if len(pairs) < 2:
        return []
    ordered = sorted(pairs, key=lambda pair: pair[0].order)
    called = [n for _, n in ordered]
    matching = []
    groups = [g.group(1) for g in _TUPLE.finditer(facts.folded)]
    groups.extend(f"{a}, {b}" for a, b in _BY.findall(facts.folded))
    for group in groups:
        if not _BARE_TUPLE.fullmatch(group):
            continue  # "(LOAD 25, NUM 91)" labels its values; only a bare tuple states an order
        stated = [float(x) for x in _NUMERIC.findall(group)]
        if len(stated) == len(called) and sorted(stated) == sorted(called):
            matching.append(stated)
    if not matching or any(stated == called for stated in matching):
        return []
    stated = matching[0]
    wrong = [leaf for (leaf, n), s in zip(ordered, stated, strict=True) if n != s]
    return [(wrong[0], wrong[1])] if len(wrong) >= 2 else []


def swapped_pairs(
    call_leaves: Sequence[Leaf], facts: QueryFacts, *, reach: int = 2
) -> list[tuple[Leaf, Leaf]]:
    """Pairs of sibling arguments of ONE call whose values look exchanged (see the module docstring)."""
    siblings: dict[tuple, list[Leaf]] = defaultdict(list)
    for leaf in call_leaves:
        if not leaf.is_key and leaf.order >= 0:
            siblings[leaf.parent].append(leaf)
    found: list[tuple[Leaf, Leaf]] = []
    for group in siblings.values():
        for a, b in iter_pairs(group):
            same_kind = (as_number(a.value) is None) == (as_number(b.value) is None)
            if (
                same_kind
                and isinstance(a.value, str | int | float)
                and a.value != b.value
                and _by_labels(a, b, facts, reach)
            ):
                found.append((a, b))
        if not found:
            found.extend(_by_tuple(group, facts))
    return found


@dataclass(frozen=True)
class _Item:
    kind: str  # "number", "latin" or "hangul"
    text: str
    start: int
    end: int
    conjunctive: bool  # ends with a Korean "and" particle (서울과, 1번과)


def _items(facts: QueryFacts) -> list[_Item]:
    items: list[_Item] = []
    toks = facts.tokens
    index = 0
    while index < len(toks):
        token, start = toks[index]
        end = start + len(token)
        if _NUMERIC.fullmatch(token):
            conjunctive = False
            if index + 1 < len(toks):  # a counter glued to the number: 1번과, 3개
                nxt, nxt_start = toks[index + 1]
                counter = next((c for c in _COUNTERS if nxt.startswith(c)), None)
                if counter and nxt_start == end and (nxt == counter or nxt[len(counter) :] in PARTICLES):
                    conjunctive = nxt[len(counter) :] in _CONJUNCTIVE
                    end = nxt_start + len(nxt)
                    index += 1
            items.append(_Item("number", token, start, end, conjunctive))
        elif "\uac00" <= token[0] <= "\ud7a3":
            particle = next(
                (
                    p
                    for p in sorted(PARTICLES, key=len, reverse=True)
                    if token.endswith(p) and len(token) > len(p)
                ),
                "",
            )
            text = token[: len(token) - len(particle)]
            if text not in _SEPARATORS:
                items.append(_Item("hangul", text, start, end, particle in _CONJUNCTIVE))
        elif (
            token.isascii()
            and token.isalpha()
            and len(token) > 1
            and token not in STOPWORDS
            and token not in _SEPARATORS
        ):
            items.append(_Item("latin", token, start, end, False))
        index += 1
    return items


_NEXT_WORD = re.compile(r"\s*([^\s,.;:()]+)")


def _labels_a_value(item: _Item, folded: str, numbers: set[float], strings: list[str]) -> bool:
    """A word right before a value the calls use labels it ("grade C24"): it is not a request."""
    match = _NEXT_WORD.match(folded, item.end)
    if not match:
        return False
    word = match.group(1)
    number = as_number(word)
    return (number is not None and number in numbers) or any(word == s for s in strings)


def _item_terms(text: str) -> frozenset[str]:
    return frozenset(token_terms(text) or (stem(text),))


def _names_an_argument(item: _Item, labels: Sequence[frozenset[str]]) -> bool:
    """A word that names an argument the calls set ("… and strain value priority 1") is that
    argument's label, answered by it, not a request of its own."""
    terms = _item_terms(item.text)
    return any(_terms_name(label, terms) for label in labels)


@functools.lru_cache(maxsize=65536)  # an item's words against every label, for every item of a query
def _terms_name(label: frozenset[str], terms: frozenset[str]) -> bool:
    return terms_name(label, terms)


_PHRASE_BREAK = re.compile(r",|;|\band\b|\bwith\b|그리고|및")


def _ends_a_switch(item: _Item, facts: QueryFacts, switched_on: Sequence[frozenset[str]]) -> bool:
    """A word ending a phrase that names a boolean the calls switch on ("damping computed on demand",
    "the option to calculate when used") belongs to that phrase: the boolean answers it."""
    if not switched_on:
        return False
    before = facts.folded[: item.start]
    cut = max((m.end() for m in _PHRASE_BREAK.finditer(before)), default=0)
    phrase = before[cut:]
    terms = {term for token, _ in tokens(phrase) for term in token_terms(token)}
    return bool(terms) and any(terms_name(label, terms) for label in switched_on)


def _joined(left: _Item, right: _Item, folded: str) -> bool:
    gap = re.sub(r"\s+", "", folded[left.end : right.start])
    return gap in _SEPARATORS or (gap == "" and left.conjunctive)


def _used(item: _Item, numbers: set[float], strings: list[str]) -> bool:
    if item.kind == "number":
        return float(item.text) in numbers
    return any(item.text in s or (len(s) > 1 and s in item.text) for s in strings)


def unanswered_items(
    facts: QueryFacts, all_leaves: Sequence[Leaf], tool_terms: frozenset[str] = frozenset()
) -> list[str]:
    """Items of a query enumeration that no call uses, when the calls use other items of it.

    Words in ``tool_terms`` (the called tools' names and descriptions) are left out: a query that
    repeats "create beam, truss or plate elements" from a description is not asking for three things.
    """
    numbers = {n for leaf in all_leaves if (n := as_number(leaf.value)) is not None}
    strings = [
        fold(leaf.value).strip() for leaf in all_leaves if isinstance(leaf.value, str) and leaf.value.strip()
    ]
    names = {fold(leaf.name) for leaf in all_leaves}
    labels = [label_terms(leaf) for leaf in all_leaves if not leaf.is_key]
    switched_on = [label_terms(leaf) for leaf in all_leaves if leaf.value is True]
    items = [
        i
        for i in _items(facts)
        if i.kind == "number"
        or (
            i.text not in _LITERALS
            and i.text not in _NOT_REQUESTS
            and i.text not in names
            and tool_terms.isdisjoint(token_terms(i.text) or (stem(i.text),))
            and not _labels_a_value(i, facts.folded, numbers, strings)
            and not _names_an_argument(i, labels)
            and not _ends_a_switch(i, facts, switched_on)
        )
    ]
    runs: list[list[_Item]] = []
    for item in items:
        last = runs[-1][-1] if runs else None
        if last is not None and last.kind == item.kind and _joined(last, item, facts.folded):
            runs[-1].append(item)
        else:
            runs.append([item])
    # "node 1 … node 2": numbers that follow the same label word form an enumeration too.
    labelled: dict[str, list[_Item]] = defaultdict(list)
    for left, right in itertools.pairwise(items):
        if (
            left.kind != "number"
            and right.kind == "number"
            and not facts.folded[left.end : right.start].strip()
        ):
            labelled[stem(left.text)].append(right)
    runs.extend(labelled.values())
    missing: list[str] = []
    for run in runs:
        distinct = {item.text: item for item in run}
        if len(distinct) < 2:
            continue
        used = [_used(item, numbers, strings) for item in distinct.values()]
        if any(used) and not all(used):
            missing.extend(t for t, u in zip(distinct, used, strict=True) if not u and t not in missing)
    return missing


_QUOTED = re.compile(r'"([^"\n]{0,200})"|“([^”\n]{0,200})”|「([^」\n]{0,200})」')
_MARKERS = {"(": ")", "[": "]"}  # "(1)" and "[2]" enumerate parts of a query; they are not values
# A number followed by one of these counts requests or repetitions ("2 separate times", "3번 각각").
_COUNT_WORDS = (
    "time",
    "separate",
    "call",
    "request",
    "item",
    "step",
    "번 각각",
    "번 따로",
    "회",
    "가지",
    "개의",
    "번씩",
)


def unused_values(facts: QueryFacts, all_leaves: Sequence[Leaf]) -> list[str]:
    """Quoted strings and numbers the query states that no argument uses.

    Numbers that enumerate ("(1)") or count ("2 separate times", "3번 각각") are skipped, and so are
    numbers inside quoted strings or inside any string argument (a name such as "Pier-38").
    """
    numbers = {n for leaf in all_leaves if (n := as_number(leaf.value)) is not None}
    strings = [
        fold(leaf.value).strip() for leaf in all_leaves if isinstance(leaf.value, str) and leaf.value.strip()
    ]
    text = facts.folded
    quoted = [
        (m.start(), m.end(), next(g for g in m.groups() if g is not None).strip())
        for m in _QUOTED.finditer(text)
    ]
    unused = [
        q for _, _, q in quoted if q and not any(q == s or q in s or (len(s) > 2 and s in q) for s in strings)
    ]
    seen: set[str] = set()
    magnitudes = {abs(n) for n in numbers}
    for match in re.finditer(
        r"(?<![\w.\-])\d{1,3}(?:,\d{3})+(?![\d])|(?<![\w.\-])\d+(?:\.\d+)?(?![\w.])"
        r"|(?<=[\s(\[,])-\d+(?:\.\d+)?(?![\w.])",
        text,
    ):
        start, raw = match.start(), match.group()
        if any(a <= start < b for a, b, _ in quoted) or raw in seen:
            continue
        after = text[match.end() :].lstrip()
        before = text[:start].rstrip()[-1:]
        if before in _MARKERS and after.startswith(_MARKERS[before]):
            continue
        if any(after.startswith(word) for word in _COUNT_WORDS):
            continue
        value = float(raw.replace(",", ""))
        if value in numbers or abs(value) in magnitudes or any(raw in s for s in strings):
            continue
        # "1500 mm" used as 1.5 (m): any unit of the same dimension counts.
        if any(abs(v) in magnitudes for v in equivalents(value, after)):
            continue
        seen.add(raw)
        unused.append(raw)
    return unused


# Words that open one step of a multi-step request ("First …. Then …. Finally …").
_STEP_MARKERS = re.compile(
    r"(?:^|[.;:!?]\s*|,\s*)(first|then|next|after that|afterwards|finally|lastly|먼저|그 다음|그다음|이어서|다음으로|마지막으로)(?=[\s,])"
)
_ENUMERATOR = re.compile(r"(?:^|[:;,]\s*)\((\d{1,2})\)")
_EXPLICIT = re.compile(r"(\d{1,2})\s*(?:separate times|times separately|번 각각|번 따로|번씩 따로)")


def requested_calls(facts: QueryFacts) -> int:
    """The fewest calls the query's own structure asks for: its step words (first/then/finally,
    먼저/그 다음/마지막으로), its "(1) … (2) …" enumerators, or an explicit "N separate times".
    Returns 0 when the query has no such structure."""
    text = facts.folded
    steps = len(_STEP_MARKERS.findall(text))
    enumerated = 0
    for number in (int(n) for n in _ENUMERATOR.findall(text)):
        if number == enumerated + 1:
            enumerated = number
    explicit = max((int(n) for n in _EXPLICIT.findall(text)), default=0)
    return max(steps if steps >= 2 else 0, enumerated if enumerated >= 2 else 0, explicit)


def call_contexts(facts: QueryFacts, calls_leaves: Sequence[Sequence[Leaf]]) -> list[str] | None:
    """The part of the query each call answers, for ranking tools per call; None when the query is
    one undivided request (or a call cannot be placed).

    A query is divided at its step words ("First …. Then …") or "(1) … (2) …" enumerators, and the
    text before the first enumerator (the shared verb: "Create nodes, 2 separate times:") is prefixed
    to every part. With one part per call, parts go to calls in order; otherwise a call gets the
    part holding most of its stated values (None if it states none).
    """
    text = facts.folded
    cuts = sorted(
        {m.start(1) for m in _STEP_MARKERS.finditer(text)}
        | {m.start(1) - 1 for m in _ENUMERATOR.finditer(text)}
    )
    if len(cuts) < 2 or len(calls_leaves) < 2:
        return None
    enumerators = [m.start(1) - 1 for m in _ENUMERATOR.finditer(text)]
    preamble = text[: enumerators[0]] if enumerators else ""
    bounds = [*cuts, len(text)]
    parts = [text[bounds[i] : bounds[i + 1]] for i in range(len(cuts))]
    if len(parts) == len(calls_leaves):
        # One part per call: take them in order (small numbers recur across parts, so votes by
        # value position are weaker evidence than the order both lists share).
        return [f"{preamble} {part}".strip() for part in parts]
    contexts: list[str] = []
    for call_leaves in calls_leaves:
        votes: Counter[int] = Counter()
        for leaf in call_leaves:
            for offset in value_offsets(leaf, facts):
                part = bisect.bisect_right(cuts, offset) - 1
                if part >= 0:
                    votes[part] += 1
        if not votes:
            return None
        part = votes.most_common(1)[0][0]
        contexts.append(f"{preamble} {parts[part]}".strip())
    return contexts


def _record(leaf: Leaf, keys: Sequence[tuple]) -> tuple:
    """The row a leaf belongs to: the longest id-keyed path above it (``("Assign", "2")``), else ()."""
    return max((k for k in keys if leaf.path[: len(k)] == k), key=len, default=())


def _clause_record(clause: str, calls_leaves: Sequence[Sequence[Leaf]]) -> tuple | None:
    """The one record (call index, row) that holds every value a clause states, None when the clause
    states no value, states one no argument uses, or its values are spread over several records."""
    facts = QueryFacts(clause)
    placed = [
        (index, leaf, _record(leaf, [k.path for k in call_leaves if k.is_key]))
        for index, call_leaves in enumerate(calls_leaves)
        for leaf in call_leaves
    ]
    by_string: dict[str, set[tuple]] = defaultdict(set)  # a name in two rows may be either row's
    for index, leaf, record in placed:
        if isinstance(leaf.value, str) and len(leaf.value.strip()) > 1:
            text = fold(leaf.value).strip()
            if text in facts.folded:
                by_string[text].add((index, record))
    holders = list(by_string.values())
    for number, _ in facts.numbers:
        found = {
            (index, record)
            for index, leaf, record in placed
            if (n := as_number(leaf.value)) is not None and abs(n - number) < 1e-9
        }
        if not found:
            return None
        holders.append(found)
    if not holders:
        return None
    common = set.intersection(*holders)
    return min(common) if len(common) == 1 else None


def distinct_requests(clauses: Sequence[str], calls_leaves: Sequence[Sequence[Leaf]]) -> int:
    """How many of a query's request clauses ask for a call of their own: a clause whose stated
    values all sit in the same row of the same call as the previous clause's ("이름을 SOIL-K로 바꾸고
    강성은 1000, … 넣어줘", "rename type 2 to A and set its stiffness to …") edits that row too.
    A clause that states no value, or one no argument uses, still counts. Returns 0 below two."""
    if len(clauses) < 2:
        return 0  # one request or none: no row to share
    count, previous = 0, None
    for clause in clauses:
        record = _clause_record(clause, calls_leaves)
        if record is None or record != previous:
            count += 1
        previous = record
    return count if count >= 2 else 0
