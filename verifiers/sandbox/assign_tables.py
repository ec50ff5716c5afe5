"""The in-memory model behind GEN NX-style ``/db/KEY`` tables.

In: a table key, a method, the decoded JSON body (``{"Assign": {"<id>": item}}``) and an optional id
from ``/db/KEY/{id}``. Out: the JSON the live server would answer — always HTTP 200, because the live
GEN NX server reports these errors *inside* a 200 as ``{"error": {"message": ...}}`` (recorded in the
MIDAS-API-NX-SDK's live verification notes, e.g. ``Key Already Exist`` on a POST of an existing id).

Semantics (from the live server's behaviour):
- a row with a field its table does not declare (the spec closes the row with
  ``additionalProperties: false``) is answered ``{"error": {"message": "Wrong Field"}}`` (``wrong_field``).
- POST creates every id in ``Assign``; if any id already exists nothing is written and the answer is
  ``{"error": {"message": "Key Already Exist"}}``.
- GET answers ``{"KEY": {"<id>": item, ...}}``, and ``{"message": ""}`` for an empty table.
- PUT merges each item into the existing record; an unknown id is an error — unless the session is
  *lenient*, where it creates the record (a generated sample may assume a model that already exists).
- DELETE ``/db/KEY`` wipes the whole table (the live server does that even with an ``Assign`` body,
  and the bundled spec's ``DeleteRows`` body requires the placeholder row ``"1"`` for that reason);
  DELETE ``/db/KEY/{id}`` removes one record (an unknown id is an error unless lenient).

State is kept per *session* (the ``X-Callforge-Session`` header), so samples verified concurrently
never see each other's records; the least recently used sessions are dropped past ``max_sessions``.

A session can be *seeded* (``seed``) with an initial state and its own settings: ``strict`` (the
default without a seed too: a PUT of a missing row, and a per-row ``DELETE /db/KEY/{id}`` of one, are
API errors, as the live server answers; a whole-table DELETE names no row that could be missing) or
``lenient``, and ``check_references`` (off by default). With references checked, a POST or PUT
whose row names a row of another table that does not exist (``ELEM`` on node 99, a nodal load on a
load case nobody created) is answered ``{"error": {"message": "Key Not Exist: NODE 99 ..."}}``. That
is an *assumption* about the live server, which checks some references (``NMAS`` on a missing node:
"the specified node does not exist") and silently accepts others (``CONS`` on a missing node answered
201 without an error in the SDK's live notes) — hence off unless asked for.

Not modelled: the live server's cascade (a whole-table DELETE of NODE also empties ELEM).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.references import Reference, ReferenceGraph

Tables = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class SessionMode:
    """How one session's tables behave (set by ``seed``; unseeded sessions are strict, unchecked)."""

    lenient: bool = False
    check_references: bool = False


class SeedError(ValueError):
    """A seed that is not ``{TABLE: {ROW_ID: row}}`` over known tables (the message says where)."""


def api_error(message: str) -> dict[str, Any]:
    return {"error": {"message": message}}


# How the request validator words an undeclared field (jsonschema's additionalProperties message).
_UNDECLARED = "Additional properties are not allowed"


def wrong_field(messages: list[str]) -> dict[str, Any] | None:
    """The live server's answer to a row with a misspelt or undeclared field — HTTP 200 with
    ``{"error": {"message": "Wrong Field"}}`` (GEN NX's own error for it) — when that is the only
    thing wrong with the request; None otherwise (the sandbox's usual 4xx stands)."""
    if messages and all(_UNDECLARED in m for m in messages):
        return api_error("Wrong Field")
    return None


