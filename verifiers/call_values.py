"""The issues the semantic verifier raises about a call's values: grounding and stated ranges.

``grounding_issues`` turns ``verifiers.implication.leaf_problem`` into verdict issues (with the row a
value belongs to, so codes implied by words are read next to that row's own mention);
``range_issues`` flags a stated range ("nodes 1 through 4") that a list or a map's keys use only in
part. Both return plain dicts in the shape of ``Verdict.details["issues"]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from verifiers.arguments import pointer
from verifiers.grounding import Leaf, QueryFacts, as_number, value_offsets
from verifiers.implication import leaf_problem, stated_ranges
from verifiers.spec_lexicon import ToolLexicon


def issue(
    code: str, message: str, call_index: int | None = None, path: Sequence[Any] = (), **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "message": message, "pointer": pointer(path)}
    if call_index is not None:
        out["call_index"] = call_index
    out.update(extra)
    return out


def preview(value: Any) -> Any:
    """A short, strictly JSON-safe rendering of an argument value for verdict details."""
    if value is None or isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return str(value)[:80]


_WHY = {
    "not_stated": "is not stated in the query",
    "unit": "is the query's number in another unit than the field takes (convert it)",
    "sign": "has the sign opposite to the direction the query states",
    "code": "is not the value the query's words imply",
    "path": "is not the path or file name the query states",
}


def range_issues(index: int, name: str, call_leaves: list[Leaf], facts: QueryFacts) -> list[dict[str, Any]]:
    """A stated range ("nodes 1 through 4") that a list or a map's keys use only in part."""
    ranges = [r for r in stated_ranges(facts) if r[1] - r[0] >= 2]
    if not ranges:
        return []
    groups: dict[tuple[Any, ...], set[float]] = {}
    for leaf in call_leaves:
        number = as_number(leaf.value)
        if number is None or not float(number).is_integer():
            continue
        if leaf.is_key:
            groups.setdefault(("keys", *leaf.parent), set()).add(number)
        elif leaf.path and isinstance(leaf.path[-1], int):
            groups.setdefault(("list", *leaf.parent), set()).add(number)
    out = []
    for low, high in ranges:
        wanted = {float(n) for n in range(low, high + 1)}
        touching = [g for g in groups.values() if len(g & wanted) >= 2]
        if touching and not any(wanted <= g for g in groups.values()):
            used = sorted(int(n) for n in max(touching, key=len) & wanted)
            out.append(
                issue(
                    "incomplete_range",
                    f"the query asks for {low} through {high} but {name} uses only {used}",
                    index, range=[low, high], used=used,
                )
            )  # fmt: skip
    return out


def grounding_issues(
    index: int, name: str, call_leaves: list[Leaf], facts: QueryFacts, lexicon: ToolLexicon, coverage: float
) -> list[dict[str, Any]]:
    """``ungrounded_value`` and ``value_not_wanted`` issues of call ``index`` (``verifiers.implication``)."""
    numbers = {n for leaf in call_leaves if (n := as_number(leaf.value)) is not None}
    numbers |= {n for leaf in call_leaves if leaf.is_key and (n := as_number(leaf.path[-1])) is not None}
    keys: dict[tuple[Any, ...], list[Any]] = {}
    for leaf in call_leaves:
        if leaf.is_key:
            keys.setdefault(leaf.parent, []).append(leaf.value)
    key_leaves = [leaf for leaf in call_leaves if leaf.is_key]
    out = []
    for leaf in call_leaves:
        row = max(
            (k for k in key_leaves if k is not leaf and leaf.path[: len(k.path)] == k.path),
            key=lambda k: len(k.path),
            default=None,
        )
        anchors: list[int] = []
        if row is not None:
            anchors.extend(value_offsets(row, facts))
            anchors.extend(
                offset
                for other in call_leaves
                if other is not leaf
                and isinstance(other.value, str)
                and not other.is_key
                and other.path[: len(row.path)] == row.path
                for offset in value_offsets(other, facts)
            )
        why = leaf_problem(
            leaf, facts, lexicon, string_coverage=coverage,
            map_keys=keys.get(leaf.parent, ()), call_numbers=numbers, anchors=anchors,
            row_key=as_number(row.value) if row is not None else None,
        )  # fmt: skip
        if why is None:
            continue
        what = "key" if leaf.is_key else "value"
        shown = preview(leaf.value)
        if why == "not_wanted":
            out.append(
                issue(
                    "value_not_wanted",
                    f"{what} {shown!r} of {name} comes from a part of the query that says it is already "
                    "set or not wanted",
                    index, leaf.path, value=shown,
                )
            )  # fmt: skip
            continue
        out.append(
            issue(
                "ungrounded_value", f"{what} {shown!r} of {name} {_WHY[why]}", index, leaf.path,
                value=shown, why=why,
            )
        )  # fmt: skip
    return out
