"""Function-calling metrics: one definition each, shared by evaluation and reports.

Per example, ``score_example`` compares the calls a model produced with the reference calls and
returns an ``ExampleScore`` of plain numbers; ``aggregate`` turns many of them into rates with 95 %
Wilson intervals and the number of examples behind each figure.

The AST-style match follows the Berkeley Function Calling Leaderboard's rules:

* the function name must be exactly the reference's;
* every required parameter must be present and no parameter outside the schema may appear;
* types: an ``int`` may stand for a ``float`` (``10`` for ``10.0``) but not the reverse, and a ``bool``
  is never a number;
* strings compare after case-folding and removing spaces and punctuation;
* lists compare element by element, in order; objects compare key by key with the same rules;
* an optional parameter may be omitted when the reference value is the schema's default;
* a parameter may have several acceptable values (``acceptable={"unit": ["m", "meter"]}``).

Parallel calls are paired with the reference by an optimal assignment (Hungarian algorithm), never
greedily, so the order a model lists them in does not matter.

Schema validity and hallucination reuse the format verifier's per-call check (``verifiers.format``),
so "valid" means the same thing in the dataset and in evaluation.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from schemas.canonical import canonical_json
from schemas.models import Tool, ToolCall

_PUNCTUATION = re.compile(r"[\s\.,;:!?'\"`\-_/\\()\[\]{}*^]+")
_MISSING = object()


# ------------------------------------------------------------------------------------ value rules


def normalise_string(text: str) -> str:
    """Case-fold, NFKC-normalise, and drop spaces and punctuation (BFCL's string rule)."""
    return _PUNCTUATION.sub("", unicodedata.normalize("NFKC", text).casefold())


def _schema_type(schema: Mapping[str, Any] | None) -> set[str]:
    if not schema:
        return set()
    kind = schema.get("type")
    if isinstance(kind, list):
        return set(kind)
    return {kind} if isinstance(kind, str) else set()


def values_match(predicted: Any, expected: Any, schema: Mapping[str, Any] | None = None) -> bool:
    """True when ``predicted`` is an acceptable rendering of ``expected`` under the rules above."""
    if isinstance(expected, bool) or isinstance(predicted, bool):
        return isinstance(expected, bool) and isinstance(predicted, bool) and expected == predicted
    if isinstance(expected, int | float) and isinstance(predicted, int | float):
        types = _schema_type(schema)
        expects_integer = "integer" in types and "number" not in types
        if (expects_integer or (not types and isinstance(expected, int))) and isinstance(predicted, float):
            return False  # a float never stands for an int
        return math.isclose(float(predicted), float(expected), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(expected, str) and isinstance(predicted, str):
        return normalise_string(predicted) == normalise_string(expected)
    if isinstance(expected, list) and isinstance(predicted, list):
        items = (schema or {}).get("items") if isinstance((schema or {}).get("items"), dict) else None
        return len(predicted) == len(expected) and all(
            values_match(p, e, items) for p, e in zip(predicted, expected, strict=True)
        )
    if isinstance(expected, dict) and isinstance(predicted, dict):
        return _objects_match(predicted, expected, schema)
    return predicted is None and expected is None


def _property_schema(schema: Mapping[str, Any] | None, key: str) -> Mapping[str, Any] | None:
    if not schema:
        return None
    props = schema.get("properties") or {}
    if key in props:
        return props[key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def _objects_match(
    predicted: Mapping[str, Any], expected: Mapping[str, Any], schema: Mapping[str, Any] | None
) -> bool:
    for key in set(predicted) | set(expected):
        sub = _property_schema(schema, key)
        default = (sub or {}).get("default", _MISSING)
        got, want = predicted.get(key, _MISSING), expected.get(key, _MISSING)
        if got is _MISSING or want is _MISSING:
            present = want if got is _MISSING else got
            if default is _MISSING or not values_match(present, default, sub):
                return False
            continue
        if not values_match(got, want, sub):
            return False
    return True


# ------------------------------------------------------------------------------------- call rules


@dataclass(frozen=True)
class CallMatch:
    """How one predicted call compares with one reference call."""

    name_ok: bool
    ast_ok: bool
    key_tp: int  # argument keys in both
    key_fp: int  # predicted keys not in the reference
    key_fn: int  # reference keys not predicted
    values_ok: int  # reference keys whose value matched
    required_present: int
    required_total: int
    reason: str = ""


def match_call(
    predicted: ToolCall,
    expected: ToolCall,
    tool: Tool | None = None,
    *,
    acceptable: Mapping[str, Sequence[Any]] | None = None,
) -> CallMatch:
    """Compare one call with its reference (BFCL AST rules; see the module docstring)."""
    schema = tool.parameters if tool is not None else None
    props = (schema or {}).get("properties", {})
    required = list((schema or {}).get("required", []))
    got, want = predicted.arguments, expected.arguments
    tp = len(set(got) & set(want))
    fp = len(set(got) - set(want))
    fn = len(set(want) - set(got))
    values_ok = sum(
        1 for k in set(got) & set(want) if _value_acceptable(k, got[k], want[k], props, acceptable)
    )
    required_present = sum(1 for k in required if k in got)
    name_ok = predicted.name == expected.name

    reason = ""
    if not name_ok:
        reason = "wrong_name"
    elif missing := [k for k in required if k not in got]:
        reason = f"missing_required:{missing[0]}"
    elif schema is not None and (unknown := [k for k in got if k not in props]):
        reason = f"unexpected_argument:{unknown[0]}"
    else:
        for key in sorted(set(got) | set(want)):
            sub = props.get(key)
            if key in got and key in want:
                if not _value_acceptable(key, got[key], want[key], props, acceptable):
                    reason = f"value_mismatch:{key}"
                    break
                continue
            present = got.get(key, want.get(key))
            default = (sub or {}).get("default", _MISSING)
            if key in want and key in (acceptable or {}) and "" in (acceptable or {})[key]:
                continue  # BFCL marks "may be omitted" with an empty-string alternative
            if default is _MISSING or not values_match(present, default, sub):
                reason = f"{'missing' if key in want else 'unexpected'}_argument:{key}"
                break
    return CallMatch(
        name_ok=name_ok,
        ast_ok=not reason,
        key_tp=tp,
        key_fp=fp,
        key_fn=fn,
        values_ok=values_ok,
        required_present=required_present,
        required_total=len(required),
        reason=reason,
    )


def _value_acceptable(
    key: str,
    got: Any,
    want: Any,
    props: Mapping[str, Any],
    acceptable: Mapping[str, Sequence[Any]] | None,
) -> bool:
    candidates = [want, *((acceptable or {}).get(key, ()))]
    return any(values_match(got, c, props.get(key)) for c in candidates if c != "" or want == "")


def pair_calls(
    predicted: Sequence[ToolCall], expected: Sequence[ToolCall], tools: Mapping[str, Tool]
) -> list[tuple[int, int, CallMatch]]:
    """Optimal one-to-one pairing of predicted with reference calls (maximises AST matches, then names,
    then matching values). Returns ``(predicted_index, expected_index, match)`` for each pair."""
    if not predicted or not expected:
        return []
    matches = [[match_call(p, e, tools.get(e.name)) for e in expected] for p in predicted]
    score = np.array(
        [[1000 * m.ast_ok + 100 * m.name_ok + m.values_ok for m in row] for row in matches], dtype=float
    )
    rows, cols = linear_sum_assignment(score, maximize=True)
    return [(int(r), int(c), matches[r][c]) for r, c in zip(rows, cols, strict=True)]


# ----------------------------------------------------------------------------------- per example


@dataclass
class ExampleScore:
    """Every metric of one example; rates are computed by ``aggregate``."""

    parse_ok: bool
    expects_calls: bool
    n_predicted: int
    n_expected: int
    schema_valid_calls: int = 0
    hallucinated_calls: int = 0
    name_hits: int = 0
    key_tp: int = 0
    key_fp: int = 0
    key_fn: int = 0
    values_ok: int = 0
    values_total: int = 0
    required_present: int = 0
    required_total: int = 0
    exact: bool = False
    ast: bool = False
    irrelevance_ok: bool | None = None
    execution_ok: bool | None = None
    reasons: list[str] = field(default_factory=list)


def score_example(
    predicted: Sequence[ToolCall] | None,
    expected: Sequence[ToolCall],
    offered: Sequence[str],
    tools: Mapping[str, Tool],
    *,
    schema_check: Any = None,
) -> ExampleScore:
    """Score one example. ``predicted=None`` means the reply could not be parsed.

    ``schema_check(tool, call) -> bool`` decides schema validity; pass the format verifier's check
    (``trainer.evaluation.evaluate`` does) so the definition is the dataset's own.
    """
    if predicted is None:
        return ExampleScore(
            parse_ok=False,
            expects_calls=bool(expected),
            n_predicted=0,
            n_expected=len(expected),
            key_fn=sum(len(e.arguments) for e in expected),  # every reference key was missed
            values_total=sum(len(e.arguments) for e in expected),
            required_total=sum(
                len(tools[e.name].parameters.get("required", [])) for e in expected if e.name in tools
            ),
            irrelevance_ok=False if not expected else None,
            reasons=["unparseable"],
        )
    offered_set = set(offered)
    score = ExampleScore(
        parse_ok=True, expects_calls=bool(expected), n_predicted=len(predicted), n_expected=len(expected)
    )
    for call in predicted:
        tool = tools.get(call.name)
        if call.name not in offered_set or tool is None:
            score.hallucinated_calls += 1
            score.reasons.append(f"hallucinated:{call.name}")
        elif schema_check is None or schema_check(tool, call):
            score.schema_valid_calls += 1
    if not expected:
        score.irrelevance_ok = not predicted
        score.exact = score.ast = not predicted
        if predicted:
            score.reasons.append("called_when_irrelevant")
        return score

    pairs = pair_calls(predicted, expected, tools)
    for _, e_idx, m in pairs:
        score.name_hits += m.name_ok
        score.key_tp += m.key_tp
        score.key_fp += m.key_fp
        score.key_fn += m.key_fn
        score.values_ok += m.values_ok
        if m.reason:
            score.reasons.append(f"call{e_idx}:{m.reason}")
    unpaired_predicted = [i for i in range(len(predicted)) if i not in {p for p, _, _ in pairs}]
    for i in unpaired_predicted:
        score.key_fp += len(predicted[i].arguments)
    paired_expected = {e for _, e, _ in pairs}
    for j, call in enumerate(expected):
        tool = tools.get(call.name)
        required = tool.parameters.get("required", []) if tool else []
        score.required_total += len(required)
        score.values_total += len(call.arguments)
        if j in paired_expected:
            pred = predicted[next(p for p, e, _ in pairs if e == j)]
            score.required_present += sum(1 for k in required if k in pred.arguments)
        else:
            score.key_fn += len(call.arguments)
    same_count = len(predicted) == len(expected)
    score.ast = same_count and all(m.ast_ok for _, _, m in pairs)
    score.exact = same_count and sorted(canonical_json(c.canonical()) for c in predicted) == sorted(
        canonical_json(c.canonical()) for c in expected
    )
    if not same_count:
        score.reasons.append(f"call_count:{len(predicted)}!={len(expected)}")
    return score


# ------------------------------------------------------------------------------------ aggregation


def wilson_interval(successes: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval for a proportion (good at small n and near 0 or 1)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Rate:
    value: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        return {"value": self.value, "ci_low": self.low, "ci_high": self.high, "n": self.n}


def _rate(successes: float, n: int) -> Rate:
    low, high = wilson_interval(successes, n)
    return Rate(successes / n if n else 0.0, low, high, n)


def aggregate(scores: Sequence[ExampleScore]) -> dict[str, Rate]:
    """Rates over examples (or over calls / keys where the metric is per call / per key).

    ``n`` is what the rate is a proportion of: examples, predicted calls, reference calls or keys.
    """
    calls_pred = sum(s.n_predicted for s in scores)
    calls_exp = sum(s.n_expected for s in scores if s.expects_calls)
    with_calls = [s for s in scores if s.expects_calls]
    without = [s for s in scores if not s.expects_calls]
    tp = sum(s.key_tp for s in scores)
    fp = sum(s.key_fp for s in scores)
    fn = sum(s.key_fn for s in scores)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    executed = [s for s in scores if s.execution_ok is not None]
    out = {
        "parse_validity": _rate(sum(s.parse_ok for s in scores), len(scores)),
        "schema_validity": _rate(sum(s.schema_valid_calls for s in scores), calls_pred),
        "hallucination_rate": _rate(sum(s.hallucinated_calls for s in scores), calls_pred),
        "tool_name_accuracy": _rate(sum(s.name_hits for s in with_calls), calls_exp),
        # F1 is not a proportion of a count, so its interval comes from the key recall's n.
        "argument_key_f1": Rate(f1, *wilson_interval(f1 * (tp + fn), tp + fn), n=tp + fn),
        "argument_value_accuracy": _rate(
            sum(s.values_ok for s in with_calls), sum(s.values_total for s in with_calls)
        ),
        "required_coverage": _rate(
            sum(s.required_present for s in with_calls), sum(s.required_total for s in with_calls)
        ),
        "exact_match": _rate(sum(s.exact for s in with_calls), len(with_calls)),
        "ast_match": _rate(sum(s.ast for s in with_calls), len(with_calls)),
        "irrelevance_accuracy": _rate(sum(bool(s.irrelevance_ok) for s in without), len(without)),
        "overall_accuracy": _rate(sum(s.ast for s in scores), len(scores)),
    }
    if executed:
        out["execution_success"] = _rate(sum(bool(s.execution_ok) for s in executed), len(executed))
    return out
