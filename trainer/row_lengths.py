"""The meter assembly measures training rows with: the base model's chat template and tokenizer.

    meter = row_meter("Qwen/Qwen2.5-1.5B-Instruct", catalog)
    meter.name                       # what measured (the card prints it)
    meter(records)                   # tokens per TRL record {messages, tools}

A record's length is ``len(tokenizer.apply_chat_template(messages, tools=tools, tokenize=True))``: exactly
what ``trainer.packing`` tokenises before training (the training template renders like the original).
Rendering and tokenising are done in two batched steps, which gives the same ids.

The tokenizer is loaded with ``local_files_only`` (a hub id already cached, or a local directory): a
refresh never reaches the network for it. When it cannot be loaded, or has no chat template, the meter
is a **stand-in**: rows rendered with Qwen2.5's chat template and counted by a Qwen2-style byte-level BPE
(``trainer.tiny.qwen2_style_tokenizer``: Qwen2's normalizer and pre-tokenizer, so digits split one per
token as in Qwen2.5) trained on the catalog's tool schemas -- most of a row's tokens -- so the same
catalog always gives the same stand-in (assembly and ``benchmarks/splits_quality.py`` agree). Its
counts are not the base model's; the trainer re-measures exactly and refuses rows that do not fit
(``long_rows``), so a stand-in that counts low shows up there, never as a silently cut row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.models import Tool
from trainer.dataset.config import AssembleConfig

log = logging.getLogger(__name__)

STAND_IN_VOCAB = 8192  # large enough that frequent JSON keys and words are single tokens, as in Qwen2.5


@dataclass
class RowMeter:
    """Tokens per TRL record; ``name`` says what measures (a model's tokenizer, or the stand-in)."""

    tokenizer: Any
    name: str
    exact: bool

    def render(self, records: Sequence[dict[str, Any]]) -> list[str]:
        return [
            self.tokenizer.apply_chat_template(r["messages"], tools=r.get("tools") or None, tokenize=False)
            for r in records
        ]

    def __call__(self, records: Sequence[dict[str, Any]]) -> list[int]:
        if not records:
            return []
        encoded = self.tokenizer(self.render(records), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]


def _load(source: str) -> Any | None:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError, KeyError, ImportError) as exc:
        log.info("row lengths: %s's tokenizer is not available offline (%s); using the stand-in", source, exc)
        return None
    return tokenizer if getattr(tokenizer, "chat_template", None) else None


def stand_in_meter(corpus: Sequence[str], *, base_model: str) -> RowMeter:
    """The stand-in (see the module docstring), its BPE trained on ``corpus`` (the catalog's schemas)."""
    from trainer.tiny import qwen2_style_tokenizer

    tokenizer = qwen2_style_tokenizer(list(corpus), vocab_size=STAND_IN_VOCAB)
    name = (
        f"a stand-in ({base_model}'s tokenizer is not available offline): Qwen2.5's chat template and a "
        f"{STAND_IN_VOCAB:,}-token Qwen2-style byte-level BPE trained on the catalog's {len(corpus):,} tool "
        "schemas -- not the model's exact count; the trainer re-measures and refuses rows that do not fit"
    )
    return RowMeter(tokenizer, name, exact=False)


def catalog_corpus(catalog: Iterable[Tool]) -> list[str]:
    """Each tool as the chat template shows it (its OpenAI function schema as JSON): the stand-in's corpus."""
    return [json.dumps(tool.openai_schema(), ensure_ascii=False) for tool in catalog]


class LazyRowMeter:
    """A meter for ``source`` that loads on first use (a refresh that assembles nothing loads nothing)."""

    def __init__(self, source: str, *, corpus: Sequence[str] = ()) -> None:
        self.source, self.corpus = source, corpus
        self._meter: RowMeter | None = None

    @property
    def name(self) -> str:
        return self._meter.name if self._meter else f"{self.source}'s tokenizer and chat template"

    def __call__(self, records: Sequence[dict[str, Any]]) -> list[int]:
        if self._meter is None:
            tokenizer = _load(self.source)
            self._meter = (
                RowMeter(tokenizer, f"{self.source}'s tokenizer and chat template", exact=True)
                if tokenizer is not None
                else stand_in_meter(self.corpus, base_model=self.source)
            )
        return self._meter(records)


def row_meter(source: str, catalog: Iterable[Tool] = ()) -> LazyRowMeter:
    """The meter for the base model ``source`` (hub id or local directory); loads on first use. The
    stand-in, if it comes to that, is trained on ``catalog``'s schemas (``catalog_corpus``)."""
    return LazyRowMeter(source, corpus=catalog_corpus(catalog))


def length_meter(config: AssembleConfig, catalog: Iterable[Tool]) -> LazyRowMeter | None:
    """The meter for ``config.lengths.tokenizer``, or none when rows are not checked or no model is named."""
    if not config.lengths.check or not config.lengths.tokenizer:
        return None
    return row_meter(config.lengths.tokenizer, catalog)
