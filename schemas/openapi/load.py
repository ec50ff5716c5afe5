"""Reading spec files: JSON or YAML text in, plain Python trees out, errors naming the file.

A spec may be spread over several files that point at each other with relative ``$ref``s; a
:class:`DocumentSet` loads the root eagerly and the others the first time a reference needs them,
so only files actually referenced are read, each once.

Everything read is bounded (``budgets.py``: file size, nesting, values, YAML alias expansion) and
file references are confined to an allowed root (``files.py``): a hostile spec ends in a
:class:`SpecError` naming the file and pointer, never a hang or a traceback.

YAML is parsed with libyaml (``yaml.CSafeLoader``): the pure-Python loader is ~10x slower on large
specs. Two YAML 1.1 habits are undone because they break JSON: unquoted dates stay strings (a
``datetime.date`` in an ``example`` cannot be serialised) and non-string mapping keys (``200:``)
become strings.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from schemas.errors import SpecError
from schemas.openapi.budgets import SpecBudgets, budgets_or_env, measure_tree
from schemas.openapi.files import AllowedRoot, RefusedFile, allowed_root_or_env, read_spec_file
from schemas.openapi.parse_cache import cached
from schemas.openapi.yaml_loader import load_fast

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class _SpecLoader(yaml.CSafeLoader):
    """libyaml parsing, SafeLoader construction, minus timestamps and non-string keys."""


_SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _SpecLoader, node: yaml.MappingNode) -> dict[str, Any]:
    loader.flatten_mapping(node)
    mapping: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            # YAML reads `200:` as an int and `on:` as a bool; OpenAPI keys are always strings.
            key = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_SpecLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_text(data: bytes, file: str, budgets: SpecBudgets | None = None) -> Any:
    """Parse JSON or YAML bytes; raise :class:`SpecError` naming ``file`` and the line at fault.

    ``.json`` files (and any text starting with ``{``) go through the JSON parser first, which is
    several times faster than libyaml and accepts what JSON allows and YAML does not (a raw C1
    control character such as U+0083 inside a string); YAML is the fallback, as it is a superset
    of JSON. The tree is then checked against ``budgets`` (default: ``SpecBudgets.from_env()``).
    """
    budgets = budgets_or_env(budgets)
    try:
        tree = _parse(data, file)
    except RecursionError:
        raise SpecError(file, "/", "nested too deeply to parse (budget max_depth)") from None
    except MemoryError:
        raise SpecError(file, "/", "too big to parse in memory (budget max_file_bytes)") from None
    measure_tree(tree, file, budgets)
    return tree


def _parse(data: bytes, file: str) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(
            file, "/", f"not UTF-8 text (byte {exc.start}): expected a JSON or YAML document"
        ) from exc
    stripped = text.lstrip()
    if file.endswith(".json") or stripped.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            if file.endswith(".json"):
                raise SpecError(
                    file, "/", f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
                ) from exc
    try:
        return cached(data, lambda: _load_yaml(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(file, "/", f"not valid YAML{where}: {problem}") from exc


def _load_yaml(text: str) -> Any:
    # A native parser where it gives the very same tree (see yaml_loader), PyYAML otherwise.
    tree = load_fast(text, _SpecLoader.yaml_implicit_resolvers)
    return tree if tree is not None else yaml.load(text, Loader=_SpecLoader)


class DocumentSet:
    """The files of one spec: the root document plus every file its ``$ref``s reach.

    ``root`` is the root file's tree; :meth:`get` returns another file's tree, loading it on first
    use. ``sha256`` covers the bytes of every file loaded so far, root first, then by path, so it
    is complete once ingestion has followed all references.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        allowed_root: str | Path | None = None,
        budgets: SpecBudgets | None = None,
    ) -> None:
        self.root_path = Path(root).resolve()
        self.root_name = str(root)
        # file $refs must stay inside this folder tree (default: the root spec's own folder)
        self.allowed = AllowedRoot(allowed_root_or_env(allowed_root, self.root_path))
        self.budgets = budgets_or_env(budgets)
        self._raw: dict[Path, bytes] = {}
        self._trees: dict[Path, Any] = {}
        self.root = self._load(self.root_path, display=self.root_name)

    def locate(self, location: str, referrer_file: Path, referrer: tuple[str, str, str]) -> Path:
        """The file a ``$ref``'s (percent-decoded) ``location`` names, refused with a SpecError when
        it is remote, absolute or outside the allowed root; ``referrer`` is (file, pointer, ref)."""
        try:
            return self.allowed.locate(location, referrer_file)
        except RefusedFile as exc:
            ref_file, ref_pointer, ref = referrer
            raise SpecError(ref_file, ref_pointer, f"$ref {ref!r}: {exc}") from None

    def _load(self, path: Path, *, display: str, referrer: tuple[str, str, str] | None = None) -> Any:
        try:
            data = read_spec_file(path, self.budgets.max_file_bytes)
        except RefusedFile as exc:
            if referrer is None:
                raise SpecError(display, "/", f"cannot read the spec file: {exc}") from None
            ref_file, ref_pointer, ref = referrer
            raise SpecError(ref_file, ref_pointer, f"$ref {ref!r}: {exc}") from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            if referrer is None:
                raise SpecError(display, "/", f"cannot read the spec file: {reason}") from exc
            ref_file, ref_pointer, ref = referrer
            raise SpecError(
                ref_file, ref_pointer, f"$ref {ref!r}: cannot read the file {str(path)!r}: {reason}"
            ) from exc
        tree = parse_text(data, display, self.budgets)
        self._raw[path] = data
        self._trees[path] = tree
        return tree

    def display_name(self, path: Path) -> str:
        """How a file is named in messages: as the root file was named, then relative to it."""
        if path == self.root_path:
            return self.root_name
        relative = os.path.relpath(path, self.root_path.parent)
        return os.path.normpath(os.path.join(os.path.dirname(self.root_name), relative))

    def get(self, path: Path, *, referrer: tuple[str, str, str]) -> Any:
        """The tree of ``path`` (absolute), loaded on first use; ``referrer`` is (file, pointer, ref) of the $ref."""
        tree = self._trees.get(path)
        if tree is None and path not in self._trees:
            tree = self._load(path, display=self.display_name(path), referrer=referrer)
        return tree

    def loaded(self, path: Path) -> Any | None:
        """The tree of ``path`` if it was loaded already (None otherwise); never reads a file."""
        return self._trees.get(path)

    def raw(self, path: Path) -> bytes:
        """The bytes of a loaded file."""
        return self._raw[path]

    @property
    def files(self) -> list[Path]:
        """Every file loaded, root first."""
        return [self.root_path, *sorted(p for p in self._raw if p != self.root_path)]

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for path in self.files:
            digest.update(self._raw[path])
        return digest.hexdigest()
