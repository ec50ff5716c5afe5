"""Which files a spec's ``$ref``s may make us read: regular files under one allowed root, size-capped.

A ``$ref`` is text from outside. Followed naively it reads ``/etc/passwd`` into a catalog hash,
``/dev/zero`` into a MemoryError, or a FIFO into a hang. The rule (used by ingestion and the sandbox):

- remote references (``http://``, ``https://``, any ``scheme://``) are never fetched;
- absolute paths and ``file:`` URIs are refused, even when they name a file inside the root;
- a relative path is resolved against the referring file's folder, symlinks followed, and must stay
  inside the allowed root (default: the root spec's own folder tree; the ``allowed_root`` option or
  the ``CALLFORGE_SPEC_ALLOWED_ROOT`` environment variable widens it).
  ``../`` between sibling folders is fine as long as the result is inside the root;
- the file must be a regular file (no device, FIFO, socket or folder) of at most ``max_file_bytes``.

What this does *not* cover: a file inside the root that is replaced between the check and the read
(the read is still size-capped), and hard links to files elsewhere (they are regular files inside).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

ALLOWED_ROOT_ENV = "CALLFORGE_SPEC_ALLOWED_ROOT"
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


class RefusedFile(Exception):
    """A file a reference may not make us read; ``str()`` is the reason, for a SpecError."""


class AllowedRoot:
    """The folder tree file references must stay inside."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(os.path.realpath(root))

    def __str__(self) -> str:
        return str(self.root)

    def locate(self, location: str, referrer: Path) -> Path:
        """The real path of ``location`` (a ``$ref``'s percent-decoded file part) written in ``referrer``.

        Raises :class:`RefusedFile` for a remote, absolute or out-of-root location.
        """
        if "://" in location and not location.lower().startswith("file:"):
            raise RefusedFile(
                "remote reference is not fetched (ingestion is offline); save that file beside the spec "
                "and refer to it by a relative path"
            )
        if location.startswith(("file:", "/", "\\")) or _DRIVE.match(location) or os.path.isabs(location):
            raise RefusedFile(f"reference outside the allowed root {self.root}: absolute paths are refused")
        target = Path(os.path.realpath(referrer.parent / location))
        if not target.is_relative_to(self.root):
            raise RefusedFile(f"reference outside the allowed root {self.root}")
        return target


def allowed_root_or_env(allowed_root: str | Path | None, spec_file: Path) -> Path:
    """The allowed root: as given, else ``$CALLFORGE_SPEC_ALLOWED_ROOT``, else the spec file's folder."""
    if allowed_root is not None:
        return Path(allowed_root)
    env = os.environ.get(ALLOWED_ROOT_ENV)
    return Path(env) if env else Path(os.path.realpath(spec_file)).parent


def read_spec_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``; else RefusedFile / OSError."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a device, FIFO or socket"
        raise RefusedFile(f"{path} is {kind}, not a regular file")
    if info.st_size > max_bytes:
        raise RefusedFile(
            f"{path} is {info.st_size:,} bytes, over the max_file_bytes budget of {max_bytes:,}"
        )
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)  # the file may have grown since stat
    if len(data) > max_bytes:
        raise RefusedFile(f"{path} is over the max_file_bytes budget of {max_bytes:,}")
    return data
