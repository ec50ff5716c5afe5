"""Tool names from operations: ``snake``, ``method_path`` or ``operation_id``, made unique.

- ``snake``: ``POST /db/NODE`` -> ``post_db_node``; ``GET /pets/{petId}`` -> ``get_pets_by_petid``.
  Always OpenAI-function safe (``^[a-zA-Z0-9_-]{1,64}$``): lower case, runs of anything else
  become ``_``, and a name over 64 characters is cut with an 8-character hash of the full name.
- ``method_path``: ``POST /db/NODE`` (the GEN NX seed's convention).
- ``operation_id``: the spec's ``operationId``; ``snake`` when the operation has none.

Collisions are settled after sorting by (path, method, spec order), so the result never depends
on the order keys appear in a file: the first keeps the name, later ones get ``_2``, ``_3``…
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

NAMINGS = ("snake", "method_path", "operation_id")
MAX_NAME = 64
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_TEMPLATE_VAR = re.compile(r"\{([^{}]*)\}")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def snake_name(method: str, path: str) -> str:
    """``snake_name("POST", "/db/NODE")`` -> ``"post_db_node"``."""
    text = method.lower() + "_" + _TEMPLATE_VAR.sub(lambda m: "_by_" + m.group(1) + "_", path).lower()
    name = _NOT_ALNUM.sub("_", text).strip("_") or method.lower()
    if len(name) > MAX_NAME:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
        name = name[: MAX_NAME - len(digest) - 1].rstrip("_") + "_" + digest
    return name


def base_name(naming: str, method: str, path: str, operation_id: str | None) -> str:
    """The name an operation asks for before collisions are settled."""
    if naming == "method_path":
        return f"{method.upper()} {path}"
    if naming == "operation_id" and isinstance(operation_id, str) and operation_id.strip():
        return operation_id.strip()
    if naming not in NAMINGS:
        raise ValueError(f"naming must be one of {', '.join(NAMINGS)}, got {naming!r}")
    return snake_name(method, path)


def unique_names(naming: str, keys: Sequence[tuple[str, str, int]], bases: Sequence[str]) -> list[str]:
    """Settle collisions: ``keys[i]`` is (path, METHOD, spec index) of the operation named ``bases[i]``.

    Returns the final names in the input order.
    """
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    taken: set[str] = set()
    names: list[str | None] = [None] * len(keys)
    duplicates: list[int] = []
    for i in order:
        if bases[i] in taken:
            duplicates.append(i)
        else:
            taken.add(bases[i])
            names[i] = bases[i]
    for i in duplicates:
        n = 2
        while (candidate := _suffixed(naming, bases[i], n)) in taken:
            n += 1
        taken.add(candidate)
        names[i] = candidate
    return [name for name in names if name is not None]


def _suffixed(naming: str, base: str, n: int) -> str:
    suffix = f"_{n}"
    if naming == "snake" and len(base) + len(suffix) > MAX_NAME:
        base = base[: MAX_NAME - len(suffix)]
    return base + suffix


def category_for(tags: Sequence[str], path: str) -> str | None:
    """The first tag, else the first literal path segment, else None."""
    for tag in tags:
        if isinstance(tag, str) and tag.strip():
            return tag.strip()
    for segment in path.split("/"):
        if segment and not _TEMPLATE_VAR.fullmatch(segment):
            return segment
    return None
