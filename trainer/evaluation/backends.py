"""The models an evaluation compares, behind one interface: conversations in, reply texts out.

* ``LocalBackend`` — a local or hub model, optionally with a LoRA adapter (``trainer.inference``).
  The fine-tuned model and its ablation (the same base without the adapter) are two of these.
* ``ConstrainedBackend`` — the same loaded local model with JSON-schema-constrained decoding
  (``trainer.evaluation.constrained``): every reply is a schema-valid call. ``ModelSpec(constrained=True)`` runs a
  local model both ways, reported as ``<label>`` and ``<label>+constrained``.
* ``EndpointBackend`` — any OpenAI-compatible server (the teacher, vLLM, Ollama, …) called with the
  same messages and the tools as native ``tools``; its ``tool_calls`` are rendered back into
  ``<tool_call>`` blocks so every model's reply goes through the same parser.

Every backend answers at temperature 0 by default, so a comparison is repeatable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.errors import ConfigError

# A request that failed (after the client's retries) comes back as this text, and is scored as an
# unreadable reply: one bad request costs one example, not the run.
REQUEST_FAILED = "<error>"

Messages = list[dict[str, Any]]
ToolSchemas = list[dict[str, Any]]


class ModelSpec(BaseModel):
    """One model to evaluate. ``label`` names it in the report."""

    model_config = ConfigDict(extra="forbid")

    label: str
    kind: Literal["local", "endpoint"] = "local"
    model: str = Field(description="hub id or local path (local), or the served model name (endpoint)")
    adapter: Path | None = Field(default=None, description="LoRA adapter directory (local only)")
    base_url: str | None = Field(default=None, description="OpenAI-compatible base URL (endpoint only)")
    api_key_env: str = Field(default="CALLFORGE_TEACHER_API_KEY", description="variable holding the key")
    device: str = Field(default="auto", description="auto, cuda or cpu (local only)")
    constrained: bool = Field(
        default=False,
        description="also run with schema-constrained decoding, reported as '<label>+constrained' (local only)",
    )

    @model_validator(mode="after")
    def _kind_fits(self) -> ModelSpec:
        if self.kind == "endpoint" and (self.constrained or self.adapter is not None):
            field = "constrained" if self.constrained else "adapter"
            raise ValueError(f"{field} applies to local models only (model {self.label!r} is an endpoint)")
        return self


class Backend(Protocol):
    """``generate`` returns one reply per conversation; a backend that can tell which replies ran
    into ``max_new_tokens`` sets ``last_budget_hits`` (one bool per reply of the last call)."""

    label: str

    def generate(
        self, conversations: Sequence[Messages], tools: Sequence[ToolSchemas], *, max_new_tokens: int
    ) -> list[str]: ...


class LocalBackend:
    """A local model (and optional LoRA adapter) through ``trainer.inference.LocalModel``."""

    def __init__(self, spec: ModelSpec) -> None:
        from trainer.inference import LocalModel

        self.label = spec.label
        self.model = LocalModel.load(spec.model, adapter=spec.adapter, device=spec.device)

    def generate(
        self, conversations: Sequence[Messages], tools: Sequence[ToolSchemas], *, max_new_tokens: int
    ) -> list[str]:
        replies = self.model.generate(list(conversations), list(tools), max_new_tokens=max_new_tokens)
        # Re-encoding the reply counts the tokens it took (within a token or two of what was generated):
        # a reply that long ran into the budget and may be cut off.
        tokenizer = self.model.tokenizer
        self.last_budget_hits = [
            len(tokenizer.encode(reply, add_special_tokens=False)) >= max_new_tokens - 1 for reply in replies
        ]
        return replies


class ConstrainedBackend:
    """A loaded local model whose replies are forced into schema-valid tool calls."""

    def __init__(self, local: LocalBackend) -> None:
        from trainer.evaluation.constrained import ConstrainedDecoder

        self.label = f"{local.label}+constrained"
        self._decoder = ConstrainedDecoder(local.model)

    def generate(
        self, conversations: Sequence[Messages], tools: Sequence[ToolSchemas], *, max_new_tokens: int
    ) -> list[str]:
        replies = self._decoder.generate(conversations, tools, max_new_tokens=max_new_tokens)
        self.last_budget_hits = list(self._decoder.last_budget_hits)
        return replies


def render_tool_calls(tool_calls: Sequence[Any], content: str | None) -> str:
    """An endpoint's native tool calls as ``<tool_call>`` blocks (Hermes / Qwen style)."""
    blocks = []
    for tc in tool_calls:
        arguments = tc.function.arguments
        # A string that is not JSON stays a string: the parser reports it as unreadable, as it should.
        with contextlib.suppress(json.JSONDecodeError):
            arguments = json.loads(arguments) if isinstance(arguments, str) else arguments
        blocks.append(
            "<tool_call>\n"
            + json.dumps({"name": tc.function.name, "arguments": arguments})
            + "\n</tool_call>"
        )
    if not blocks:
        return content or ""
    # the words beside the calls stay with them: a multi-turn rollout sends both back to the model
    words = (content or "").strip()
    return "\n".join([words, *blocks] if words else blocks)


