"""Units in queries: "1500 mm", "5,000 N", "2.5 kN·m" — and what the number is in the unit a field takes.

    >>> stated_units("Put a node 1500 mm above the origin")
    [StatedNumber(value=1500.0, unit='mm', start=11)]
    >>> convert(1500, "mm", "m")
    1.5

Only units of one dimension convert into each other (length, force, moment, pressure); anything else
returns ``None`` and the grounding check keeps the literal number. Unit words are matched right after
the number (a space allowed), so "3 m" and "3m" both count and "3 members" does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# unit (case-folded spelling) -> (dimension, factor to the dimension's base unit)
_UNITS: dict[str, tuple[str, float]] = {
    "mm": ("length", 0.001),
    "cm": ("length", 0.01),
    "m": ("length", 1.0),
    "km": ("length", 1000.0),
    "밀리미터": ("length", 0.001),
    "센티미터": ("length", 0.01),
    "미터": ("length", 1.0),
    "n": ("force", 0.001),
    "kn": ("force", 1.0),
    "mn": ("force", 1000.0),
    "kgf": ("force", 0.00980665),
    "tonf": ("force", 9.80665),
    "n*m": ("moment", 0.001),
    "kn*m": ("moment", 1.0),
    "kn.m": ("moment", 1.0),
    "knm": ("moment", 1.0),
    "n*mm": ("moment", 0.000001),
    "kn/m2": ("pressure", 1.0),
    "kpa": ("pressure", 1.0),
    "mpa": ("pressure", 1000.0),
    "gpa": ("pressure", 1_000_000.0),
    "n/mm2": ("pressure", 1000.0),
    "pa": ("pressure", 0.001),
}
# Longest spellings first so "kn/m2" wins over "kn" and "mm" over "m". The lookahead keeps "3 members"
# and "5 mins" from reading as metres.
_UNIT_WORD = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_STATED = re.compile(
    rf"(?<![\w.])(-?\d+(?:,\d{{3}})*(?:\.\d+)?)\s?(?:({_UNIT_WORD})|(kn·m|n·m|kn-m))(?![a-z0-9/²])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class StatedNumber:
    """A number the query writes with a unit."""

    value: float
    unit: str
    start: int


def canonical_unit(unit: str) -> str:
    return unit.casefold().replace("·", "*").replace("-", "*").replace("²", "2").replace(" ", "")


def dimension(unit: str) -> str | None:
    known = _UNITS.get(canonical_unit(unit))
    return known[0] if known else None


def convert(value: float, source: str, target: str) -> float | None:
    """``value`` in ``source`` units expressed in ``target`` units; None when they do not convert."""
    a, b = _UNITS.get(canonical_unit(source)), _UNITS.get(canonical_unit(target))
    if a is None or b is None or a[0] != b[0]:
        return None
    return value * a[1] / b[1]


def stated_units(folded: str) -> list[StatedNumber]:
    """Every number in ``folded`` (a case-folded query) followed by a unit word."""
    out = []
    for match in _STATED.finditer(folded):
        unit = canonical_unit(match.group(2) or match.group(3))
        try:
            value = float(match.group(1).replace(",", ""))
        except ValueError:
            continue
        out.append(StatedNumber(value, unit, match.start()))
    return out


_LEADING_UNIT = re.compile(rf"^(?:({_UNIT_WORD})|(kn·m|n·m|kn-m))(?![a-z0-9/²])", re.IGNORECASE)


def equivalents(value: float, after: str) -> list[float]:
    """``value`` in every unit of its dimension, when ``after`` (the text following it) starts with a
    unit word ("1500" + " mm …" -> 1.5 m, 150 cm, …); [] when no unit follows."""
    match = _LEADING_UNIT.match(after.lstrip())
    if not match:
        return []
    unit = canonical_unit(match.group(1) or match.group(2))
    known = _UNITS.get(unit)
    if known is None:
        return []
    return [
        round(value * known[1] / factor, 9)
        for name, (dim, factor) in _UNITS.items()
        if dim == known[0] and name != unit
    ]
