"""Work items a refresh already tried, so the next refresh does not try them again for nothing.

The sample store remembers *accepted* samples. A work item whose sample was rejected (or failed to
generate) is planned again by every later refresh, and with the offline generator (deterministic) or
a cached teacher it gives the same sample and the same rejection every time. The ledger records each
attempted item under a key that covers everything its outcome depends on:

- the item id (style, language, targets, offered tools, seed: see ``generators.plan.WorkItem``),
- the fingerprints of every tool the item names (subject, targets, offered), so editing a tool
  makes its items new again,
- the generator (teacher model, prompt version, generate config) and the verifiers (names, options).

Change any of those and the item is tried again; delete the ledger file to retry everything. Every
attempted item is recorded, accepted ones too, except items that got no answer from the teacher
(connection, 5xx, 429, timeout, 401: ``generators.pipeline.retryable_failed_ids``), which the next
refresh tries again, as ``callforge generate`` does: the plan re-plans a tool's *last* items when fewer
than its quota were accepted (``satisfied`` drops its first n), and those were accepted last time.

One file per spec slug inside the sample store's directory, ``<store>/attempts/<slug>.txt`` (so
removing the store forgets the attempts with the samples), one key per line, rewritten atomically
after a run's verification finished. No Prefect here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from generators.plan import WorkItem
from schemas import atomic
from schemas.canonical import content_hash
from schemas.catalog import Catalog

LEDGER_DIR = "attempts"


def attempt_key(item: WorkItem, fingerprints: Mapping[str, str], context: str) -> str:
    """The key of one item's attempt (see the module docstring); ``context`` hashes generator + verifiers."""
    names = sorted({item.subject, *item.targets, *item.offered})
    return content_hash([item.id, [fingerprints.get(n, "") for n in names], context], length=32)


def attempt_context(generator: Mapping[str, Any], verifiers: Mapping[str, Any]) -> str:
    return content_hash({"generator": dict(generator), "verifiers": dict(verifiers)}, length=32)


class AttemptLedger:
    """The attempted-item keys of one spec under a data root."""

    def __init__(self, store_dir: str | Path, slug: str) -> None:
        self.path = Path(store_dir) / LEDGER_DIR / f"{slug}.txt"

    def keys(self) -> set[str]:
        if not self.path.exists():
            return set()
        return {line for line in self.path.read_text("utf-8").splitlines() if line}

    def untried(
        self, items: Sequence[WorkItem], catalog: Catalog, context: str
    ) -> tuple[list[WorkItem], list[str]]:
        """The items not attempted before under this context, and the keys of all ``items``."""
        fingerprints = {t.name: t.fingerprint for t in catalog}
        seen = self.keys()
        keys = [attempt_key(item, fingerprints, context) for item in items]
        return [item for item, key in zip(items, keys, strict=True) if key not in seen], keys

    def record_plan(
        self, plan_file: Path, catalog: Catalog, context: str, *, skip: Collection[str] = ()
    ) -> int:
        """Record every item of a run's plan but those in ``skip`` (item ids to try again; no file:
        an empty plan). Returns how many keys were new."""
        if not plan_file.exists():
            return 0
        with plan_file.open(encoding="utf-8") as handle:
            items = [WorkItem.model_validate_json(line) for line in handle if line.strip()]
        items = [item for item in items if item.id not in skip]
        fingerprints = {t.name: t.fingerprint for t in catalog}
        return self.record(attempt_key(item, fingerprints, context) for item in items)

    def record(self, keys: Iterable[str]) -> int:
        """Add ``keys`` (rewrites the file atomically: a crash leaves the previous ledger). Returns new keys."""
        seen = self.keys()
        new = sorted(set(keys) - seen)
        if new:
            atomic.write_text(self.path, "".join(f"{k}\n" for k in sorted(seen | set(new))))
        return len(new)
