"""The sandbox on Swagger 2.0 specs: the in-memory upgrade to OpenAPI 3.0, the real server, the verifier."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from generators.config import GenerateConfig
from generators.pipeline import generate
from generators.plan import build_plan
from schemas.catalog import Catalog
from schemas.errors import SpecError
from schemas.models import Sample, ToolCall, Verdict
from schemas.openapi import ingest
from tests.verifiers.execution_fixtures import sample
from verifiers.base import VerifyContext
from verifiers.execution import ExecutionOptions, ExecutionVerifier
from verifiers.sandbox import SandboxServer
from verifiers.sandbox.routing import LoadedSpec
from verifiers.sandbox.swagger2 import read_local, security_scheme, servers, upgrade_to_openapi30

# openapi-core checks no oauth2 credentials and says so on each oauth2 operation
pytestmark = pytest.mark.filterwarnings("ignore:Unsupported scheme type:UserWarning")

TESTS = Path(__file__).resolve().parents[1]
FEATURES = TESTS / "data" / "sandbox" / "swagger2" / "api.yaml"
README_PETSTORE = TESTS / "data" / "specs" / "readme_2.0_petstore.json"
SEPARATE = TESTS / "data" / "specs" / "oai_v2_petstore-separate" / "spec" / "swagger.json"
CIRCULAR = TESTS / "data" / "specs" / "readme_2.0_schema-circular.yaml"
SPECS = [str(README_PETSTORE), str(SEPARATE), str(FEATURES)]
FEATURES_ORIGIN = "https://api.example.test"
PETSTORE_ORIGIN = "http://petstore.swagger.io"


@pytest.fixture(autouse=True, scope="module")
def _allowed_root() -> Iterator[None]:
    # petstore-separate's spec/ refers to ../common/: widen the allowed root the way a user would
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALLFORGE_SPEC_ALLOWED_ROOT", str(TESTS / "data"))
        yield


def upgraded(file: Path) -> dict[str, Any]:
    return upgrade_to_openapi30(read_local(file), file)


@pytest.fixture(scope="module")
def features() -> dict[str, Any]:
    return upgraded(FEATURES)


def params_of(node: dict[str, Any], document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An operation's or path item's parameters by name, components references followed."""
    out = {}
    for param in node.get("parameters", []):
        if "$ref" in param:
            param = document["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
        out[param["name"]] = param
    return out


def refs_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


# ------------------------------------------------------------------------------------ the upgrade


@pytest.mark.parametrize(
    ("case", "root", "expected"),
    [
        ("one scheme", {"host": "h.test", "basePath": "/v2", "schemes": ["http"]}, ["http://h.test/v2"]),
        (
            "https first, as ingestion binds",
            {"host": "h.test", "schemes": ["http", "https"]},
            ["https://h.test", "http://h.test"],
        ),
        (
            "no schemes: https, then http",
            {"host": "h.test:8080"},
            ["https://h.test:8080", "http://h.test:8080"],
        ),
        ("no host: the base path alone", {"basePath": "/api", "schemes": ["http"]}, ["/api"]),
        ("nothing at all", {}, ["/"]),
    ],
)
def test_servers_come_from_host_base_path_and_schemes(
    case: str, root: dict[str, Any], expected: list[str]
) -> None:
    assert [s["url"] for s in servers(root)] == expected


@pytest.mark.parametrize("spec", SPECS)
def test_the_first_server_is_the_url_ingestion_binds_tools_to(spec: str) -> None:
    document = upgraded(Path(spec))
    bound = {tool.binding.server_url for tool in ingest([spec], naming="snake").catalog}
    assert bound == {document["servers"][0]["url"]}


def test_an_operation_with_its_own_schemes_is_bound_where_the_sandbox_serves_it(tmp_path: Path) -> None:
    spec = tmp_path / "schemes.json"
    ok = {"200": {"description": "ok"}}
    spec.write_text(
        json.dumps(
            {
                "swagger": "2.0",
                "info": {"title": "t", "version": "1"},
                "host": "api.test",
                "basePath": "/v1",
                "schemes": ["https"],
                "paths": {"/a": {"get": {"responses": ok}, "post": {"schemes": ["http"], "responses": ok}}},
            }
        )
    )
    document = upgraded(spec)
    for tool in ingest([str(spec)], naming="snake").catalog:
        operation = document["paths"][tool.binding.path][tool.binding.method.lower()]
        served = operation.get("servers") or document["servers"]
        assert tool.binding.server_url == served[0]["url"], tool.name


def test_an_operations_own_schemes_become_its_servers(features: dict[str, Any]) -> None:
    assert features["paths"]["/items/{id}"]["put"]["servers"] == [{"url": "https://api.example.test/v1"}]


@pytest.mark.parametrize(
    ("name", "location", "style", "explode", "schema"),
    [
        ("limit", "query", None, None, {"type": "integer", "minimum": 1, "maximum": 100}),
        ("csv", "query", "form", False, {"type": "array", "items": {"type": "integer"}}),
        ("multi", "query", "form", True, {"type": "array", "items": {"type": "integer"}}),
        ("ssv", "query", "spaceDelimited", False, {"type": "array", "items": {"type": "integer"}}),
        ("pipes", "query", "pipeDelimited", False, {"type": "array", "items": {"type": "integer"}}),
        ("tsv", "query", "tabDelimited", False, {"type": "array", "items": {"type": "integer"}}),
        ("X-Ids", "header", "simple", False, {"type": "array", "items": {"type": "integer"}}),
    ],
)
def test_parameters_get_a_schema_and_a_style(
    features: dict[str, Any],
    name: str,
    location: str,
    style: str | None,
    explode: bool | None,
    schema: dict[str, Any],
) -> None:
    param = params_of(features["paths"]["/items"]["get"], features)[name]
    assert (param["in"], param.get("style"), param.get("explode"), param["schema"]) == (
        location,
        style,
        explode,
        schema,
    )


def test_path_parameters_are_required_and_keep_their_format(features: dict[str, Any]) -> None:
    param = params_of(features["paths"]["/items/{id}"], features)["id"]
    assert (param["in"], param["required"], param["schema"]) == (
        "path",
        True,
        {"type": "integer", "format": "int64"},
    )


def test_allow_empty_value_is_kept_on_query_parameters(features: dict[str, Any]) -> None:
    assert params_of(features["paths"]["/items"]["get"], features)["q"]["allowEmptyValue"] is True


def test_accept_content_type_and_authorization_headers_are_left_out(features: dict[str, Any]) -> None:
    # OpenAPI 3 ignores them, and ingestion makes no argument of them
    assert "Authorization" not in params_of(features["paths"]["/items"]["get"], features)


def test_root_parameters_are_components_referenced_where_used(features: dict[str, Any]) -> None:
    item = features["paths"]["/items"]
    assert (
        features["components"]["parameters"]["traceId"]["in"],
        item["parameters"],
        item["get"]["parameters"][0],
        "itemBody" in features["components"]["parameters"],  # a body is no 3.0 parameter
    ) == (
        "header",
        [{"$ref": "#/components/parameters/traceId"}],
        {"$ref": "#/components/parameters/limit"},
        False,
    )


def test_a_body_parameter_becomes_a_request_body_per_consumes(features: dict[str, Any]) -> None:
    body = features["paths"]["/items"]["post"]["requestBody"]
    schema = {"$ref": "#/components/schemas/Item"}
    assert body == {
        "content": {"application/json": {"schema": schema}, "text/plain": {"schema": schema}},
        "required": True,
    }


def test_consumes_defaults_to_the_roots_then_json() -> None:
    document = upgrade_to_openapi30(
        {
            "swagger": "2.0",
            "paths": {"/a": {"post": {"parameters": [{"in": "body", "name": "b", "schema": {}}]}}},
        },
        Path("inline.json"),
    )
    assert list(document["paths"]["/a"]["post"]["requestBody"]["content"]) == ["application/json"]


def test_a_wildcard_consumes_also_lists_json_by_name() -> None:
    # openapi-core would decode a body matched by */* as bytes
    document = upgrade_to_openapi30(
        {
            "swagger": "2.0",
            "consumes": ["*/*"],
            "paths": {"/a": {"post": {"parameters": [{"in": "body", "name": "b", "schema": {}}]}}},
        },
        Path("inline.json"),
    )
    assert list(document["paths"]["/a"]["post"]["requestBody"]["content"]) == ["*/*", "application/json"]


def test_form_data_with_a_file_is_a_multipart_object(features: dict[str, Any]) -> None:
    body = features["paths"]["/items/{id}/photo"]["post"]["requestBody"]
    media = body["content"]["multipart/form-data"]
    assert (body["required"], media["schema"], media.get("encoding")) == (
        True,
        {
            "type": "object",
            "properties": {
                "caption": {"type": "string", "maxLength": 20},
                "width": {"type": "integer", "minimum": 1},
                "file": {"type": "string", "format": "binary"},
            },
            "required": ["caption", "file"],
        },
        None,  # no contentType needed for "width": the sandbox casts a text part to its field's type
    )


def test_urlencoded_form_arrays_keep_their_collection_format(features: dict[str, Any]) -> None:
    media = features["paths"]["/items/{id}/rename"]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"
    ]
    assert media["encoding"] == {"tags": {"style": "form", "explode": False}}


