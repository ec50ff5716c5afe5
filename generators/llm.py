"""The LLM generator: work items in, candidate samples (or recorded failures) out, via a teacher.

For each :class:`~generators.plan.WorkItem` it builds the prompt (:mod:`generators.prompts`), asks the
teacher, reads the JSON it wrote (:mod:`generators.parsing`) and builds a :class:`~schemas.models.Sample`.
Every item ends as exactly one of:

* a ``Sample`` with ``provenance.generator == "llm"`` (teacher model, prompt version, item seed and id);
* a failure dict ``{item_id, code, message, details}``, ``code`` one of: the teacher's error codes
  (``teacher_error_rate_limited``, ``teacher_http_500``, ``teacher_error_timeout``, …),
  ``malformed_json`` (no JSON object in the reply), ``too_large`` / ``too_deep`` (the reply exceeds
  ``generators.parsing``'s size or nesting limits), ``wrong_shape`` (JSON, but not ``{query, calls}``; a call with ``parameters`` and no ``arguments``),
  ``wrong_calls`` (calls other than the planned targets), ``invalid_sample`` (the Sample contract
  refused it), ``unknown_tool`` (the item names a tool the catalog lacks), ``generator_error`` (a bug).

Nothing is dropped silently and no item's failure stops the others: :meth:`LLMGenerator.generate_item`
raises nothing (``RecursionError`` and bugs included). A reply that does not become a sample is
rejected in the teacher's cache (kept apart, never served again), so a rerun asks afresh instead of
failing the same way. Whether the arguments fit their schemas is the verifiers' job, not this module's.

A bad answer (``malformed_json`` … ``invalid_sample``) may come out right when asked again, but that
costs a request, so only ``--retry-failed`` asks; a ``teacher_*`` code means no answer came, and the
next run retries it by default (:func:`retried_by_default`).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError

from generators.parsing import JSONExtractionError, parse_json_object
from generators.plan import WorkItem
from generators.prompts import PROMPT_VERSION, RESPONSE_SCHEMA, build_messages
from generators.seed_pool import SeedExample, SeedPool
from generators.teacher import Teacher
from generators.teacher_errors import TeacherError
from schemas.catalog import Catalog
from schemas.field_values import documented_siblings
from schemas.models import Provenance, Sample, Tool, ToolCall

_EXCERPT = 400
ANSWER_KEYS = ("query", "calls")  # the object a reply is read for, among any others it contains


def retried_by_default(code: str) -> bool:
    """Whether an item that failed with ``code`` is generated again by the next run without being asked.

    Yes when no answer came (``teacher_*``: transport, 5xx, 429, auth, a stopped circuit) or when our
    own code failed (``generator_error``); no for a bad answer (``malformed_json``, ``too_deep``,
    ``wrong_shape``, …), an item the catalog cannot serve (``unknown_tool``) or an offline failure.
    """
    return code.startswith("teacher_") or code == "generator_error"


def failure(item: WorkItem | str, code: str, message: str, **details: Any) -> dict[str, Any]:
    """A generation failure record (the shape ``schemas.shards.write_failures`` stores)."""
    item_id = item if isinstance(item, str) else item.id
    if not isinstance(item, str):
        details = {"style": item.style.value, "language": item.language, "subject": item.subject, **details}
    return {"item_id": item_id, "code": code, "message": message, "details": details}


def teacher_seed(item: WorkItem) -> int:
    """The item's seed folded into 31 bits: some OpenAI-compatible servers reject larger seeds."""
    return item.seed % (2**31 - 1)


