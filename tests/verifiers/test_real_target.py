"""The real-server target against a second loopback server: allow-list, mutations, rate limits, retries,
transport errors, and a secret that never leaks."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from schemas.catalog import Catalog
from schemas.errors import ConfigError
from schemas.models import Tool
from tests.verifiers.execution_fixtures import LoopbackServer, call, free_port, make_tool, sample
from verifiers.base import EXECUTION_RESULTS_KEY, VerifyContext
from verifiers.execution import ExecutionOptions, ExecutionVerifier, TargetUnreachable
from verifiers.real_target import HostRateLimiter, Redactor, TargetPolicy, TokenBucket

SECRET = "mapi-s3cret-7f2a9c"
ENV = "CALLFORGE_TEST_MAPI_KEY"


class Recorder:
    """A small 'real' API: records every request it gets."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []

    async def handle(self, request: Request) -> Response:
        self.seen.append((request.method, request.url.path, dict(request.headers)))
        kind = request.path_params["kind"]
        if kind == "ok":
            return JSONResponse({"ok": True})
        if kind == "echo":  # a careless server that repeats the key back
            return JSONResponse(
                {"error": {"message": f"key {request.headers.get('mapi-key')} has no access"}}, 403
            )
        if kind == "invalid":
            return JSONResponse({"detail": "name is required"}, 422)
        if kind == "unavailable":
            return PlainTextResponse("try later", 503)
        if kind == "quirk":
            return JSONResponse({"error": {"message": "Wrong Field"}})
        return PlainTextResponse("?", 404)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/api/{kind}", self.handle, methods=["GET", "POST", "DELETE"])])


@pytest.fixture
def server() -> Iterator[tuple[LoopbackServer, Recorder]]:
    recorder = Recorder()
    with LoopbackServer(recorder.app()) as srv:
        yield srv, recorder


def tool_for(base: str, kind: str, method: str = "GET") -> Tool:
    return make_tool(f"/api/{kind}", method=method, server_url=base, name=f"{method.lower()}_{kind}")


def verify(
    tools: list[Tool], samples: list, monkeypatch: pytest.MonkeyPatch, **options: Any
) -> tuple[list, VerifyContext, ExecutionVerifier]:
    monkeypatch.setenv(ENV, SECRET)
    opts = {
        "target": "real",
        "allowed_hosts": ["127.0.0.1"],
        "auth_header": "MAPI-Key",
        "auth_env": ENV,
        "backoff_s": 0,
    } | options
    verifier = ExecutionVerifier(ExecutionOptions(**opts))
    ctx = VerifyContext(catalog=Catalog(tools))
    return verifier.verify(samples, ctx), ctx, verifier


# ---------------------------------------------------------------------------------------------- policy


@pytest.mark.parametrize(
    ("allowed", "mutations", "method", "url", "code"),
    [
        (["127.0.0.1"], False, "GET", "http://127.0.0.1:8000/x", None),
        (["127.0.0.1:8000"], False, "GET", "http://127.0.0.1:8000/x", None),
        (["127.0.0.1:8001"], False, "GET", "http://127.0.0.1:8000/x", "host_not_allowed"),
        (["127.0.0.1"], False, "GET", "http://localhost:8000/x", "host_not_allowed"),
        (["API.example.com"], False, "GET", "https://api.example.com/x", None),
        (["api.example.com"], False, "GET", "https://api.example.com.evil.test/x", "host_not_allowed"),
        (["127.0.0.1"], False, "POST", "http://127.0.0.1/x", "mutation_refused"),
        (["127.0.0.1"], False, "PUT", "http://127.0.0.1/x", "mutation_refused"),
        (["127.0.0.1"], False, "PATCH", "http://127.0.0.1/x", "mutation_refused"),
        (["127.0.0.1"], False, "DELETE", "http://127.0.0.1/x", "mutation_refused"),
        (["127.0.0.1"], True, "DELETE", "http://127.0.0.1/x", None),
        (["127.0.0.1"], False, "GET", "/relative/x", "no_server_url"),
    ],
)
def test_target_policy(allowed: list[str], mutations: bool, method: str, url: str, code: str | None) -> None:
    refusal = TargetPolicy(allowed, allow_mutations=mutations).check(method, url)
    assert (refusal.code if refusal else None) == code


