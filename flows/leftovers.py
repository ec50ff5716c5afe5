"""Leftovers of a crashed run, removed when the next run starts (and reported).

Atomic writes (``schemas.atomic``) leave two kinds of debris when the process dies mid-write:

* ``.NAME.<random>.partial`` -- a directory being filled before it replaces ``NAME``;
* ``.NAME.old-<pid>`` -- the previous ``NAME``, moved aside until the new one is in place;
* ``.NAME.<random>.tmp`` -- a file being written before it replaces ``NAME``.

None of them is ever read (the published ``NAME`` is always whole), but they keep disk space, and a
crashed publish of a large dataset keeps a lot. :func:`clean_leftovers` removes them from the
directories a starting run owns: its run directory (a run is never written by two commands at once)
and the published datasets. An ``old-<pid>`` whose process is still alive is left alone, and so is
anything younger than ``min_age_s`` outside the run directory, so a concurrent refresh of another
spec is never disturbed.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

_LEFTOVER = re.compile(r"^\..+(\.partial|\.old-(?P<pid>\d+)|\.tmp)$")
# Never descended into: caches hold many small files and no atomic-directory debris.
_SKIP = {"cache"}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_leftovers(root: Path, *, min_age_s: float = 0.0, now: float | None = None) -> list[Path]:
    """Leftovers under ``root`` (see the module docstring), outermost only, sorted."""
    found: list[Path] = []
    if not root.is_dir():
        return found
    now = time.time() if now is None else now
    for current, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            match = _LEFTOVER.match(name)
            if match is None:
                continue
            path = Path(current) / name
            if match.group("pid") and _pid_alive(int(match.group("pid"))):
                continue
            try:
                if now - path.lstat().st_mtime < min_age_s:
                    continue
            except FileNotFoundError:
                continue
            found.append(path)
        dirs[:] = [d for d in dirs if d not in _SKIP and not _LEFTOVER.match(d)]
    return sorted(found)


def clean_leftovers(
    owned: Iterable[Path], shared: Iterable[Path] = (), *, min_age_s: float = 3600
) -> list[Path]:
    """Remove leftovers from ``owned`` directories (any age) and ``shared`` ones (older than
    ``min_age_s``); returns what was removed."""
    removed = []
    targets = [p for root in owned for p in find_leftovers(Path(root))]
    targets += [p for root in shared for p in find_leftovers(Path(root), min_age_s=min_age_s)]
    for path in targets:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed
