"""Shards on disk: Parquet files of samples, verdicts and generation failures (via polars).

A shard is the unit of work and of resume (DESIGN.md §6): one file per shard per stage, written
atomically, so a shard file that exists is complete. Samples are stored as their JSON plus a few
flat columns (id, style, language, tier, tools) that tables and reports can filter on without parsing.

    write_samples(run / "candidates" / "shard-00000.parquet", samples)
    samples = read_samples(run / "candidates" / "shard-00000.parquet")
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from schemas import atomic
from schemas.errors import RecordError
from schemas.models import Sample, Verdict

SAMPLE_SCHEMA = {
    "id": pl.String,
    "style": pl.String,
    "language": pl.String,
    "tier": pl.Int64,
    "target": pl.String,
    "record": pl.String,
}
VERDICT_SCHEMA = {
    "sample_id": pl.String,
    "verifier": pl.String,
    "passed": pl.Boolean,
    "code": pl.String,
    "message": pl.String,
    "details": pl.String,
}
FAILURE_SCHEMA = {"item_id": pl.String, "code": pl.String, "message": pl.String, "details": pl.String}


def shard_name(index: int, suffix: str = "parquet") -> str:
    return f"shard-{index:05d}.{suffix}"


def _write_frame(path: str | Path, frame: pl.DataFrame, metadata: dict[str, str] | None = None) -> Path:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", metadata=metadata)
    return atomic.write_bytes(path, buffer.getvalue())


def samples_frame(samples: Iterable[Sample]) -> pl.DataFrame:
    rows = [
        {
            "id": s.id,
            "style": s.style.value,
            "language": s.language,
            "tier": s.tier,
            "target": s.calls[0].name if s.calls else None,
            "record": s.model_dump_json(exclude_defaults=False),
        }
        for s in samples
    ]
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA)


def write_samples(path: str | Path, samples: Iterable[Sample]) -> Path:
    return _write_frame(path, samples_frame(samples))


def read_samples(path: str | Path) -> list[Sample]:
    frame = pl.read_parquet(path, columns=["record"])
    out: list[Sample] = []
    for i, record in enumerate(frame["record"]):
        try:
            out.append(Sample.model_validate_json(record))
        except ValueError as exc:
            raise RecordError(f"{path}: row {i}: invalid sample: {exc}") from exc
    return out


# Parquet key-value metadata of a verdicts shard: the undecided policy its sample outcomes followed, so a
# summary read back from disk counts undecided verdicts as the run did.
UNDECIDED_POLICY_KEY = "callforge.undecided"


def write_verdicts(path: str | Path, verdicts: Iterable[Verdict], *, undecided: str = "reject") -> Path:
    rows = [
        {**v.model_dump(exclude={"details"}), "details": json.dumps(v.details, ensure_ascii=False)}
        for v in verdicts
    ]
    frame = pl.DataFrame(rows, schema=VERDICT_SCHEMA)
    return _write_frame(path, frame, metadata={UNDECIDED_POLICY_KEY: undecided})


def verdicts_policy(path: str | Path) -> str:
    """The undecided policy recorded in a verdicts shard ("reject" for shards written without one)."""
    return pl.read_parquet_metadata(path).get(UNDECIDED_POLICY_KEY, "reject")


def read_verdicts(path: str | Path) -> list[Verdict]:
    frame = pl.read_parquet(path)
    return [
        Verdict(**{**row, "details": json.loads(row["details"] or "{}")})
        for row in frame.iter_rows(named=True)
    ]


def write_failures(path: str | Path, failures: Iterable[dict]) -> Path:
    """Generation failures: ``{item_id, code, message, details}`` dicts (details JSON-serialisable)."""
    rows = [
        {
            "item_id": f["item_id"],
            "code": f["code"],
            "message": f.get("message", ""),
            "details": json.dumps(f.get("details", {}), ensure_ascii=False),
        }
        for f in failures
    ]
    return _write_frame(path, pl.DataFrame(rows, schema=FAILURE_SCHEMA))


def read_failures(path: str | Path) -> list[dict]:
    frame = pl.read_parquet(path)
    return [{**row, "details": json.loads(row["details"] or "{}")} for row in frame.iter_rows(named=True)]
