"""Work items a refresh already tried, so the next refresh does not try them again for nothing.

The sample store remembers *accepted* samples. A work item whose sample was rejected (or failed to
generate) is planned again by every later refresh, and with the offline generator (deterministic) or
a cached teacher it gives the same sample and the same rejection every time. The ledger records each
attempted item under a key that covers everything its outcome depends on:

- the item id (style, language, targets, offered tools, seed: see ``generators.plan.WorkItem``),
- the fingerprints of every tool the item names (subject, targets, offered), so editing a tool
  makes its items new again,
- the generator (teacher model, prompt version, generate config) and the verifiers (names, options).

Change any of those and the item is tried again; delete the ledger file to retry everything.

Only items with a *final* outcome are recorded (``final_item_ids``): a sample that got a verdict
(accepted or rejected, in a verified shard), or a generation failure a retry would repeat (a bad
answer: ``generators.pipeline.settled_item_ids``). Nothing that an accident decided is recorded: an
item whose teacher gave no answer (connection, 5xx, an exhausted 429, timeout, 401), whose shard was
never verified (a crash, a sandbox that died: infrastructure failures never become verdicts, see
``verifiers.execution``), or that was never reached, is planned again by the next refresh. The plan
re-plans a tool's *last* items when fewer than its quota were accepted (``satisfied`` drops its
first n), and those were accepted last time.

**On disk**: one file per spec slug inside the sample store's directory,
``<store>/attempts/<slug>.txt`` (removing the store forgets the attempts with the samples), one
record per line, rewritten atomically under a lock (two runs of one data root may record at once).
A bare line is an item attempt key. Any other kind of record is a JSON object with a ``"kind"``
(``record_entries`` / ``entries``): lines of kinds a reader does not know are kept as they are, so a
later version may add records (e.g. per-tool top-ups) without breaking this one. No Prefect here.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from flows.file_lock import exclusive
from generators.pipeline import generated_item_ids, settled_item_ids
from generators.plan import WorkItem
from schemas import atomic, shards
from schemas.canonical import content_hash
from schemas.catalog import Catalog

LEDGER_DIR = "attempts"
ITEM_KIND = "item"


def attempt_key(item: WorkItem, fingerprints: Mapping[str, str], context: str) -> str:
    """The key of one item's attempt (see the module docstring); ``context`` hashes generator + verifiers."""
    names = sorted({item.subject, *item.targets, *item.offered})
    return content_hash([item.id, [fingerprints.get(n, "") for n in names], context], length=32)


def attempt_context(generator: Mapping[str, Any], verifiers: Mapping[str, Any]) -> str:
    return content_hash({"generator": dict(generator), "verifiers": dict(verifiers)}, length=32)


def final_item_ids(run_dir: Path) -> set[str]:
    """Work items of ``run_dir`` whose outcome is final: their sample has a verdict (its candidate shard
    was verified to the end), or their generation failed in a way a retry repeats."""
    final = settled_item_ids(run_dir) - generated_item_ids(run_dir)  # failures with no sample
    for verdict_file in sorted((run_dir / "verdicts").glob("shard-*.parquet")):
        candidates = run_dir / "candidates" / verdict_file.name
        if not candidates.exists():
            continue
        judged = {v.sample_id for v in shards.read_verdicts(verdict_file)}
        final.update(
            s.provenance.work_item
            for s in shards.read_samples(candidates)
            if s.provenance.work_item and s.id in judged
        )
    return final


class AttemptLedger:
    """The attempt records of one spec under a data root."""

    def __init__(self, store_dir: str | Path, slug: str) -> None:
        self.path = Path(store_dir) / LEDGER_DIR / f"{slug}.txt"

    def _lines(self) -> list[str]:
        if not self.path.exists():
            return []
        return [line for line in self.path.read_text("utf-8").splitlines() if line.strip()]

    def keys(self) -> set[str]:
        """The item attempt keys recorded."""
        return {line for line in self._lines() if not line.startswith("{")} | {
            str(e["key"]) for e in self.entries(ITEM_KIND) if "key" in e
        }

    def entries(self, kind: str) -> list[dict[str, Any]]:
        """The JSON records of ``kind``, in the order they were added."""
        out = []
        for line in self._lines():
            if line.startswith("{"):
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a damaged line is skipped, never fatal: the ledger only saves work
                if isinstance(entry, dict) and entry.get("kind") == kind:
                    out.append(entry)
        return out

    def untried(
        self, items: Sequence[WorkItem], catalog: Catalog, context: str
    ) -> tuple[list[WorkItem], list[str]]:
        """The items not attempted before under this context, and the keys of all ``items``."""
        fingerprints = {t.name: t.fingerprint for t in catalog}
        seen = self.keys()
        keys = [attempt_key(item, fingerprints, context) for item in items]
        return [item for item, key in zip(items, keys, strict=True) if key not in seen], keys

    def record_plan(self, plan_file: Path, catalog: Catalog, context: str, *, final: Collection[str]) -> int:
        """Record the items of a run's plan whose ids are in ``final`` (``final_item_ids``; no plan
        file: an empty plan). Returns how many keys were new."""
        if not plan_file.exists():
            return 0
        with plan_file.open(encoding="utf-8") as handle:
            items = [WorkItem.model_validate_json(line) for line in handle if line.strip()]
        items = [item for item in items if item.id in final]
        fingerprints = {t.name: t.fingerprint for t in catalog}
        return self.record(attempt_key(item, fingerprints, context) for item in items)

    def record(self, keys: Iterable[str]) -> int:
        """Add item attempt ``keys``. Returns how many were new."""
        return self._add(set(keys), [])

    def record_entries(self, kind: str, entries: Iterable[Mapping[str, Any]]) -> int:
        """Add JSON records of another ``kind`` (each gets ``"kind": kind``); returns how many were new."""
        if kind == ITEM_KIND:
            raise ValueError("item attempts are recorded with record()")
        lines = [json.dumps({**dict(e), "kind": kind}, sort_keys=True) for e in entries]
        return self._add(set(), lines)

    def _add(self, keys: set[str], lines: list[str]) -> int:
        # Read-modify-write under the ledger's lock; the rewrite is atomic, so a crash leaves the
        # previous ledger. Bare keys stay sorted first; other records keep their order.
        with exclusive(self.path.with_name(f".{self.path.stem}.lock")):
            current = self._lines()
            present = set(current)
            new_keys = keys - self.keys()
            new_lines = [line for line in dict.fromkeys(lines) if line not in present]
            if new_keys or new_lines:
                bare = sorted({line for line in current if not line.startswith("{")} | new_keys)
                typed = [line for line in current if line.startswith("{")] + new_lines
                atomic.write_text(self.path, "".join(f"{line}\n" for line in bare + typed))
        return len(new_keys) + len(new_lines)
