"""Shard jobs and their cache keys: what lets a killed refresh resume without redoing finished shards.

A ``ShardJob`` is the small, picklable description of one shard task (paths and a few hashes, never
rows). Its cache key covers exactly what determines the shard's output — the spec fingerprint, the
teacher model, the prompt version, the shard id and a hash of the shard's work-item ids (plus the
stage config) — so a rerun with the same inputs finds the result Prefect persisted in the run
directory and skips the shard, while any change to those inputs recomputes it.

The persisted result says a shard finished; the shard file says it is still there. A job whose output
file is missing is run again even when its key is cached (``refresh_cache``), so deleting a shard
file is a way to force that shard to be redone.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.canonical import content_hash

# Bump when a shard's output format changes, so old cached results are not reused.
CACHE_VERSION = 1
RESULTS_DIR = ".prefect-results"


class ShardJob(BaseModel):
    """One shard of one stage: where its input and output live and what its result depends on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: str = Field(description="generate | verify")
    run_dir: str
    shard_index: int = Field(ge=0)
    output: str = Field(description="the shard file this job writes, relative to run_dir")
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="stage-specific: item range, input shard path, …"
    )
    key_parts: dict[str, Any] = Field(
        default_factory=dict,
        description="spec_fingerprint, teacher_model, prompt_version, items_hash, config_hash, …",
    )

    @property
    def cache_key(self) -> str:
        digest = content_hash(
            {"v": CACHE_VERSION, "stage": self.stage, "shard": self.shard_index, **self.key_parts}, length=32
        )
        return f"{self.stage}-{self.shard_index:05d}-{digest}"

    @property
    def output_path(self) -> Path:
        return Path(self.run_dir) / self.output

    @property
    def output_exists(self) -> bool:
        return self.output_path.exists()


def shard_cache_key(context: Any, parameters: dict[str, Any]) -> str:
    """Prefect ``cache_key_fn``: the key of the task's ``job`` parameter (context is unused)."""
    job = parameters["job"]
    if isinstance(job, dict):  # parameters arrive as models in-process, as dicts after serialisation
        job = ShardJob.model_validate(job)
    return job.cache_key


def result_storage_dir(run_dir: str | Path) -> Path:
    """Where Prefect persists shard results for one run (a local path, so it survives restarts)."""
    return Path(run_dir) / RESULTS_DIR


def items_hash(item_ids: list[str]) -> str:
    """Hash of a shard's work-item ids, in order (a reordered plan is a different shard)."""
    return content_hash(item_ids, length=32)


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes: the identity of an input shard for the next stage's cache key."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
