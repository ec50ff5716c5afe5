"""Sample hygiene: text a training set must not carry, checked by the format verifier.

A teacher model (or whoever wrote an imported file) can hand back a 5 MB query, a terminal escape
that clears a reviewer's screen (``ESC[2J``), a NUL that truncates a C string, or a right-to-left
override (U+202E) that makes ``C:/models/\u202ebgm.llah`` display as ``C:/models/hall.mgb``. None of
that is function-calling data. ``hygiene_issues`` reports, with reason codes:

* ``query_too_long`` — the query is longer than ``max_query_chars``;
* ``value_too_long`` — a string argument value (or map key) is longer than ``max_value_chars``;
* ``control_character`` — a C0/C1 control character other than tab, line feed and carriage return,
  in the query or in any string argument value or key;
* ``bidi_control`` — a bidirectional embedding, override or isolate (U+202A–U+202E, U+2066–U+2069).

What it does not cover: homoglyphs, zero-width joiners and the left-to-right / right-to-left *marks*
(U+200E/U+200F), which legitimately appear in mixed-script text.

``HygieneOptions`` carries the caps; the format verifier's ``Options`` extends it, so they are set as
``format`` options (``max_query_chars: 20000``; 0 turns a cap off).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import Field

from schemas.models import Sample
from verifiers.arguments import Issue, pointer
from verifiers.base import VerifierOptions

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_ANY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_MAX_DEPTH = 64


class HygieneOptions(VerifierOptions):
    max_query_chars: int = Field(default=10_000, ge=0)
    """Longest query accepted (characters; 0: no cap). Real requests are a few hundred characters."""
    max_value_chars: int = Field(default=10_000, ge=0)
    """Longest string argument value or map key accepted (characters; 0: no cap)."""


def _strings(value: Any, path: tuple[Any, ...], depth: int = 0) -> Iterator[tuple[tuple[Any, ...], str]]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, sub in value.items():
            if isinstance(key, str):
                yield (*path, key), key
            yield from _strings(sub, (*path, key), depth + 1)
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from _strings(sub, (*path, index), depth + 1)


def _describe(char: str) -> str:
    return f"U+{ord(char):04X}"


def _text_issues(
    text: str, where: str, cap: int, too_long: str, at: str, call_index: int | None
) -> list[Issue]:
    issues = []
    if cap and len(text) > cap:
        issues.append(Issue(too_long, at, f"{where} is {len(text):,} characters (limit {cap:,})", call_index))
    if _ANY.search(text):
        control = _CONTROL.search(text)
        if control:
            issues.append(
                Issue(
                    "control_character",
                    at,
                    f"{where} holds the control character {_describe(control.group())} at {control.start()}",
                    call_index,
                )
            )
        bidi = _BIDI.search(text)
        if bidi:
            issues.append(
                Issue(
                    "bidi_control",
                    at,
                    f"{where} holds the bidirectional control {_describe(bidi.group())} at {bidi.start()}",
                    call_index,
                )
            )
    return issues


def _plain(value: Any, cap: int, depth: int = 0) -> bool:
    """True when no string (value or key) inside ``value`` is longer than ``cap`` or unprintable.
    ``str.isprintable`` (C speed) is False for every control and bidi character — and for a few
    harmless ones (tab, newline, LRM), which the precise pass then clears. A string value is checked
    in its container's loop: a call per string would cost more than the check (this runs on every
    argument of every sample)."""
    kind = type(value)
    if kind is str:
        return value.isprintable() and (not cap or len(value) <= cap)
    if kind is dict:
        for key, sub in value.items():
            if type(key) is str and (not key.isprintable() or (cap and len(key) > cap)):
                return False
            kind = type(sub)
            if kind is str:
                if not sub.isprintable() or (cap and len(sub) > cap):
                    return False
            elif (kind is dict or kind is list) and not _plain(sub, cap, depth + 1):
                return False
        return depth < _MAX_DEPTH
    if kind is list:
        for sub in value:
            kind = type(sub)
            if kind is str:
                if not sub.isprintable() or (cap and len(sub) > cap):
                    return False
            elif (kind is dict or kind is list) and not _plain(sub, cap, depth + 1):
                return False
        return depth < _MAX_DEPTH
    return True


def _clean(sample: Sample, options: HygieneOptions) -> bool:
    """The fast yes: True only when ``sample`` certainly has no hygiene problem (the format
    verifier's hot path runs this on every sample)."""
    query = sample.query
    if options.max_query_chars and len(query) > options.max_query_chars:
        return False
    if not query.isprintable() and _ANY.search(query):
        return False
    cap = options.max_value_chars
    return all(_plain(call.arguments, cap) for call in sample.calls)


def hygiene_issues(sample: Sample, options: HygieneOptions) -> list[Issue]:
    """Every hygiene problem of ``sample`` (``[]`` = clean). Clean samples cost a printability check
    of the query and of each string argument."""
    if _clean(sample, options):
        return []
    issues = _text_issues(sample.query, "the query", options.max_query_chars, "query_too_long", "", None)
    for index, call in enumerate(sample.calls):
        arguments = getattr(call, "arguments", None)
        for path, text in _strings(arguments, ()):
            if (options.max_value_chars and len(text) > options.max_value_chars) or _ANY.search(text):
                where = f"argument {pointer(path)!r} of {call.name}"
                issues.extend(
                    _text_issues(text, where, options.max_value_chars, "value_too_long", pointer(path), index)
                )
    return issues
