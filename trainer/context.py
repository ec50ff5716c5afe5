"""Does a prompt, with the tools it offers, fit the model's context? Checked before generating.

    budget = ContextBudget.of(model, tokenizer)
    fit = budget.measure(render, messages, tools, max_new_tokens=256)
    if not fit.fits: raise ContextOverflow(fit.message())

Offering a whole catalog is the usual way to overflow: the 918 GEN NX tools render to ~336k tokens
against Qwen2.5's 32k. A model given a prompt longer than its context does not fail loudly: positions
past the trained range produce garbage (or the tokenizer truncates the start, the system prompt and
the tools). So ``chat`` and ``serve`` refuse such a request, naming how many tokens the tools take.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from schemas.errors import ConfigError

# Tokenizers without a limit report a huge sentinel (1e30); anything above this is not a real limit.
_NO_LIMIT = 10_000_000


class ContextOverflow(ConfigError):
    """The prompt (mostly its tools) plus the reply would not fit in the model's context."""


@dataclass(frozen=True)
class ContextFit:
    """What one request spends of the context."""

    prompt_tokens: int
    tool_tokens: int  # of prompt_tokens, what rendering the offered tools costs
    tools: int
    max_new_tokens: int
    limit: int

    @property
    def fits(self) -> bool:
        return self.prompt_tokens + self.max_new_tokens <= self.limit

    def message(self) -> str:
        return (
            f"the prompt takes {self.prompt_tokens:,} tokens ({self.tool_tokens:,} of them for the "
            f"{self.tools} offered tools) and the reply up to {self.max_new_tokens:,}, but the model's "
            f"context holds {self.limit:,}; offer fewer tools (only those the request may need) or "
            "lower the reply's token limit"
        )


@dataclass(frozen=True)
class ContextBudget:
    """The number of tokens a model attends over, from its config (and the tokenizer's own limit)."""

    limit: int
    count: Callable[[str], int]

    @classmethod
    def of(cls, model: Any, tokenizer: Any) -> ContextBudget:
        config: Any = getattr(model, "config", None)
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        limits = [
            getattr(text_config, "max_position_embeddings", None),
            getattr(tokenizer, "model_max_length", None),
        ]
        real = [int(n) for n in limits if isinstance(n, int | float) and 0 < n < _NO_LIMIT]
        limit = min(real) if real else _NO_LIMIT

        def count(text: str) -> int:
            return len(tokenizer(text, add_special_tokens=False)["input_ids"])

        return cls(limit=limit, count=count)

    def measure(
        self,
        render: Callable[[list[dict[str, Any]], list[dict[str, Any]] | None], str],
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        *,
        max_new_tokens: int,
    ) -> ContextFit:
        """Render ``messages`` with and without ``tools``; the difference is what the tools cost."""
        prompt = self.count(render(messages, tools))
        bare = self.count(render(messages, None)) if tools else prompt
        return ContextFit(
            prompt_tokens=prompt,
            tool_tokens=max(prompt - bare, 0),
            tools=len(tools or []),
            max_new_tokens=max_new_tokens,
            limit=self.limit,
        )

    def require(self, fit: ContextFit) -> ContextFit:
        """``fit`` unchanged when it fits, else ``ContextOverflow`` saying by how much and why."""
        if not fit.fits:
            raise ContextOverflow(fit.message())
        return fit