def test_definitions_and_schemas_of_other_files_become_components(features: dict[str, Any]) -> None:
    schemas = features["components"]["schemas"]
    assert (
        sorted(schemas),
        schemas["Owner"]["properties"]["friends"]["items"],  # recursion inside the other file
        schemas["Patch"]["properties"]["kind"],  # a ref from the other file back into the root
        {ref for ref in refs_in(features) if not ref.startswith("#/components/")},
    ) == (
        ["Cat", "Item", "Kind", "Owner", "Patch", "Pet", "Problem"],
        {"$ref": "#/components/schemas/Owner"},
        {"$ref": "#/components/schemas/Kind"},
        set(),
    )


def test_multi_file_spec_refs_are_all_resolved_into_components() -> None:
    document = upgraded(SEPARATE)
    get = document["paths"]["/pets"]["get"]
    assert (
        sorted(document["components"]["schemas"]),
        [p["name"] for p in get["parameters"]],
        {ref for ref in refs_in(document) if not ref.startswith("#/components/schemas/")},
    ) == (["Error", "NewPet", "Pet"], ["tags", "limit"], set())


@pytest.mark.parametrize(
    ("case", "path", "expected"),
    [
        ("x-nullable", ["Item", "properties", "note"], {"type": "string", "nullable": True}),
        (
            "x-nullable beside a $ref (3.0 ignores a $ref's siblings)",
            ["Item", "properties", "owner"],
            {"anyOf": [{"$ref": "#/components/schemas/Owner"}, {"enum": [None]}]},
        ),
        ("discriminator name", ["Pet", "discriminator"], {"propertyName": "petType"}),
        (
            "x-nullable beside an enum",
            ["Item", "properties", "grade"],
            {"type": "string", "enum": ["a", "b", None], "nullable": True},
        ),
    ],
)
def test_schema_keywords_in_their_3_0_spelling(
    features: dict[str, Any], case: str, path: list[str], expected: Any
) -> None:
    node = features["components"]["schemas"]
    for key in path:
        node = node[key]
    assert node == expected


