"""The LLM judge of the semantic verifier: a teacher model reads the sample and answers pass or fail.

The teacher is any object with ``async complete(messages, *, json_schema=None, temperature=0.0,
seed=None)`` returning something with a ``.text`` (``generators``' Teacher client fits), placed in
``ctx.resources["teacher"]``. The judge sees the query, every offered tool (name, description,
parameters), the calls and their execution results, and must answer ``{"passed": bool, "reason": str}``.

Outcomes: ``ok`` (passed), ``judge_rejected`` (failed, the reason in the message),
``judge_unparseable`` (the answer was not that JSON: undecided). When the teacher raises for any
sample (an outage, a rate limit it gave up on), the batch raises ``VerifierUnavailable`` once every
request finished, and nothing is recorded: the judge was not asked, so there is no verdict to keep
(the flows retry the shard). Requests run concurrently, bounded by ``concurrency``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from schemas.models import Sample, Tool, Verdict
from verifiers.base import VerifierUnavailable

JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"passed": {"type": "boolean"}, "reason": {"type": "string"}},
    "required": ["passed", "reason"],
    "additionalProperties": False,
}
SYSTEM_PROMPT = (
    "You check training data for function calling. Given a user query, the tools that were offered and "
    "the tool calls made for it (with their execution results when available), decide whether the calls "
    "answer the query correctly: the right tool(s), every argument value taken from or implied by the "
    "query, nothing invented, no request left out, no extra call. Values may be stated the way people "
    "state them: converted to the unit the field takes, signed by a direction word (downward is "
    "negative), implied by words (a fixed support's code), counted from a range, or row ids numbered "
    "1, 2, ... that the query does not state. A value the query says is already set or not wanted must "
    "not be used, and a question that asks for an explanation must get no call. "
    'Reply with JSON only: {"passed": true or false, "reason": "<one sentence>"}.'
)
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def judge_messages(sample: Sample, tools: Mapping[str, Tool]) -> list[dict[str, str]]:
    """The chat messages the judge gets for one sample."""
    offered = [
        tools[name].openai_schema()["function"]
        if name in tools
        else {"name": name, "description": "(not in catalog)"}
        for name in sample.tools
    ]
    payload = {
        "query": sample.query,
        "language": sample.language,
        "offered_tools": offered,
        "calls": [c.canonical() for c in sample.calls],
        "execution_results": [r.model_dump(exclude_none=True) for r in sample.execution or []],
    }
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": json.dumps(payload, ensure_ascii=False, indent=1, default=repr)},
    ]


def parse_judgement(text: Any) -> tuple[bool, str] | None:
    """(passed, reason) from the judge's reply, or None when it is not the expected JSON."""
    if not isinstance(text, str):
        return None
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text.strip()
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("passed"), bool):
        return None
    reason = data.get("reason", "")
    return data["passed"], reason if isinstance(reason, str) else json.dumps(reason, default=repr)


async def _judge_all(
    teacher: Any,
    samples: Sequence[Sample],
    tools: Mapping[str, Tool],
    *,
    concurrency: int,
    seed: int | None,
    name: str,
) -> list[Verdict]:
    gate = asyncio.Semaphore(concurrency)

    async def one(sample: Sample) -> Verdict | Exception:
        async with gate:
            try:
                reply = await teacher.complete(
                    judge_messages(sample, tools), json_schema=JUDGE_SCHEMA, temperature=0.0, seed=seed
                )
            except Exception as exc:  # an outage is not the sample's fault: no verdict (below)
                return exc
        text = getattr(reply, "text", None)
        parsed = parse_judgement(text)
        if parsed is None:
            return Verdict(
                sample_id=sample.id,
                verifier=name,
                passed=None,
                code="judge_unparseable",
                message='the judge\'s reply was not {"passed": bool, "reason": str}',
                details={"reply": str(text)[:500]},
            )
        passed, reason = parsed
        return Verdict(
            sample_id=sample.id,
            verifier=name,
            passed=passed,
            code="ok" if passed else "judge_rejected",
            message=reason[:500],
            details={"mode": "judge"},
        )

    outcomes = await asyncio.gather(*(one(s) for s in samples))
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if errors:
        first = errors[0]
        raise VerifierUnavailable(
            f"{name}: the judge could not be asked for {len(errors)} of {len(samples)} sample(s) "
            f"(first: {type(first).__name__}: {first})"[:1000]
        ) from first
    return [o for o in outcomes if isinstance(o, Verdict)]


def judge(
    teacher: Any,
    samples: Sequence[Sample],
    tools: Mapping[str, Tool],
    *,
    concurrency: int = 8,
    seed: int | None = None,
    name: str = "semantic",
) -> list[Verdict]:
    """Judge every sample (one verdict each, in order). Works from sync code and inside a running loop
    (then the requests run on a private loop in a worker thread)."""
    run = _judge_all(teacher, samples, tools, concurrency=concurrency, seed=seed, name=name)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run).result()