class AssignTableStore:
    """Tables per session. Not thread-safe: the sandbox serves from one event loop."""

    def __init__(self, max_sessions: int = 10_000, references: ReferenceGraph | None = None) -> None:
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Tables] = OrderedDict()
        self._modes: dict[str, SessionMode] = {}
        self.references = references or ReferenceGraph()

    def reset(self, session: str | None = None) -> None:
        """Forget one session's tables, or every session's when ``session`` is None."""
        if session is None:
            self._sessions.clear()
            self._modes.clear()
        else:
            self._sessions.pop(session, None)
            self._modes.pop(session, None)

    def seed(
        self,
        session: str,
        tables: Any,
        *,
        known: set[str] | None = None,
        lenient: bool = False,
        check_references: bool = False,
    ) -> int:
        """Replace ``session``'s tables with ``tables`` (``{TABLE: {ROW_ID: row}}``); the row count.

        ``known``: the table keys a spec serves (others raise ``SeedError``). Row ids are digit strings,
        as in ``Assign``; rows are objects. The seed itself is not reference-checked: an initial state
        is whatever the model held.
        """
        if not isinstance(tables, Mapping):
            raise SeedError("the initial state must be an object {TABLE: {ROW_ID: row}}")
        copied: Tables = {}
        rows = 0
        for key, table in tables.items():
            if known is not None and key not in known:
                raise SeedError(f"table {key!r} is not a /db table of any spec served ({len(known)} known)")
            if not isinstance(table, Mapping):
                raise SeedError(f"table {key!r}: expected an object {{ROW_ID: row}}")
            for row_id, row in table.items():
                if not (isinstance(row_id, str) and row_id.isdigit()):
                    raise SeedError(f"table {key!r}: row id {row_id!r} is not a digit string")
                if not isinstance(row, Mapping):
                    raise SeedError(f"table {key!r} row {row_id}: expected an object")
            copied[str(key)] = copy.deepcopy(dict(table))
            rows += len(table)
        self.reset(session)
        self._sessions[session] = copied
        self._modes[session] = SessionMode(lenient=lenient, check_references=check_references)
        while len(self._sessions) > self.max_sessions:
            dropped, _ = self._sessions.popitem(last=False)
            self._modes.pop(dropped, None)
        return rows

    def mode(self, session: str) -> SessionMode:
        return self._modes.get(session, SessionMode())

    def tables(self, session: str) -> Tables:
        tables = self._sessions.get(session)
        if tables is None:
            tables = {}
            self._sessions[session] = tables
            while len(self._sessions) > self.max_sessions:
                dropped, _ = self._sessions.popitem(last=False)
                self._modes.pop(dropped, None)
        else:
            self._sessions.move_to_end(session)
        return tables

    def snapshot(self, session: str) -> Tables:
        return copy.deepcopy(self._sessions.get(session, {}))

    def handle(
        self,
        session: str,
        key: str,
        method: str,
        body: Any,
        item_id: str | None = None,
        *,
        lenient: bool | None = None,
    ) -> dict[str, Any]:
        """Apply one request to ``session``'s table ``key`` and return the JSON answer.

        ``lenient``: the request's own choice (the ``X-Callforge-State`` header); None = the session's.
        """
        mode = self.mode(session)
        lenient = mode.lenient if lenient is None else lenient
        tables = self.tables(session)
        table = tables.setdefault(key, {})
        assign = body.get("Assign") if isinstance(body, dict) else None
        assign = assign if isinstance(assign, dict) else {}
        method = method.lower()
        if method == "get":
            if item_id is None:
                # the live server answers an empty table with a bare message, not {"KEY": {}}
                return {key: copy.deepcopy(table)} if table else {"message": ""}
            if item_id not in table:
                return api_error(f"Key Not Exist: {item_id}")
            return {key: {item_id: copy.deepcopy(table[item_id])}}
        if method == "post":
            if any(i in table for i in assign):
                return api_error("Key Already Exist")
            if mode.check_references and (missing := self._missing_reference(tables, key, assign)):
                return api_error(missing)
            for i, item in assign.items():
                table[i] = copy.deepcopy(item)
            return {key: copy.deepcopy(assign)}
        if method == "put":
            unknown = sorted(i for i in assign if i not in table)
            if unknown and not lenient:
                return api_error(f"Key Not Exist: {', '.join(unknown)}")
            if mode.check_references:
                merged = {
                    i: {**table[i], **item}
                    if isinstance(table.get(i), dict) and isinstance(item, dict)
                    else item
                    for i, item in assign.items()
                }
                if missing := self._missing_reference(tables, key, merged):
                    return api_error(missing)
            written: dict[str, Any] = {}
            for i, item in assign.items():
                current = table.get(i)
                if isinstance(current, dict) and isinstance(item, dict):
                    current.update(copy.deepcopy(item))
                else:
                    table[i] = copy.deepcopy(item)
                written[i] = copy.deepcopy(table[i])
            return {key: written}
        if method == "delete":
            if item_id is None:
                removed = dict(table)
                table.clear()
                return {key: removed}
            if item_id not in table:
                return {key: {}} if lenient else api_error(f"Key Not Exist: {item_id}")
            return {key: {item_id: table.pop(item_id)}}
        return api_error(f"{method.upper()} is not supported on /db/{key}")

    def _missing_reference(self, tables: Tables, key: str, rows: Mapping[str, Any]) -> str | None:
        """The first reference of ``rows`` (to be written to ``key``) to a row that does not exist."""
        refs = self.references.of(key)
        if not refs:
            return None
        for row_id, row in rows.items():
            for ref in refs:
                for value in ref.values(row_id, row):
                    if not _exists(tables.get(ref.target) or {}, ref, value):
                        return (
                            f"Key Not Exist: {ref.target} {value!r} "
                            f"(referred to by {key} {row_id} {ref.field})"
                        )
        return None


def _exists(target: dict[str, Any], ref: Reference, value: Any) -> bool:
    if ref.holds == "id":
        return str(value) in target
    return any(isinstance(row, dict) and row.get("NAME") == value for row in target.values())
