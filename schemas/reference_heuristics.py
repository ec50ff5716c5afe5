"""A reference graph for specs that ship no references file: OpenAPI ``links`` first, id fields second.

In: a parsed OpenAPI document (a dict; local ``#/components/...`` refs are followed, at most
``MAX_DEPTH`` deep). Out: a ``ReferenceGraph`` whose entries say how they were found:

* ``source="links"`` — a response ``links`` entry ``{operationId, parameters: {p: "$response.body#/id"}}``
  says that parameter ``p`` of the linked operation names a row of the linking operation's collection;
* ``source="heuristic"`` — a path, query or request-body field whose name is a collection's name or its
  singular with an id suffix (``userId``, ``user_id``, ``user_ids[]``; GEN NX: a field spelled like a
  table key, ``MATL``, ``NODE[]``, holding integers) names rows of that collection.

What it does not cover (so the graph may be partial, and is reported as such): references by name
(``LCNAME`` → a load case's ``NAME``), references held in row keys (GEN NX ``CONS`` row 3 = node 3),
fields whose names share nothing with the collection, and conditional targets (``ELEM.SECT`` is a
thickness for plate elements). Those need a checked-in file (``specs/gennx/references.yaml``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from schemas.references import Reference, ReferenceGraph

MAX_DEPTH = 12
_METHODS = ("get", "put", "post", "delete", "patch")
_ID_SUFFIX = re.compile(r"(?:_?ids?|_?IDs?|Ids?|_?no|_?NO)$")


def collection_of(path: str) -> str | None:
    """The collection a path works on: its last literal segment (``/users/{id}`` → ``users``)."""
    literal = [s for s in path.strip("/").split("/") if s and not s.startswith("{")]
    return literal[-1] if literal else None


def _deref(document: Mapping[str, Any], node: Any, depth: int = 0) -> Any:
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and depth < MAX_DEPTH:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return {}
        target: Any = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, Mapping) else None
        node, depth = target, depth + 1
    return node if isinstance(node, Mapping) else {}


def _operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    paths = document.get("paths")
    for path, item in (paths or {}).items() if isinstance(paths, Mapping) else []:
        for method in _METHODS:
            op = item.get(method) if isinstance(item, Mapping) else None
            if isinstance(op, Mapping):
                yield path, method, op


def _names(collections: set[str]) -> dict[str, str]:
    """Lower-cased spellings (plural and singular) → collection."""
    out: dict[str, str] = {}
    for name in collections:
        low = name.lower()
        out[low] = name
        for suffix, stem in (("ies", "y"), ("es", ""), ("s", "")):
            if low.endswith(suffix) and len(low) > len(suffix) + 1:
                out.setdefault(low[: -len(suffix)] + stem, name)
    return out


def _fields(
    document: Mapping[str, Any], schema: Any, prefix: str, depth: int
) -> Iterator[tuple[str, str, Any]]:
    """(field path, bare name, schema) for the properties of ``schema``, into Assign-style maps and arrays."""
    schema = _deref(document, schema)
    if depth > 4:
        return
    for name, prop in (schema.get("properties") or {}).items():
        prop = _deref(document, prop)
        kind = prop.get("type")
        path = f"{prefix}{name}"
        if kind == "array":
            items = _deref(document, prop.get("items"))
            if items.get("type") == "object" or "properties" in items:
                yield from _fields(document, items, f"{path}[].", depth + 1)
            else:
                yield f"{path}[]", name, items
        elif kind == "object" or "properties" in prop:
            yield from _fields(document, prop, f"{path}.", depth + 1)
        else:
            yield path, name, prop
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping) and prefix.endswith("Assign."):  # GEN NX {"Assign": {id: row}}
        yield from _fields(document, extra, "", depth + 1)


def infer_references(document: Mapping[str, Any]) -> ReferenceGraph:
    """Links and id-field heuristics over one spec (see the module docstring)."""
    ops = list(_operations(document))
    collections = {c for path, _, _ in ops if (c := collection_of(path))}
    spelled = _names(collections)
    by_operation_id = {op.get("operationId"): path for path, _, op in ops if op.get("operationId")}
    found: dict[tuple[str, str, str], Reference] = {}
    for path, _method, op in ops:
        source = collection_of(path)
        for response in (op.get("responses") or {}).values():
            for link in (_deref(document, response).get("links") or {}).values():
                link = _deref(document, link)
                target_path = by_operation_id.get(link.get("operationId"))
                table = collection_of(target_path) if target_path else None
                if not (source and table):
                    continue
                for parameter in link.get("parameters") or {}:
                    ref = Reference(
                        table, str(parameter), source, "id", source="links", note=f"link from {path}"
                    )
                    found.setdefault((table, ref.field, source), ref)
    for path, method, op in ops:
        table = collection_of(path)
        if not table:
            continue
        for field_path, name, schema in _op_fields(document, path, method, op):
            target = _target(name, schema, spelled)
            if target and target != table and (table, field_path, target) not in found:
                found[(table, field_path, target)] = Reference(
                    table, field_path, target, "id", source="heuristic"
                )
    return ReferenceGraph(list(found.values()))


def _op_fields(
    document: Mapping[str, Any], path: str, method: str, op: Mapping[str, Any]
) -> Iterator[tuple[str, str, Any]]:
    """Path, query and body fields of one operation (OpenAPI 3 ``requestBody``, Swagger 2 ``in: body``)."""
    item = _deref(document, (document.get("paths") or {}).get(path))
    for parameter in [*(item.get("parameters") or []), *(op.get("parameters") or [])]:
        parameter = _deref(document, parameter)
        where, name = parameter.get("in"), parameter.get("name")
        if where in ("path", "query") and isinstance(name, str):
            yield name, name, _deref(document, parameter.get("schema")) or {"type": parameter.get("type")}
        elif where == "body" and method in ("post", "put", "patch"):
            yield from _fields(document, parameter.get("schema"), "", 0)
    if method in ("post", "put", "patch"):
        body = _deref(document, op.get("requestBody"))
        for media in (body.get("content") or {}).values():
            yield from _fields(document, _deref(document, media).get("schema"), "", 0)


def _target(name: str, schema: Mapping[str, Any], spelled: dict[str, str]) -> str | None:
    kind = schema.get("type")
    if kind not in ("integer", "string", None) or name == "Assign":
        return None
    if name in spelled.values() and kind == "integer":  # GEN NX: MATL, SECT, NODE[] hold table ids
        return name
    stem = _ID_SUFFIX.sub("", name)
    if stem == name or not stem:
        return None
    return spelled.get(stem.lower().rstrip("_"))


def describe(graph: ReferenceGraph) -> list[str]:
    """Lines for a report: counts per source, and which tables are covered."""
    counts = graph.by_source()
    lines = [
        f"references {len(graph.references)} over {len(graph.tables())} tables: "
        + ", ".join(f"{n} {source}" for source, n in sorted(counts.items()))
    ]
    if counts.get("heuristic") or counts.get("links"):
        lines.append(
            "  (links and heuristics may be partial: names, row-key and conditional references are not inferred)"
        )
    return lines
