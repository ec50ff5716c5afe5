"""Candidate shards as the verify stage receives them: each sample id once.

Two work items can yield the same sample (same query, same calls: a tool without arguments asked for
twice in one language by the template generator, or a teacher that answers two items alike), and
sample ids are content hashes, while ``verifiers.pipeline`` requires each id at most once per batch.
The plan keeps such repeats rare (``generators.plan``: a tool that takes no values keeps only its
first few ``simple`` items), so this is a safety net, not the main defence. The verify task
therefore verifies a copy of the shard without the repeats
(``<run>/.verify-input/shard-NNNNN.parquet``, only written when there are repeats) and counts them per
tier as ``generate/duplicate_sample`` rejections, so they show in the artifacts and the report. The
candidate shard itself stays as generated. No Prefect here.
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from schemas import atomic

SCRATCH_DIR = ".verify-input"


def unique_candidates(path: Path, run_dir: Path) -> tuple[Path, dict[str, int]]:
    """The shard to verify (``path`` itself when its ids are unique) and the repeats dropped per tier."""
    rows = pl.read_parquet(path).with_row_index("_row")
    first = rows.unique(subset="id", keep="first", maintain_order=True)
    if first.height == rows.height:
        return path, {}
    repeats = rows.join(first.select("_row"), on="_row", how="anti")
    per_tier = {
        ("none" if tier is None else str(tier)): int(n)
        for tier, n in repeats.group_by("tier").len().iter_rows()
    }
    buffer = io.BytesIO()
    first.drop("_row").write_parquet(buffer, compression="zstd")
    return atomic.write_bytes(run_dir / SCRATCH_DIR / path.name, buffer.getvalue()), per_tier
