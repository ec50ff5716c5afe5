"""Crash leftovers of atomic writes are removed by the next run, and only those."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from flows.leftovers import clean_leftovers, find_leftovers


def _make(root: Path) -> dict[str, Path]:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    paths = {
        "partial": root / "dataset" / ".hf.abc123.partial",
        "old_dead": root / f".catalog.old-{dead.pid}",
        "old_alive": root / f".catalog.old-{os.getpid()}",
        "tmp": root / "candidates" / ".shard-00000.parquet.x1y2.tmp",
        "cache_tmp": root / "cache" / "ab" / ".key.json.q.tmp",
        "published": root / "catalog",
        "hidden_scratch": root / ".verify-input",
    }
    for name, path in paths.items():
        if name in ("tmp", "cache_tmp"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x")
        else:
            (path / "inner.partial").mkdir(
                parents=True
            )  # a leftover-looking name inside is not counted twice
    return paths


def test_leftovers_are_found_and_live_work_is_not(tmp_path: Path) -> None:
    paths = _make(tmp_path)
    assert find_leftovers(tmp_path) == sorted([paths["partial"], paths["old_dead"], paths["tmp"]])


def test_owned_directories_are_cleaned_shared_ones_only_when_old(tmp_path: Path) -> None:
    run, shared = tmp_path / "run", tmp_path / "datasets"
    _make(run)
    fresh = shared / "x" / ".v1.k.partial"
    stale = shared / "x" / ".v2.k.partial"
    fresh.mkdir(parents=True)
    stale.mkdir(parents=True)
    hour_ago = time.time() - 7200
    os.utime(stale, (hour_ago, hour_ago))
    removed = clean_leftovers([run], [shared], min_age_s=3600)
    assert len(removed) == 4 and stale in removed and fresh.exists() and not stale.exists()
    assert find_leftovers(run) == [] and (run / "catalog").exists() and (run / ".verify-input").exists()
