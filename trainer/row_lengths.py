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

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.models import Tool
from trainer.dataset.config import AssembleConfig
from trainer.row_length_cache import RowLengthCache, record_key

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
        texts = self.render(records)
        backend = _parallel_backend(self.tokenizer, len(texts))
        if backend is None:
            encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
            return [len(ids) for ids in encoded]
        # Tokenising is most of a cold assembly (GEN NX: ~8 of 22 s), and the Rust tokenizer lets go
        # of the GIL while it encodes: contiguous chunks in threads, counts back in order.
        workers = _workers()
        size = -(-len(texts) // workers)
        chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
        with ThreadPoolExecutor(max_workers=len(chunks), thread_name_prefix="row-lengths") as pool:
            counted = pool.map(
                lambda chunk: [len(e.ids) for e in backend.encode_batch(chunk, add_special_tokens=False)],
                chunks,
            )
            return [n for part in counted for n in part]


_PARALLEL_MIN_TEXTS = 64  # below this, threads cost more than they save


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _parallel_backend(tokenizer: Any, count: int) -> Any | None:
    """The fast tokenizer's Rust backend when it may encode from several threads and give what the
    tokenizer's own call gives: no truncation or padding configured on it (the call turns them off
    for these arguments; the backend would apply them), enough texts and cores to be worth it. Only
    the backend is shared between threads: the Python tokenizer's call reconfigures it and raises
    "Already borrowed" when two threads do that at once."""
    backend = getattr(tokenizer, "_tokenizer", None) if getattr(tokenizer, "is_fast", False) else None
    if backend is None or count < _PARALLEL_MIN_TEXTS or _workers() < 2:
        return None
    if getattr(backend, "truncation", None) is not None or getattr(backend, "padding", None) is not None:
        return None
    return backend


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


# The files a tokenizer and its chat template are read from: what a count depends on besides the record.
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "chat_template.json",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
    "added_tokens.json",
)


def _tokenizer_files(source: str) -> list[Path]:
    """The tokenizer files ``source`` would load offline: a local directory's, or the hub cache's."""
    if Path(source).is_dir():
        return [Path(source) / name for name in _TOKENIZER_FILES if (Path(source) / name).is_file()]
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return []
    found = []
    for name in _TOKENIZER_FILES:
        try:
            path = try_to_load_from_cache(source, name)
        except ValueError:  # not a valid repo id: nothing cached under it
            return []
        if isinstance(path, str):
            found.append(Path(path))
    return found


def meter_identity(source: str, corpus: Sequence[str]) -> str:
    """What a count of ``row_meter(source, corpus)`` depends on, hashed: the tokenizer files it would
    load (or, when there are none, the stand-in's corpus and size) and the versions that render and
    tokenise. Computed without loading anything, so a fully cached assembly loads no tokenizer."""
    import tokenizers
    import transformers

    digest = hashlib.sha256(f"{source}\0{transformers.__version__}\0{tokenizers.__version__}\0".encode())
    files = _tokenizer_files(source)
    if files:
        for path in files:
            digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    else:
        digest.update(f"stand-in\0{STAND_IN_VOCAB}\0".encode())
        for text in corpus:
            digest.update(hashlib.sha256(text.encode("utf-8")).digest())
    return digest.hexdigest()


class LazyRowMeter:
    """A meter for ``source`` that loads on first use (a refresh that assembles nothing loads nothing).

    With ``cache`` (``trainer.row_length_cache``), records counted before by the same tokenizer are not
    measured again, and the tokenizer is loaded only when some record is new.
    """

    def __init__(
        self, source: str, *, corpus: Sequence[str] = (), cache: RowLengthCache | None = None
    ) -> None:
        self.source, self.corpus, self.cache = source, corpus, cache
        self._meter: RowMeter | None = None
        self._identity: str | None = None
        self._cached_name: str | None = None

    @property
    def name(self) -> str:
        if self._meter:
            return self._meter.name
        return self._cached_name or f"{self.source}'s tokenizer and chat template"

    def _measure(self, records: Sequence[dict[str, Any]]) -> list[int]:
        if self._meter is None:
            tokenizer = _load(self.source)
            self._meter = (
                RowMeter(tokenizer, f"{self.source}'s tokenizer and chat template", exact=True)
                if tokenizer is not None
                else stand_in_meter(self.corpus, base_model=self.source)
            )
        return self._meter(records)

    def __call__(self, records: Sequence[dict[str, Any]]) -> list[int]:
        if self.cache is None or not records:
            return self._measure(records)
        if self._identity is None:
            self._identity = meter_identity(self.source, self.corpus)
            self._cached_name = self.cache.name(self._identity)
        keys = [record_key(r) for r in records]
        known = self.cache.get(self._identity, keys)
        missing = [i for i, key in enumerate(keys) if key not in known]
        if missing:
            counted = dict(
                zip((keys[i] for i in missing), self._measure([records[i] for i in missing]), strict=True)
            )
            self.cache.put(self._identity, self.name, counted)
            known.update(counted)
        return [known[key] for key in keys]


def row_meter(
    source: str, catalog: Iterable[Tool] = (), *, cache: RowLengthCache | None = None
) -> LazyRowMeter:
    """The meter for the base model ``source`` (hub id or local directory); loads on first use. The
    stand-in, if it comes to that, is trained on ``catalog``'s schemas (``catalog_corpus``). With
    ``cache``, counts are kept between assemblies (``trainer.row_length_cache``)."""
    return LazyRowMeter(source, corpus=catalog_corpus(catalog), cache=cache)


def length_meter(
    config: AssembleConfig, catalog: Iterable[Tool], *, cache: RowLengthCache | None = None
) -> LazyRowMeter | None:
    """The meter for ``config.lengths.tokenizer``, or none when rows are not checked or no model is named."""
    if not config.lengths.check or not config.lengths.tokenizer:
        return None
    return row_meter(config.lengths.tokenizer, catalog, cache=cache)