def test_responses_get_content_per_produces_examples_and_headers(features: dict[str, Any]) -> None:
    listed = features["paths"]["/items"]["get"]["responses"]["200"]["content"]
    created = features["paths"]["/items"]["post"]["responses"]
    assert (
        listed["application/json"]["example"],
        created["201"]["headers"]["X-Rate"],
        created["404"],
        features["components"]["responses"]["NotFound"]["content"]["application/json"]["schema"],
    ) == (
        [{"id": 7, "name": "example"}],
        {"description": "requests left", "schema": {"type": "integer"}},
        {"$ref": "#/components/responses/NotFound"},
        {"$ref": "#/components/schemas/Problem"},
    )


def test_security_definitions_become_security_schemes(features: dict[str, Any]) -> None:
    assert (features["security"], features["components"]["securitySchemes"]) == (
        [{"key": []}],
        {
            "key": {"type": "apiKey", "in": "query", "name": "api_key"},
            "basic": {"type": "http", "scheme": "basic", "description": "user and password"},
            "oauth": {
                "type": "oauth2",
                "flows": {
                    "authorizationCode": {
                        "authorizationUrl": "https://auth.example.test/authorize",
                        "tokenUrl": "https://auth.example.test/token",
                        "scopes": {"read": "read items"},
                    }
                },
            },
        },
    )


