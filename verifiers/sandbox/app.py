"""The sandbox as an ASGI app: validate each request against the original spec, then answer like the API.

In: HTTP requests shaped by the execution verifier (or anyone: the extra headers are optional).
Out: 4xx with openapi-core's message for an invalid request; for a valid one, the GEN NX table model's
answer on ``/db/KEY`` tables, else the operation's canned success response (``responses.py``).

Headers the sandbox reads besides the API's own:
- ``X-Callforge-Origin``: the scheme://host[:port] the request was meant for, so absolute server URLs
  in the spec are checked (without it only the server's path prefix is compared).
- ``X-Callforge-Spec``: the spec file (percent-encoded, as the catalog stores it) to route to first.
- ``X-Callforge-Session``: the table-model session (one per sample keeps samples apart).
- ``X-Callforge-State: lenient`` / ``strict``: updates of unknown ids create them / are API errors;
  without it the session's mode decides (``strict`` unless seeded lenient).

A request whose ``X-Callforge-Spec`` names a spec that could not be loaded (a degraded start, see
``build_app``) is answered 503 ``spec_unavailable`` with the reason.

Admin routes under ``/_sandbox/``: ``GET health`` (specs served, and ``unavailable`` ones with reasons), ``POST reset[?session=]``, ``GET state?session=``,
``GET stats``, and ``POST seed?session=`` with ``{"tables": {TABLE: {ROW_ID: row}}, "state": "strict" |
"lenient", "check_references": false}``: the session starts over from that state, in that mode
(references are those of a ``references.yaml`` beside a spec; see ``assign_tables.py``).
Errors are JSON ``{"error": {"code", "message", "errors": [...]}}``.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl, unquote

from openapi_core.datatypes import RequestParameters
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from werkzeug.datastructures import ImmutableMultiDict

from schemas.references import ReferenceGraph, load_references, references_beside
from verifiers.sandbox.assign_tables import AssignTableStore, SeedError, wrong_field
from verifiers.sandbox.responses import CannedResponse, success_response
from verifiers.sandbox.routing import LoadedSpec, Match, NoMatch, Operation
from verifiers.sandbox.validation import RequestProblem, ValidationRequest

log = logging.getLogger("callforge.sandbox")
ORIGIN_HEADER = "x-callforge-origin"
SPEC_HEADER = "x-callforge-spec"
SESSION_HEADER = "x-callforge-session"
STATE_HEADER = "x-callforge-state"
_STATE_CHOICE = {"lenient": True, "strict": False}  # no header: the session's own mode (strict unseeded)
MAX_SEED_BYTES = 16 << 20
_NO_MATCH_RANK = {"method_not_allowed": 0, "path_not_found": 1, "server_not_found": 2}


def _json_response(status: int, payload: Any) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        status_code=status,
        media_type="application/json",
    )


def error_response(status: int, code: str, messages: list[str]) -> Response:
    return _json_response(
        status, {"error": {"code": code, "message": "; ".join(messages), "errors": messages}}
    )


class SandboxApp:
    """One sandbox: its specs, one table store (sessions inside), request counters."""

    def __init__(
        self, specs: list[LoadedSpec], *, strict_query: bool = True, unavailable: dict[str, str] | None = None
    ) -> None:
        if not specs and not unavailable:
            raise ValueError("a sandbox needs at least one spec")
        self.specs = specs
        # specs that could not be loaded (a degraded start): key -> reason, answered 503
        self.unavailable = dict(unavailable or {})
        self.strict_query = strict_query
        self.store = AssignTableStore(references=_spec_references(specs))
        self._known_tables: set[str] | None = None
        self.by_key: dict[str, LoadedSpec] = {}
        for spec in specs:
            self.by_key[spec.key] = spec
            self.by_key[str(spec.file)] = spec
        self.stats = {"requests": 0, "rejected": 0, "unrouted": 0}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        raw = scope.get("raw_path")
        raw_path = raw.decode("latin-1") if raw else scope["path"]
        raw_path = raw_path.split("?", 1)[0]
        request = Request(scope, receive)
        try:
            if raw_path.startswith("/_sandbox/"):
                response = await self._admin(raw_path[len("/_sandbox/") :], request)
            else:
                response = await self._api(raw_path, request)
        except Exception as exc:  # a sandbox fault is the sandbox's, not the sample's: 500 -> undecided
            log.exception("sandbox failed on %s %s", request.method, raw_path)
            root = exc
            while root.__cause__ is not None or root.__context__ is not None:
                root = root.__cause__ or root.__context__  # type: ignore[assignment]
            detail = f"{type(exc).__name__}: {exc}" + (f" (cause: {root})" if root is not exc else "")
            response = error_response(500, "sandbox_error", [detail])
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    # ------------------------------------------------------------------------------------------ API

    async def _api(self, raw_path: str, request: Request) -> Response:
        self.stats["requests"] += 1
        headers = request.headers
        origin = headers.get(ORIGIN_HEADER, "").rstrip("/")
        method = request.method.lower()
        hint = unquote(headers.get(SPEC_HEADER, ""))
        if hint in self.unavailable:
            self.stats["unrouted"] += 1
            return error_response(
                503, "spec_unavailable", [f"the sandbox could not load {hint}: {self.unavailable[hint]}"]
            )
        found = self._route(origin, raw_path, method, hint)
        if isinstance(found, NoMatch):
            self.stats["unrouted"] += 1
            return error_response(found.status, found.code, [found.message])
        spec, match = found
        body = await request.body()
        query_pairs = parse_qsl(
            request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
        )
        vreq = ValidationRequest(
            host_url=origin or str(request.base_url).rstrip("/"),
            path=raw_path,
            method=method,
            body=body or None,
            content_type=headers.get("content-type", "application/octet-stream"),
            parameters=RequestParameters(
                query=ImmutableMultiDict(query_pairs),
                header=headers,
                cookie=request.cookies,
                path=match.variables,
            ),
        )
        # path keys differing only by `?query`/`#fragment` share a route: the first the request fits wins
        first: list[RequestProblem] | None = None
        for op in match.operation.candidates(query_pairs):
            problems = self._strict_problems(op, query_pairs, body)
            problems += spec.validator.errors(vreq, op.node, op.path_item)
            if not problems:
                break
            first = problems if first is None else first
        else:
            self.stats["rejected"] += 1
            assert first is not None
            messages = [p.message for p in first]
            if op.assign_table and (answer := wrong_field(messages)):
                return _json_response(200, answer)  # a /db row with an undeclared field: as GEN NX answers
            return error_response(first[0].status, first[0].code, messages)
        if op.assign_table:
            return self._table(op, match, body, headers)
        canned: CannedResponse | None = op.cache.get("response")
        if canned is None:
            canned = success_response(op.node)
            op.cache["response"] = canned
        return Response(canned.body, status_code=canned.status, media_type=canned.content_type)

    def _route(
        self, origin: str, raw_path: str, method: str, hint: str
    ) -> tuple[LoadedSpec, Match] | NoMatch:
        first = self.by_key.get(hint) if hint else None
        ordered = [first, *[s for s in self.specs if s is not first]] if first else self.specs
        best: NoMatch | None = None
        if not ordered:
            return NoMatch(404, "path_not_found", "the sandbox serves no spec (none could be loaded)")
        for spec in ordered:
            found = spec.match(origin, raw_path, method)
            if isinstance(found, Match):
                return spec, found
            if best is None or _NO_MATCH_RANK.get(found.code, 9) < _NO_MATCH_RANK.get(best.code, 9):
                best = found
        assert best is not None
        return best

    def _strict_problems(
        self, op: Operation, query: list[tuple[str, str]], body: bytes
    ) -> list[RequestProblem]:
        """What a strict server refuses beyond the schema: unknown query keys, a body nobody asked for."""
        problems = []
        if self.strict_query and op.query_names is not None:
            unknown = sorted(
                {
                    k
                    for k, _ in query
                    if k not in op.query_names and not any(k.startswith(p) for p in op.query_prefixes)
                }
            )
            if unknown:
                declared = ", ".join(sorted(op.query_names)) or "none"
                problems.append(
                    RequestProblem(
                        400,
                        "unknown_query_parameter",
                        f"unknown query parameter(s) {unknown}; declared: {declared}",
                    )
                )
        if body and not op.has_body:
            problems.append(
                RequestProblem(
                    400, "unexpected_body", f"{op.method.upper()} {op.template} takes no request body"
                )
            )
        return problems

    def _table(self, op: Operation, match: Match, body: bytes, headers: Headers) -> Response:
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        item_id = match.variables.get(op.id_param) if op.id_param else None
        answer = self.store.handle(
            headers.get(SESSION_HEADER, ""),
            op.assign_table or "",
            op.method,
            payload,
            item_id,
            lenient=_STATE_CHOICE.get(headers.get(STATE_HEADER, "").lower()),
        )
        return _json_response(200, answer)

    # ---------------------------------------------------------------------------------------- admin

    async def _admin(self, action: str, request: Request) -> Response:
        session = request.query_params.get("session")
        if action == "health" and request.method == "GET":
            return _json_response(
                200,
                {
                    "status": "ok",
                    "specs": [
                        {
                            "key": s.key,
                            "file": str(s.file),
                            "openapi": s.version,
                            "tables": sorted(s.assign_tables),
                            "errors_as_200": s.errors_as_200,
                        }
                        for s in self.specs
                    ],
                    "unavailable": [{"key": k, "reason": r} for k, r in self.unavailable.items()],
                },
            )
        if action == "reset" and request.method == "POST":
            self.store.reset(session)
            return _json_response(200, {"reset": session if session is not None else "all"})
        if action == "seed" and request.method == "POST":
            return await self._seed(session or "", request)
        if action == "state" and request.method == "GET":
            return _json_response(200, self.store.snapshot(session or ""))
        if action == "stats" and request.method == "GET":
            return _json_response(200, self.stats)
        return error_response(
            404, "unknown_admin_route", [f"no sandbox admin route {request.method} /_sandbox/{action}"]
        )

    async def _seed(self, session: str, request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_SEED_BYTES:
            return error_response(
                413, "seed_too_large", [f"seed of {len(body)} bytes; at most {MAX_SEED_BYTES}"]
            )
        try:
            payload = json.loads(body or b"{}")
        except ValueError as exc:
            return error_response(400, "invalid_seed", [f"the seed is not JSON: {exc}"])
        if not isinstance(payload, dict) or set(payload) - {"tables", "state", "check_references"}:
            return error_response(
                400,
                "invalid_seed",
                ["expected {'tables': {...}, 'state': 'strict'|'lenient', 'check_references': bool}"],
            )
        state = payload.get("state", "strict")
        check = payload.get("check_references", False)
        if state not in _STATE_CHOICE or not isinstance(check, bool):
            return error_response(
                400, "invalid_seed", ["'state' is strict or lenient; 'check_references' a boolean"]
            )
        if self._known_tables is None:  # assign_tables walks every operation: once per app, not per seed
            self._known_tables = {t for spec in self.specs for t in spec.assign_tables}
        known = self._known_tables
        try:
            rows = self.store.seed(
                session,
                payload.get("tables") or {},
                known=known,
                lenient=_STATE_CHOICE[state],
                check_references=check,
            )
        except SeedError as exc:
            return error_response(400, "invalid_seed", [str(exc)])
        return _json_response(
            200, {"seeded": session, "rows": rows, "state": state, "check_references": check}
        )


def _spec_references(specs: list[LoadedSpec]) -> ReferenceGraph:
    """The reference graphs of every served spec that ships a ``references.yaml`` beside it."""
    graph = ReferenceGraph()
    for spec in specs:
        found = references_beside(spec.file)
        if found is not None:
            graph = graph.merged(load_references(found))
    return graph
