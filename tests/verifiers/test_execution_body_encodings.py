"""Correct calls the execution verifier once refused (false rejects), each beside a wrong one it must
still refuse: ``+json`` bodies, a required body with only optional properties, typed multipart parts,
multipart arrays, and urlencoded / query arrays in every declared delimiter style."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from schemas.catalog import Catalog
from schemas.openapi import ingest
from tests.verifiers.execution_fixtures import DATA, call, sample, tool_named
from verifiers.base import VerifyContext
from verifiers.execution import ExecutionOptions, ExecutionVerifier
from verifiers.sandbox import SandboxServer

BODIES = str(DATA / "body_encodings.yaml")
FORMS_2 = str(DATA / "swagger2_forms.yaml")
SPECS = [BODIES, FORMS_2]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SPECS, mode="thread") as server:
        yield server


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return ingest(SPECS, naming="snake").catalog


def verdict(catalog: Catalog, sandbox: SandboxServer, method: str, path: str, **arguments: Any) -> Any:
    tool = next(t for t in catalog if (t.binding.method, t.binding.path) == (method, path))
    s = sample(call(tool_named(catalog, method, path), **arguments))
    ctx = VerifyContext(catalog=catalog, resources={"sandbox_url": sandbox.base_url})
    assert tool.name in {c.name for c in s.calls}
    return ExecutionVerifier(ExecutionOptions()).verify([s], ctx)[0]


CASES = [
    # case, method, path, arguments, passed, fragment of the message when refused
    # 1. +json media types are JSON
    ("merge-patch+json", "PATCH", "/objects/{name}", {"name": "web", "labels": {"a": None}}, True, ""),
    (
        "merge-patch+json still checked",
        "PATCH",
        "/objects/{name}",
        {"name": "web", "replicas": -1},
        False,
        "less than the minimum of 0",
    ),
    ("strategic-merge-patch+json", "PUT", "/objects/{name}", {"name": "web", "replicas": 2}, True, ""),
    ("problem+json", "POST", "/problems", {"title": "down", "status": 503}, True, ""),
    ("problem+json still checked", "POST", "/problems", {"status": 503}, False, "'title' is a required"),
    # 2. a required body whose properties are all optional
    ("required body, no arguments", "POST", "/jobs", {}, True, ""),
    ("required body, a bad property", "POST", "/jobs", {"priority": 0}, False, "less than the minimum"),
    # 3. multipart text parts are cast to their property's type
    (
        "multipart integer, number, boolean",
        "POST",
        "/uploads",
        {"file": "raw", "count": 3, "ratio": 0.5, "public": True, "note": "7"},
        True,
        "",
    ),
    (
        "multipart integer still checked",
        "POST",
        "/uploads",
        {"file": "raw", "count": 0},
        False,
        "minimum of 1",
    ),
    (
        "multipart integer, wrong type",
        "POST",
        "/uploads",
        {"file": "raw", "count": "many"},
        False,
        "'many' is not of type 'integer'",
    ),
    (
        "2.0 multipart integer, boolean",
        "POST",
        "/upload",
        {"file": "raw", "count": 2, "public": False},
        True,
        "",
    ),
    ("2.0 multipart integer still checked", "POST", "/upload", {"file": "raw", "count": 0}, False, "minimum"),
    # 5. multipart arrays are repeated parts
    (
        "multipart arrays of primitives and objects",
        "POST",
        "/uploads",
        {"file": "raw", "ids": [1, 2], "labels": ["a b"], "owners": [{"name": "Ann"}, {"name": "Bo"}]},
        True,
        "",
    ),
    (
        "multipart array item type",
        "POST",
        "/uploads",
        {"file": "raw", "ids": [1, "x"]},
        False,
        "'x' is not of",
    ),
    ("multipart array length", "POST", "/uploads", {"file": "raw", "ids": [1, 2, 3, 4]}, False, "too long"),
    (
        "multipart array of objects checked",
        "POST",
        "/uploads",
        {"file": "raw", "owners": [{}]},
        False,
        "'name'",
    ),
    ("2.0 multipart array", "POST", "/upload", {"file": "raw", "ids": [1, 2]}, True, ""),
    # 4. urlencoded and query arrays follow their declared style
    (
        "urlencoded pipe, space, comma",
        "POST",
        "/search",
        {"ids": [1, 2], "words": ["a", "b"], "codes": [3, 4], "kinds": ["a", "b"]},
        True,
        "",
    ),
    ("urlencoded pipe items are split", "POST", "/search", {"ids": [1, "x"]}, False, "integer type: x"),
    ("urlencoded space items are split", "POST", "/search", {"words": list("abcd")}, False, "too long"),
    ("2.0 tsv query", "GET", "/filter", {"tsv": [1, 2]}, True, ""),
    ("2.0 tsv query items are split", "GET", "/filter", {"tsv": [1, "x"]}, False, "integer type: x"),
    (
        "2.0 urlencoded ssv, pipes, tsv",
        "POST",
        "/filter",
        {"ssv": [1, 2], "pipes": [3, 4], "tsv": [5, 6]},
        True,
        "",
    ),
    ("2.0 urlencoded ssv items are split", "POST", "/filter", {"ssv": [1, "x"]}, False, "integer type: x"),
    ("2.0 urlencoded tsv items are split", "POST", "/filter", {"tsv": [1, "x"]}, False, "integer type: x"),
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


@pytest.mark.parametrize(
    ("query", "status"),
    [("tsv=1%092", 200), ("tsv=1,2", 400)],  # tab-joined is what tsv means; a comma is part of an item
)
def test_the_sandbox_reads_tsv_as_tab_joined(sandbox: SandboxServer, query: str, status: int) -> None:
    response = httpx.get(
        f"{sandbox.base_url}/v1/filter?{query}",
        headers={"X-Callforge-Origin": "http://forms.example.test"},
        timeout=10,
    )
    assert response.status_code == status, response.text
