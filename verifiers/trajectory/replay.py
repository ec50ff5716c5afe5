"""Run a trajectory's calls in sandbox sessions: seed, execute one call, read the canonical state.

In: a running ``SandboxServer`` base URL and the catalog whose tools the calls name. Out: for each call
an ``Outcome`` (the response text the API gave, parsed JSON, and whether it failed or could not be
decided), and per session the state the sandbox holds, canonicalised (tables without rows dropped:
a GET of an empty table creates nothing on the live server either).

Requests are built exactly as the execution verifier builds them (``verifiers.request.build_request``
with placeholder credentials, sent to the sandbox with the origin and spec it was meant for); the
session header names the session, and its mode is the seed's (strict unless told otherwise).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from schemas.catalog import Catalog
from schemas.models import ToolCall
from verifiers.http_answers import classify
from verifiers.request import RequestBuildError, build_request, origin_and_prefix, placeholder_credentials


@dataclass(frozen=True)
class Outcome:
    """One executed call: ``text`` is what a tool message must carry; ``passed`` None = undecided."""

    text: str
    value: Any  # the parsed JSON of text (the text itself when it is not JSON)
    passed: bool | None
    code: str
    message: str = ""


def parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text.strip()


class SandboxReplay:
    """Seeds sessions and executes calls against one running sandbox (``connect`` builds one)."""

    def __init__(
        self, base_url: str, catalog: Catalog, *, errors_as_200: set[str], timeout_s: float = 30
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.catalog = catalog
        self.errors_as_200 = errors_as_200
        # one pooled connection per verifying thread (TrajectoryVerifier.workers)
        self.client = httpx.Client(
            timeout=timeout_s,
            trust_env=False,
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        )

    def close(self) -> None:
        self.client.close()

    def seed(self, session: str, tables: dict[str, Any], *, check_references: bool) -> str | None:
        """Start ``session`` from ``tables`` (strict); the sandbox's refusal message, or None."""
        answer = self.client.post(
            self.base_url + "/_sandbox/seed",
            params={"session": session},
            json={"tables": tables, "state": "strict", "check_references": check_references},
        )
        return None if answer.status_code == 200 else answer.text[:500]

    def forget(self, *sessions: str) -> None:
        for session in sessions:
            # a session left behind costs memory only; the sandbox drops the oldest past its cap
            with contextlib.suppress(httpx.HTTPError):
                self.client.post(self.base_url + "/_sandbox/reset", params={"session": session})

    def state(self, session: str) -> dict[str, Any]:
        tables = self.client.get(self.base_url + "/_sandbox/state", params={"session": session}).json()
        return {key: rows for key, rows in tables.items() if rows}

    def execute(self, session: str, name: str, arguments: dict[str, Any]) -> Outcome:
        tool = self.catalog.get(name)
        if tool is None:
            return Outcome("", None, False, "unknown_tool", f"no tool named {name!r} in the catalog")
        try:
            logical = build_request(
                tool,
                ToolCall(name=name, arguments=arguments),
                credentials=placeholder_credentials(tool.binding),
            )
        except RequestBuildError as exc:
            return Outcome("", None, False, exc.code, exc.message)
        origin, _prefix = origin_and_prefix(tool.binding.server_url)
        headers = dict(logical.headers)
        if origin:
            headers["X-Callforge-Origin"] = origin
        headers["X-Callforge-Spec"] = quote(tool.source.file, safe="/:")
        headers["X-Callforge-Session"] = session
        url = self.base_url + logical.url[len(origin) :]
        # UTF-8 bytes: httpx refuses a non-ASCII str header value outright
        wire = [(k.encode("ascii"), v.encode("utf-8")) for k, v in headers.items()]
        try:
            answer = self.client.request(logical.method, url, headers=wire, content=logical.content)
        except httpx.HTTPError as exc:
            return Outcome("", None, None, "sandbox_unreachable", f"{type(exc).__name__}: {exc}")
        text = answer.text
        passed, code, message = classify(
            answer.status_code, text, error_key=tool.source.file in self.errors_as_200
        )
        return Outcome(text, parsed(text), passed, code, message)


def connect(base_url: str, catalog: Catalog, *, timeout_s: float = 30) -> SandboxReplay:
    """A ``SandboxReplay`` on a running sandbox, told which specs answer errors as HTTP 200 (GEN NX
    does), as the sandbox's health page lists them: replay and rollout classify answers alike."""
    base = base_url.rstrip("/")
    health = httpx.get(base + "/_sandbox/health", timeout=timeout_s, trust_env=False).json()
    errors_as_200 = {
        str(s[k]) for s in health.get("specs", []) if s.get("errors_as_200") for k in ("key", "file")
    }
    return SandboxReplay(base, catalog, errors_as_200=errors_as_200, timeout_s=timeout_s)


def state_difference(gold: dict[str, Any], got: dict[str, Any]) -> str | None:
    """A short description of the first difference between two canonical states, None when equal."""
    if gold == got:
        return None
    for table in sorted(set(gold) | set(got)):
        want, have = gold.get(table, {}), got.get(table, {})
        if want == have:
            continue
        for row in sorted(set(want) | set(have), key=lambda r: (len(r), r)):
            if want.get(row) != have.get(row):
                return f"{table} row {row}: expected {_short(want.get(row))}, got {_short(have.get(row))}"
    return "states differ"


def _short(value: Any) -> str:
    text = "absent" if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= 160 else text[:157] + "..."
