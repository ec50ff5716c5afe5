"""Strings that match a regular expression, for JSON Schema ``pattern`` and ``propertyNames``.

:func:`compile_pattern` parses the pattern once (Python's own regex parser) into a generator of
matching strings. It covers what schemas use in practice: literals, classes and ranges, ``\\d \\w \\s``,
``.``, alternation, groups, and bounded or open repeats (open repeats are capped a few past their
minimum, to keep values short). Lookarounds and backreferences raise :class:`UnsupportedPattern`;
the caller then falls back to other strings. Every generated string is checked with ``re.search``
(the JSON Schema semantics: a pattern is not anchored unless it says so).

    >>> import random
    >>> gen = compile_pattern(r"^[0-9]+$")
    >>> gen(random.Random(1)).isdigit()
    True
"""

from __future__ import annotations

import random
import re
import re._constants as sre_c
import re._parser as sre_p
import string
from collections.abc import Callable, Iterable
from typing import cast

_OPEN_REPEAT_EXTRA = 3  # an open repeat (`+`, `*`, `{n,}`) emits at most min + 3 items
_ATTEMPTS = 8

_CATEGORIES: dict[object, str] = {
    sre_c.CATEGORY_DIGIT: string.digits,
    sre_c.CATEGORY_NOT_DIGIT: string.ascii_letters,
    sre_c.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    sre_c.CATEGORY_NOT_WORD: " -.,",
    sre_c.CATEGORY_SPACE: " ",
    sre_c.CATEGORY_NOT_SPACE: string.ascii_letters + string.digits,
}
_PRINTABLE = string.ascii_letters + string.digits + " -_."

StringSampler = Callable[[random.Random], str]
# One compiled regex node: appends what it matched to ``out``.
_Step = Callable[[random.Random, list[str]], None]


class UnsupportedPattern(ValueError):
    """A pattern this generator cannot produce strings for."""


def _class_chars(items: list[tuple[object, object]]) -> str:
    negate = False
    chars: list[str] = []
    for op, arg in items:
        if op is sre_c.NEGATE:
            negate = True
        elif op is sre_c.LITERAL:
            chars.append(chr(cast(int, arg)))
        elif op is sre_c.RANGE:
            low, high = cast("tuple[int, int]", arg)
            # Wide ranges (e.g. a Unicode block) are sampled from their first 200 code points.
            chars.extend(chr(c) for c in range(low, min(high, low + 200) + 1))
        elif op is sre_c.CATEGORY:
            chars.append(_CATEGORIES.get(arg, string.ascii_letters))
        else:
            raise UnsupportedPattern(f"character class item {op}")
    pool = "".join(chars)
    if negate:
        pool = "".join(c for c in _PRINTABLE if c not in pool)
    if not pool:
        raise UnsupportedPattern("empty character class")
    return pool


def _emit(text: str) -> _Step:
    return lambda rng, out: out.append(text)


def _emit_one_of(pool: str) -> _Step:
    return lambda rng, out: out.append(rng.choice(pool))


def _repeat(low: int, high: int, inner: _Step) -> _Step:
    def repeat(rng: random.Random, out: list[str]) -> None:
        for _ in range(rng.randint(low, high)):
            inner(rng, out)

    return repeat


def _one_branch(branches: list[_Step]) -> _Step:
    return lambda rng, out: rng.choice(branches)(rng, out)


def _compile(parsed: Iterable[tuple[object, object]]) -> _Step:
    steps: list[_Step] = []
    for op, arg in parsed:
        if op is sre_c.LITERAL:
            steps.append(_emit(chr(cast(int, arg))))
        elif op is sre_c.NOT_LITERAL:
            steps.append(_emit_one_of("".join(c for c in _PRINTABLE if c != chr(cast(int, arg)))))
        elif op is sre_c.ANY:
            steps.append(_emit_one_of(string.ascii_letters))
        elif op is sre_c.IN:
            steps.append(_emit_one_of(_class_chars(cast("list[tuple[object, object]]", arg))))
        elif op is sre_c.CATEGORY:
            steps.append(_emit_one_of(_CATEGORIES.get(arg, string.ascii_letters)))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", None)):
            low, high, sub = cast("tuple[int, object, Iterable[tuple[object, object]]]", arg)
            # MAXREPEAT marks an open repeat (`+`, `*`, `{n,}`): capped a few items past its minimum.
            upper = low + _OPEN_REPEAT_EXTRA if high is sre_c.MAXREPEAT else cast(int, high)
            steps.append(_repeat(low, upper, _compile(sub)))
        elif op is sre_c.SUBPATTERN:
            body = cast("tuple[object, object, object, Iterable[tuple[object, object]]]", arg)[-1]
            steps.append(_compile(body))
        elif op is getattr(sre_c, "ATOMIC_GROUP", None):
            steps.append(_compile(cast("Iterable[tuple[object, object]]", arg)))
        elif op is sre_c.BRANCH:
            _, alternatives = cast("tuple[None, list[Iterable[tuple[object, object]]]]", arg)
            steps.append(_one_branch([_compile(b) for b in alternatives]))
        elif op is sre_c.AT:
            continue  # anchors emit nothing
        else:
            raise UnsupportedPattern(f"regex construct {op}")

    def run(rng: random.Random, out: list[str]) -> None:
        for step in steps:
            step(rng, out)

    return run


def compile_pattern(pattern: str, *, min_length: int = 0, max_length: int | None = None) -> StringSampler:
    """A sampler of strings matching ``pattern`` (and the length bounds, when it can)."""
    try:
        regex = re.compile(pattern)
        program = _compile(list(sre_p.parse(pattern)))
    except re.error as exc:
        raise UnsupportedPattern(f"invalid regex {pattern!r}: {exc}") from exc

    def sample(rng: random.Random) -> str:
        candidate = ""
        for _ in range(_ATTEMPTS):
            out: list[str] = []
            program(rng, out)
            candidate = "".join(out)
            fits = len(candidate) >= min_length and (max_length is None or len(candidate) <= max_length)
            if fits and regex.search(candidate):
                return candidate
        return candidate  # the best effort; the format verifier will say if it does not fit

    return sample
