"""Function-calling metrics: one definition each, shared by evaluation and reports.

Per example, ``score_example`` compares the calls a model produced with the reference calls and
returns an ``ExampleScore`` of plain numbers; ``aggregate`` turns many of them into rates with 95 %
Wilson intervals and the number of examples behind each figure.

Whether a call is right is decided by ``trainer.evaluation.scoring`` under both rule sets: ``ast``
is the ``callforge`` verdict, ``ast_bfcl`` the Berkeley Function Calling Leaderboard's (same string
rule, exact numbers, ``int`` for ``float`` the only coercion, acceptable values, omittable
arguments). A reference may hold several acceptable values per argument and mark arguments as
omittable (``references``; by default the reference calls' own values only).

Parallel calls are paired with the reference by an optimal assignment (Hungarian algorithm), never
greedily, so the order a model lists them in does not matter.

Schema validity and hallucination reuse the format verifier's per-call check (``verifiers.format``),
so "valid" means the same thing in the dataset and in evaluation.

Replies are read strictly: where a call was expected, a reply without a readable call (empty,
prose, or unparseable) is wrong and not "parseable"; where none was, any reply without a call is an
abstention. Chance figures sit beside the rates a guess can reach: picking one offered tool at random
(``tool_choice_chance``), and ``relevance_balanced`` — the mean of "called when a call was due" and
"abstained when none was" — which is 50 % for a model that always, or never, calls.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np
from scipy.optimize import linear_sum_assignment

from schemas.canonical import canonical_json
from schemas.models import Tool, ToolCall
from trainer.evaluation.scoring import Call, ReferenceCall, Rules, callforge_value, check_call


def values_match(predicted: Any, expected: Any, schema: Mapping[str, Any] | None = None) -> bool:
    """True when ``predicted`` is right for the reference value ``expected`` (the callforge rules)."""
    return callforge_value(predicted, expected, schema)


# ------------------------------------------------------------------------------------- call rules

_REASONS = {
    "simple_function_checker:wrong_func_name": "wrong_name",
    "simple_function_checker:missing_required": "missing_required",
    "simple_function_checker:unexpected_param": "unexpected_argument",
    "simple_function_checker:missing_optional": "missing_argument",
}


@dataclass(frozen=True)
class CallMatch:
    """How one predicted call compares with one reference call."""

    name_ok: bool
    ast_ok: bool
    key_tp: int  # argument keys in both
    key_fp: int  # predicted keys not in the reference
    key_fn: int  # reference keys not predicted
    values_ok: int  # reference keys whose value matched
    values_total: int  # reference keys judged: all but omittable ones left out
    required_present: int
    required_total: int
    reason: str = ""
    bfcl_ok: bool = False


def reference_of(call: ToolCall, acceptable: Mapping[str, Sequence[Any]] | None = None) -> ReferenceCall:
    """The reference a plain call makes (its values only), with extra ``acceptable`` values."""
    return ReferenceCall.exact(call.name, call.arguments, acceptable)


def match_call(
    predicted: ToolCall,
    expected: ToolCall | ReferenceCall,
    tool: Tool | None = None,
    *,
    acceptable: Mapping[str, Sequence[Any]] | None = None,
) -> CallMatch:
    """Compare one call with its reference (see the module docstring)."""
    reference = expected if isinstance(expected, ReferenceCall) else reference_of(expected, acceptable)
    schema = tool.parameters if tool is not None else None
    props = (schema or {}).get("properties", {})
    required = list((schema or {}).get("required", []))
    got, want = predicted.arguments, reference.values
    values_ok = sum(
        1 for k in set(got) & set(want) if any(values_match(got[k], v, props.get(k)) for v in want[k])
    )
    values_total = sum(1 for k in want if k in got or k not in reference.omittable)
    call = Call(predicted.name, got)
    # Without the tool's schema, the reference's own keys stand for the schema.
    parameters = schema if schema is not None else {"properties": {k: {} for k in want}}
    verdict = check_call(call, reference, parameters, Rules.CALLFORGE)
    reason = ""
    if not verdict.valid:
        kind = _REASONS.get(verdict.error_type, "value_mismatch")
        reason = kind if kind == "wrong_name" else f"{kind}:{verdict.argument}"
    return CallMatch(
        name_ok=predicted.name == reference.name,
        ast_ok=verdict.valid,
        key_tp=len(set(got) & set(want)),
        key_fp=len(set(got) - set(want)),
        key_fn=len(set(want) - set(got) - reference.omittable),
        values_ok=values_ok,
        values_total=values_total,
        required_present=sum(1 for k in required if k in got),
        required_total=len(required),
        reason=reason,
        bfcl_ok=check_call(call, reference, parameters, Rules.BFCL).valid,
    )


def pair_calls(
    predicted: Sequence[ToolCall],
    expected: Sequence[ToolCall | ReferenceCall],
    tools: Mapping[str, Tool],
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


def _bfcl_pairing(
    predicted: Sequence[ToolCall], expected: Sequence[ReferenceCall], tools: Mapping[str, Tool]
) -> bool:
    """True when the BFCL rule set accepts every call under an optimal pairing."""
    if len(predicted) != len(expected):
        return False
    grid = np.array(
        [[match_call(p, e, tools.get(e.name)).bfcl_ok for e in expected] for p in predicted], dtype=float
    )
    rows, cols = linear_sum_assignment(grid, maximize=True)
    return bool(grid[rows, cols].all())


# ----------------------------------------------------------------------------------- per example


class _Shape(TypedDict):
    """What an example's score knows before any reply is read (typed, so it unpacks into ``ExampleScore``)."""

    expects_calls: bool
    n_expected: int
    tools_offered: int
    zero_arguments: bool