@pytest.mark.parametrize(
    ("flow", "expected"),
    [
        ("implicit", "implicit"),
        ("password", "password"),
        ("application", "clientCredentials"),
        ("accessCode", "authorizationCode"),
    ],
)
def test_oauth2_flows_get_their_3_0_names(flow: str, expected: str) -> None:
    scheme = security_scheme({"type": "oauth2", "flow": flow, "tokenUrl": "https://t.test", "scopes": {}})
    assert scheme["flows"] == {expected: {"tokenUrl": "https://t.test", "scopes": {}}}


def test_the_input_document_is_not_changed() -> None:
    document = read_local(FEATURES)
    before = copy.deepcopy(document)
    upgrade_to_openapi30(document, FEATURES)
    assert document == before


def test_a_remote_ref_is_refused_naming_the_file_and_pointer(tmp_path: Path) -> None:
    spec = tmp_path / "remote.json"
    document = {
        "swagger": "2.0",
        "definitions": {"A": {"$ref": "https://schemas.invalid/a.json"}},
    }
    with pytest.raises(SpecError, match=r"remote\.json#/definitions/A/\$ref: remote \$ref") as info:
        upgrade_to_openapi30(document, spec)
    assert "reads local spec files only" in str(info.value)


def test_a_missing_external_file_names_the_ref(tmp_path: Path) -> None:
    spec = tmp_path / "api.json"
    document = {"swagger": "2.0", "definitions": {"A": {"$ref": "gone.yaml#/B"}}}
    with pytest.raises(
        SpecError, match=r"api\.json#/definitions/A/\$ref: \$ref 'gone\.yaml#/B': cannot read"
    ):
        upgrade_to_openapi30(document, spec)


# --------------------------------------------------------------------------------------- LoadedSpec


def test_a_swagger_2_file_is_validated_as_its_3_0_upgrade() -> None:
    spec = LoadedSpec("circular", CIRCULAR)
    assert (spec.declared_version, spec.version, [op.template for op in spec.operations()]) == (
        "2.0",
        "3.0",
        ["/post"],
    )


@pytest.mark.parametrize(
    ("document", "pointer"),
    [
        ({"swagger": "1.2", "paths": {}}, "/swagger"),
        ({"info": {"title": "t"}, "paths": {}}, "/openapi"),
    ],
)
def test_other_versions_are_refused_with_the_file_named(
    tmp_path: Path, document: dict[str, Any], pointer: str
) -> None:
    spec = tmp_path / "old.json"
    spec.write_text(json.dumps(document))
    with pytest.raises(SpecError, match=rf"old\.json#{pointer}: "):
        LoadedSpec("old", spec)


# ---------------------------------------------------------------------------------- the real server


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SPECS, mode="thread") as server:
        yield server


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as c:
        yield c


PETSTORE = {"X-Callforge-Origin": PETSTORE_ORIGIN, "api_key": "k"}
ITEMS = {"X-Callforge-Origin": FEATURES_ORIGIN, "X-Trace-Id": "t"}
KEY = "api_key=k"
_PNG = {"file": ("a.png", b"\x89PNG")}