def test_token_bucket_accounting_with_a_frozen_clock() -> None:
    bucket = TokenBucket(rate=10, burst=2, clock=lambda: 100.0)
    waits = [round(bucket.reserve(), 6) for _ in range(5)]
    assert (waits, bucket.acquired, bucket.delayed, round(bucket.waited_s, 6)) == (
        [0.0, 0.0, 0.1, 0.2, 0.3],
        5,
        3,
        0.6,
    )


def test_token_bucket_refills_with_time() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=4, burst=1, clock=lambda: now[0])
    bucket.reserve()
    now[0] = 0.25  # exactly one token later
    assert bucket.reserve() == 0.0


def test_redactor_hides_secrets_in_text_and_headers() -> None:
    redactor = Redactor([SECRET], ["MAPI-Key"])
    assert (redactor.text(f"bad key {SECRET}!"), redactor.headers({"mapi-key": SECRET, "X-A": "b"})) == (
        "bad key ***!",
        {"mapi-key": "***", "X-A": "b"},
    )


# ------------------------------------------------------------------------------- over real HTTP


def test_get_passes_and_carries_the_auth_header(server, monkeypatch: pytest.MonkeyPatch) -> None:
    srv, recorder = server
    tool = tool_for(srv.base_url, "ok")
    verdicts, _, _ = verify([tool], [sample(call(tool.name))], monkeypatch)
    assert ((verdicts[0].passed, verdicts[0].code), recorder.seen[0][2].get("mapi-key")) == (
        (True, "ok"),
        SECRET,
    )


def test_other_host_is_refused_before_sending(server, monkeypatch: pytest.MonkeyPatch) -> None:
    srv, recorder = server
    tool = tool_for(f"http://localhost:{srv.port}", "ok")  # same server, a name not on the list
    verdicts, _, _ = verify([tool], [sample(call(tool.name))], monkeypatch)
    assert ((verdicts[0].passed, verdicts[0].code), recorder.seen) == ((None, "host_not_allowed"), [])


def test_delete_is_refused_unless_mutations_are_allowed(server, monkeypatch: pytest.MonkeyPatch) -> None:
    srv, recorder = server
    tool = tool_for(srv.base_url, "ok", "DELETE")
    refused, _, _ = verify([tool], [sample(call(tool.name))], monkeypatch)
    sent_before = len(recorder.seen)
    allowed, _, _ = verify([tool], [sample(call(tool.name))], monkeypatch, allow_mutations=True)
    assert ((refused[0].passed, refused[0].code), sent_before, (allowed[0].passed, len(recorder.seen))) == (
        (None, "mutation_refused"),
        0,
        (True, 1),
    )


def test_base_url_replaces_the_tools_server(server, monkeypatch: pytest.MonkeyPatch) -> None:
    srv, recorder = server
    tool = tool_for("https://api.nowhere.test", "ok")
    verdicts, _, _ = verify(
        [tool], [sample(call(tool.name))], monkeypatch, base_url=srv.base_url, allowed_hosts=[]
    )
    assert ((verdicts[0].passed, verdicts[0].code), [s[1] for s in recorder.seen]) == (
        (True, "ok"),
        ["/api/ok"],
    )


def test_4xx_fails_with_the_servers_message(server, monkeypatch: pytest.MonkeyPatch) -> None:
    srv, _ = server
    tool = tool_for(srv.base_url, "invalid")
    verdict = verify([tool], [sample(call(tool.name))], monkeypatch)[0][0]
    assert (verdict.passed, verdict.code, verdict.message) == (
        False,
        "http_422",
        f"call 0 ({tool.name}): name is required",
    )


