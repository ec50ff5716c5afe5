"""Write the splits in every export format into one dataset directory.

    rows = write_exports(out_dir, splits, catalog, ExportOptions(include_tool_responses=True))

In: the splits (name -> ``Sample``s), the catalog and the ``ExportOptions``; optionally ``Encoders``
warmed ahead. Out: the files below, and the number of rows written per ``format/split``.

Layout under ``out_dir`` (one file per split and format; ``SPLIT`` in train, validation, test_seen,
test_unseen):

* ``hf/`` — a ``datasets.DatasetDict`` (``save_to_disk``) with columns ``messages`` and ``tools``
  typed ``List(Json())`` plus ``id``, ``style``, ``language``, ``tier``. ``Json()`` keeps each tool
  call's arguments exactly as written; Arrow structs would merge every tool's argument keys into one
  type and fill the missing ones with nulls.
* ``trl/SPLIT.jsonl`` and ``trl/SPLIT.parquet`` — the TRL conversational tool-calling records of
  ``schemas.records.to_trl``. The Parquet stores ``messages`` / ``tools`` as lists of Arrow JSON values
  (plain JSON strings to any Parquet reader) with the Hugging Face feature metadata, so
  ``datasets.load_dataset("parquet", ...)`` decodes them back to dicts with nothing mangled.
* ``xlam/SPLIT.{jsonl,parquet}`` — ``to_xlam`` records (``tools`` / ``answers`` are JSON strings).
* ``flat/SPLIT.{jsonl,parquet}`` — ``to_flat`` records, single-call samples only.

The records are those of the ``schemas.records`` functions (the single definition of each format;
tests hold every export to them); ``trainer.dataset.encoders`` turns samples into them, specialised for speed.
This module writes them: the common TRL record (and its JSON line) is encoded while the split still
waits for its clusters (``Encoders.warm``), and the file writes (Arrow, polars and file I/O release
the GIL) run on a second thread while the next format is encoded. ``benchmarks/assemble.py`` measures
it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.canonical import content_hash
from schemas.catalog import Catalog
from schemas.models import Sample
from trainer.dataset.apigen_text import apigen_text_record
from trainer.dataset.config import ExportOptions
from trainer.dataset.encoders import Encoders, FlatEncoder, TrlEncoder, XlamEncoder, hf_features


class Writes:
    """File writes handed to one background thread, so they overlap with encoding the next format.

    Arrow, polars and file I/O release the GIL while they compress and write; the encoders are Python
    and hold it. ``wait`` re-raises the first failure. Without a ``Writes`` the functions below write
    synchronously.
    """

    def __init__(self, pool: Executor) -> None:
        self._pool = pool
        self._futures: list[Future[Any]] = []

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._futures.append(self._pool.submit(fn, *args))

    def wait(self) -> None:
        for future in self._futures:
            future.result()


def _run(writes: Writes | None, fn: Callable[..., Any], *args: Any) -> None:
    if writes is None:
        fn(*args)
    else:
        writes.submit(fn, *args)


def _write_lines(path: Path, lines: list[str]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
        if lines:
            handle.write("\n")


def _write_table(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd")


def _write_frame(directory: Path, split: str, frame: pl.DataFrame) -> None:
    frame.write_parquet(directory / f"{split}.parquet", compression="zstd")
    frame.write_ndjson(directory / f"{split}.jsonl")


def write_trl(
    out_dir: Path, splits: Mapping[str, Sequence[Sample]], encoder: TrlEncoder, writes: Writes | None = None
) -> dict[str, pa.Table]:
    """``trl/SPLIT.jsonl`` and ``trl/SPLIT.parquet``; returns the Arrow tables for the HF export."""
    directory = out_dir / "trl"
    directory.mkdir(parents=True, exist_ok=True)
    tables: dict[str, pa.Table] = {}
    for split, samples in splits.items():
        table, lines = encoder.encode(samples)
        _run(writes, _write_lines, directory / f"{split}.jsonl", lines)
        _run(writes, _write_table, table, directory / f"{split}.parquet")
        tables[split] = table
    return tables


def write_hf(out_dir: Path, tables: Mapping[str, pa.Table]) -> Path:
    """``hf/``: a DatasetDict of the TRL tables, saved with ``save_to_disk``."""
    from datasets import Dataset, DatasetDict, DatasetInfo

    features = hf_features()
    # An explicit fingerprint: without one, datasets pickles and hashes the whole table (seconds per
    # 100k rows) to make one up. The ids and split name identify the content just as well.
    dataset = DatasetDict(
        {
            split: Dataset(
                table,
                info=DatasetInfo(features=features),
                fingerprint=content_hash([split, table.column("id").to_pylist()], length=16),
            )
            for split, table in tables.items()
        }
    )
    # An empty split must be saved as one (empty) shard: datasets 5.2 otherwise writes no shard file
    # and cannot load the split back.
    dataset.save_to_disk(str(out_dir / "hf"), num_shards={s: 1 for s, t in tables.items() if t.num_rows == 0})
    return out_dir / "hf"


def write_xlam(
    out_dir: Path, splits: Mapping[str, Sequence[Sample]], encoder: XlamEncoder, writes: Writes | None = None
) -> None:
    """``xlam/SPLIT.jsonl`` and ``xlam/SPLIT.parquet``."""
    (out_dir / "xlam").mkdir(parents=True, exist_ok=True)
    for split, samples in splits.items():
        _run(writes, _write_frame, out_dir / "xlam", split, encoder.frame(samples))


def write_flat(
    out_dir: Path, splits: Mapping[str, Sequence[Sample]], encoder: FlatEncoder, writes: Writes | None = None
) -> None:
    """``flat/SPLIT.jsonl`` and ``flat/SPLIT.parquet`` (single-call samples only)."""
    (out_dir / "flat").mkdir(parents=True, exist_ok=True)
    for split, samples in splits.items():
        _run(writes, _write_frame, out_dir / "flat", split, encoder.frame(samples))


def write_apigen_text(
    out_dir: Path, splits: Mapping[str, Sequence[Sample]], catalog: Catalog
) -> dict[str, int]:
    """``apigen_text/SPLIT.jsonl`` and ``apigen_text/hf`` (a DatasetDict ``callforge train`` reads)."""
    import json

    from datasets import Dataset, DatasetDict

    directory = out_dir / "apigen_text"
    directory.mkdir(parents=True, exist_ok=True)
    features = hf_features()
    tools = catalog.by_name
    records = {split: [apigen_text_record(s, tools) for s in samples] for split, samples in splits.items()}
    for split, rows in records.items():
        _write_lines(directory / f"{split}.jsonl", [json.dumps(r, ensure_ascii=False) for r in rows])
    dataset = DatasetDict(
        {
            split: Dataset.from_list(rows, features=features)
            if rows
            else Dataset.from_dict({k: [] for k in features}, features=features)
            for split, rows in records.items()
        }
    )
    dataset.save_to_disk(str(directory / "hf"), num_shards={s: 1 for s, rows in records.items() if not rows})
    return {f"apigen_text/{split}": len(rows) for split, rows in records.items()}


def write_exports(
    out_dir: Path,
    splits: Mapping[str, Sequence[Sample]],
    catalog: Catalog,
    options: ExportOptions,
    encoders: Encoders | None = None,
) -> dict[str, int]:
    """Write every format in ``options.formats`` under ``out_dir``; returns rows per ``format/split``.

    ``out_dir`` should be a fresh directory (``schemas.atomic.directory`` gives one), so a failure
    half-way never leaves a mixed dataset where readers look. ``encoders`` may hold encodings made
    ahead (``Encoders.warm``); by default they are made here.
    """
    encoders = encoders or Encoders(catalog, options)
    rows: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="callforge-export") as pool:
        writes = Writes(pool)
        if "trl" in options.formats:
            tables = write_trl(out_dir, splits, encoders.trl, writes)
            rows.update({f"trl/{split}": table.num_rows for split, table in tables.items()})
            if "hf" in options.formats:
                writes.submit(write_hf, out_dir, tables)
                rows.update({f"hf/{split}": table.num_rows for split, table in tables.items()})
        if "xlam" in options.formats:
            write_xlam(out_dir, splits, encoders.xlam, writes)
            rows.update({f"xlam/{split}": len(samples) for split, samples in splits.items()})
        if "flat" in options.formats:
            write_flat(out_dir, splits, encoders.flat, writes)
            single = {split: sum(len(s.calls) == 1 for s in samples) for split, samples in splits.items()}
            rows.update({f"flat/{split}": n for split, n in single.items()})
        if "apigen_text" in options.formats:
            rows.update(write_apigen_text(out_dir, splits, catalog))
        writes.wait()
    return rows