@pytest.mark.parametrize(
    ("case", "method", "url", "headers", "send", "status", "message"),
    [
        # readme 2.0 petstore: one file
        (
            "valid multi query",
            "GET",
            "/v2/pet/findByStatus?status=sold&status=pending",
            PETSTORE,
            {},
            200,
            None,
        ),
        (
            "enum violation",
            "GET",
            "/v2/pet/findByStatus?status=lost",
            PETSTORE,
            {},
            400,
            "'lost' is not one of",
        ),
        ("missing required query", "GET", "/v2/user/login?username=a", PETSTORE, {}, 400, "password"),
        ("wrong type in the path", "GET", "/v2/pet/abc", PETSTORE, {}, 400, "integer type: abc"),
        ("valid body", "POST", "/v2/pet", PETSTORE, {"json": {"name": "Rex", "photoUrls": []}}, 200, None),
        (
            "bad body",
            "POST",
            "/v2/pet",
            PETSTORE,
            {"json": {"name": "Rex"}},
            422,
            "'photoUrls' is a required",
        ),
        ("valid form", "POST", "/v2/pet/1", PETSTORE, {"data": {"name": "Rex"}}, 200, None),
        ("valid upload", "POST", "/v2/pet/1/uploadImage", PETSTORE, {"files": _PNG}, 200, None),
        ("missing api key", "GET", "/v2/pet/1", {"X-Callforge-Origin": PETSTORE_ORIGIN}, {}, 401, "api_key"),
        # OAI petstore-separate: parameters and schemas in other files
        ("valid csv query", "GET", "/api/pets?tags=a,b&limit=3", PETSTORE, {}, 200, None),
        (
            "wrong type in a $ref'd parameter",
            "GET",
            "/api/pets?limit=x",
            PETSTORE,
            {},
            400,
            "integer type: x",
        ),
        (
            "wrong type in another file's schema",
            "POST",
            "/api/pets",
            PETSTORE,
            {"json": {"id": 1, "name": "Rex", "description": "five"}},
            422,
            "/description: 'five' is not of type 'integer'",
        ),
        (
            "missing property of a $ref'd file",
            "POST",
            "/api/pets",
            PETSTORE,
            {"json": {"name": "R"}},
            422,
            "'id'",
        ),
        # the features fixture
        (
            "all collection formats",
            "GET",
            f"/v1/items?{KEY}&csv=1,2&multi=1&multi=2&ssv=1%202&pipes=1|2&tsv=1%092",
            ITEMS,
            {},
            200,
            None,
        ),
        (
            "csv item",
            "GET",
            f"/v1/items?{KEY}&csv=1,x",
            ITEMS,
            {},
            400,
            "csv: Failed to cast value to integer type: x",
        ),
        ("multi item", "GET", f"/v1/items?{KEY}&multi=1&multi=x", ITEMS, {}, 400, "multi: Failed to cast"),
        ("ssv item", "GET", f"/v1/items?{KEY}&ssv=1%20x", ITEMS, {}, 400, "ssv: Failed to cast"),
        ("pipes item", "GET", f"/v1/items?{KEY}&pipes=1|x", ITEMS, {}, 400, "pipes: Failed to cast"),
        ("tsv item", "GET", f"/v1/items?{KEY}&tsv=1%09x", ITEMS, {}, 400, "tsv: Failed to cast"),
        ("tsv is not comma-joined", "GET", f"/v1/items?{KEY}&tsv=1,2", ITEMS, {}, 400, "tsv: Failed to cast"),
        ("header array item", "GET", f"/v1/items?{KEY}", {**ITEMS, "X-Ids": "1,x"}, {}, 400, "X-Ids"),
        ("above a $ref'd maximum", "GET", f"/v1/items?{KEY}&limit=101", ITEMS, {}, 400, "maximum of 100"),
        (
            "missing path-item header",
            "GET",
            f"/v1/items?{KEY}",
            {"X-Callforge-Origin": FEATURES_ORIGIN},
            {},
            400,
            "Missing required header parameter: X-Trace-Id",
        ),
        ("missing query api key", "GET", "/v1/items", ITEMS, {}, 401, "[['key']]"),
        ("operation overrides the path item", "GET", f"/v1/items/1?{KEY}&verbose=yes", ITEMS, {}, 200, None),
        ("overridden enum", "GET", f"/v1/items/1?{KEY}&verbose=true", ITEMS, {}, 400, "is not one of"),
        (
            "nullable properties",
            "POST",
            f"/v1/items?{KEY}",
            ITEMS,
            {"json": {"id": 1, "name": "a", "note": None, "owner": None}},
            201,
            None,
        ),
        (
            "owner from the other file",
            "POST",
            f"/v1/items?{KEY}",
            ITEMS,
            {"json": {"id": 1, "name": "a", "owner": {"friends": []}}},
            422,
            "/owner: {'friends': []} is not valid under any of the given schemas",
        ),
        (
            "valid multipart",
            "POST",
            "/v1/items/1/photo",
            ITEMS,
            {"data": {"caption": "c", "width": "3"}, "files": _PNG},
            200,
            None,
        ),
        (
            "multipart integer",
            "POST",
            "/v1/items/1/photo",
            ITEMS,
            {"data": {"caption": "c", "width": "0"}, "files": _PNG},
            422,
            "minimum of 1",
        ),
        (
            "multipart integer, wrong type",
            "POST",
            "/v1/items/1/photo",
            ITEMS,
            {"data": {"caption": "c", "width": "x"}, "files": _PNG},
            422,
            "/width: 'x' is not of type 'integer'",
        ),
        (
            "missing file",
            "POST",
            "/v1/items/1/photo",
            ITEMS,
            {"files": {"caption": (None, "c")}},
            422,
            "'file' is a required",
        ),
        (
            "valid urlencoded",
            "POST",
            f"/v1/items/1/rename?{KEY}",
            ITEMS,
            {"data": {"name": "abc", "tags": "1,2"}},
            200,
            None,
        ),
        (
            "urlencoded pattern",
            "POST",
            f"/v1/items/1/rename?{KEY}",
            ITEMS,
            {"data": {"name": "ABC"}},
            422,
            "does not match",
        ),
        (
            "urlencoded csv item",
            "POST",
            f"/v1/items/1/rename?{KEY}",
            ITEMS,
            {"data": {"name": "a", "tags": "1,x"}},
            422,
            "integer type: x",
        ),
        ("basic auth missing", "PUT", "/v1/items/1", ITEMS, {"json": {"name": "n"}}, 401, "basic"),
        (
            "operation-level https only",
            "PUT",
            "/v1/items/1",
            {**ITEMS, "X-Callforge-Origin": "http://api.example.test", "Authorization": "Basic eDp5"},
            {"json": {"name": "n"}},
            404,
            None,
        ),
        (
            "valid put",
            "PUT",
            "/v1/items/1",
            {**ITEMS, "Authorization": "Basic eDp5"},
            {"json": {"name": "n"}},
            200,
            None,
        ),
        (
            "too short in another file's schema",
            "PUT",
            "/v1/items/1",
            {**ITEMS, "Authorization": "Basic eDp5"},
            {"json": {"name": ""}},
            422,
            "/name: '' should be non-empty",
        ),
        (
            "additional property refused",
            "PUT",
            "/v1/items/1",
            {**ITEMS, "Authorization": "Basic eDp5"},
            {"json": {"name": "n", "colour": "red"}},
            422,
            "Additional properties are not allowed",
        ),
    ],
)
def test_requests_against_swagger_2_specs(
    client: httpx.Client,
    case: str,
    method: str,
    url: str,
    headers: dict[str, str],
    send: dict[str, Any],
    status: int,
    message: str | None,
) -> None:
    response = client.request(method, url, headers=headers, **send)
    text = response.json()["error"]["message"] if response.status_code >= 400 else ""
    assert (response.status_code, message is None or message in text) == (status, True), response.text


