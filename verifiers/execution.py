"""The execution verifier: send each call as the real HTTP request and let a server judge it.

In: samples whose calls passed the format check, and a catalog whose tools carry HTTP bindings.
Out: one verdict per sample, and ``ctx.resources["execution_results"][sample.id]`` = one
``ExecutionResult`` per call (status, truncated response, latency) for the semantic stage.

Targets (option ``target``):
- ``sandbox`` (default): ``ctx.resources["sandbox_url"]``, else option ``base_url``, else a
  ``SandboxServer`` started for the specs of the tools in the batch and stopped when ``verify``
  returns. The sandbox validates every request against the ORIGINAL spec with openapi-core, so a
  conversion bug shows up as a failure. Each sample gets its own table-model session.
- ``real``: ``base_url`` (or each tool's server URL), an auth header read from ``auth_env``, a host
  allow-list checked before sending, mutating methods refused unless ``allow_mutations``, a token
  bucket per host, and the secret redacted from everything logged or recorded.

Reason codes: ``ok`` (2xx), ``no_calls`` (an irrelevance sample: nothing to send, passes),
``http_4xx`` such as ``http_422`` (failed; the message is the server's), ``api_error`` (a 2xx whose
body is ``{"error": {...}}`` — GEN NX reports errors that way; failed), ``unknown_tool`` and request
build errors such as ``missing_path_parameter`` (failed), and undecided (``passed=None``):
``http_5xx`` such as ``http_503`` (after ``retries`` retries with exponential backoff), ``http_3xx``,
``host_not_allowed``, ``mutation_refused``, ``no_server_url``.
A sample's verdict is its first failing call, else its first undecided one, else ``ok``.

**A target that cannot be reached is not a verdict.** A request that gets no HTTP answer at all after
its retries (connection refused or reset, a timeout: the sandbox died, the network is down) says
nothing about the sample, so by default (``unreachable: raise``) ``verify`` raises
``TargetUnreachable`` for the whole batch and records nothing: the caller's shard fails and is
retried (in the run, or by the resume), never published with verdicts an outage made.
``unreachable: undecided`` keeps the old behaviour (an undecided ``transport_error`` verdict) for a
one-off check against a target known to be flaky.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import Field, model_validator

from schemas.errors import CallforgeError
from schemas.models import ExecutionResult, Sample, Tool, Verdict
from verifiers.base import EXECUTION_RESULTS_KEY, VerifierOptions, VerifierUnavailable, VerifyContext
from verifiers.execution_client import execution_client
from verifiers.http_answers import ERRORS_AS_200, classify
from verifiers.real_target import HostRateLimiter, Redactor, Refusal, TargetPolicy, host_of, secret_from_env
from verifiers.request import (
    Credentials,
    HttpRequest,
    RequestBuildError,
    build_request,
    origin_and_prefix,
    placeholder_credentials,
)

log = logging.getLogger("callforge.verifiers.execution")
T = TypeVar("T")
DETAIL_CHARS = 200  # a response excerpt in verdict details (the full, truncated one is on the sample)


class TargetUnreachable(VerifierUnavailable):
    """No HTTP answer from the execution target after the retries: an infrastructure failure."""


class ExecutionOptions(VerifierOptions):
    target: Literal["sandbox", "real"] = Field(default="sandbox", description="where requests go")
    base_url: str | None = Field(
        default=None, description="sandbox URL, or the real API's base URL (replaces server_url)"
    )
    allowed_hosts: list[str] = Field(
        default_factory=list, description="real: hosts (or host:port) that may be called"
    )
    allow_mutations: bool = Field(
        default=False, description="real: send POST/PUT/PATCH/DELETE (else mutation_refused)"
    )
    auth_header: str | None = Field(
        default=None, description="real: header carrying the secret, e.g. MAPI-Key"
    )
    auth_env: str | None = Field(default=None, description="real: environment variable holding the secret")
    timeout_s: float = Field(default=10.0, gt=0, description="per-request timeout")
    concurrency: int | None = Field(
        default=None,
        ge=1,
        description=(
            "requests in flight at once (one pooled connection each); default 16 against the real API, "
            "and twice the CPU count (at most 16) against the sandbox, which runs on this machine"
        ),
    )
    rate_per_host: float | None = Field(
        default=None, gt=0, description="requests per second per host (token bucket)"
    )
    retries: int = Field(
        default=2, ge=0, le=10, description="extra attempts after a 5xx or a transport error"
    )
    backoff_s: float = Field(default=0.2, ge=0, description="first retry delay; doubles per attempt")
    max_response_chars: int = Field(default=2048, ge=0, description="response text kept per call")
    state: Literal["lenient", "strict"] = Field(
        default="lenient",
        description="sandbox tables: lenient lets an update create an unknown id (a sample may assume one)",
    )
    spec_root: str | None = Field(
        default=None, description="directory relative spec paths resolve against (sandbox)"
    )
    allowed_root: str | None = Field(
        default=None,
        description="sandbox: folder the specs' file $refs must stay inside (default: each spec's folder)",
    )
    errors_as_200: Literal["spec", "always", "never"] = Field(
        default="spec",
        description="a 2xx body {'error': ...} fails as api_error: where the spec declares "
        "x-callforge-errors-as-200: true (GEN NX), always, or never",
    )
    sandbox_mode: Literal["process", "thread"] = Field(
        default="process", description="how an auto-started sandbox runs"
    )
    unreachable: Literal["raise", "undecided"] = Field(
        default="raise",
        description="no HTTP answer after the retries: raise TargetUnreachable (the shard is retried, "
        "nothing is recorded) or record an undecided transport_error verdict",
    )

    @model_validator(mode="after")
    def _real_needs(self) -> ExecutionOptions:
        if self.target == "real" and not self.allowed_hosts and not self.base_url:
            raise ValueError("target 'real' needs allowed_hosts (or a base_url whose host is allowed)")
        if (self.auth_header is None) != (self.auth_env is None):
            raise ValueError(
                "auth_header and auth_env go together: name the header and the variable holding its value"
            )
        return self


@dataclass
class _Call:
    """One call of one sample, ready to send (or already judged when ``outcome`` is set)."""

    index: int
    tool: str
    request: HttpRequest | None  # what goes on the wire
    logical_url: str  # the URL the call means (the API's own, also for the sandbox)
    outcome: tuple[bool | None, str, str] | None = None  # (passed, code, message) decided without sending
    error_key: bool = False  # a 2xx body {"error": ...} is a failure (the spec says the API answers so)


class ExecutionVerifier:
    """Send every call; 2xx passes, 4xx fails with the server's message, 5xx/transport is undecided."""

    name: ClassVar[str] = "execution"
    requires: ClassVar[tuple[str, ...]] = ("format",)
    cost: ClassVar[int] = 100
    Options: ClassVar[type[VerifierOptions]] = ExecutionOptions

    def __init__(self, options: ExecutionOptions | None = None) -> None:
        self.options = options or ExecutionOptions()
        opts = self.options
        self._secret = secret_from_env(opts.auth_env) if opts.auth_env else None
        self.redactor = Redactor(
            [self._secret] if self._secret else [], [opts.auth_header] if opts.auth_header else []
        )
        hosts = list(opts.allowed_hosts)
        if opts.base_url and not hosts:
            hosts.append(host_of(opts.base_url)[0])
        self.policy = TargetPolicy(hosts, allow_mutations=opts.allow_mutations)
        self.rate_limiter = HostRateLimiter(opts.rate_per_host)  # lives across verify calls

    # ------------------------------------------------------------------------------------ contract

    def verify(self, samples: list[Sample], ctx: VerifyContext) -> list[Verdict]:
        """One verdict per sample, in order; execution results go to ``ctx.resources``."""
        if not samples:
            return []
        opts = self.options
        if opts.target == "sandbox":
            url = ctx.resources.get("sandbox_url") or opts.base_url
            if url:
                base = str(url).rstrip("/")
                return self._run(samples, ctx, base, SandboxSpecs.from_health(_health(base)))
            specs = self._spec_files(samples, ctx)
            if not specs:  # nothing to execute (irrelevance only, or unknown tools): no server needed
                return self._run(samples, ctx, "", SandboxSpecs())
            from verifiers.sandbox import SandboxServer

            # degrade: a spec the sandbox cannot load makes its own samples undecided, not the run fail
            server = SandboxServer(
                specs,
                root=opts.spec_root,
                mode=opts.sandbox_mode,
                allowed_root=opts.allowed_root,
                degrade=True,
            )
            server.start_for("execution")
            try:
                return self._run(samples, ctx, server.base_url, SandboxSpecs.from_health(server.health()))
            finally:
                server.stop()
        return self._run(samples, ctx, opts.base_url or "", self._real_specs(samples, ctx))

    def _real_specs(self, samples: list[Sample], ctx: VerifyContext) -> SandboxSpecs:
        """Which specs declare errors-as-200, read from the spec files themselves (unreadable: none)."""
        if self.options.errors_as_200 != "spec":
            return SandboxSpecs()
        flagged = {
            f for f in self._spec_files(samples, ctx) if declares_errors_as_200(f, self.options.spec_root)
        }
        return SandboxSpecs(errors_as_200=frozenset(flagged))

    def _spec_files(self, samples: list[Sample], ctx: VerifyContext) -> list[str]:
        used = {tool.source.file for s in samples for c in s.calls if (tool := ctx.catalog.get(c.name))}
        ordered = [e.file for e in ctx.catalog.manifest.specs if e.file in used]
        return ordered + sorted(used - set(ordered))

    def _run(
        self, samples: list[Sample], ctx: VerifyContext, base: str, specs: SandboxSpecs
    ) -> list[Verdict]:
        nonce = uuid.uuid4().hex[:12]  # sandbox sessions unique per verify call: reruns start clean
        plans = [[self._plan(i, call, ctx, base, specs) for i, call in enumerate(s.calls)] for s in samples]
        sessions = [f"{nonce}-{s.id}" for s in samples]
        results = _run_sync(self._execute(plans, sessions))
        if self.options.unreachable == "raise":
            self._raise_if_unreachable(plans, results, base)
        store = ctx.resources.setdefault(EXECUTION_RESULTS_KEY, {})
        verdicts = []
        for sample, calls, outcomes in zip(samples, plans, results, strict=True):
            if not sample.calls:
                verdicts.append(
                    Verdict(sample_id=sample.id, verifier=self.name, passed=True, code="no_calls")
                )
                continue
            store[sample.id] = [r for _, _, _, r in outcomes]
            verdicts.append(self._verdict(sample, calls, outcomes))
        return verdicts

    def _raise_if_unreachable(
        self,
        plans: list[list[_Call]],
        results: list[list[tuple[bool | None, str, str, ExecutionResult]]],
        base: str,
    ) -> None:
        lost = [
            (call, message)
            for calls, outcomes in zip(plans, results, strict=True)
            for call, (_, code, message, _) in zip(calls, outcomes, strict=True)
            if code == "transport_error"
        ]
        if lost:
            call, message = lost[0]
            where = base or call.logical_url
            raise TargetUnreachable(
                f"execution: no answer from {where} for {len(lost)} request(s) (first: {call.tool}: "
                f"{message}); nothing recorded for these {len(plans)} sample(s), retry when the target is up"
            )

    # ------------------------------------------------------------------------------------ planning

    def _plan(self, index: int, call: Any, ctx: VerifyContext, base: str, specs: SandboxSpecs) -> _Call:
        tool: Tool | None = ctx.catalog.get(call.name)
        if tool is None:
            return _Call(
                index,
                call.name,
                None,
                "",
                (False, "unknown_tool", f"no tool named {call.name!r} in the catalog"),
            )
        sandbox = self.options.target == "sandbox"
        if sandbox and tool.source.file in specs.unavailable:
            reason = f"the sandbox could not load {tool.source.file}: {specs.unavailable[tool.source.file]}"
            return _Call(index, tool.name, None, "", (None, "spec_unavailable", reason))
        error_key = self.options.errors_as_200 == "always" or (
            self.options.errors_as_200 == "spec" and tool.source.file in specs.errors_as_200
        )
        creds = placeholder_credentials(tool.binding) if sandbox else self._real_credentials()
        try:
            logical = build_request(
                tool, call, base_url=None if sandbox else (self.options.base_url or None), credentials=creds
            )
        except RequestBuildError as exc:
            return _Call(index, tool.name, None, "", (False, exc.code, exc.message))
        if not sandbox:
            refusal: Refusal | None = self.policy.check(logical.method, logical.url)
            if refusal is not None:
                return _Call(index, tool.name, None, logical.url, (None, refusal.code, refusal.message))
            return _Call(index, tool.name, logical, logical.url, error_key=error_key)
        origin, _prefix = origin_and_prefix(tool.binding.server_url)
        headers = dict(logical.headers)
        if origin:
            headers["X-Callforge-Origin"] = origin
        headers["X-Callforge-Spec"] = quote(tool.source.file, safe="/:")
        headers["X-Callforge-State"] = self.options.state
        wire = HttpRequest(
            logical.method, base + logical.url[len(origin) :], headers, logical.content, logical.unbound
        )
        return _Call(index, tool.name, wire, logical.url, error_key=error_key)

    def _real_credentials(self) -> Credentials:
        if self.options.auth_header and self._secret:
            return Credentials(headers={self.options.auth_header: self._secret})
        return Credentials()

    # ----------------------------------------------------------------------------------- executing

    @property
    def in_flight(self) -> int:
        """Requests in flight at once. A sandbox shares this machine's cores with the verifier: past
        about two requests per core they only queue (on 2 cores, 16 in flight spent 1.5x the client
        CPU of 4 and took 1.3x as long, with the same verdicts), while the real API's latency is the
        network's, which more connections hide."""
        if self.options.concurrency is not None:
            return self.options.concurrency
        if self.options.target == "sandbox":
            return max(2, min(16, 2 * (os.cpu_count() or 1)))
        return 16

    async def _execute(
        self, plans: list[list[_Call]], sessions: list[str]
    ) -> list[list[tuple[bool | None, str, str, ExecutionResult]]]:
        in_flight = self.in_flight
        semaphore = asyncio.Semaphore(in_flight)
        async with execution_client(in_flight, self.options.timeout_s) as client:

            async def run_sample(
                calls: list[_Call], session: str
            ) -> list[tuple[bool | None, str, str, ExecutionResult]]:
                # a sample's calls run in order: a later call may read what an earlier one wrote
                return [await self._one(client, semaphore, call, session) for call in calls]

            return await asyncio.gather(*(run_sample(c, s) for c, s in zip(plans, sessions, strict=True)))

    async def _one(
        self, client: httpx.AsyncClient, semaphore: asyncio.Semaphore, call: _Call, session: str
    ) -> tuple[bool | None, str, str, ExecutionResult]:
        opts = self.options
        target = opts.target
        if call.outcome is not None or call.request is None:
            passed, code, message = call.outcome or (None, "not_sent", "")
            result = ExecutionResult(
                call_index=call.index, target=target, url=call.logical_url, error=message
            )
            return passed, code, message, result
        req = call.request
        headers = dict(req.headers)
        if target == "sandbox":
            headers["X-Callforge-Session"] = session
        attempt = 0
        while True:
            await self.rate_limiter.acquire(req.url)
            response: httpx.Response | None = None
            error: str | None = None
            async with semaphore:
                start = time.perf_counter()  # latency of the request, not of the wait for a slot
                try:
                    response = await client.request(
                        req.method, req.url, headers=_wire_headers(headers), content=req.content
                    )
                except httpx.HTTPError as exc:
                    error = self.redactor.text(f"{type(exc).__name__}: {exc}") or type(exc).__name__
            latency = (time.perf_counter() - start) * 1000
            retry = response is None or response.status_code >= 500
            if log.isEnabledFor(logging.DEBUG):  # redacting headers costs; only when someone listens
                log.debug(
                    "%s %s headers=%s -> %s (%.1f ms, attempt %d)",
                    req.method,
                    call.logical_url,
                    self.redactor.headers(headers),
                    response.status_code if response is not None else error,
                    latency,
                    attempt + 1,
                )
            if retry and attempt < opts.retries:
                await asyncio.sleep(opts.backoff_s * (2**attempt))
                attempt += 1
                continue
            break
        text = self.redactor.text(response.text) if response is not None else ""
        result = ExecutionResult(
            call_index=call.index,
            target=target,
            method=req.method,
            url=call.logical_url,
            status_code=response.status_code if response is not None else None,
            response=text[: opts.max_response_chars],
            error=error,
            latency_ms=round(latency, 3),
        )
        if response is None:
            return None, "transport_error", f"{error} (after {attempt + 1} attempts)", result
        passed, code, message = classify(response.status_code, text, attempt + 1, error_key=call.error_key)
        if message:
            result = result.model_copy(update={"error": message})
        return passed, code, message, result

    # ------------------------------------------------------------------------------------ verdicts

    def _verdict(
        self,
        sample: Sample,
        calls: list[_Call],
        outcomes: list[tuple[bool | None, str, str, ExecutionResult]],
    ) -> Verdict:
        compact = [
            {
                "i": call.index,
                "tool": call.tool,
                "method": result.method,
                "url": result.url,
                "status": result.status_code,
                "code": code,
                "ms": result.latency_ms,
                "response": result.response[:DETAIL_CHARS],
            }
            for call, (_, code, _, result) in zip(calls, outcomes, strict=True)
        ]
        details: dict[str, Any] = {"target": self.options.target, "calls": compact}
        for wanted in (False, None):
            for call, (passed, code, message, _) in zip(calls, outcomes, strict=True):
                if passed is wanted:
                    text = f"call {call.index} ({call.tool}): {message}"
                    return Verdict(
                        sample_id=sample.id,
                        verifier=self.name,
                        passed=wanted,
                        code=code,
                        message=text,
                        details=details,
                    )
        return Verdict(sample_id=sample.id, verifier=self.name, passed=True, code="ok", details=details)


