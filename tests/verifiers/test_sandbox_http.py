"""The sandbox over real HTTP on loopback: openapi-core's verdicts, canned answers, the GEN NX table model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from jsonschema_path import SchemaPath
from openapi_core import V30ResponseValidator
from openapi_core.testing import MockRequest, MockResponse

from schemas.errors import ConfigError, SpecError
from tests.verifiers.execution_fixtures import DATA, GEN_ORIGIN, PET_ORIGIN, SPECS, SPLIT
from verifiers.sandbox import SandboxServer, build_app

PET = {"X-Callforge-Origin": PET_ORIGIN, "X-Api-Key": "k"}
GEN = {"X-Callforge-Origin": GEN_ORIGIN, "MAPI-Key": "k"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SPECS, mode="thread") as server:
        yield server


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    sandbox.reset()
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as c:
        yield c


def error_of(response: httpx.Response) -> str:
    return response.json()["error"]["message"]


# ------------------------------------------------------------------------------------ openapi-core says


@pytest.mark.parametrize(
    ("case", "method", "url", "headers", "status", "message"),
    [
        ("valid request", "GET", "/v1/pets?limit=5&tags=a,b", {"X-Trace-Id": "t"}, 200, None),
        (
            "missing required query",
            "GET",
            "/v1/pets?tags=a",
            {"X-Trace-Id": "t"},
            400,
            "Missing required query parameter: limit",
        ),
        (
            "missing required header",
            "GET",
            "/v1/pets?limit=5",
            {},
            400,
            "Missing required header parameter: X-Trace-Id",
        ),
        (
            "wrong type in the query",
            "GET",
            "/v1/pets?limit=many",
            {"X-Trace-Id": "t"},
            400,
            "Failed to cast value to integer type: many",
        ),
        (
            "below the minimum",
            "GET",
            "/v1/pets?limit=0",
            {"X-Trace-Id": "t"},
            400,
            "0 is less than the minimum of 1",
        ),
        (
            "wrong type in the path",
            "GET",
            "/v1/owners/abc",
            {},
            400,
            "Failed to cast value to integer type: abc",
        ),
        (
            "enum violation in an exploded array",
            "GET",
            "/v1/pets?limit=1&kinds=cat&kinds=cow",
            {"X-Trace-Id": "t"},
            400,
            "'cow' is not one of",
        ),
        (
            "pipeDelimited items are split",
            "GET",
            "/v1/pets?limit=1&ids=1|x",
            {"X-Trace-Id": "t"},
            400,
            "Failed to cast value to integer type: x",
        ),
        (
            "spaceDelimited items are split",
            "GET",
            "/v1/pets?limit=1&words=a%20b%20c",
            {"X-Trace-Id": "t"},
            400,
            "is too long",
        ),
        (
            "unknown query parameter",
            "GET",
            "/v1/pets?limit=1&colour=red",
            {"X-Trace-Id": "t"},
            400,
            "unknown query parameter(s) ['colour']",
        ),
        (
            "deepObject keys are not unknown",
            "GET",
            "/v1/pets?limit=1&filter[color]=red",
            {"X-Trace-Id": "t"},
            200,
            None,
        ),
        ("unknown path", "GET", "/v1/kittens", {}, 404, "no path of petstore.yaml matches /v1/kittens"),
        ("method not allowed", "PATCH", "/v1/pets", {}, 405, "PATCH is not an operation of this path"),
    ],
)
def test_request_validation(
    client: httpx.Client, case: str, method: str, url: str, headers: dict, status: int, message: str | None
) -> None:
    response = client.request(method, url, headers={**PET, **headers})
    assert (response.status_code, message is None or message in error_of(response)) == (status, True), (
        response.text
    )


def test_missing_credentials_is_401(client: httpx.Client) -> None:
    response = client.get("/v1/owners/1", headers={"X-Callforge-Origin": PET_ORIGIN})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("case", "body", "status", "message"),
    [
        ("valid body", {"name": "Rex", "kind": "dog"}, 201, None),
        (
            "enum violation",
            {"name": "Rex", "kind": "cow"},
            422,
            "/kind: 'cow' is not one of ['cat', 'dog', 'bird']",
        ),
        ("missing required property", {"kind": "dog"}, 422, "'name' is a required property"),
        (
            "extra property where the spec forbids it",
            {"name": "Rex", "kind": "dog", "colour": "red"},
            422,
            "Additional properties are not allowed",
        ),
        (
            "wrong type",
            {"name": "Rex", "kind": "dog", "age": "three"},
            422,
            "/age: 'three' is not of type 'integer'",
        ),
    ],
)
def test_json_body_validation(
    client: httpx.Client, case: str, body: dict, status: int, message: str | None
) -> None:
    response = client.post("/v1/pets", json=body, headers=PET)
    assert (response.status_code, message is None or message in error_of(response)) == (status, True), (
        response.text
    )


def test_missing_required_body_is_400(client: httpx.Client) -> None:
    response = client.post("/v1/pets", headers=PET)
    assert (response.status_code, error_of(response)) == (400, "Missing required request body")


def test_body_on_an_operation_without_one_is_refused(client: httpx.Client) -> None:
    response = client.request(
        "GET", "/v1/owners/1", content=b'{"x": 1}', headers={**PET, "Content-Type": "application/json"}
    )
    assert (response.status_code, "takes no request body" in error_of(response)) == (400, True)


@pytest.mark.parametrize(
    ("case", "data", "status"),
    [
        ("valid form", {"owner": "Ann", "age": "3"}, 200),
        ("wrong type", {"owner": "Ann", "age": "x"}, 422),
        ("too short", {"owner": "A"}, 422),
    ],
)
def test_urlencoded_body_validation(client: httpx.Client, case: str, data: dict, status: int) -> None:
    assert client.post("/v1/pets/1/adopt", data=data, headers=PET).status_code == status


@pytest.mark.parametrize(
    ("case", "data", "status"),
    [
        ("valid parts", {"caption": "hi"}, 200),
        ("missing required part", {"title": "hi"}, 422),
        ("too long", {"caption": "x" * 41}, 422),
    ],
)
def test_multipart_body_validation(client: httpx.Client, case: str, data: dict, status: int) -> None:
    response = client.post("/v1/pets/1/photo", data=data, files={"file": ("f.bin", b"\x00\x01")}, headers=PET)
    assert response.status_code == status, response.text


def test_percent_escaped_slash_stays_inside_the_path_variable(client: httpx.Client) -> None:
    assert client.get("/v1/pets/a%2Fb%20c", headers=PET).status_code == 200


# -------------------------------------------------------------------------------------- servers, files


def test_origin_outside_the_spec_servers_is_404(client: httpx.Client) -> None:
    response = client.get("/v1/owners/1", headers={**PET, "X-Callforge-Origin": "http://evil.test"})
    assert (response.status_code, response.json()["error"]["code"]) == (404, "server_not_found")


def test_without_an_origin_only_the_server_path_is_compared(client: httpx.Client) -> None:
    assert client.get("/v1/owners/1", headers={"X-Api-Key": "k"}).status_code == 200


def test_multi_file_spec_validates_through_its_refs(client: httpx.Client) -> None:
    good = client.put("/api/items/ABC-12", json={"quantity": 2})
    bad = client.put("/api/items/abc", json={"quantity": -1})
    assert (
        good.status_code,
        bad.status_code,
        "does not match" in error_of(bad),
        "less than the minimum" in error_of(bad),
    ) == (
        200,
        400,
        True,
        True,
    )


# ------------------------------------------------------------------------------------------- responses


def test_response_uses_the_spec_example(client: httpx.Client) -> None:
    assert client.get("/v1/pets/7", headers=PET).json() == {
        "id": 7,
        "name": "Rex the Example",
        "kind": "dog",
        "tag": "good",
    }


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/owners/3"), ("POST", "/v1/pets")])
def test_synthesised_response_conforms_to_the_schema(client: httpx.Client, method: str, path: str) -> None:
    body = {"name": "Rex", "kind": "cat"} if method == "POST" else None
    response = client.request(method, path, json=body, headers=PET)
    validator = V30ResponseValidator(SchemaPath.from_file_path(str(DATA / "petstore.yaml")))
    errors = list(
        validator.iter_errors(
            MockRequest(PET_ORIGIN, method, path),
            MockResponse(
                response.content, response.status_code, content_type=response.headers["content-type"]
            ),
        )
    )
    assert (response.status_code < 300, errors) == (True, [])


def test_no_content_response_has_no_body(client: httpx.Client) -> None:
    response = client.delete("/v1/pets/1", headers=PET)
    assert (response.status_code, response.content) == (204, b"")


# ------------------------------------------------------------------------------------ GEN NX tables


NODE = {"X": 0, "Y": 0, "Z": 1.5}


def test_post_then_get_reads_back(client: httpx.Client) -> None:
    client.post("/gen/db/NODE", json={"Assign": {"1": NODE}}, headers=GEN)
    assert client.get("/gen/db/NODE", headers=GEN).json() == {"NODE": {"1": NODE}}


def test_post_of_an_existing_id_is_an_error_inside_a_200(client: httpx.Client) -> None:
    client.post("/gen/db/NODE", json={"Assign": {"1": NODE}}, headers=GEN)
    again = client.post("/gen/db/NODE", json={"Assign": {"1": NODE}}, headers=GEN)
    assert (again.status_code, again.json()) == (200, {"error": {"message": "Key Already Exist"}})


def test_put_of_an_unknown_id_fails(client: httpx.Client) -> None:
    response = client.put("/gen/db/NODE", json={"Assign": {"9": NODE}}, headers=GEN)
    assert (
        response.status_code,
        "error" in response.json(),
        client.get("/gen/db/NODE", headers=GEN).json(),
    ) == (
        200,
        True,
        {"message": ""},
    )


def test_put_of_an_unknown_id_creates_it_when_lenient(client: httpx.Client) -> None:
    client.put("/gen/db/NODE", json={"Assign": {"9": NODE}}, headers={**GEN, "X-Callforge-State": "lenient"})
    assert client.get("/gen/db/NODE", headers=GEN).json() == {"NODE": {"9": NODE}}


def test_put_merges_into_the_existing_row(client: httpx.Client) -> None:
    client.post("/gen/db/NODE", json={"Assign": {"1": NODE}}, headers=GEN)
    client.put("/gen/db/NODE", json={"Assign": {"1": {"X": 0, "Y": 0, "Z": 9}}}, headers=GEN)
    assert client.get("/gen/db/NODE", headers=GEN).json()["NODE"]["1"]["Z"] == 9


def test_delete_by_id_removes_one_row(client: httpx.Client) -> None:
    client.post("/gen/db/NODE", json={"Assign": {"1": NODE, "2": NODE}}, headers=GEN)
    client.delete("/gen/db/NODE/1", headers=GEN)
    assert client.get("/gen/db/NODE", headers=GEN).json() == {"NODE": {"2": NODE}}


def test_delete_of_the_table_removes_every_row(client: httpx.Client) -> None:
    client.post("/gen/db/NODE", json={"Assign": {"1": NODE, "2": NODE}}, headers=GEN)
    client.delete("/gen/db/NODE", headers=GEN)
    assert client.get("/gen/db/NODE", headers=GEN).json() == {"message": ""}


def test_invalid_table_write_is_rejected_before_the_model(client: httpx.Client) -> None:
    response = client.post("/gen/db/NODE", json={"Assign": {"a": {"X": "zero"}}}, headers=GEN)
    assert (response.status_code, client.get("/gen/db/NODE", headers=GEN).json()) == (422, {"message": ""})


def test_sessions_do_not_see_each_other(client: httpx.Client) -> None:
    client.post("/gen/db/NODE", json={"Assign": {"1": NODE}}, headers={**GEN, "X-Callforge-Session": "a"})
    assert client.get("/gen/db/NODE", headers={**GEN, "X-Callforge-Session": "b"}).json() == {"message": ""}


def test_reset_empties_the_model(sandbox: SandboxServer, client: httpx.Client) -> None:
    client.post("/gen/db/NODE", json={"Assign": {"1": NODE}}, headers=GEN)
    sandbox.reset()
    assert sandbox.state() == {}


def test_state_shows_the_tables(sandbox: SandboxServer, client: httpx.Client) -> None:
    client.post("/gen/db/NODE", json={"Assign": {"4": NODE}}, headers={**GEN, "X-Callforge-Session": "s"})
    assert sandbox.state("s") == {"NODE": {"4": NODE}}


def test_two_sandboxes_do_not_share_state() -> None:
    with SandboxServer([SPECS[1]], mode="thread") as one, SandboxServer([SPECS[1]], mode="thread") as two:
        httpx.post(one.base_url + "/gen/db/NODE", json={"Assign": {"1": NODE}}, headers=GEN)
        assert httpx.get(two.base_url + "/gen/db/NODE", headers=GEN).json() == {"message": ""}


# ------------------------------------------------------------------------------------- start and stop


def test_process_mode_serves_and_stop_releases_the_port() -> None:
    with SandboxServer([SPLIT]) as sandbox:
        url = sandbox.base_url
        assert httpx.put(url + "/api/items/ABC-1", json={"quantity": 1}).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/_sandbox/health", timeout=2)


def test_relative_spec_paths_resolve_against_the_root() -> None:
    app = build_app(["split/openapi.yaml"], root=DATA)
    assert app.specs[0].file == (DATA / "split" / "openapi.yaml").resolve()


def test_missing_spec_file_names_the_file() -> None:
    with pytest.raises(ConfigError, match=r"spec file 'nowhere\.yaml' not found"):
        SandboxServer(["nowhere.yaml"], mode="process").start()


def test_swagger_1_2_is_refused_with_the_file_named(tmp_path: Path) -> None:
    spec = tmp_path / "old.json"
    spec.write_text(json.dumps({"swagger": "1.2", "info": {"title": "t", "version": "1"}, "paths": {}}))
    with pytest.raises(SpecError, match=r"old\.json.*/swagger"):
        build_app([str(spec)])


def test_remote_refs_are_not_fetched(tmp_path: Path) -> None:
    spec = tmp_path / "remote.yaml"
    spec.write_text(
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    post:\n      requestBody:\n"
        "        content:\n          application/json:\n            schema: {$ref: 'https://schemas.invalid/x.json'}\n"
        "      responses: {'200': {description: ok}}\n"
    )
    # refused at start-up, the way ingestion refuses it, not on the first request that reaches it
    with pytest.raises(SpecError, match=r"remote\.yaml#/paths/~1x/post/.*remote \$ref .* is not fetched"):
        build_app([str(spec)])
    with SandboxServer([str(spec)], mode="thread", degrade=True) as sandbox:
        (unavailable,) = sandbox.health()["unavailable"]
        response = httpx.post(
            sandbox.base_url + "/x", json={"a": 1}, headers={"X-Callforge-Spec": str(spec)}, timeout=10
        )
    assert unavailable["key"] == str(spec) and "is not fetched" in unavailable["reason"]
    assert (response.status_code, response.json()["error"]["code"]) == (503, "spec_unavailable")
    assert "is not fetched" in error_of(response)


def test_a_sandbox_that_does_not_come_up_is_a_config_error_naming_what_it_was_for(tmp_path):
    from verifiers.sandbox import SandboxServer

    spec = tmp_path / "broken.yaml"
    spec.write_text("just: [unclosed\n")  # not YAML: the spec error is the sandbox's, not a config one
    server = SandboxServer([spec], mode="thread")
    with pytest.raises(
        ConfigError, match=r"^multi-turn evaluation: cannot start the sandbox: .*not valid YAML"
    ):
        server.start_for("multi-turn evaluation")
    assert server._sock is None  # the listening socket it had bound is closed again