class AnswerError(ValueError):
    """A teacher answer that cannot become a sample; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _calls(raw: Any) -> list[ToolCall]:
    if not isinstance(raw, list):
        raise AnswerError("wrong_shape", f"'calls' must be a list, got {type(raw).__name__}")
    calls = []
    for i, entry in enumerate(raw):
        if isinstance(entry, dict) and isinstance(entry.get("function"), dict):
            entry = entry["function"]  # an OpenAI tool_calls entry
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise AnswerError("wrong_shape", f"calls[{i}] must be an object with a string 'name'")
        if "arguments" not in entry and "parameters" in entry:
            # Likely the arguments under the schema's word; reading them would guess, dropping them
            # would make an empty call that may even validate: neither, the reply is refused.
            raise AnswerError(
                "wrong_shape",
                f"calls[{i}] has 'parameters' but no 'arguments'; the values belong under 'arguments'",
            )
        arguments = entry.get("arguments")
        if isinstance(arguments, str):  # some teachers JSON-encode arguments, as the OpenAI API does
            try:
                arguments = json.loads(arguments) if arguments.strip() else None
            except ValueError as exc:
                raise AnswerError(
                    "wrong_shape", f"calls[{i}].arguments is a string that is not JSON"
                ) from exc
        if arguments is None:  # absent, null or "null": a call without arguments (parameterless GETs)
            arguments = {}
        if not isinstance(arguments, dict):
            raise AnswerError("wrong_shape", f"calls[{i}].arguments must be an object")
        calls.append(ToolCall(name=entry["name"], arguments=arguments))
    return calls


def sample_from_answer(answer: dict[str, Any], item: WorkItem, *, provenance: Provenance) -> Sample:
    """The sample a ``{query, calls}`` answer describes for ``item``; raises :class:`AnswerError`."""
    query = answer.get("query")
    if not isinstance(query, str) or not query.strip():
        raise AnswerError("wrong_shape", "the answer needs a non-empty string 'query'")
    if "calls" not in answer:
        raise AnswerError("wrong_shape", "the answer has no 'calls' list")
    calls = _calls(answer["calls"])
    got = Counter(c.name for c in calls)
    if got != Counter(item.targets):
        raise AnswerError(
            "wrong_calls", f"planned calls {item.targets}, the answer calls {[c.name for c in calls]}"
        )
    try:
        return Sample.create(
            query=query.strip(),
            language=item.language,
            style=item.style,
            tools=list(item.offered),
            calls=calls,
            tier=item.tier,
            provenance=provenance,
        )
    except ValidationError as exc:
        raise AnswerError(
            "invalid_sample", str(exc).splitlines()[0] + ": " + str(exc.errors()[0]["msg"])
        ) from exc


class LLMGenerator:
    """Turns work items into samples with a :class:`~generators.teacher.Teacher`."""

    def __init__(
        self,
        teacher: Teacher,
        catalog: Catalog,
        *,
        teacher_model: str,
        seed_pool: SeedPool | None = None,
        few_shot: int = 2,
        temperature: float = 0.7,
        structured_output: bool = True,
    ) -> None:
        self.teacher = teacher
        self.catalog = catalog
        self.teacher_model = teacher_model
        self.seed_pool = seed_pool if seed_pool is not None else SeedPool.default()
        self.few_shot = few_shot
        self.temperature = temperature
        self.json_schema = RESPONSE_SCHEMA if structured_output else None

    def examples(self, item: WorkItem) -> list[SeedExample]:
        """The few-shot examples ``item``'s prompt shows."""
        return self.seed_pool.pick(
            style=item.style,
            language=item.language,
            k=self.few_shot,
            seed=item.seed,
            catalog=self.catalog.by_name,
        )

    def messages(self, item: WorkItem) -> list[dict[str, str]]:
        """The prompt for ``item`` (raises KeyError for a tool the catalog lacks)."""
        offered = [self.catalog[name] for name in item.offered]
        subject = self.catalog[item.subject]
        siblings = {name: self._documented[name] for name in item.targets if name in self._documented}
        return build_messages(item, offered, subject=subject, examples=self.examples(item), siblings=siblings)

    @functools.cached_property
    def _documented(self) -> dict[str, Tool]:
        """Tool name -> the tool with the same rows and a documented example request, for tools without
        one (an update learns its codes from the create of the same rows)."""
        return documented_siblings(self.catalog)

    async def generate_item(self, item: WorkItem) -> Sample | dict[str, Any]:
        """One item: a Sample, or a failure dict. Never raises (but for cancellation)."""
        try:
            return await self._generate_item(item)
        except Exception as exc:  # a bug (RecursionError included) must cost one item, not the shard
            return failure(item, "generator_error", f"{type(exc).__name__}: {str(exc)[:_EXCERPT]}")

    async def _generate_item(self, item: WorkItem) -> Sample | dict[str, Any]:
        try:
            messages = self.messages(item)
        except KeyError as exc:
            return failure(item, "unknown_tool", str(exc.args[0] if exc.args else exc))
        try:
            reply = await self.teacher.complete(
                messages,
                json_schema=self.json_schema,
                temperature=self.temperature,
                seed=teacher_seed(item),
                store=False,  # cached by keep() once it became a sample, else kept apart by reject()
            )
        except TeacherError as exc:
            return failure(item, exc.code, exc.message, **exc.details())
        try:
            sample = self._sample(reply.text, item)
        except AnswerError as exc:
            self.teacher.reject(reply, reason=exc.code, message=str(exc))
            return failure(item, exc.code, str(exc), reply=reply.text[:_EXCERPT], cached=reply.cached)
        except Exception:
            self.teacher.reject(reply, reason="generator_error", message="reading the reply raised")
            raise
        self.teacher.keep(reply)
        return sample

    def _sample(self, text: str, item: WorkItem) -> Sample:
        """The sample a reply describes; raises :class:`AnswerError` with the failure code."""
        try:
            answer = parse_json_object(text, prefer=ANSWER_KEYS)
        except JSONExtractionError as exc:
            raise AnswerError(exc.code, str(exc)) from exc
        provenance = Provenance(
            generator="llm",
            teacher_model=self.teacher_model,
            prompt_version=PROMPT_VERSION,
            seed=item.seed,
            work_item=item.id,
            few_shot=[e.source for e in self.examples(item)] or None,
        )
        try:
            return sample_from_answer(answer, item, provenance=provenance)
        except RecursionError as exc:  # nesting under the parse limit can still be too deep to validate
            raise AnswerError("too_deep", "the answer nests too deeply to validate") from exc

    async def generate(
        self, items: Iterable[WorkItem], *, progress: Callable[[int], None] | None = None
    ) -> tuple[list[Sample], list[dict[str, Any]]]:
        """All items concurrently (the teacher bounds concurrency); results in item order."""
        items = list(items)

        async def one(item: WorkItem) -> Sample | dict[str, Any]:
            result = await self.generate_item(item)
            if progress is not None:
                progress(1)
            return result

        results = await asyncio.gather(*(one(item) for item in items))
        samples = [r for r in results if isinstance(r, Sample)]
        failures = [r for r in results if not isinstance(r, Sample)]
        return samples, failures
