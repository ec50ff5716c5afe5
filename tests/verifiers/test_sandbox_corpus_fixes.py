"""Sandbox false rejects found on the real spec corpus, each pinned on a minimal slice of its spec.

- OpenAPI 3.x ignores header parameters named Accept, Content-Type and Authorization;
- an array header of objects is read as JSON items (OpenAPI leaves that spelling undefined);
- a schema-local ``$schema`` naming an unknown dialect is validated, never a 500.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.verifiers.execution_fixtures import DATA
from verifiers.sandbox import SandboxServer

IGNORED = str(DATA / "ignored_headers.yaml")
STRUCTURED = str(DATA / "structured_header_items.yaml")
DIALECT = str(DATA / "unknown_dialect.json")
ORIGIN = {"X-Callforge-Origin": "https://httpbin.org"}


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with (
        SandboxServer([IGNORED, STRUCTURED, DIALECT], mode="thread") as server,
        httpx.Client(base_url=server.base_url, timeout=10) as c,
    ):
        yield c


def error_of(response: httpx.Response) -> str:
    return response.json()["error"]["message"]


# ---------------------------------------------------------------------- ignored header parameters


def test_required_authorization_content_type_and_accept_parameters_are_ignored(client: httpx.Client) -> None:
    # no Authorization; Content-Type and Accept outside their parameters' enums
    response = client.put(
        "/circular",
        headers={**ORIGIN, "X-Trace": "t", "Accept": "application/json"},
        files={"typename": (None, "x")},
    )
    assert response.status_code == 200, response.text


def test_other_required_headers_are_still_checked(client: httpx.Client) -> None:
    response = client.put("/circular", headers=ORIGIN, files={"typename": (None, "x")})
    assert response.status_code == 400
    assert "X-Trace" in error_of(response)


def test_security_schemes_are_still_checked(client: httpx.Client) -> None:
    refused = client.get("/secured", headers={**ORIGIN, "Authorization": "Bearer t"})
    assert refused.status_code == 401
    assert client.get("/secured", headers={**ORIGIN, "X-Token": "k"}).status_code == 200


# ---------------------------------------------------------------------- structured array items


@pytest.mark.parametrize(
    ("case", "value"),
    [
        ("one empty object", "{}"),
        ("two empty objects", "{},{}"),
        ("comma inside an item", '{"stock":{"test_param":[{},{}]}},{}'),
    ],
)
def test_header_array_of_objects_reads_json_items(client: httpx.Client, case: str, value: str) -> None:
    response = client.put("/anything/anything", headers={**ORIGIN, "content": value})
    assert response.status_code == 200, f"{case}: {response.text}"


def test_header_item_of_the_wrong_type_is_still_refused(client: httpx.Client) -> None:
    response = client.put("/anything/anything", headers={**ORIGIN, "content": '{"stock":{"test_param":5}}'})
    assert response.status_code == 400
    assert "content" in error_of(response)


@pytest.mark.parametrize(
    ("case", "query", "status"),
    [
        ("form exploded", 'lines={"sku":"a","qty":1}&lines={"sku":"b"}', 200),
        ("form exploded, item missing a required key", 'lines={"qty":1}', 400),
        ("pipeDelimited", 'piped={"sku":"a","qty":1}|{"sku":"b"}', 200),
        ("not JSON is refused as before", "lines=sku", 400),
    ],
)
def test_query_arrays_of_objects(client: httpx.Client, case: str, query: str, status: int) -> None:
    response = client.get("/anything/anything", params=httpx.QueryParams(query), headers=ORIGIN)
    assert response.status_code == status, f"{case}: {response.text}"


# ---------------------------------------------------------------------- unknown $schema dialect


@pytest.mark.parametrize(
    ("case", "query", "status"),
    [
        ("valid", "id-exclusive-required-schema-v5=14&id-exclusive-required-schema-v7=14", 200),
        (
            "draft-05 value not a number",
            "id-exclusive-required-schema-v5=x&id-exclusive-required-schema-v7=14",
            400,
        ),
        (
            "draft-05 value above maximum",
            "id-exclusive-required-schema-v5=30&id-exclusive-required-schema-v7=14",
            400,
        ),
        (
            "draft-05 boolean exclusiveMinimum keeps draft 4's meaning",
            "id-exclusive-required-schema-v5=10&id-exclusive-required-schema-v7=14",
            400,
        ),
        (
            "known dialect still checked",
            "id-exclusive-required-schema-v5=14&id-exclusive-required-schema-v7=20",
            400,
        ),
    ],
)
def test_unknown_schema_dialect_is_validated_not_a_500(
    client: httpx.Client, case: str, query: str, status: int
) -> None:
    response = client.get("/anything/numbers", params=httpx.QueryParams(query), headers=ORIGIN)
    assert response.status_code == status, f"{case}: {response.text}"
