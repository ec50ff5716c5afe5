"""Training rows as token ids with their loss labels, ready to be packed without padding.

    rows = tokenize_records(tokenizer, dataset, max_length=2048, assistant_only=True)
    rows.dataset        # columns input_ids, labels (-100 where no loss), one row per record
    rows.lengths        # tokens per row, after truncation: what the memory plan sizes batches by
    rows.truncated      # records longer than max_length (cut only with long_rows="truncate")

Padding-free packing: a micro-batch of N rows becomes one sequence of their concatenated tokens
(TRL's collator with ``padding_free=True``), with ``position_ids`` restarting at 0 at each row.
transformers reads those restarts as boundaries: with SDPA or eager attention it builds a
block-diagonal causal mask, with flash attention it passes ``cu_seq_lens``; a token never attends to
another row. The label of each row's first token is masked too, so a row's last token is never asked
to predict the next row. No pad token is computed on, and the effective batch stays N *records*
(not N windows of ``max_length``, as window packing would make it), so the loss curve is the padded
run's. ``tests/trainer/test_packing.py`` checks the boundaries against rows run one by one.

Tokenising here rather than inside TRL also gives each row's exact length before training (the
memory plan needs it) and counts truncated records once instead of rendering everything twice.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Literal

from schemas.errors import ConfigError

log = logging.getLogger(__name__)

IGNORE = -100  # the label of a token that carries no loss (PyTorch's cross-entropy ignore_index)

# What to do with a record longer than max_length. Cutting it loses the end of the last assistant turn --
# the tool call the row exists to teach -- so the default refuses (see ``tokenize_records``).
LongRows = Literal["error", "drop", "truncate"]


@dataclass
class TokenizedRows:
    dataset: Any  # datasets.Dataset with input_ids and labels
    lengths: list[int]
    truncated: int


def _ids(encoded: Any) -> tuple[list[int], list[int] | None]:
    if hasattr(encoded, "keys"):
        mask = encoded.get("assistant_masks")
        return list(encoded["input_ids"]), list(mask) if mask is not None else None
    return list(encoded), None


def tokenize_record(
    tokenizer: Any, record: dict[str, Any], *, assistant_only: bool, chat_template: str | None = None
) -> tuple[list[int], list[int]]:
    """``input_ids`` and ``labels`` of one ``{messages, tools}`` record, untruncated."""
    encoded = tokenizer.apply_chat_template(
        record["messages"],
        tools=record.get("tools") or None,
        chat_template=chat_template,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=assistant_only,
    )
    ids, mask = _ids(encoded)
    if not assistant_only:
        return ids, list(ids)
    if not mask or 1 not in mask:
        raise ConfigError(
            "assistant_only_loss: the chat template marks no assistant tokens in a training record "
            "(no {% generation %} block rendered); use a template with the markers or set "
            "sft.assistant_only_loss: false"
        )
    return ids, [token if keep else IGNORE for token, keep in zip(ids, mask, strict=True)]


def tokenize_records(
    tokenizer: Any,
    dataset: Any,
    *,
    max_length: int | None,
    assistant_only: bool,
    chat_template: str | None = None,
    long_rows: LongRows = "error",
) -> TokenizedRows:
    """Every record tokenised with its labels; records longer than ``max_length`` follow ``long_rows``.

    ``error`` (the default) raises ``ConfigError`` naming how many records are too long, the longest
    length and the fixes, before anything is trained: a silently cut row teaches a call without its end.
    ``drop`` leaves them out (logged); ``truncate`` cuts them at ``max_length`` (logged; rows left without
    any loss are dropped). A record of exactly ``max_length`` tokens fits.
    """

    input_ids: list[list[int]] = []
    labels: list[list[int]] = []
    truncated = dropped = 0
    longest = 0
    for record in dataset:
        ids, row_labels = tokenize_record(
            tokenizer, record, assistant_only=assistant_only, chat_template=chat_template
        )
        if max_length and len(ids) > max_length:
            truncated += 1
            longest = max(longest, len(ids))
            if long_rows != "truncate":
                continue
            ids, row_labels = ids[:max_length], row_labels[:max_length]
        if all(label == IGNORE for label in row_labels[1:]):
            dropped += 1  # cut before its assistant turn: nothing left to learn from
            continue
        input_ids.append(ids)
        labels.append(row_labels)
    if truncated and long_rows == "error":
        raise ConfigError(
            f"{truncated} of {len(dataset)} training records are longer than sft.max_length={max_length} "
            f"tokens (the longest has {longest}); cutting them would lose the end of their assistant turn, "
            f"the tool call. Raise sft.max_length to at least {longest}, re-assemble the dataset with "
            "assemble.lengths.max_length set to the training max_length (rows are then fitted or dropped), "
            "or set long_rows: drop (leave them out) or long_rows: truncate (cut them) in the trainer config"
        )
    if truncated and long_rows == "drop":
        log.warning(
            "%d of %d training records are longer than sft.max_length=%s tokens and are left out "
            "(long_rows: drop); the longest has %d tokens",
            truncated,
            len(dataset),
            max_length,
            longest,
        )
    if truncated and long_rows == "truncate":
        log.warning(
            "%d of %d training records are longer than sft.max_length=%s tokens and lose the end of their "
            "assistant turn (%d lost all of it and are left out); raise sft.max_length or offer fewer tools",
            truncated,
            len(dataset),
            max_length,
            dropped,
        )
    if not input_ids:
        raise ConfigError(f"no training record keeps any assistant token within max_length={max_length}")
    return TokenizedRows(
        dataset=rows_dataset(input_ids, labels),
        lengths=[len(ids) for ids in input_ids],
        truncated=truncated,
    )


def rows_dataset(input_ids: list[list[int]], labels: list[list[int]]) -> Any:
    """The tokenised rows as a ``datasets.Dataset`` (``input_ids``: lists of int32, ``labels``: of int64).

    Built from an Arrow table with a fingerprint of its bytes: without one, datasets pickles the table
    with dill to make one up, which disassembles a function with print() while it captures stdout --
    eleven lines of bytecode in the log of a flow that logs prints (``train`` does).
    """
    import pyarrow as pa
    from datasets import Dataset

    # the types from_dict gives these columns (datasets stores token ids as int32)
    table = pa.table(
        {
            "input_ids": pa.array(input_ids, pa.list_(pa.int32())),
            "labels": pa.array(labels, pa.list_(pa.int64())),
        }
    )
    digest = hashlib.sha256()
    for array in table.columns:
        for chunk in array.chunks:
            for buffer in chunk.buffers():
                if buffer is not None:
                    digest.update(buffer)
    return Dataset(table, fingerprint=digest.hexdigest()[:16])
