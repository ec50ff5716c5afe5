"""Ingested catalogs kept on disk, so a nightly refresh of an unchanged spec skips resolving and converting.

    key = entry_key(paths, options)            # None: cache off, or nothing worth caching
    result = load(key)                         # None on a miss (or a damaged or stale entry)
    store(key, result, files_read)             # after a fresh ingest

The parsed-spec cache (``parse_cache.py``) saves the YAML parse; this one saves everything after it
too (resolving every ``$ref``, converting schemas, building and fingerprinting the tools), which is
what is left of a warm GEN NX ingest. An entry is keyed by the sha256 of:

* the root spec's bytes and resolved path (tool sources and report names derive from the path);
* the ingest options, the tier-rules file's bytes, the allowed root and the budgets in force;
* callforge's ingest code version: the sha256 of every ``schemas/**/*.py`` source file and the
  Python and YAML loader versions, so an entry written by other ingest code is never read back.

A spec spread over several files is only known to be unchanged once every file it read is: an entry
lists those files with their sha256 and is a miss as soon as one differs or is missing. Each entry
carries a checksum of its payload (JSON, read back through the pydantic models, never unpickled);
a damaged, truncated or unreadable entry is a miss and is rewritten. Entries live beside the parsed
specs (``$CALLFORGE_PARSE_CACHE`` or ``$XDG_CACHE_HOME/callforge/...``) in its ``ingested/`` folder;
``CALLFORGE_INGEST_CACHE=off`` turns this cache off on its own. Specs under
:data:`parse_cache.MIN_BYTES` are not kept (they ingest in milliseconds); at most :data:`MAX_ENTRIES`
entries (the oldest go first). A cache that cannot be written is skipped silently.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from schemas.catalog import Catalog
from schemas.manifest import CatalogManifest, utc_now
from schemas.models import FINGERPRINTS_CHECKED, Tool
from schemas.openapi import parse_cache
from schemas.openapi.ingest_result import IngestResult
from schemas.openapi.report import IngestReport

FORMAT = 1  # bump when the entry layout changes
MAX_ENTRIES = 16
_MAGIC = b"callforge-ingested-catalog\n"
_TOOLS = TypeAdapter(list[Tool])
_SCHEMAS_ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def code_version() -> str:
    """The sha256 of every ingest source file (``schemas/**/*.py``), computed once per process."""
    # The parse cache's salt names the Python and YAML loader versions, which shape the tree too.
    digest = hashlib.sha256(f"{FORMAT}|{parse_cache._SALT}".encode())
    for source in sorted(_SCHEMAS_ROOT.rglob("*.py")):
        digest.update(str(source.relative_to(_SCHEMAS_ROOT)).encode() + b"\0")
        digest.update(source.read_bytes())
    return digest.hexdigest()


def directory() -> Path | None:
    """Where entries live, or None when this cache (or the parsed-spec cache under it) is off."""
    if os.environ.get("CALLFORGE_INGEST_CACHE", "").strip().lower() in ("off", "0", "false", "no"):
        return None
    parsed = parse_cache.directory()
    return None if parsed is None else parsed / "ingested"


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def entry_key(paths: Sequence[str | Path], options: dict[str, Any]) -> str | None:
    """The key of an ingest of ``paths`` with ``options`` (JSON-able), or None when not to cache it."""
    folder = directory()
    if folder is None or len(paths) != 1:
        return None
    root = Path(paths[0]).resolve()
    try:
        data = root.read_bytes()
    except OSError:
        return None  # ingest reports the error itself
    if len(data) < parse_cache.MIN_BYTES:
        return None
    rules = options.get("tier_rules")
    rules_digest = _sha256(Path(rules)) if rules is not None else ""
    if rules_digest is None:
        return None
    header = json.dumps(
        {"code": code_version(), "root": str(root), "options": options, "rules": rules_digest},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(header.encode() + b"\0" + data).hexdigest()


def load(key: str | None) -> IngestResult | None:
    """The cached result of ``key``; None on a miss or when the entry is damaged or stale."""
    folder = directory()
    if key is None or folder is None:
        return None
    try:
        blob = (folder / f"{key}.json").read_bytes()
    except OSError:
        return None
    head, digest, payload = (
        blob[: len(_MAGIC)],
        blob[len(_MAGIC) : len(_MAGIC) + 32],
        blob[len(_MAGIC) + 32 :],
    )
    if head != _MAGIC or hashlib.sha256(payload).digest() != digest:
        return None
    # The tools come last, on their own line (compact JSON has no raw newline): pydantic reads them
    # straight from the bytes, about twice as fast as json.loads followed by validation.
    head_json, _, tools_json = payload.partition(b"\n")
    try:
        entry = json.loads(head_json)
        if any(_sha256(Path(file)) != sha for file, sha in entry["files"].items()):
            return None  # a file the spec reads has changed (or is gone)
        tools = _TOOLS.validate_json(tools_json, context={FINGERPRINTS_CHECKED: True})
        manifest = CatalogManifest.model_validate(entry["manifest"])
        report = IngestReport.model_validate(entry["report"])
    except (ValueError, KeyError, TypeError, AttributeError):  # pydantic's ValidationError is a ValueError
        return None
    # This ingest's time, as a fresh ingest would write it; everything else is as it was built.
    manifest.created_at = report.created_at = utc_now()
    return IngestResult(Catalog(tools, manifest), report)


def store(key: str | None, result: IngestResult, files: Sequence[Path]) -> None:
    """Keep ``result`` under ``key``, with the sha256 of every file the ingest read."""
    folder = directory()
    if key is None or folder is None:
        return
    digests = {str(Path(f).resolve()): _sha256(Path(f)) for f in files}
    if any(d is None for d in digests.values()):
        return
    head = {
        "files": digests,
        "manifest": result.catalog.manifest.model_dump(mode="json"),
        "report": result.report.model_dump(mode="json"),
    }
    payload = (
        json.dumps(head, separators=(",", ":")).encode() + b"\n" + _TOOLS.dump_json(result.catalog.tools)
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as handle:
            handle.write(_MAGIC + hashlib.sha256(payload).digest() + payload)
        os.replace(handle.name, folder / f"{key}.json")  # atomic: readers see old or whole new
        entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in entries[MAX_ENTRIES:]:
            stale.unlink(missing_ok=True)
    except OSError:
        return