@dataclass(frozen=True)
class SandboxSpecs:
    """What the target says about the specs: which could not be loaded (file -> reason) and which
    declare errors-as-200 (``x-callforge-errors-as-200: true``)."""

    unavailable: dict[str, str] = field(default_factory=dict)
    errors_as_200: frozenset[str] = frozenset()

    @classmethod
    def from_health(cls, health: dict[str, Any]) -> SandboxSpecs:
        specs = listed if isinstance(listed := health.get("specs"), list) else []
        gone = missing if isinstance(missing := health.get("unavailable"), list) else []
        return cls(
            unavailable={str(u.get("key")): str(u.get("reason")) for u in gone if isinstance(u, dict)},
            errors_as_200=frozenset(
                str(s.get(k))
                for s in specs
                if isinstance(s, dict) and s.get("errors_as_200")
                for k in ("key", "file")
            ),
        )


def _health(base: str) -> dict[str, Any]:
    """A running sandbox's health (specs, unavailable ones); {} when it does not answer it."""
    try:
        answer = httpx.get(base + "/_sandbox/health", timeout=10, trust_env=False)
        return answer.json() if answer.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return {}


def declares_errors_as_200(spec_file: str, spec_root: str | None) -> bool:
    """True when the spec's top level says ``x-callforge-errors-as-200: true``; False if unreadable."""
    from schemas.openapi.budgets import SpecBudgets
    from schemas.openapi.files import RefusedFile, read_spec_file
    from schemas.openapi.load import parse_text
    from verifiers.sandbox.routing import resolve_spec_file

    budgets = SpecBudgets.from_env()
    try:
        path = resolve_spec_file(spec_file, spec_root)
        tree = parse_text(read_spec_file(path, budgets.max_file_bytes), str(path), budgets)
    except (OSError, RefusedFile, CallforgeError):
        return False
    return isinstance(tree, dict) and tree.get(ERRORS_AS_200) is True


def _wire_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    # UTF-8 bytes: httpx would refuse a non-ASCII str header value outright
    return [(k.encode("utf-8"), v.encode("utf-8")) for k, v in headers.items()]


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, also when this thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def runner() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=runner, name="execution-verifier")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
