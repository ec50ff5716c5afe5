"""Few-shot examples for the teacher's prompts: a bundled seed set, plus verified samples fed back.

The bundled set (``seed_pool.json``, written for this project) has GEN NX examples in Korean and
English covering every style. ``SeedPool.add(samples)`` adds verified samples so later prompts show
examples from the user's own API. Examples are picked per work item: same style and language first,
then same style, then anything, in an order fixed by the item's seed.

    pool = SeedPool.default()
    pool.add(verified_samples)
    examples = pool.pick(style="multiple", language="ko", k=2, seed=item.seed)
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.errors import RecordError
from schemas.models import Sample, Style, ToolCall

BUNDLED = "seed_pool.json"


class SeedExample(BaseModel):
    """One example: a query, the tools it was shown, and the calls that answer it."""

    model_config = ConfigDict(extra="forbid")

    language: str
    style: Style
    tools: list[str] = Field(min_length=1)
    query: str = Field(min_length=1)
    calls: list[ToolCall] = Field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        """The ``{query, calls}`` object a teacher should write for this example."""
        return {"query": self.query, "calls": [c.canonical() for c in self.calls]}


class SeedPool:
    """An ordered collection of :class:`SeedExample`, deduplicated by query."""

    def __init__(self, examples: Iterable[SeedExample] = ()) -> None:
        self.examples: list[SeedExample] = []
        self._queries: set[str] = set()
        for example in examples:
            self._append(example)

    def __len__(self) -> int:
        return len(self.examples)

    def _append(self, example: SeedExample) -> bool:
        if example.query in self._queries:
            return False
        self._queries.add(example.query)
        self.examples.append(example)
        return True

    @classmethod
    def default(cls) -> SeedPool:
        """The bundled GEN NX examples."""
        text = resources.files("generators").joinpath(BUNDLED).read_text("utf-8")
        return cls.from_json(text, source=f"generators/{BUNDLED}")

    @classmethod
    def from_json(cls, text: str, *, source: str = "<seed pool>") -> SeedPool:
        try:
            rows = json.loads(text)
        except ValueError as exc:
            raise RecordError(f"{source}: not JSON: {exc}") from exc
        if not isinstance(rows, list):
            raise RecordError(f"{source}: expected a JSON list of examples, got {type(rows).__name__}")
        examples = []
        for i, row in enumerate(rows):
            try:
                examples.append(SeedExample.model_validate(row))
            except ValueError as exc:
                raise RecordError(f"{source}: example [{i}]: {exc}") from exc
        return cls(examples)

    def add(self, samples: Iterable[Sample]) -> int:
        """Add verified samples as examples; returns how many were new."""
        added = 0
        for sample in samples:
            example = SeedExample(
                language=sample.language,
                style=sample.style,
                tools=list(sample.tools),
                query=sample.query,
                calls=list(sample.calls),
            )
            added += self._append(example)
        return added

    def pick(self, *, style: Style | str, language: str, k: int, seed: int) -> list[SeedExample]:
        """Up to ``k`` examples, best matches first, order fixed by ``seed``."""
        if k <= 0 or not self.examples:
            return []
        style = Style(style)
        rng = random.Random(seed)

        def rank(example: SeedExample) -> tuple[int, float]:
            closeness = (example.style is not style) * 2 + (example.language != language)
            return closeness, rng.random()

        return sorted(self.examples, key=rank)[:k]
