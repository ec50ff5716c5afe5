"""Request bodies declared with a media range (``*/*``, ``application/*``) in OpenAPI 3.x: the request
builder sends them as ``application/json`` and the sandbox must read that body as JSON (it once
checked it as bytes, refusing every correct call); a body of another type keeps being read as bytes.
Each correct call sits beside a wrong one the execution verifier must still refuse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from schemas.catalog import Catalog
from schemas.openapi import ingest
from tests.verifiers.execution_fixtures import DATA, call, sample, tool_named
from verifiers.base import VerifyContext
from verifiers.execution import ExecutionOptions, ExecutionVerifier
from verifiers.request import build_request
from verifiers.sandbox import SandboxServer

WILDCARDS = DATA / "wildcard_bodies.yaml"
ORIGIN = {"X-Callforge-Origin": "http://wildcards.example.test"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer([str(WILDCARDS)], mode="thread") as server:
        yield server


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return ingest([str(WILDCARDS)], naming="snake").catalog


def verdict(catalog: Catalog, sandbox: SandboxServer, method: str, path: str, **arguments: Any) -> Any:
    s = sample(call(tool_named(catalog, method, path), **arguments))
    ctx = VerifyContext(catalog=catalog, resources={"sandbox_url": sandbox.base_url})
    return ExecutionVerifier(ExecutionOptions()).verify([s], ctx)[0]


CASES = [
    # case, method, path, arguments, passed, fragment of the message when refused
    ("*/* object body", "POST", "/anything", {"item": "tea", "count": 2}, True, ""),
    ("*/* still checked", "POST", "/anything", {"item": "tea", "count": 0}, False, "less than the minimum"),
    ("*/* required property", "POST", "/anything", {"count": 2}, False, "'item' is a required"),
    ("application/* object body", "POST", "/apps", {"item": "tea"}, True, ""),
    ("application/* still checked", "POST", "/apps", {"item": 7}, False, "7 is not of type 'string'"),
    ("*/* whole array body", "PUT", "/batches/{id}", {"id": "b1", "body": [1, 2]}, True, ""),
    (
        "*/* array still checked",
        "PUT",
        "/batches/{id}",
        {"id": "b1", "body": [1, 2, 3, 4]},
        False,
        "too long",
    ),
]


@pytest.mark.parametrize(
    ("case", "method", "path", "arguments", "passed", "fragment"), CASES, ids=[c[0] for c in CASES]
)
def test_call_verdict(
    catalog: Catalog,
    sandbox: SandboxServer,
    case: str,
    method: str,
    path: str,
    arguments: dict[str, Any],
    passed: bool,
    fragment: str,
) -> None:
    found = verdict(catalog, sandbox, method, path, **arguments)
    assert (found.passed, fragment in found.message) == (passed, True), found.message


@pytest.mark.parametrize("path", ["/anything", "/apps"])
def test_the_builder_sends_a_wildcard_body_as_json(catalog: Catalog, path: str) -> None:
    tool = next(t for t in catalog if t.binding.path == path)
    request = build_request(tool, call(tool.name, item="tea"))
    assert (request.headers["Content-Type"], request.content) == ("application/json", b'{"item":"tea"}')


RAW_CASES = [
    # case, path, Content-Type, body, status
    ("+json is JSON too", "/anything", "application/merge-patch+json", b'{"item":"tea"}', 200),
    ("charset parameter", "/anything", "application/json; charset=utf-8", b'{"item":"tea"}', 200),
    ("malformed JSON is refused", "/anything", "application/json", b'{"item":', 422),
    # other types keep openapi-core's reading: raw bytes, which an object schema refuses
    ("text is bytes, not an object", "/anything", "text/plain", b'{"item":"tea"}', 422),
    ("outside application/*", "/apps", "text/plain", b'{"item":"tea"}', 415),
]


@pytest.mark.parametrize(
    ("case", "path", "content_type", "body", "status"), RAW_CASES, ids=[c[0] for c in RAW_CASES]
)
def test_the_sandbox_reads_json_sent_to_a_range(
    sandbox: SandboxServer, case: str, path: str, content_type: str, body: bytes, status: int
) -> None:
    response = httpx.post(
        f"{sandbox.base_url}/v1{path}",
        headers={**ORIGIN, "Content-Type": content_type},
        content=body,
        timeout=10,
    )
    assert response.status_code == status, response.text


@pytest.mark.parametrize(("path", "status"), [("/anything", 200), ("/apps", 201)])
def test_a_range_response_is_synthesised_as_json(sandbox: SandboxServer, path: str, status: int) -> None:
    response = httpx.post(f"{sandbox.base_url}/v1{path}", headers=ORIGIN, json={"item": "tea"}, timeout=10)
    assert (response.status_code, sorted(response.json())) == (status, ["id"]), response.text
    assert response.headers["content-type"] == "application/json"  # a range is no Content-Type


def test_openapi_31_reads_it_the_same(tmp_path: Path) -> None:
    spec = tmp_path / "wildcards31.yaml"
    spec.write_text(WILDCARDS.read_text().replace("openapi: 3.0.3", "openapi: 3.1.0", 1))
    with SandboxServer([str(spec)], mode="thread") as server:
        good, bad = (
            httpx.post(f"{server.base_url}/v1/anything", headers=ORIGIN, json=body, timeout=10)
            for body in ({"item": "tea"}, {"item": "tea", "count": 0})
        )
    assert (good.status_code, bad.status_code) == (200, 422), good.text