def test_the_canned_answer_is_the_2_0_example(client: httpx.Client) -> None:
    response = client.get(f"/v1/items?{KEY}", headers=ITEMS)
    assert response.json() == [{"id": 7, "name": "example"}]


# ------------------------------------------------------------------- through the execution verifier


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return ingest(SPECS, naming="snake").catalog


@pytest.fixture(scope="module")
def verified(catalog: Catalog, sandbox: SandboxServer) -> tuple[list[Sample], list[Verdict]]:
    """Offline samples of the three 2.0 specs (default plan), verified against the sandbox."""
    config = GenerateConfig()
    result = generate(build_plan(catalog, config.plan), catalog, config)
    return result.samples, verify(result.samples, catalog, sandbox)


def verify(samples: list[Sample], catalog: Catalog, sandbox: SandboxServer) -> list[Verdict]:
    context = VerifyContext(catalog=catalog, resources={"sandbox_url": sandbox.base_url})
    return ExecutionVerifier(ExecutionOptions()).verify(samples, context)


def test_clean_offline_samples_pass_the_execution_verifier(
    verified: tuple[list[Sample], list[Verdict]],
) -> None:
    samples, verdicts = verified
    with_calls = [v for s, v in zip(samples, verdicts, strict=True) if s.calls]
    passed = sum(v.passed is True for v in with_calls)
    # measured: 100 % with the default plan (seed 0); 98.5-100 % over seeds 1, 2, 5, 9, where the rest
    # were calls that give a required body none of its optional properties (no body is sent: a 400)
    assert len(with_calls) > 150 and passed / len(with_calls) >= 0.97, [
        v.message for v in with_calls if not v.passed
    ][:5]


def test_a_broken_sample_is_rejected_with_the_servers_reason(
    catalog: Catalog, sandbox: SandboxServer
) -> None:
    tool = next(t for t in catalog if t.binding.method == "GET" and t.binding.path == "/pet/{petId}")
    broken = sample(ToolCall(name=tool.name, arguments={"petId": "not-a-number"}))
    [verdict] = verify([broken], catalog, sandbox)
    assert (verdict.passed, verdict.code, "integer type: not-a-number" in verdict.message) == (
        False,
        "http_400",
        True,
    )
