"""Token counts of TRL records, kept between refreshes of one data root.

    cache = RowLengthCache(Path("data/store/row_lengths.sqlite"))
    known = cache.get(meter_identity, keys)          # {key: tokens} for the keys counted before
    cache.put(meter_identity, meter_name, {key: tokens, ...})

Measuring every training row with the base model's chat template and tokenizer is most of assembly's
time (about 18 of 22 s for the GEN NX dataset on 2 cores), and a nightly refresh of an unchanged or
slightly edited spec measures almost the same rows again. A count depends only on the record and on
what measures it, so both are the key: ``record_key`` hashes the record's canonical JSON, and the
meter's identity (``trainer.row_lengths.meter_identity``) hashes the tokenizer files, the chat template
source and the library versions, or, for the stand-in, its training corpus. A tokenizer that changes is
a new identity, never a stale count. The meter's display name is kept per identity, so a fully cached
assembly still says on the card what measured.

SQLite, one file beside the sample store: several processes may read and write it (WAL, a busy
timeout); a damaged or unreadable file is left aside and counting goes on without it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILE_NAME = "row_lengths.sqlite"
_CHUNK = 500  # keys per SELECT: under SQLite's bound on host parameters


def record_key(record: Mapping[str, Any]) -> str:
    """The record's content hash (messages and tools, key order ignored)."""
    text = json.dumps(
        {"messages": record.get("messages"), "tools": record.get("tools") or None},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RowLengthCache:
    """``(meter identity, record key) -> tokens`` and ``meter identity -> meter name``, in SQLite."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._broken = False

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is not None or self._broken:
            return self._db
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS lengths (meter TEXT, record TEXT, tokens INTEGER,"
                " PRIMARY KEY (meter, record)) WITHOUT ROWID"
            )
            db.execute("CREATE TABLE IF NOT EXISTS meters (meter TEXT PRIMARY KEY, name TEXT)")
        except sqlite3.Error as exc:
            # a cache is never worth failing an assembly over: count without it, and say so once
            log.warning("row lengths: cache %s unusable (%s); measuring every row", self.path, exc)
            self._broken = True
            return None
        self._db = db
        return db

    def get(self, meter: str, keys: Sequence[str]) -> dict[str, int]:
        """The cached counts of ``keys`` under ``meter`` (keys never counted are absent)."""
        db = self._connect()
        found: dict[str, int] = {}
        if db is None:
            return found
        unique = list(dict.fromkeys(keys))
        try:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT record, tokens FROM lengths WHERE meter = ? AND record IN ({marks})",
                    [meter, *chunk],
                )
                found.update((record, int(tokens)) for record, tokens in rows)
        except sqlite3.Error as exc:
            log.warning("row lengths: cache %s unreadable (%s); measuring every row", self.path, exc)
            self._broken, self._db = True, None
            return {}
        return found

    def name(self, meter: str) -> str | None:
        """The display name recorded for ``meter``, if any."""
        db = self._connect()
        if db is None:
            return None
        try:
            row = db.execute("SELECT name FROM meters WHERE meter = ?", [meter]).fetchone()
        except sqlite3.Error:
            return None
        return str(row[0]) if row else None

    def put(self, meter: str, name: str, counts: Mapping[str, int]) -> None:
        """Record ``counts`` (and the meter's display name) under ``meter``."""
        db = self._connect()
        if db is None:
            return
        rows: Iterable[tuple[str, str, int]] = ((meter, key, int(n)) for key, n in counts.items())
        try:
            with db:  # one transaction: a crash leaves the counts before it, never half of them
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT OR REPLACE INTO meters (meter, name) VALUES (?, ?)", [meter, name])
                db.executemany(
                    "INSERT OR REPLACE INTO lengths (meter, record, tokens) VALUES (?, ?, ?)", rows
                )
        except sqlite3.Error as exc:
            log.warning("row lengths: could not write the cache %s (%s)", self.path, exc)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
