"""Which field of a table refers to which other table: the reference graph of a spec.

In: a checked-in references file (GEN NX: ``specs/gennx/references.yaml``), or, for specs without
one, the spec itself (``schemas.reference_heuristics``). Out: a ``ReferenceGraph`` of ``Reference``
entries — in rows of ``table``, the values at ``field`` name rows of ``target``, by row id
(``holds="id"``) or by the target row's ``NAME`` (``holds="name"``) — each saying where it came from
(``source``: ``checked`` by hand, OpenAPI ``links``, or an id-field ``heuristic``).

    graph = load_references("specs/gennx/references.yaml")
    [r.target for r in graph.of("ELEM")]            # ['NODE', 'MATL', 'SECT', 'THIK']
    list(graph.of("ELEM")[0].values("7", {"NODE": [1, 2]}))   # [1, 2]

Field paths: ``NAME`` (a field), ``NODE[]`` (each array item), ``ITEMS[].LCNAME`` (a field of each
object of an array), ``@id`` (the row's own key). ``when: {FIELD: [values]}`` limits an entry to the
objects whose sibling field has one of the values. Empty strings and 0 name nothing and are skipped.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from schemas.config_files import load_yaml
from schemas.errors import ConfigError

Holds = Literal["id", "name"]
Source = Literal["checked", "listed", "links", "heuristic"]
MAX_FILE_BYTES = 2 << 20
_SEGMENT = re.compile(r"^(?:@id|[A-Za-z0-9_\-]+(?:\[\])?)$")


@dataclass(frozen=True)
class Reference:
    """In rows of ``table``, the values at ``field`` name rows of ``target`` (by id or by name)."""

    table: str
    field: str
    target: str
    holds: Holds = "id"
    when: Mapping[str, tuple[Any, ...]] = dataclasses.field(default_factory=dict)
    source: Source = "checked"
    note: str = ""

    def values(self, row_id: str, row: Any) -> Iterator[Any]:
        """Every non-empty value this reference points with in one row (``row_id`` is its key)."""
        if self.field == "@id":
            if not self.when or _fits(row, self.when):
                yield row_id
            return
        for holder, value in _walk(row, self.field.split(".")):
            if self.when and not _fits(holder, self.when):
                continue
            if value in ("", 0, None):
                continue
            yield value


def _walk(node: Any, segments: list[str]) -> Iterator[tuple[Any, Any]]:
    """(object holding the last field, value) for a dotted path with ``[]`` array steps."""
    if not isinstance(node, Mapping) or not segments:
        return
    head, rest = segments[0], segments[1:]
    many = head.endswith("[]")
    value = node.get(head[:-2] if many else head)
    if value is None:
        return
    items = value if many and isinstance(value, list) else [value] if not many else []
    for item in items:
        if rest:
            yield from _walk(item, rest)
        else:
            yield node, item


def _fits(holder: Any, when: Mapping[str, tuple[Any, ...]]) -> bool:
    return isinstance(holder, Mapping) and all(holder.get(k) in allowed for k, allowed in when.items())


@dataclass
class ReferenceGraph:
    """References by table, plus which tables were checked by hand."""

    references: list[Reference] = dataclasses.field(default_factory=list)
    checked_tables: set[str] = dataclasses.field(default_factory=set)
    manual: dict[str, str] = dataclasses.field(default_factory=dict)

    def of(self, table: str) -> list[Reference]:
        return [r for r in self.references if r.table == table]

    def tables(self) -> set[str]:
        return {r.table for r in self.references}

    def targets(self) -> set[str]:
        return {r.target for r in self.references}

    def by_source(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.references:
            counts[r.source] = counts.get(r.source, 0) + 1
        return counts

    def merged(self, other: ReferenceGraph) -> ReferenceGraph:
        """This graph plus ``other``'s entries for tables this one does not list (this one wins)."""
        mine = self.tables()
        extra = [r for r in other.references if r.table not in mine]
        return ReferenceGraph(
            [*self.references, *extra],
            self.checked_tables | other.checked_tables,
            {**other.manual, **self.manual},
        )


def load_references(path: str | Path) -> ReferenceGraph:
    """Read a references file; a bad entry raises ``ConfigError`` naming the file, table and field."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"references file {path}: cannot read it ({exc.strerror or exc})") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"references file {path}: {len(raw)} bytes, more than the {MAX_FILE_BYTES} allowed")
    try:
        data = load_yaml(raw.decode("utf-8"))
    except Exception as exc:  # yaml's errors, decode errors: one message naming the file
        raise ConfigError(f"references file {path}: not valid YAML ({exc})") from exc
    return parse_references(data, where=str(path))


def parse_references(data: Any, *, where: str = "references") -> ReferenceGraph:
    """The graph in an already parsed references document (see ``load_references``)."""
    if (
        not isinstance(data, Mapping)
        or data.get("version") != 1
        or not isinstance(data.get("tables"), Mapping)
    ):
        raise ConfigError(f"{where}: expected a mapping with 'version: 1' and a 'tables' mapping")
    graph = ReferenceGraph()
    for table, entry in data["tables"].items():
        at = f"{where}: tables.{table}"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("references"), list):
            raise ConfigError(f"{at}: expected a mapping with a 'references' list")
        if entry.get("checked") is True:
            graph.checked_tables.add(str(table))
        if entry.get("manual"):
            graph.manual[str(table)] = str(entry["manual"])
        for i, ref in enumerate(entry["references"]):
            graph.references.append(_reference(str(table), ref, f"{at}.references[{i}]", entry))
    return graph


def _reference(table: str, ref: Any, at: str, entry: Mapping[str, Any]) -> Reference:
    if not isinstance(ref, Mapping):
        raise ConfigError(f"{at}: expected a mapping with field, target and holds")
    unknown = set(ref) - {"field", "target", "holds", "when", "note"}
    if unknown:
        raise ConfigError(
            f"{at}: unknown key(s) {sorted(unknown)}; allowed: field, target, holds, when, note"
        )
    path, target, holds = ref.get("field"), ref.get("target"), ref.get("holds", "id")
    if not isinstance(path, str) or not all(_SEGMENT.match(s) for s in path.split(".")):
        raise ConfigError(f"{at}.field: {path!r} is not a field path (NAME, NODE[], ITEMS[].LCNAME or @id)")
    if not isinstance(target, str) or not target:
        raise ConfigError(f"{at}.target: expected a table key, got {target!r}")
    if holds not in ("id", "name"):
        raise ConfigError(f"{at}.holds: expected 'id' or 'name', got {holds!r}")
    when = ref.get("when") or {}
    if not isinstance(when, Mapping) or not all(isinstance(v, list) and v for v in when.values()):
        raise ConfigError(f"{at}.when: expected a mapping of field -> non-empty list of values")
    return Reference(
        table=table,
        field=path,
        target=target,
        holds=holds,
        when={str(k): tuple(v) for k, v in when.items()},
        source="checked" if entry.get("checked") is True else "listed",
        note=str(ref.get("note") or ""),
    )


def references_beside(spec_file: str | Path) -> Path | None:
    """The ``references.yaml`` next to a spec file, when there is one (GEN NX ships it)."""
    candidate = Path(spec_file).parent / "references.yaml"
    return candidate if candidate.is_file() else None
