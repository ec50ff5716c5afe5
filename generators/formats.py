"""String values by JSON Schema ``format``, and plain words chosen by what a field is called.

Values are short, plausible and free of characters that would need escaping in a sentence, so a
query can quote them verbatim.
"""

from __future__ import annotations

import base64
import random
import string
import uuid
from collections.abc import Callable, Sequence
from typing import Any

StringSampler = Callable[[random.Random], str]


def draw_int(rng: random.Random, low: int, high: int) -> int:
    """A uniform integer in [low, high]: ``rng.randint`` without its argument checks (~5x faster)."""
    return low + int(rng.random() * (high - low + 1))


def pick(rng: random.Random, options: Sequence[Any]) -> Any:
    """A uniform choice: ``rng.choice`` without its checks."""
    return options[int(rng.random() * len(options))]


_FIRST = ("kim", "lee", "park", "choi", "jung", "alex", "maria", "sam", "yuna", "minho")
_HOSTS = ("example.com", "example.org", "eng.example.net")
_WORDS = (
    "north", "south", "east", "west", "main", "upper", "lower", "core", "span", "pier",
    "deck", "frame", "slab", "wall", "column", "girder", "bay", "level", "zone", "block",
)  # fmt: skip
_NAMES = ("Girder", "Column", "Slab", "Pier", "Deck", "Frame", "Bracing", "Footing", "Wall", "Beam")
_CODES = ("A", "B", "C", "DL", "LL", "WL", "EQ", "SD", "T1", "G2")
_PHRASES = (
    "temporary support",
    "roof level",
    "design check",
    "first stage",
    "north span",
    "site revision",
    "final model",
    "load test",
)


def _date(rng: random.Random) -> str:
    return f"{draw_int(rng, 2019, 2026)}-{draw_int(rng, 1, 12):02d}-{draw_int(rng, 1, 28):02d}"


def _clock(rng: random.Random) -> str:
    return f"{draw_int(rng, 0, 23):02d}:{pick(rng, (0, 15, 30, 45)):02d}:00"


def _time(rng: random.Random) -> str:
    # RFC 3339 full-time needs an offset; Korea's, for GEN NX users.
    return f"{_clock(rng)}+09:00"


def _email(rng: random.Random) -> str:
    return f"{pick(rng, _FIRST)}.{pick(rng, _FIRST)}{draw_int(rng, 1, 99)}@{pick(rng, _HOSTS)}"


FORMATS: dict[str, StringSampler] = {
    "date": _date,
    "date-time": lambda rng: f"{_date(rng)}T{_clock(rng)}Z",
    "time": _time,
    "email": _email,
    "idn-email": _email,
    "uuid": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    "uri": lambda rng: f"https://{pick(rng, _HOSTS)}/{pick(rng, _WORDS)}/{draw_int(rng, 1, 999)}",
    "url": lambda rng: f"https://{pick(rng, _HOSTS)}/{pick(rng, _WORDS)}/{draw_int(rng, 1, 999)}",
    "iri": lambda rng: f"https://{pick(rng, _HOSTS)}/{pick(rng, _WORDS)}",
    "uri-reference": lambda rng: f"/{pick(rng, _WORDS)}/{draw_int(rng, 1, 999)}",
    "hostname": lambda rng: f"{pick(rng, _WORDS)}.{pick(rng, _HOSTS)}",
    "idn-hostname": lambda rng: f"{pick(rng, _WORDS)}.{pick(rng, _HOSTS)}",
    "ipv4": lambda rng: f"192.168.{draw_int(rng, 0, 255)}.{draw_int(rng, 1, 254)}",
    "ipv6": lambda rng: f"2001:db8::{draw_int(rng, 1, 0xFFFF):x}",
    "byte": lambda rng: pick(rng, ("aGVsbG8=", "Y2FsbGZvcmdl", "bW9kZWw=")),
    "duration": lambda rng: f"P{draw_int(rng, 1, 30)}D",
    "json-pointer": lambda rng: f"/{pick(rng, _WORDS)}/{draw_int(rng, 0, 9)}",
    "password": lambda rng: f"{pick(rng, _NAMES)}-{draw_int(rng, 1000, 9999)}",
}


def word_sampler(hint: str) -> StringSampler:
    """A sampler of plain strings that suit a field described by ``hint`` (its name or description)."""
    lowered = hint.lower()
    if "mail" in lowered:
        return _email
    if "date" in lowered:
        return _date
    if "url" in lowered or "uri" in lowered:
        return FORMATS["uri"]
    if any(w in lowered for w in ("desc", "comment", "note", "remark", "memo")):
        return lambda rng: pick(rng, _PHRASES)
    if "name" in lowered or "title" in lowered:
        return lambda rng: f"{pick(rng, _NAMES)}-{draw_int(rng, 1, 99)}"
    if any(w in lowered for w in ("type", "code", "kind", "mode", "unit", "key")):
        return lambda rng: pick(rng, _CODES)
    return lambda rng: f"{pick(rng, _WORDS)}-{draw_int(rng, 1, 99)}"


def fit_length(value: str, min_length: int, max_length: int | None, rng: random.Random) -> str:
    """``value`` padded with letters or cut to honour the length bounds."""
    if len(value) < min_length:
        value += "".join(pick(rng, string.ascii_lowercase) for _ in range(min_length - len(value)))
    if max_length is not None and len(value) > max_length:
        value = value[: max(int(max_length), 0)]
    return value


def encoded_bytes(rng: random.Random, min_length: int, max_length: int, *, url: bool = False) -> str:
    """Base64 (or base64url) text of a few random bytes, within the length bounds (multiples of 4)."""
    raw = bytes(draw_int(rng, 0, 255) for _ in range(draw_int(rng, 3, 12)))
    text = (base64.urlsafe_b64encode if url else base64.b64encode)(raw).decode("ascii")
    while len(text) < min_length:
        text += "AAAA"
    if len(text) > max_length:
        text = text[: max(0, max_length - max_length % 4)]
    return text