@dataclass
class ExampleScore:
    """Every metric of one example; rates are computed by ``aggregate``."""

    parse_ok: bool  # the reply held a readable call (or, where none was due, nothing unreadable)
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
    ast_bfcl: bool = False
    irrelevance_ok: bool | None = None
    execution_ok: bool | None = None
    tools_offered: int = 0
    zero_arguments: bool = False  # every reference call takes no argument
    latency_s: float | None = None
    hit_budget: bool | None = None  # the reply used every token it was allowed
    reasons: list[str] = field(default_factory=list)

    @property
    def called(self) -> bool:
        return self.n_predicted > 0


def score_example(
    predicted: Sequence[ToolCall] | None,
    expected: Sequence[ToolCall],
    offered: Sequence[str],
    tools: Mapping[str, Tool],
    *,
    schema_check: Any = None,
    references: Sequence[ReferenceCall] | None = None,
) -> ExampleScore:
    """Score one example. ``predicted=None`` means the reply could not be parsed.

    ``references`` are the reference calls with their acceptable values and omittable arguments
    (default: ``expected`` exactly). ``schema_check(tool, call) -> bool`` decides schema validity;
    pass the format verifier's check (``trainer.evaluation.evaluate`` does) so the definition is the
    dataset's own.
    """
    refs = list(references) if references is not None else [reference_of(c) for c in expected]
    base: _Shape = {
        "expects_calls": bool(expected),
        "n_expected": len(expected),
        "tools_offered": len(offered),
        "zero_arguments": bool(expected) and all(not c.arguments for c in expected),
    }
    if predicted is None or (expected and not predicted):
        # No readable call where one was due: wrong on every count. Where none was due, the same
        # reply is an abstention (BFCL reads it so too).
        missed = sum(len(e.arguments) for e in expected)
        score = ExampleScore(
            parse_ok=not expected,
            n_predicted=0,
            key_fn=missed,
            values_total=missed,
            required_total=sum(
                len(tools[e.name].parameters.get("required", [])) for e in expected if e.name in tools
            ),
            irrelevance_ok=True if not expected else None,
            ast=not expected,
            ast_bfcl=not expected,
            exact=not expected,
            reasons=["unparseable" if predicted is None else "no_call"] if expected else [],
            **base,
        )
        return score
    offered_set = set(offered)
    score = ExampleScore(parse_ok=True, n_predicted=len(predicted), **base)
    for call in predicted:
        tool = tools.get(call.name)
        if call.name not in offered_set or tool is None:
            score.hallucinated_calls += 1
            score.reasons.append(f"hallucinated:{call.name}")
        elif schema_check is None or schema_check(tool, call):
            score.schema_valid_calls += 1
    if not expected:
        score.irrelevance_ok = not predicted
        score.exact = score.ast = score.ast_bfcl = not predicted
        if predicted:
            score.reasons.append("called_when_irrelevant")
        return score

    pairs = pair_calls(predicted, refs, tools)
    for _, e_idx, m in pairs:
        score.name_hits += m.name_ok
        score.key_tp += m.key_tp
        score.key_fp += m.key_fp
        score.key_fn += m.key_fn
        score.values_ok += m.values_ok
        score.values_total += m.values_total
        if m.reason:
            score.reasons.append(f"call{e_idx}:{m.reason}")
    paired_predicted = {p for p, _, _ in pairs}
    for i in range(len(predicted)):
        if i not in paired_predicted:
            score.key_fp += len(predicted[i].arguments)
    paired_expected = {e: p for p, e, _ in pairs}
    for j, call in enumerate(expected):
        tool = tools.get(call.name)
        required = tool.parameters.get("required", []) if tool else []
        score.required_total += len(required)
        if j in paired_expected:
            score.required_present += sum(1 for k in required if k in predicted[paired_expected[j]].arguments)
        else:
            score.key_fn += len(call.arguments)
            score.values_total += len(call.arguments)
    same_count = len(predicted) == len(expected)
    score.ast = same_count and all(m.ast_ok for _, _, m in pairs)
    score.ast_bfcl = same_count and _bfcl_pairing(predicted, refs, tools)
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


