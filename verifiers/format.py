"""The format verifier: every call names an offered tool and its arguments fit that tool's schema.

Reason codes (in the spirit of BFCL's AST-checker taxonomy), in the order a verdict picks its code:

* ``malformed_call`` — a call whose name is not a non-empty string or whose arguments are not an object
* ``unknown_tool`` — a call to a tool that was not offered (the hallucination check)
* ``tool_not_in_catalog`` — a tool offered (called or not) that the catalog does not have
* argument codes from ``verifiers.arguments``: ``missing_required``, ``unexpected_argument``,
  ``type_error``, ``enum_violation``, ``pattern_violation``, ``format_violation``, ``range_violation``,
  ``schema_violation``
* ``style_mismatch`` — the calls do not fit the sample's style (simple: one call, one tool offered;
  multiple: one call, several offered; parallel: 2+ calls of one tool; parallel_multiple: 2+ calls of
  2+ tools; irrelevance: none)
* ``duplicate_call`` — the same call (name and arguments) twice in one sample
* ``query_too_long``, ``value_too_long``, ``control_character``, ``bidi_control`` — sample hygiene (``verifiers.hygiene``)

A failing verdict's ``details`` holds ``issues`` (every problem found, each with ``code``, ``pointer``
— the JSON pointer into that call's arguments — ``message`` and ``call_index``) and the first one's
``pointer`` and ``call_index`` at the top level. ``check_call`` is the per-call check that evaluation
reuses for schema validity and hallucination rate.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

from schemas.models import Sample, Style, Tool, ToolCall, Verdict, infer_style
from verifiers.arguments import Issue, compiled
from verifiers.base import VerifyContext
from verifiers.hygiene import HygieneOptions, hygiene_issues

NAME = "format"


def check_call(
    tool: Tool | None,
    call: ToolCall,
    *,
    offered: Collection[str] | None = None,
    call_index: int | None = None,
) -> list[Issue]:
    """Problems with one call; ``[]`` means the call is well-formed for ``tool``.

    ``tool`` is the catalog's tool of that name (None when the catalog has none). ``offered`` is the
    list of tool names the model was given: a call outside it is ``unknown_tool`` (a hallucinated
    tool) even when the catalog knows the name. Without ``offered``, a None ``tool`` is ``unknown_tool``.
    """
    name = getattr(call, "name", None)
    arguments = getattr(call, "arguments", None)
    if not isinstance(name, str) or not name.strip():
        return [
            Issue("malformed_call", "", f"call name must be a non-empty string, got {name!r}", call_index)
        ]
    if not isinstance(arguments, Mapping):
        return [
            Issue(
                "malformed_call",
                "",
                f"arguments of {name!r} must be a JSON object, got {type(arguments).__name__}",
                call_index,
            )
        ]
    if offered is not None and name not in offered:
        return [Issue("unknown_tool", "", f"{name!r} was not among the offered tools", call_index)]
    if tool is None:
        if offered is None:
            return [Issue("unknown_tool", "", f"no tool named {name!r} in the catalog", call_index)]
        return [
            Issue(
                "tool_not_in_catalog",
                "",
                f"{name!r} was offered but the catalog has no such tool",
                call_index,
            )
        ]
    issues = compiled(tool).issues(arguments)
    if call_index is not None:
        issues = [Issue(i.code, i.pointer, i.message, call_index) for i in issues]
    return issues


def _call_key(call: ToolCall) -> str:
    # allow_nan/default=repr: a call with NaN or odd values must still get a key, never an exception.
    return json.dumps([call.name, call.arguments], sort_keys=True, allow_nan=True, default=repr)


def sample_issues(sample: Sample, tools: Mapping[str, Tool]) -> list[Issue]:
    """Every format problem of ``sample`` given the catalog's tools by name (``[]`` = passes)."""
    offered = sample.tools
    offered_set = set(offered)
    issues: list[Issue] = []
    for index, call in enumerate(sample.calls):
        issues.extend(check_call(tools.get(call.name), call, offered=offered_set, call_index=index))
    called = {c.name for c in sample.calls}
    missing = [t for t in offered if t not in tools and t not in called]
    if missing:
        issues.append(Issue("tool_not_in_catalog", "", f"offered tools not in the catalog: {missing}"))
    if all(isinstance(c.name, str) for c in sample.calls):
        expected = infer_style(list(offered), list(sample.calls))
        if expected is not sample.style:
            issues.append(
                Issue(
                    "style_mismatch",
                    "",
                    f"style is {sample.style.value!r} but {len(sample.calls)} call(s) of {len(called)} tool(s) "
                    f"with {len(offered)} offered make it {expected.value!r}",
                )
            )
    if len(sample.calls) > 1:
        seen: dict[str, int] = {}
        for index, call in enumerate(sample.calls):
            key = _call_key(call)
            if key in seen:
                issues.append(Issue("duplicate_call", "", f"call {index} repeats call {seen[key]}", index))
            else:
                seen[key] = index
    return _by_precedence(issues)


def _passed_constructor() -> Callable[[str], Verdict]:
    """A passing-verdict constructor that builds one the way ``model_construct`` does, without its
    per-field loop: at 100,000+ samples/s verdict construction is a fifth of the format verifier's
    time. Names are bound in the closure so each call does no global or attribute lookups."""
    new = Verdict.__new__
    setattr_ = object.__setattr__
    fields = set(Verdict.model_fields)
    verifier = NAME

    def construct_passed(sample_id: str) -> Verdict:
        verdict = new(Verdict)
        values = {
            "sample_id": sample_id,
            "verifier": verifier,
            "passed": True,
            "code": "ok",
            "message": "",
            "details": {},
        }
        setattr_(verdict, "__dict__", values)
        # A fresh set, as model_construct gives: assigning a field later adds its name to this set.
        setattr_(verdict, "__pydantic_fields_set__", fields.copy())
        setattr_(verdict, "__pydantic_extra__", None)
        setattr_(verdict, "__pydantic_private__", None)
        return verdict

    return construct_passed


