"""The conformance check a verifier's test calls: ``check_verifier(MyVerifier, samples, ctx)``.

It checks the class (``name``, ``requires``, ``cost``, ``Options`` rejecting unknown keys), then runs
the verifier on the given samples, on an empty batch and on adversarial samples it builds itself
(unknown and uncatalogued tools, huge and tiny numbers, deep nesting, empty and odd strings,
Korean and emoji text, irrelevance samples) and checks each result: one ``Verdict`` per sample, in
order, with the sample's id and the verifier's name, a snake_case code and JSON-serialisable details,
and no exception. It raises ``ConformanceError`` listing every failed check and returns the names of
the checks that passed.

    def test_my_verifier_conforms():
        check_verifier(MyVerifier, my_samples, VerifyContext(catalog=my_catalog))
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from pydantic import BaseModel, ValidationError

from schemas.models import Sample, ToolCall
from verifiers.base import Verifier, VerifyContext, contract_problems
from verifiers.registry import class_problems

_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_BOGUS_OPTION = "__surely_not_an_option__"


class ConformanceError(AssertionError):
    """A verifier that breaks the plugin contract; the message lists every failed check."""


def adversarial_samples(ctx: VerifyContext) -> list[Sample]:
    """Valid-by-contract samples that are hostile to verifiers: every verifier must judge them calmly."""
    tools = [t.name for t in ctx.catalog.tools[:3]] or ["no_such_tool"]
    first = tools[0]
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(40):
        deep = {"nested": deep}
    odd_calls: list[list[ToolCall]] = [
        [ToolCall(name="hallucinated_tool", arguments={"x": 1})],
        [ToolCall(name=first, arguments={})],
        [ToolCall(name=first, arguments={"n": 10**30, "f": 1e308, "neg": -0.0, "big": [1] * 500})],
        [ToolCall(name=first, arguments={"tiny": 5e-324, "exp": 1e-7, "neg": -(2**63), "t": True})],
        [ToolCall(name=first, arguments=deep)],
        [ToolCall(name=first, arguments={"s": "", "u": "😀 \u0000 \u202e", "k": "절점 1번"})],
        [ToolCall(name=first, arguments={"x": 1}), ToolCall(name=first, arguments={"x": 1})],
        [ToolCall(name=" spaced / name ", arguments={"": None, "null": None, "list": [[], {}, [None]]})],
    ]
    out: list[Sample] = []
    for index, calls in enumerate(odd_calls):
        offered = list(dict.fromkeys([*tools, *(c.name for c in calls)]))
        style = "parallel" if len(calls) > 1 else ("simple" if len(offered) == 1 else "multiple")
        query = [
            "?",
            "x" * 5000,
            "절점 1번을 원점에 추가해줘",
            "🙂🙂",
            "a\nb\tc",
            "DROP TABLE; --",
            "0",
            "1, 2 and 3",
        ][index % 8]
        out.append(Sample.create(query=query, language="en", style=style, tools=offered, calls=calls))
    out.append(
        Sample.create(query="Tell me a joke", language="en", style="irrelevance", tools=tools, calls=[])
    )
    out.append(
        Sample.create(
            query="농담 하나 해줘", language="ko", style="irrelevance", tools=["uncatalogued_tool"], calls=[]
        )
    )
    return out


def _check_class(cls: type, failures: list[str]) -> None:
    failures.extend(class_problems(cls))
    options = getattr(cls, "Options", None)
    if isinstance(options, type) and issubclass(options, BaseModel):
        try:
            options.model_validate({_BOGUS_OPTION: 1})
            failures.append(f"Options accepted an unknown key {_BOGUS_OPTION!r}; bad options must raise")
        except ValidationError:
            pass


def _check_verdicts(
    verifier: Verifier, batch: list[Sample], verdicts: Any, label: str, failures: list[str]
) -> None:
    problems = contract_problems(verifier.name, batch, verdicts)
    failures.extend(f"{label}: {problem}" for problem in problems)
    if problems:
        return
    for index, verdict in enumerate(verdicts):
        where = f"{label}: verdict {index}"
        if not isinstance(verdict.code, str) or not _SNAKE.match(verdict.code):
            failures.append(f"{where} has code {verdict.code!r}; codes are snake_case")
        if verdict.passed not in (True, False, None):
            failures.append(f"{where} has passed={verdict.passed!r}; use True, False or None")
        try:
            json.dumps(verdict.details, allow_nan=False)
        except (TypeError, ValueError) as exc:
            failures.append(
                f"{where} details are not strict JSON ({exc}); a Parquet/JSON shard cannot hold them"
            )


def _run(
    verifier: Verifier, batch: list[Sample], ctx: VerifyContext, label: str, failures: list[str]
) -> None:
    try:
        verdicts = verifier.verify(batch, ctx)
    except Exception as exc:
        failures.append(
            f"{label}: verify raised {type(exc).__name__}: {exc} (judge a bad sample with passed=None)"
        )
        return
    _check_verdicts(verifier, batch, verdicts, label, failures)


def check_verifier(
    cls: type,
    samples: Sequence[Sample],
    ctx: VerifyContext,
    *,
    options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Check ``cls`` against the verifier contract; raises ConformanceError naming every failure.

    ``samples`` are realistic samples for the verifier (at least one); ``options`` configure the
    instance under test. Returns the names of the checks run.
    """
    failures: list[str] = []
    _check_class(cls, failures)
    if failures:
        raise ConformanceError(
            f"{getattr(cls, '__name__', cls)} breaks the verifier contract:\n- " + "\n- ".join(failures)
        )
    # No class failures, so cls.Options is a pydantic model (``cls`` is any class, to be judged).
    options_model = cast("type[BaseModel]", getattr(cls, "Options", None))
    try:
        verifier = cls(options_model.model_validate(dict(options or {})))
    except Exception as exc:
        raise ConformanceError(
            f"{cls.__name__}(Options(**{dict(options or {})!r})) raised {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(verifier, Verifier):
        failures.append("instances do not satisfy the verifiers.base.Verifier protocol")
    if not samples:
        failures.append("give check_verifier at least one realistic sample")
    _run(verifier, list(samples), ctx, "given samples", failures)
    _run(verifier, [], ctx, "empty batch", failures)
    hostile = adversarial_samples(ctx)
    _run(verifier, hostile, ctx, "adversarial samples", failures)
    for index, sample in enumerate(hostile):  # one at a time too: batch logic must not hide a crash
        _run(verifier, [sample], ctx, f"adversarial sample {index} alone", failures)
    if failures:
        raise ConformanceError(f"{cls.__name__} breaks the verifier contract:\n- " + "\n- ".join(failures))
    return [
        "class attributes",
        "options reject unknown keys",
        "given samples",
        "empty batch",
        "adversarial samples",
    ]