def rate(successes: float, n: int) -> Rate:
    """``successes / n`` with its 95 % Wilson interval."""
    low, high = wilson_interval(successes, n)
    return Rate(successes / n if n else 0.0, low, high, n)


def _mean(values: Sequence[float]) -> Rate:
    """A mean of per-example chances, as a rate over the examples (its interval is the Wilson one of
    the same proportion)."""
    return rate(sum(values), len(values))


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


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
    call_rate = rate(sum(s.called for s in with_calls), len(with_calls))
    abstain_rate = rate(sum(bool(s.irrelevance_ok) for s in without), len(without))
    out = {
        "parse_validity": rate(sum(s.parse_ok for s in with_calls), len(with_calls)),
        "call_rate": call_rate,
        "call_rate_when_irrelevant": rate(sum(s.called for s in without), len(without)),
        "schema_validity": rate(sum(s.schema_valid_calls for s in scores), calls_pred),
        "hallucination_rate": rate(sum(s.hallucinated_calls for s in scores), calls_pred),
        "tool_name_accuracy": rate(sum(s.name_hits for s in with_calls), calls_exp),
        "tool_choice_chance": _mean([1 / s.tools_offered if s.tools_offered else 0.0 for s in with_calls]),
        # F1 is not a proportion of a count, so its interval comes from the key recall's n.
        "argument_key_f1": Rate(f1, *wilson_interval(f1 * (tp + fn), tp + fn), n=tp + fn),
        "argument_value_accuracy": rate(
            sum(s.values_ok for s in with_calls), sum(s.values_total for s in with_calls)
        ),
        "required_coverage": rate(
            sum(s.required_present for s in with_calls), sum(s.required_total for s in with_calls)
        ),
        "exact_match": rate(sum(s.exact for s in with_calls), len(with_calls)),
        "ast_match": rate(sum(s.ast for s in with_calls), len(with_calls)),
        "ast_match_bfcl": rate(sum(s.ast_bfcl for s in with_calls), len(with_calls)),
        "irrelevance_accuracy": abstain_rate,
        "overall_accuracy": rate(sum(s.ast for s in scores), len(scores)),
    }
    if with_calls and without:
        balanced = (call_rate.value + abstain_rate.value) / 2
        n = min(len(with_calls), len(without))
        out["relevance_balanced"] = Rate(balanced, *wilson_interval(balanced * n, n), n=n)
    budgeted = [s for s in scores if s.hit_budget is not None]
    if budgeted:
        out["hit_token_budget"] = rate(sum(bool(s.hit_budget) for s in budgeted), len(budgeted))
    if executed:
        out["execution_success"] = rate(sum(bool(s.execution_ok) for s in executed), len(executed))
    return out


def latency(scores: Sequence[ExampleScore]) -> dict[str, float | int | None]:
    """Per-example latency in seconds: p50, p95 and how many examples were timed."""
    timed = [s.latency_s for s in scores if s.latency_s is not None]
    return {"p50_s": percentile(timed, 50), "p95_s": percentile(timed, 95), "n": len(timed)}