def test_error_inside_a_200_fails(server, monkeypatch: pytest.MonkeyPatch) -> None:
    srv, _ = server
    tool = tool_for(srv.base_url, "quirk")
    # the tool's spec file does not exist here, so the errors-as-200 rule is asked for explicitly
    verdict = verify([tool], [sample(call(tool.name))], monkeypatch, errors_as_200="always")[0][0]
    assert (verdict.passed, verdict.code) == (False, "api_error")
    verdict = verify([tool], [sample(call(tool.name))], monkeypatch)[0][0]
    assert (verdict.passed, verdict.code) == (True, "ok")


def test_5xx_is_undecided_after_the_retries(server, monkeypatch: pytest.MonkeyPatch) -> None:
    srv, recorder = server
    tool = tool_for(srv.base_url, "unavailable")
    verdict = verify([tool], [sample(call(tool.name))], monkeypatch, retries=2)[0][0]
    assert (verdict.passed, verdict.code, len(recorder.seen)) == (None, "http_503", 3)


def test_closed_port_raises_and_records_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """No answer at all is an outage, not a verdict: the batch raises (the shard is retried)."""
    tool = tool_for(f"http://127.0.0.1:{free_port()}", "ok")
    with pytest.raises(TargetUnreachable, match="after 2 attempts"):
        verify([tool], [sample(call(tool.name))], monkeypatch, retries=1)


def test_closed_port_is_an_undecided_transport_error_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    tool = tool_for(f"http://127.0.0.1:{free_port()}", "ok")
    verdicts, ctx, _ = verify(
        [tool], [sample(call(tool.name))], monkeypatch, retries=1, unreachable="undecided"
    )
    result = ctx.resources[EXECUTION_RESULTS_KEY][verdicts[0].sample_id][0]
    assert (
        verdicts[0].passed,
        verdicts[0].code,
        "after 2 attempts" in verdicts[0].message,
        result.status_code,
    ) == (
        None,
        "transport_error",
        True,
        None,
    )


def test_rate_limiter_accounts_for_every_request(server, monkeypatch: pytest.MonkeyPatch) -> None:
    srv, _ = server
    tool = tool_for(srv.base_url, "ok")
    monkeypatch.setenv(ENV, SECRET)
    verifier = ExecutionVerifier(
        ExecutionOptions(
            target="real", allowed_hosts=["127.0.0.1"], rate_per_host=50, auth_header="MAPI-Key", auth_env=ENV
        )
    )
    verifier.rate_limiter = HostRateLimiter(50, clock=lambda: 0.0)  # frozen clock: the accounting is exact
    verifier.verify(
        [sample(call(tool.name), query=f"q{i}") for i in range(5)], VerifyContext(catalog=Catalog([tool]))
    )
    assert verifier.rate_limiter.stats() == {"127.0.0.1": {"acquired": 5, "delayed": 4, "waited_s": 0.2}}


def test_secret_appears_nowhere(
    server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    srv, recorder = server
    tools = [tool_for(srv.base_url, kind) for kind in ("ok", "echo", "invalid", "unavailable")]
    samples = [sample(call(t.name)) for t in tools]
    with caplog.at_level(logging.DEBUG):
        verdicts, ctx, _ = verify(tools, samples, monkeypatch, retries=1)
    recorded = json.dumps([v.model_dump() for v in verdicts]) + json.dumps(
        [r.model_dump() for results in ctx.resources[EXECUTION_RESULTS_KEY].values() for r in results]
    )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert (
        all(s[2].get("mapi-key") == SECRET for s in recorder.seen),
        "MAPI-Key" in logged,  # requests were logged, with the header named ...
        SECRET in recorded,
        SECRET in logged,  # ... but never its value
    ) == (True, True, False, False)


def test_missing_secret_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(ConfigError, match=ENV):
        ExecutionVerifier(
            ExecutionOptions(target="real", allowed_hosts=["x"], auth_header="MAPI-Key", auth_env=ENV)
        )


@pytest.mark.parametrize(
    "options",
    [
        {"target": "real"},  # no allow-list, no base_url
        {"auth_header": "MAPI-Key"},  # header without the variable holding it
        {"concurrency": 0},
        {"timeout": 3},  # unknown key
    ],
)
def test_bad_options_are_rejected(options: dict) -> None:
    with pytest.raises(ValidationError):
        ExecutionOptions(**options)
