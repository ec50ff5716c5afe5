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
* ``code_not_in_spec`` — a code-like value of a field the spec gives only examples for, which none of
  them use (``verifiers.spec_values``): a warning in ``details["warnings"]`` of a passing verdict, a
  failure with the option ``reject_codes_not_in_spec``

A failing verdict's ``details`` holds ``issues`` (every problem found, each with ``code``, ``pointer``
— the JSON pointer into that call's arguments — ``message`` and ``call_index``) and the first one's
``pointer`` and ``call_index`` at the top level. ``check_call`` is the per-call check that evaluation
reuses for schema validity and hallucination rate.
"""

from __future__ import annotations

import functools
import json
import weakref
from collections.abc import Callable, Collection, Mapping
from typing import Any

from pydantic import BaseModel

from schemas.catalog import Catalog
from schemas.field_values import documented_siblings
from schemas.models import Sample, Style, Tool, ToolCall, Verdict, infer_style
from verifiers.arguments import Issue, compiled
from verifiers.base import VerifyContext
from verifiers.hygiene import HygieneOptions, hygiene_issues
from verifiers.spec_values import CodeFields, code_fields, unlisted_codes

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


SampleCheck = Callable[[Sample], list[Issue]]
# Per-sample checks beside the call checks (e.g. of the query's text): each returns the sample's
# problems ([] = none). They run on every sample, the fast path's passing ones included, so they must
# be cheap and never raise; give each new code a rank in _PRECEDENCE.
_SAMPLE_CHECKS: tuple[SampleCheck, ...] = ()


def _sample_check_issues(sample: Sample) -> list[Issue]:
    return [issue for check in _SAMPLE_CHECKS for issue in check(sample)]


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
    issues.extend(_sample_check_issues(sample))
    return _by_precedence(issues)


class _CatalogValidators:
    """A catalog's argument validators, resolved once per catalog and shared by every batch.

    ``direct[name]`` is ``(function, formats)`` with ``function(arguments, formats)`` returning when the
    arguments validate and raising otherwise. For a fastjsonschema validator that is its generated
    function called with its formats positionally: ``fastjsonschema.compile(..., formats=...)`` returns a
    ``functools.partial`` whose keyword merge costs about a tenth of a small schema's check on every
    call. Filled on first use of each tool (compiling a 900-tool catalog up front would take seconds).
    """

    def __init__(self, catalog: Catalog) -> None:
        self.tools = catalog.by_name
        self.names = frozenset(self.tools)
        self.direct: dict[str, tuple[Callable[..., Any], Any]] = {}
        # Only tools with fields to check for codes the spec does not show (most have none); a tool the
        # spec gives no example for is checked against the examples of the one writing the same rows.
        self.codes: dict[str, CodeFields] = {}
        self.catalog = catalog

    @functools.cached_property
    def siblings(self) -> dict[str, Tool]:
        return documented_siblings(self.catalog)

    def resolve(self, names: Collection[str]) -> None:
        """Compile (or look up) the validators of the ``names`` the catalog has and not yet resolved."""
        for name in names:
            tool = self.tools.get(name) if isinstance(name, str) else None
            if tool is not None and name not in self.direct:
                fields = code_fields(self.siblings.get(name, tool))
                if fields:
                    self.codes[name] = fields
                self.direct[name] = _direct(compiled(tool).raising)


# A Catalog is not changed after it is built (ingest builds a new one), so its validators stay valid.
_BY_CATALOG: weakref.WeakKeyDictionary[Catalog, _CatalogValidators] = weakref.WeakKeyDictionary()


def _validators(catalog: Catalog) -> _CatalogValidators:
    found = _BY_CATALOG.get(catalog)
    if found is None:
        found = _BY_CATALOG[catalog] = _CatalogValidators(catalog)
    return found


def _ignoring_formats(check: Callable[[Any], Any]) -> Callable[..., Any]:
    return lambda arguments, _formats: check(arguments)


def _direct(check: Callable[[Any], Any]) -> tuple[Callable[..., Any], Any]:
    """``(function, formats)`` that checks exactly as ``check(arguments)`` does (see _CatalogValidators)."""
    if isinstance(check, functools.partial) and not check.args and set(check.keywords) == {"custom_formats"}:
        code = getattr(check.func, "__code__", None)
        if code is not None and code.co_varnames[:2] == ("data", "custom_formats"):
            return check.func, check.keywords["custom_formats"]
    code = getattr(check, "__code__", None)
    if code is not None and code.co_varnames[:3] == ("data", "custom_formats", "name_prefix"):
        return check, {}  # a fastjsonschema function compiled without formats
    return _ignoring_formats(check), None


def _calls_pass(
    sample: Sample, calls: list[ToolCall], direct: dict[str, tuple[Callable[..., Any], Any]]
) -> bool:
    """The fast check of a sample with no call or 2+ calls (the offered tools are known to be in the
    catalog). Raises (KeyError, a validation error) or returns False whenever the precise path must look."""
    offered = sample.tools
    first = calls[0].name if calls else None
    one_name = True
    for call in calls:
        name, arguments = call.name, call.arguments
        if name not in offered or type(arguments) is not dict:
            return False
        function, formats = direct[name]
        function(arguments, formats)
        if name != first:
            one_name = False
    style = _IRRELEVANCE if not calls else _PARALLEL if one_name else _PARALLEL_MULTIPLE
    if style is not sample.style:
        return False
    # Only calls of one tool can repeat each other; dict equality is deep and order-blind.
    count = len(calls)
    for i in range(1, count):
        for j in range(i):
            if calls[i].name == calls[j].name and calls[i].arguments == calls[j].arguments:
                return False
    return True


def _fast_passed_verdicts() -> Callable[[str], Verdict] | None:
    """A passing-verdict constructor that builds what ``Verdict.model_construct`` builds, without its
    per-field loop, or None when this pydantic's internals differ (then the public constructor runs).
    The slot setters are bound once; the fields set is shared: every field is in it, so assigning a
    field later (which adds the name) never changes it."""
    slots = BaseModel.__dict__
    try:
        set_dict = slots["__dict__"].__set__
        set_fields = slots["__pydantic_fields_set__"].__set__
        set_extra = slots["__pydantic_extra__"].__set__
        set_private = slots["__pydantic_private__"].__set__
    except (KeyError, AttributeError):
        return None
    new, fields = Verdict.__new__, set(Verdict.model_fields)
    template = {
        "sample_id": "",
        "verifier": NAME,
        "passed": True,
        "code": "ok",
        "message": "",
        "details": None,
    }

    def passed(sample_id: str) -> Verdict:
        verdict = new(Verdict)
        values = template.copy()
        values["sample_id"] = sample_id
        values["details"] = {}
        set_dict(verdict, values)
        set_fields(verdict, fields)
        set_extra(verdict, None)
        set_private(verdict, None)
        return verdict

    try:
        probe, public = passed("probe"), _model_construct_passed("probe")
        same = (
            probe == public
            and list(probe.__dict__) == list(public.__dict__)
            and probe.model_dump() == public.model_dump()
            and probe.model_fields_set == public.model_fields_set
        )
    except Exception:
        return None
    return passed if same else None


def _model_construct_passed(sample_id: str) -> Verdict:
    return Verdict.model_construct(
        sample_id=sample_id, verifier=NAME, passed=True, code="ok", message="", details={}
    )


_passed = _fast_passed_verdicts() or _model_construct_passed
_SIMPLE, _MULTIPLE, _PARALLEL = Style.SIMPLE, Style.MULTIPLE, Style.PARALLEL
_PARALLEL_MULTIPLE, _IRRELEVANCE = Style.PARALLEL_MULTIPLE, Style.IRRELEVANCE


def _unlisted_issues(sample: Sample, validators: _CatalogValidators) -> list[Issue]:
    codes = validators.codes
    return [
        issue
        for index, call in enumerate(sample.calls)
        if isinstance(call.name, str) and call.name in codes and isinstance(call.arguments, dict)
        for issue in unlisted_codes(codes[call.name], call.arguments, index)
    ]


_PRECEDENCE = {
    "malformed_call": 0,
    "unknown_tool": 1,
    "tool_not_in_catalog": 2,
    "style_mismatch": 4,
    "duplicate_call": 5,
    "code_not_in_spec": 7,
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
        reject_codes_not_in_spec: bool = False
        """Fail a sample with ``code_not_in_spec`` (a code-like value of a field the spec gives only
        examples for, which none of them use) instead of passing it with a warning. Off by default: an
        example shows one value of a set, not the set."""

    def __init__(self, options: Options | None = None) -> None:
        self.options = options or self.Options()

    def verify(self, samples: list[Sample], ctx: VerifyContext) -> list[Verdict]:
        """One verdict per sample: passed, or failed with the first issue's code.

        Each sample first takes the fast check (its calls through the compiled validators, its offer and
        style compared in O(1)); only a sample that fails it, or offers a tool not resolved yet, goes to
        ``sample_issues``, which is the authority on what is wrong (or that nothing is)."""
        validators = _validators(ctx.catalog)
        direct, known, codes = validators.direct, validators.names.issuperset, validators.codes
        sample_checks, options = _SAMPLE_CHECKS, self.options
        out: list[Verdict] = []
        append, passed = out.append, _passed  # locals: this loop runs 100,000+ times a second
        for sample in samples:
            hostile = hygiene_issues(sample, options)  # control/bidi characters, length caps
            if hostile:
                validators.resolve(sample.tools)
                append(self._precise(sample, validators, hostile))
                continue
            offered, calls = sample.tools, sample.calls
            try:
                # Most samples have one call: no name set, no duplicate scan, the style from the offer.
                if len(calls) == 1:
                    call = calls[0]
                    name, arguments = call.name, call.arguments
                    if (
                        name in offered
                        and type(arguments) is dict
                        and sample.style is (_SIMPLE if len(offered) == 1 else _MULTIPLE)
                        and known(offered)
                    ):
                        function, formats = direct[name]  # KeyError: not resolved yet (slow path)
                        function(arguments, formats)
                        if not sample_checks or not _sample_check_issues(sample):
                            if name not in codes or codes[name].all_listed(arguments):
                                append(passed(sample.id))
                            else:
                                append(self._unlisted(sample, validators))
                            continue
                elif (
                    known(offered)
                    and _calls_pass(sample, calls, direct)
                    and (not sample_checks or not _sample_check_issues(sample))
                ):
                    if not codes or all(
                        c.name not in codes or codes[c.name].all_listed(c.arguments) for c in calls
                    ):
                        append(passed(sample.id))
                    else:
                        append(self._unlisted(sample, validators))
                    continue
            except Exception:  # invalid arguments, an unresolved tool, odd data: the precise path decides
                pass
            validators.resolve(offered)
            append(self._precise(sample, validators, []))
        return out

    def _unlisted(self, sample: Sample, validators: _CatalogValidators) -> Verdict:
        """The verdict of a sample that passed every check but ``code_not_in_spec``."""
        if self.options.reject_codes_not_in_spec:
            return self._precise(sample, validators, [])
        return self._warned(sample.id, _unlisted_issues(sample, validators))

    def _warned(self, sample_id: str, warnings: list[Issue]) -> Verdict:
        listed = [i.to_dict() for i in warnings[: self.options.max_issues]]
        return Verdict.model_construct(  # every field is ours and valid: no validation pass
            sample_id=sample_id,
            verifier=NAME,
            passed=True,
            code="ok",
            message=f"{len(warnings)} warning(s): {warnings[0].message}",
            details={"warnings": listed},  # plain strings and ints already: no JSON round trip
        )

    def _precise(self, sample: Sample, validators: _CatalogValidators, hostile: list[Issue]) -> Verdict:
        issues = hostile + sample_issues(sample, validators.tools)
        unlisted = _unlisted_issues(sample, validators)
        warnings: list[Issue] = []
        if self.options.reject_codes_not_in_spec:
            issues += unlisted  # ranked after every other code: the weakest evidence
        else:
            warnings = unlisted
        if not issues:  # the fast check is conservative: e.g. a first use of a tool
            return self._warned(sample.id, warnings) if warnings else _passed(sample.id)
        first = issues[0]
        listed = [i.to_dict() for i in issues[: self.options.max_issues]]
        details: dict[str, Any] = {"pointer": first.pointer, "issues": listed}
        if warnings:
            details["warnings"] = [i.to_dict() for i in warnings[: self.options.max_issues]]
        if first.call_index is not None:
            details["call_index"] = first.call_index
        details = json.loads(json.dumps(details, default=repr))  # JSON-safe whatever the sample held
        return Verdict(
            sample_id=sample.id,
            verifier=NAME,
            passed=False,
            code=first.code,
            message=first.message,
            details=details,
        )


__all__ = ["NAME", "FormatVerifier", "Issue", "Style", "check_call", "sample_issues"]