_construct_passed = _passed_constructor()


def _model_construct_passed(sample_id: str) -> Verdict:
    return Verdict.model_construct(
        sample_id=sample_id, verifier=NAME, passed=True, code="ok", message="", details={}
    )


def _pick_constructor() -> Callable[[str], Verdict]:
    # If a pydantic release changes its internals, fall back to the public (slower) constructor.
    try:
        probe = _construct_passed("probe")
        if (
            probe == _model_construct_passed("probe")
            and probe.model_dump() == _model_construct_passed("probe").model_dump()
            and probe.model_fields_set == _model_construct_passed("probe").model_fields_set
        ):
            return _construct_passed
    except Exception:
        pass
    return _model_construct_passed


_passed = _pick_constructor()


def _passes(sample: Sample, validators: dict[str, Callable[[Any], Any]], tools: Mapping[str, Tool]) -> bool:
    """The fast path: True only when ``sample`` certainly has no format issue. Anything unusual
    returns False and goes to ``sample_issues``, which says exactly what is wrong.

    ``validators`` maps tool names to functions that raise on invalid arguments (``raising``); it is
    filled here on first use of each offered tool that ``tools`` (the catalog by name) has, so a batch
    compiles (or looks up) only the tools it offers and pays for each once."""
    offered = sample.tools
    for name in offered:
        if name not in validators:
            tool = tools.get(name)
            if tool is None:
                return False
            validators[name] = compiled(tool).raising
    calls = sample.calls
    count = len(calls)
    if count == 1:
        # Most samples have one call: no name set, no duplicate scan, style from the offer alone.
        call = calls[0]
        name = call.name
        arguments = call.arguments
        if name not in offered or type(arguments) is not dict:
            return False
        try:
            validators[name](arguments)
        except Exception:
            return False
        return sample.style is (_SIMPLE if len(offered) == 1 else _MULTIPLE)
    names = set()
    try:
        for call in calls:
            name = call.name
            if name not in offered or type(call.arguments) is not dict:
                return False
            validators[name](call.arguments)
            names.add(name)
    except Exception:
        return False
    style = _IRRELEVANCE if not count else _PARALLEL if len(names) == 1 else _PARALLEL_MULTIPLE
    if style is not sample.style:
        return False
    # Dict equality is deep and order-blind; for a handful of calls pairwise comparison is cheapest.
    for i in range(1, count):
        for j in range(i):
            if calls[i].name == calls[j].name and calls[i].arguments == calls[j].arguments:
                return False
    return True


_SIMPLE, _MULTIPLE, _PARALLEL = Style.SIMPLE, Style.MULTIPLE, Style.PARALLEL
_PARALLEL_MULTIPLE, _IRRELEVANCE = Style.PARALLEL_MULTIPLE, Style.IRRELEVANCE


_PRECEDENCE = {
    "malformed_call": 0,
    "unknown_tool": 1,
    "tool_not_in_catalog": 2,
    "style_mismatch": 4,
    "duplicate_call": 5,
}


def _by_precedence(issues: list[Issue]) -> list[Issue]:
    # Argument codes (rank 3) sit between the tool checks and the sample-level ones; stable otherwise.
    return sorted(issues, key=lambda i: _PRECEDENCE.get(i.code, 3))


class FormatVerifier:
    """Schema-level checks; cheap (cost 10), so it runs first and gates everything else."""

    name = NAME
    requires: tuple[str, ...] = ()
    cost = 10

    class Options(HygieneOptions):  # + max_query_chars, max_value_chars (verifiers/hygiene.py)
        max_issues: int = 20
        """At most this many issues are listed in a verdict's details (the code is always the first)."""

    def __init__(self, options: Options | None = None) -> None:
        self.options = options or self.Options()

    def verify(self, samples: list[Sample], ctx: VerifyContext) -> list[Verdict]:
        """One verdict per sample: passed, or failed with the first issue's code."""
        tools = ctx.catalog.by_name
        validators: dict[str, Callable[[Any], Any]] = {}  # filled by _passes as tools are first offered
        out: list[Verdict] = []
        append, passes, passed = out.append, _passes, _passed  # locals: this loop runs 100,000+ times/s
        for sample in samples:
            hostile = hygiene_issues(sample, self.options)  # control/bidi characters, length caps
            if not hostile and passes(sample, validators, tools):
                append(passed(sample.id))
                continue
            issues = hostile + sample_issues(sample, tools)
            if not issues:  # cannot happen unless the two paths disagree; trust the precise one
                out.append(_passed(sample.id))
                continue
            first = issues[0]
            listed = [i.to_dict() for i in issues[: self.options.max_issues]]
            details: dict[str, Any] = {"pointer": first.pointer, "issues": listed}
            if first.call_index is not None:
                details["call_index"] = first.call_index
            details = json.loads(json.dumps(details, default=repr))  # JSON-safe whatever the sample held
            out.append(
                Verdict(
                    sample_id=sample.id,
                    verifier=NAME,
                    passed=False,
                    code=first.code,
                    message=first.message,
                    details=details,
                )
            )
        return out


__all__ = ["NAME", "FormatVerifier", "Issue", "Style", "check_call", "sample_issues"]
