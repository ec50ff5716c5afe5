"""Numbers for JSON Schema ``integer`` and ``number``: bounds, exclusive bounds, ``multipleOf``.

Values are "round" (integers, or one decimal place; multiples of a decimal step that survive the
float division validators use to check them), so a query can state them exactly.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from generators.formats import draw_int

Sampler = Callable[[random.Random], Any]


def integer_sampler(schema: dict[str, Any]) -> Sampler:
    """Integers within the bounds (inclusive or exclusive), on ``multipleOf`` when given."""
    low, high = bounds(schema, integer=True)
    step = schema.get("multipleOf")
    if step and float(step).is_integer():
        step = int(step)
        first, last = math.ceil(low / step), math.floor(high / step)
        if first <= last:
            return lambda rng: draw_int(rng, first, last) * step
    return lambda rng: draw_int(rng, low, max(low, high))


def number_sampler(schema: dict[str, Any]) -> Sampler:
    """Round numbers (integers or one decimal) within the bounds, on ``multipleOf`` when given."""
    low, high = bounds(schema, integer=False)
    step = schema.get("multipleOf")
    if step:
        d_step, f_step = Decimal(str(step)), float(step)
        first, last = math.ceil(low / f_step), math.floor(high / f_step)
        if first <= last:

            def multiple(rng: random.Random) -> float | int:
                # Validators test value / step for integrality in floating point (0.6 / 0.05 is
                # 11.999…), so keep only multiples that survive that division exactly.
                value = 0.0
                for _ in range(16):
                    value = float(draw_int(rng, first, last) * d_step)
                    if (value / f_step).is_integer():
                        break
                return tidy(value)

            return multiple
    int_low, int_high = math.ceil(low), math.floor(high)

    def sample(rng: random.Random) -> float | int:
        if int_low <= int_high and rng.random() < 0.5:
            value: float = draw_int(rng, int_low, int_high)
        else:
            value = round(rng.uniform(low, high), 1)
        if not (above(value, schema) and below(value, schema)):
            value = round((low + high) / 2, 3)
        return tidy(value)

    return sample


def tidy(value: float) -> float | int:
    """Whole floats become ints (``3.0`` -> ``3``): valid for ``number`` and stated plainly in a query."""
    return int(value) if float(value).is_integer() and abs(value) < 1e15 else value


def above(value: float, schema: dict[str, Any]) -> bool:
    ex = schema.get("exclusiveMinimum")
    if isinstance(ex, bool):
        return (
            value > schema["minimum"]
            if ex and "minimum" in schema
            else value >= schema.get("minimum", -math.inf)
        )
    return value >= schema.get("minimum", -math.inf) and (ex is None or value > ex)


def below(value: float, schema: dict[str, Any]) -> bool:
    ex = schema.get("exclusiveMaximum")
    if isinstance(ex, bool):
        return (
            value < schema["maximum"]
            if ex and "maximum" in schema
            else value <= schema.get("maximum", math.inf)
        )
    return value <= schema.get("maximum", math.inf) and (ex is None or value < ex)


def bounds(schema: dict[str, Any], *, integer: bool) -> tuple[Any, Any]:
    """(low, high) honouring inclusive and exclusive bounds; an open side gets a modest default."""
    nudge = 1 if integer else 0.1
    low = schema.get("minimum")
    high = schema.get("maximum")
    ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(ex_low, bool):
        low = low + nudge if ex_low and low is not None else low
    elif ex_low is not None:
        low = ex_low + nudge if low is None or ex_low >= low else low
    if isinstance(ex_high, bool):
        high = high - nudge if ex_high and high is not None else high
    elif ex_high is not None:
        high = ex_high - nudge if high is None or ex_high <= high else high
    if low is None:
        if high is None:
            low, high = (1, 100) if integer else (0, 100)
        else:
            low = max(0, high - 100) if high > 0 else high - 100  # positive maxima keep values non-negative
    elif high is None:
        high = low + 100
    if integer:
        low, high = math.ceil(low), math.floor(high)
    return low, max(low, high)
