"""An exclusive lock on a file, for the data shared by every run of one data root.

    with exclusive(store_path / ".lock"):   # one run at a time adds to the store and publishes
        assemble(...)

The sample store, the attempts ledger and the published dataset versions each have one writer at a
time by design (read-modify-write of an index file). Two refreshes of one spec on one data root run
concurrently up to assembly; this lock serialises the part where they write what they share. It is an
``flock``: the kernel drops it when its holder dies, so a crashed run never leaves it held. No Prefect.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

STORE_LOCK = ".lock"


@contextlib.contextmanager
def exclusive(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block; waits for other holders."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def store_lock(store_path: str | os.PathLike[str]) -> contextlib.AbstractContextManager[None]:
    """The lock every writer of one sample store (and its published datasets) takes."""
    return exclusive(Path(store_path) / STORE_LOCK)