def wire_messages(messages: Messages) -> Messages:
    """Messages as OpenAI's API takes them: a tool call's arguments as a JSON string (callforge's
    records and the chat templates keep them as objects)."""
    out = []
    for message in messages:
        calls = message.get("tool_calls")
        if calls:
            message = {
                **message,
                "tool_calls": [
                    {
                        **call,
                        "function": {
                            **call["function"],
                            "arguments": call["function"]["arguments"]
                            if isinstance(call["function"].get("arguments"), str)
                            else json.dumps(call["function"].get("arguments") or {}, ensure_ascii=False),
                        },
                    }
                    for call in calls
                ],
            }
        out.append(message)
    return out


class EndpointBackend:
    def __init__(self, spec: ModelSpec, *, concurrency: int = 8, timeout_s: float = 120.0) -> None:
        from openai import AsyncOpenAI

        if not spec.base_url:
            raise ConfigError(
                f"model {spec.label!r}: an endpoint needs base_url (e.g. http://127.0.0.1:8000/v1)"
            )
        self.label = spec.label
        self._model = spec.model
        self._concurrency = concurrency
        # A local server often needs no key; the client still wants a non-empty one.
        key = os.environ.get(spec.api_key_env) or "not-needed"
        self._base_url, self._api_key, self._timeout_s = spec.base_url, key, timeout_s
        self._client_cls = AsyncOpenAI

    def generate(
        self, conversations: Sequence[Messages], tools: Sequence[ToolSchemas], *, max_new_tokens: int
    ) -> list[str]:
        answers = asyncio.run(self._generate(conversations, tools, max_new_tokens))
        # The server says when it stopped at max_tokens ("length"); a failed request says nothing.
        self.last_budget_hits = [reason == "length" for _, reason in answers]
        return [text for text, _ in answers]

    async def _generate(
        self, conversations: Sequence[Messages], tools: Sequence[ToolSchemas], max_new_tokens: int
    ) -> list[tuple[str, str | None]]:
        gate = asyncio.Semaphore(self._concurrency)
        async with self._client_cls(
            base_url=self._base_url, api_key=self._api_key, timeout=self._timeout_s, max_retries=2
        ) as client:

            async def one(messages: Messages, offered: ToolSchemas) -> tuple[str, str | None]:
                async with gate:
                    try:
                        # openai types messages and tools as TypedDicts; ours are the same JSON as
                        # plain dicts (the chat template's input), so the stubs cannot see they fit.
                        response = await client.chat.completions.create(
                            model=self._model,
                            messages=wire_messages(messages),  # type: ignore[arg-type]
                            tools=offered or None,  # type: ignore[arg-type]
                            temperature=0.0,
                            max_tokens=max_new_tokens,
                        )
                    except Exception as exc:  # one failed request is one unparseable reply, not a crash
                        return f"{REQUEST_FAILED}{type(exc).__name__}: {exc}</error>", None
                choice = response.choices[0]
                return render_tool_calls(
                    choice.message.tool_calls or [], choice.message.content
                ), choice.finish_reason

            return await asyncio.gather(*(one(m, t) for m, t in zip(conversations, tools, strict=True)))


def request_failed(reply: str) -> bool:
    """Whether a backend's reply stands for a failed request rather than model output."""
    return reply.startswith(REQUEST_FAILED)


def make_backend(spec: ModelSpec) -> Backend:
    return LocalBackend(spec) if spec.kind == "local" else EndpointBackend(spec)


def labels(spec: ModelSpec) -> list[str]:
    """The report labels ``spec`` produces."""
    return [spec.label, f"{spec.label}+constrained"] if spec.constrained else [spec.label]


def backends_for(specs: Sequence[ModelSpec]) -> Iterator[Backend]:
    """The backends of ``specs`` in order, each loaded only when reached (one big model in memory at a
    time); a constrained run follows its plain run and shares its loaded weights."""
    for spec in specs:
        backend = make_backend(spec)
        yield backend
        if spec.constrained and isinstance(backend, LocalBackend):
            yield ConstrainedBackend(backend)
