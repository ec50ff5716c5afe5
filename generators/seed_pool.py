"""Few-shot examples for the teacher's prompts: a bundled seed set, plus accepted samples fed back.

The bundled set (``seed_pool.json``, written for this project) has, for every style and both languages
(English, Korean), at least two GEN NX examples and two generic ones (weather, calendar, orders, ...):
at least four per style and language. ``SeedPool.add(samples, source=...)`` adds accepted samples of
earlier runs, so later prompts show examples from the user's own API (the APIGen way); each example
keeps where it came from (:attr:`SeedExample.source`: ``bundled#3``, ``accepted:<sample id>``), and the
LLM generator writes the sources it showed into each sample's provenance (``few_shot``).

Examples are picked per work item from its own style only -- an example of another style teaches
the wrong shape (an irrelevance example's ``"calls": []`` shown for a parallel item) -- first those
whose tools are all in the item's catalog (the same API), then generic ones, then other APIs'; the
item's language first within each; ties in an order fixed by the item's seed.

    pool = SeedPool.default()
    pool.add(accepted_samples, source="accepted")
    examples = pool.pick(style="multiple", language="ko", k=2, seed=item.seed, catalog=catalog_names)
"""

from __future__ import annotations

import json
import random
from collections.abc import Collection, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas import shards
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
    domain: str = Field(default="", description="'generic' for API-independent examples, else the API's name")
    source: str = Field(default="", description="where the example came from (provenance)")

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
        """The bundled examples (GEN NX and generic), each with ``source`` ``bundled#<index>``."""
        text = resources.files("generators").joinpath(BUNDLED).read_text("utf-8")
        pool = cls.from_json(text, source=f"generators/{BUNDLED}")
        for index, example in enumerate(pool.examples):
            example.source = example.source or f"bundled#{index}"
        return pool

    @classmethod
    def with_accepted(cls, paths: Sequence[str | Path]) -> SeedPool:
        """The bundled pool plus the samples in ``paths`` (sample shards, Parquet) as accepted examples."""
        pool = cls.default()
        for path in paths:
            if not Path(path).is_file():
                raise RecordError(f"{path}: few-shot samples file not found")
            pool.add(shards.read_samples(path), source=f"accepted:{Path(path).name}")
        return pool

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

    def add(self, samples: Iterable[Sample], *, source: str = "accepted") -> int:
        """Add accepted samples as examples (``source`` ``<source>#<sample id>``); returns how many were new."""
        added = 0
        for sample in samples:
            example = SeedExample(
                language=sample.language,
                style=sample.style,
                tools=list(sample.tools),
                query=sample.query,
                calls=list(sample.calls),
                source=f"{source}#{sample.id}",
            )
            added += self._append(example)
        return added

    def pick(
        self,
        *,
        style: Style | str,
        language: str,
        k: int,
        seed: int,
        catalog: Collection[str] = (),
    ) -> list[SeedExample]:
        """Up to ``k`` examples of ``style`` (never another), best matches first, ties ordered by ``seed``.

        ``catalog``: the names of the item's tools' catalog; examples whose tools are all in it rank first.
        """
        if k <= 0 or not self.examples:
            return []
        style = Style(style)
        rng = random.Random(seed)

        def rank(example: SeedExample) -> tuple[int, int, float]:
            if catalog and all(t in catalog for t in example.tools):
                domain = 0
            else:
                domain = 1 if example.domain == "generic" else 2
            return domain, int(example.language != language), rng.random()

        same_style = [e for e in self.examples if e.style is style]
        return sorted(same_style, key=rank)[:k]
