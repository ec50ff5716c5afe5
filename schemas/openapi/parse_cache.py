"""Parsed specs kept on disk by content hash, so a nightly refresh of an unchanged spec skips the parse.

    tree = cached(data, lambda: parse(data))   # parse on a miss, then store; a hit reads the tree back

Keyed by the sha256 of the file's bytes plus everything that shapes the tree (this module's format,
the Python version, the YAML loaders' versions), stored with ``marshal`` (the tree is plain
dicts, lists, strings and numbers; reading 1.7 MB of GEN NX YAML back takes ~20 ms against ~0.1-0.9 s to
parse it). Each entry carries a checksum; a damaged or unreadable one is a miss and is rewritten.

Where: ``$CALLFORGE_PARSE_CACHE`` (a directory; ``off`` disables it), else
``$XDG_CACHE_HOME/callforge/parsed-specs`` (``~/.cache/...``). Only documents of at least
:data:`MIN_BYTES` are kept (small ones parse in milliseconds), and at most :data:`MAX_ENTRIES` files
(the oldest go first). A cache that cannot be written (read-only home, full disk) is skipped silently:
it is an accelerator, never a requirement.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import marshal
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = 1  # bump when the loaders' output changes for the same bytes
MIN_BYTES = 64 * 1024
MAX_ENTRIES = 32
_MAGIC = b"callforge-parsed-spec\n"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "none"


_SALT = (
    f"{FORMAT}|{sys.version_info[:2]}|{marshal.version}|pyyaml {_version('pyyaml')}|ryaml {_version('ryaml')}"
)


def directory() -> Path | None:
    """The cache directory, or None when the cache is off."""
    configured = os.environ.get("CALLFORGE_PARSE_CACHE")
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "false", "no") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "callforge" / "parsed-specs"


def _entry(folder: Path, data: bytes) -> Path:
    return folder / (hashlib.sha256(_SALT.encode() + b"\0" + data).hexdigest() + ".marshal")


def cached(data: bytes, parse: Callable[[], Any]) -> Any:
    """The tree ``parse()`` gives for ``data``, read from the cache when an entry exists."""
    folder = directory() if len(data) >= MIN_BYTES else None
    if folder is None:
        return parse()
    path = _entry(folder, data)
    tree, found = _read(path)
    if found:
        return tree
    tree = parse()  # errors propagate; only successful parses are kept
    _write(folder, path, tree)
    return tree


def _read(path: Path) -> tuple[Any, bool]:
    try:
        blob = path.read_bytes()
    except OSError:
        return None, False
    head, digest, payload = (
        blob[: len(_MAGIC)],
        blob[len(_MAGIC) : len(_MAGIC) + 32],
        blob[len(_MAGIC) + 32 :],
    )
    if head != _MAGIC or hashlib.sha256(payload).digest() != digest:
        return None, False
    try:
        return marshal.loads(payload), True
    except (EOFError, ValueError, TypeError):
        return None, False


def _write(folder: Path, path: Path, tree: Any) -> None:
    try:
        payload = marshal.dumps(tree)
    except ValueError:  # something marshal cannot store (not a plain tree): do not cache it
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as handle:
            handle.write(_MAGIC + hashlib.sha256(payload).digest() + payload)
        os.replace(handle.name, path)  # atomic: a reader sees the old entry or the whole new one
        _prune(folder)
    except OSError:
        return


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("*.marshal"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[MAX_ENTRIES:]:
        stale.unlink(missing_ok=True)
