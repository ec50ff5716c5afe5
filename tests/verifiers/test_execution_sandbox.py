"""The execution verifier against the sandbox: what a server's answer turns into, per sample."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from schemas.catalog import Catalog
from schemas.models import Sample, ToolCall
from tests.verifiers.execution_fixtures import (
    GENNX_MINI,
    PETSTORE,
    SPECS,
    call,
    make_tool,
    sample,
    sandbox_catalog,
    tool_named,
)
from verifiers.base import EXECUTION_RESULTS_KEY, VerifyContext
from verifiers.execution import ExecutionOptions, ExecutionVerifier, declares_errors_as_200
from verifiers.http_answers import api_error_message, classify, server_message
from verifiers.sandbox import SandboxServer
from verifiers.testing import check_verifier


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with SandboxServer(SPECS, mode="thread") as sandbox:
        yield sandbox.base_url


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return sandbox_catalog()


def names(catalog: Catalog) -> dict[str, str]:
    return {
        "list": tool_named(catalog, "GET", "/pets"),
        "create": tool_named(catalog, "POST", "/pets"),
        "owner": tool_named(catalog, "GET", "/owners/{ownerId}"),
        "adopt": tool_named(catalog, "POST", "/pets/{petId}/adopt"),
        "photo": tool_named(catalog, "POST", "/pets/{petId}/photo"),
        "post_node": tool_named(catalog, "POST", "/db/NODE"),
        "get_node": tool_named(catalog, "GET", "/db/NODE"),
        "put_node": tool_named(catalog, "PUT", "/db/NODE"),
        "item": tool_named(catalog, "PUT", "/items/{sku}"),
    }


def run(samples: list[Sample], catalog: Catalog, url: str, **options: object) -> tuple[list, VerifyContext]:
    ctx = VerifyContext(catalog=catalog, resources={"sandbox_url": url})
    return ExecutionVerifier(ExecutionOptions(**options)).verify(samples, ctx), ctx


NODE = {"X": 0, "Y": 0, "Z": 1}
CASES = [
    # case, tool key, arguments, passed, code, message fragment
    (
        "valid query, header, cookie",
        "list",
        {"limit": 3, "tags": ["a"], "X-Trace-Id": "t", "session": "s"},
        True,
        "ok",
        "",
    ),
    (
        "below the minimum",
        "list",
        {"limit": 0, "X-Trace-Id": "t"},
        False,
        "http_400",
        "0 is less than the minimum of 1",
    ),
    (
        "missing required query",
        "list",
        {"X-Trace-Id": "t"},
        False,
        "http_400",
        "Missing required query parameter: limit",
    ),
    (
        "missing required header",
        "list",
        {"limit": 2},
        False,
        "http_400",
        "Missing required header parameter: X-Trace-Id",
    ),
    (
        "wrong type in the path",
        "owner",
        {"ownerId": "abc"},
        False,
        "http_400",
        "Failed to cast value to integer type: abc",
    ),
    ("enum violation", "create", {"name": "Rex", "kind": "cow"}, False, "http_422", "'cow' is not one of"),
    (
        "extra argument the spec forbids",
        "create",
        {"name": "Rex", "kind": "dog", "colour": "red"},
        False,
        "http_422",
        "Additional properties",
    ),
    ("valid form body", "adopt", {"petId": "7", "owner": "Ann", "age": 3}, True, "ok", ""),
    (
        "invalid form body",
        "adopt",
        {"petId": "7", "owner": "Ann", "age": -1},
        False,
        "http_422",
        "less than the minimum of 0",
    ),
    (
        "valid multipart body",
        "photo",
        {"petId": "7", "caption": "hi", "file": "raw", "meta": {"width": 3}},
        True,
        "ok",
        "",
    ),
    ("missing path parameter", "photo", {"caption": "hi"}, False, "missing_path_parameter", "petId"),
    ("multi-file spec", "item", {"sku": "ABC-1", "quantity": 1}, True, "ok", ""),
    ("GEN NX write", "post_node", {"Assign": {"1": NODE}}, True, "ok", ""),
    ("GEN NX id not digits", "post_node", {"Assign": {"x": NODE}}, False, "http_422", "'x' does not match"),
]


@pytest.mark.parametrize(
    ("case", "key", "arguments", "passed", "code", "fragment"), CASES, ids=[c[0] for c in CASES]
)
def test_call_verdict(
    catalog: Catalog,
    sandbox_url: str,
    case: str,
    key: str,
    arguments: dict,
    passed: bool,
    code: str,
    fragment: str,
) -> None:
    verdict = run([sample(call(names(catalog)[key], **arguments))], catalog, sandbox_url)[0][0]
    assert (verdict.passed, verdict.code, fragment in verdict.message) == (passed, code, True), (
        verdict.message
    )


def test_error_inside_a_200_fails_as_api_error(catalog: Catalog, sandbox_url: str) -> None:
    n = names(catalog)
    twice = sample(call(n["post_node"], Assign={"1": NODE}), call(n["post_node"], Assign={"1": NODE}))
    verdict = run([twice], catalog, sandbox_url)[0][0]
    assert (verdict.passed, verdict.code, verdict.message) == (
        False,
        "api_error",
        f"call 1 ({n['post_node']}): Key Already Exist",
    )


def test_later_call_reads_what_an_earlier_one_wrote(catalog: Catalog, sandbox_url: str) -> None:
    n = names(catalog)
    s = sample(call(n["post_node"], Assign={"5": NODE}), call(n["get_node"]))
    _, ctx = run([s], catalog, sandbox_url)
    assert json.loads(ctx.resources[EXECUTION_RESULTS_KEY][s.id][1].response) == {"NODE": {"5": NODE}}


def test_samples_in_one_batch_do_not_share_tables(catalog: Catalog, sandbox_url: str) -> None:
    n = names(catalog)
    batch = [sample(call(n["post_node"], Assign={"1": NODE}), query=f"q{i}") for i in range(5)]
    assert [v.passed for v in run(batch, catalog, sandbox_url)[0]] == [True] * 5


def test_rerunning_a_sample_starts_from_an_empty_model(catalog: Catalog, sandbox_url: str) -> None:
    s = sample(call(names(catalog)["post_node"], Assign={"1": NODE}))
    verifier = ExecutionVerifier()
    ctx = VerifyContext(catalog=catalog, resources={"sandbox_url": sandbox_url})
    assert [verifier.verify([s], ctx)[0].passed, verifier.verify([s], ctx)[0].passed] == [True, True]


@pytest.mark.parametrize(
    ("state", "passed", "code"), [("lenient", True, "ok"), ("strict", False, "api_error")]
)
def test_update_of_an_unknown_id_depends_on_the_state_option(
    catalog: Catalog, sandbox_url: str, state: str, passed: bool, code: str
) -> None:
    verdict = run(
        [sample(call(names(catalog)["put_node"], Assign={"9": NODE}))], catalog, sandbox_url, state=state
    )[0][0]
    assert (verdict.passed, verdict.code) == (passed, code)


def test_irrelevance_sample_passes_without_a_request(catalog: Catalog) -> None:
    s = Sample.create(query="tell me a joke", style="irrelevance", tools=[names(catalog)["list"]], calls=[])
    verdict = ExecutionVerifier().verify([s], VerifyContext(catalog=catalog))[
        0
    ]  # no sandbox needed, none started
    assert (verdict.passed, verdict.code) == (True, "no_calls")


def test_unknown_tool_fails(catalog: Catalog, sandbox_url: str) -> None:
    verdict = run([sample(ToolCall(name="no_such_tool", arguments={}))], catalog, sandbox_url)[0][0]
    assert (verdict.passed, verdict.code) == (False, "unknown_tool")


def test_execution_results_go_to_the_side_channel(catalog: Catalog, sandbox_url: str) -> None:
    s = sample(call(names(catalog)["owner"], ownerId=3))
    _, ctx = run([s], catalog, sandbox_url, max_response_chars=20)
    [result] = ctx.resources[EXECUTION_RESULTS_KEY][s.id]
    assert (result.status_code, result.method, result.url, len(result.response), result.target) == (
        200,
        "GET",
        "http://petstore.example.test/v1/owners/3",
        20,
        "sandbox",
    )


def test_verdict_details_are_compact(catalog: Catalog, sandbox_url: str) -> None:
    s = sample(call(names(catalog)["owner"], ownerId=3))
    verdicts, ctx = run([s], catalog, sandbox_url)
    details = verdicts[0].details
    assert details["calls"] == [
        {
            "i": 0,
            "tool": names(catalog)["owner"],
            "method": "GET",
            "url": "http://petstore.example.test/v1/owners/3",
            "status": 200,
            "code": "ok",
            "ms": details["calls"][0]["ms"],
            "response": ctx.resources[EXECUTION_RESULTS_KEY][s.id][0].response[:200],
        }
    ]


def test_a_conversion_bug_is_caught_by_the_original_spec(catalog: Catalog, sandbox_url: str) -> None:
    # the same operation as the ingested tool, but `limit` wrongly bound as a header
    wrong = make_tool(
        "/pets",
        {
            "limit": {"location": "header", "name": "limit"},
            "trace": {"location": "header", "name": "X-Trace-Id"},
        },
        server_url="http://petstore.example.test/v1",
        source=PETSTORE,
        security=[{"api_key": []}],
        schemes={"api_key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
    )
    bugged = Catalog([*catalog.tools, wrong])
    verdict = run([sample(call(wrong.name, limit=3, trace="t"))], bugged, sandbox_url)[0][0]
    assert (verdict.passed, verdict.code, "Missing required query parameter: limit" in verdict.message) == (
        False,
        "http_400",
        True,
    )


def test_sandbox_is_started_when_none_is_given(catalog: Catalog) -> None:
    s = sample(call(names(catalog)["post_node"], Assign={"1": NODE}))
    only_gennx = Catalog([t for t in catalog.tools if t.source.file == GENNX_MINI])
    verdict = ExecutionVerifier(ExecutionOptions(sandbox_mode="thread")).verify(
        [s], VerifyContext(catalog=only_gennx)
    )[0]
    assert (verdict.passed, verdict.code) == (True, "ok")


def test_conforms_to_the_verifier_contract(catalog: Catalog, sandbox_url: str) -> None:
    n = names(catalog)
    samples = [sample(call(n["owner"], ownerId=1)), sample(call(n["post_node"], Assign={"1": NODE}))]
    check_verifier(
        ExecutionVerifier, samples, VerifyContext(catalog=catalog, resources={"sandbox_url": sandbox_url})
    )


# ------------------------------------------------------------------------------------ answer -> verdict


@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        (200, '{"NODE": {}}', (True, "ok", "")),
        (201, "", (True, "ok", "")),
        (200, '{"message": ""}', (True, "ok", "")),
        (200, '{"error": {"message": "Wrong Field"}}', (False, "api_error", "Wrong Field")),
        (200, '{"error": "nope"}', (False, "api_error", "nope")),
        (200, '{"error": null, "data": 1}', (True, "ok", "")),
        (422, '{"detail": "name is required"}', (False, "http_422", "name is required")),
        (404, "not  here\n", (False, "http_404", "not here")),
        (503, "busy", (None, "http_503", "HTTP 503 after 3 attempts: busy")),
        (302, "", (None, "http_302", "HTTP 302 (redirects are not followed)")),
    ],
)
def test_classify(status: int, text: str, expected: tuple) -> None:
    assert classify(status, text, 3, error_key=True) == expected


@pytest.mark.parametrize(
    "text", ['{"error": {"message": "Wrong Field"}}', '{"error": "nope", "id": "batch_1"}']
)
def test_error_key_in_a_2xx_passes_unless_the_spec_says_errors_come_as_200(text: str) -> None:
    # OpenAI batch objects and Discord answers carry an `error` field on success
    assert classify(200, text, 1) == (True, "ok", "")
    assert classify(200, text, 1, error_key=True)[:2] == (False, "api_error")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"error": {"message": "a"}}', "a"),
        ('{"message": "b"}', "b"),
        ('{"detail": [{"loc": ["x"]}]}', '[{"loc": ["x"]}]'),
        ('{"title": "c"}', "c"),
        ("plain", "plain"),
    ],
)
def test_server_message(text: str, expected: str) -> None:
    assert server_message(text) == expected


def test_non_object_2xx_body_is_no_api_error() -> None:
    assert api_error_message('["error"]') is None


def test_verify_works_inside_a_running_event_loop(catalog: Catalog, sandbox_url: str) -> None:
    import asyncio

    s = sample(call(names(catalog)["owner"], ownerId=3))

    async def from_async_code() -> list:
        return run([s], catalog, sandbox_url)[0]

    assert asyncio.run(from_async_code())[0].passed is True


@pytest.mark.parametrize(
    ("spec", "declared"), [(GENNX_MINI, True), (PETSTORE, False), ("nowhere.yaml", False)]
)
def test_errors_as_200_is_read_from_the_spec_for_a_real_target(spec: str, declared: bool) -> None:
    assert declares_errors_as_200(spec, None) is declared
