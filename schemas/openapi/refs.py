"""``$ref`` resolution across the files of one spec (pointer tokens: ``pointers.py``).

A reference is resolved to a :class:`Target`: the node it points at, the (absolute) file that holds
it and its pointer there. Results are memoised per (file, ref), so a definition referenced from a
thousand operations is looked up once. Nothing here copies or rewrites the trees.

Which dict keys are references is the caller's business: ``$ref`` is only a reference where a
Schema, Parameter, Request Body or Path Item is expected, never inside ``properties`` (Kubernetes
has a property literally named ``$ref``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote

from schemas.errors import SpecError
from schemas.openapi.load import DocumentSet
from schemas.openapi.pointers import join, unescape

_MAX_CHAIN = 32  # a $ref to a $ref to …: longer chains are cycles
# A `$ref` whose value does not start with '#' (JSON or YAML spelling): a cheap test on the bytes
# that spares walking big single-file specs (Kubernetes) in search of external files.
_EXTERNAL_REF_TEXT = re.compile(rb"\$ref[\"']?\s*:\s*[\"']?[^#\"'\s{\[]")


def mapping_ref(target: str) -> str:
    """A ``discriminator.mapping`` value as a ``$ref``: OpenAPI lets a bare schema name (``Dog``)
    stand for ``#/components/schemas/Dog``; anything with a ``/`` or ``#`` already is a reference."""
    return target if "/" in target or target.startswith("#") else f"#/components/schemas/{target}"


def walk(tree: Any, pointer: str) -> Any:
    """The node at JSON pointer ``pointer`` (already percent-decoded) in ``tree``; KeyError(token) names
    the first token that is not there."""
    node = tree
    for raw in pointer.split("/")[1:]:
        token = unescape(raw)
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise KeyError(token)
    return node


class Target(NamedTuple):
    node: Any
    file: Path
    pointer: str


class UnresolvedRef(Exception):
    """A reference whose file was read but whose pointer leads nowhere (a warning, not an error)."""


class RefResolver:
    """Resolves ``$ref`` strings against a :class:`DocumentSet`, loading external files on demand."""

    def __init__(self, docs: DocumentSet) -> None:
        self.docs = docs
        self._memo: dict[tuple[Path, str], Target] = {}

    def name(self, file: Path) -> str:
        return self.docs.display_name(file)

    def resolve(self, ref: str, file: Path, at: str) -> Target:
        """Resolve ``ref`` written in ``file`` at pointer ``at``.

        Raises :class:`SpecError` when an external file cannot be read (or is remote) and
        :class:`UnresolvedRef` when the pointer does not exist in a file that was read.
        """
        key = (file, ref)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        location, _, fragment = ref.partition("#")
        if location:
            if _is_remote(location):
                raise SpecError(
                    self.name(file),
                    at,
                    f"remote $ref {ref!r} is not fetched (ingestion is offline); save that file beside the "
                    "spec and refer to it by a relative path",
                )
            referrer = (self.name(file), at, ref)
            target_file = self.docs.locate(unquote(location), file, referrer)
            tree = self.docs.get(target_file, referrer=referrer)
        else:
            target_file = file
            tree = self.docs.get(file, referrer=(self.name(file), at, ref))
        pointer = unquote(fragment)
        if pointer and not pointer.startswith("/"):
            raise UnresolvedRef(f"$ref {ref!r}: fragment is not a JSON pointer (anchors are not supported)")
        try:
            node = walk(tree, pointer)
        except KeyError as missing:
            where = self.name(target_file)
            raise UnresolvedRef(
                f"$ref {ref!r}: {where} has nothing at {pointer or '/'} (no {missing.args[0]!r})"
            ) from None
        target = Target(node, target_file, pointer)
        self._memo[key] = target
        return target

    def follow(self, node: Any, file: Path, pointer: str) -> Target:
        """Follow ``$ref`` chains from a non-schema node (parameter, request body, path item)."""
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            seen += 1
            if seen > _MAX_CHAIN:
                raise UnresolvedRef(f"$ref chain longer than {_MAX_CHAIN} (a cycle?) at {pointer}")
            node, file, pointer = self.resolve(node["$ref"], file, join(pointer, "$ref"))
        return Target(node, file, pointer)

    def load_all_files(self) -> list[tuple[Path, str, str]]:
        """Read every external file any ``$ref`` names, not only those tools needed.

        Responses and unused definitions can point at files too; reading them makes the spec's
        hash cover all its files and refuses a spec whose references point at missing files.
        Returns (file, pointer of the $ref, reason) for each reference into a file that was read
        but whose pointer leads nowhere, for the caller to warn about.
        """
        dangling: list[tuple[Path, str, str]] = []
        done: set[Path] = set()
        while pending := [f for f in self.docs.files if f not in done]:
            for file in pending:
                done.add(file)
                if not _EXTERNAL_REF_TEXT.search(self.docs.raw(file)):
                    continue
                for ref, pointer in _external_refs(
                    self.docs.get(file, referrer=(self.name(file), "/", "")), ""
                ):
                    location = ref.partition("#")[0]
                    if _is_remote(location):
                        self.resolve(ref, file, pointer)  # raises the remote-reference SpecError
                    referrer = (self.name(file), pointer, ref)
                    target = self.docs.locate(unquote(location), file, referrer)
                    tree = self.docs.get(target, referrer=referrer)
                    fragment = unquote(ref.partition("#")[2])
                    if fragment.startswith("/"):
                        try:
                            walk(tree, fragment)
                        except KeyError as missing:
                            reason = f"$ref {ref!r}: {self.name(target)} has nothing at {fragment} (no {missing.args[0]!r})"
                            dangling.append((file, pointer, reason))
        return dangling


def _is_remote(location: str) -> bool:
    """An http(s)/other URL; ``file:`` URIs are not remote but absolute (refused by the allowed root)."""
    return "://" in location and not location.lower().startswith("file:")


def _external_refs(node: Any, pointer: str) -> Iterator[tuple[str, str]]:
    """(ref, pointer of the $ref) for every reference to another file under ``node``.

    Iterative: a file's nesting is bounded by the max_depth budget, but not by Python's stack.
    """
    stack: list[tuple[Any, str]] = [(node, pointer)]
    while stack:
        current, at = stack.pop()
        if not isinstance(current, dict | list):
            continue
        items = current.items() if isinstance(current, dict) else enumerate(current)
        for key, value in items:
            if key == "$ref" and isinstance(value, str) and isinstance(current, dict):
                if value and not value.startswith("#"):
                    yield value, join(at, key)
            elif isinstance(value, dict | list):
                stack.append((value, join(at, key)))
