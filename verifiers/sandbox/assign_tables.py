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
- DELETE ``/db/KEY`` wipes the whole table (the live server does that even with an ``Assign`` body);
  DELETE ``/db/KEY/{id}`` removes one record.

State is kept per *session* (the ``X-Callforge-Session`` header), so samples verified concurrently
never see each other's records; the least recently used sessions are dropped past ``max_sessions``.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

Tables = dict[str, dict[str, Any]]


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

    def __init__(self, max_sessions: int = 10_000) -> None:
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Tables] = OrderedDict()

    def reset(self, session: str | None = None) -> None:
        """Forget one session's tables, or every session's when ``session`` is None."""
        if session is None:
            self._sessions.clear()
        else:
            self._sessions.pop(session, None)

    def tables(self, session: str) -> Tables:
        tables = self._sessions.get(session)
        if tables is None:
            tables = {}
            self._sessions[session] = tables
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
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
        lenient: bool = False,
    ) -> dict[str, Any]:
        """Apply one request to ``session``'s table ``key`` and return the JSON answer."""
        table = self.tables(session).setdefault(key, {})
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
            for i, item in assign.items():
                table[i] = copy.deepcopy(item)
            return {key: copy.deepcopy(assign)}
        if method == "put":
            unknown = sorted(i for i in assign if i not in table)
            if unknown and not lenient:
                return api_error(f"Key Not Exist: {', '.join(unknown)}")
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
