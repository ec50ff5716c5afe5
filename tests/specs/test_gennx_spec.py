"""The bundled GEN NX spec (specs/gennx/openapi.yaml) and its tier rules (specs/gennx/tiers.yaml).

Everything here reads only files in the repo. The spec is loaded once per module (~0.15 s).
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from schemas.openapi.load import parse_text
from schemas.tiers import TierRules

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "gennx" / "openapi.yaml"
TIERS = ROOT / "specs" / "gennx" / "tiers.yaml"

# The seed's analysis lists 282 path templates although its summary says 273 (see specs/gennx/README.md):
# its per-group counts are CONFIG 2, DOC 12, DB 217 (summary: 212), OPE 38, VIEW 7, POST 6.
GROUP_COUNTS = {"config": 2, "doc": 12, "db": 217, "ope": 38, "view": 7, "post": 6}
ENDPOINTS = sum(GROUP_COUNTS.values())
OPERATIONS = 918  # one per (path, method) in the seed's method lists
SEED_TIER_COUNTS = {1: 127, 2: 102, 3: 44}  # the seed's approximate per-tier endpoint counts
TOLERANCE = 5
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
REF = "#/components/schemas/"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    # callforge's own reader: the native YAML path gives PyYAML's very tree (tests/schemas/
    # test_yaml_loader.py checks that on this spec) in ~0.15 s instead of ~1-3 s.
    return parse_text(SPEC.read_bytes(), str(SPEC))


@pytest.fixture(scope="module")
def rules() -> TierRules:
    return TierRules.load(TIERS)


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        assert schema["$ref"].startswith(REF), schema["$ref"]
        schema = spec["components"]["schemas"][schema["$ref"].removeprefix(REF)]
    return schema


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    # Local refs (#/components/schemas/...) resolve against the root, so give the root the components.
    return jsonschema.Draft202012Validator({**schema, "components": spec["components"]})


def endpoint_tiers(spec: dict[str, Any], rules: TierRules) -> dict[str, set[tuple[int | None, str | None]]]:
    got: dict[str, set] = collections.defaultdict(set)
    for path, method, op in operations(spec):
        got[path].add(
            rules.assign(path=path, method=method.upper(), tags=op.get("tags", []), name=op["operationId"])
        )
    return got


# ---------------------------------------------------------------------------------------- spec


@pytest.mark.slow  # openapi-spec-validator needs ~10-25 s for this 1.8 MB document on 2 cores
def test_spec_passes_openapi_spec_validator(spec: dict[str, Any]) -> None:
    """openapi-spec-validator over the whole GEN NX spec (~10 s; it runs once per session, and a cached
    verdict could not catch a spec edited since)."""
    from openapi_spec_validator import validate

    validate(spec)


def test_spec_is_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1.")


def test_path_templates_per_group(spec: dict[str, Any]) -> None:
    groups = collections.Counter(path.split("/")[1] for path in spec["paths"])
    assert dict(groups) == GROUP_COUNTS
    assert len(spec["paths"]) == ENDPOINTS


def test_one_operation_per_seed_method(spec: dict[str, Any]) -> None:
    assert sum(1 for _ in operations(spec)) == OPERATIONS


def test_paths_use_lower_case_groups(spec: dict[str, Any]) -> None:
    assert all(path.split("/")[1].islower() for path in spec["paths"])


def test_operation_ids_are_unique(spec: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(spec)]
    assert len(ids) == len(set(ids))


def test_every_operation_is_tagged_with_a_declared_tag(spec: dict[str, Any]) -> None:
    declared = {t["name"] for t in spec["tags"]}
    assert all(len(op["tags"]) == 1 and op["tags"][0] in declared for _, _, op in operations(spec))
    assert {"CONFIG", "DOC", "OPE", "VIEW", "POST", "DB_Static Loads", "DB_Node/Element"} <= declared


def test_mapi_key_header_is_required_globally(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["MAPI-Key"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "MAPI-Key")
    assert spec["security"] == [{"MAPI-Key": []}]


def test_server_is_the_midas_relay_with_a_product_variable(spec: dict[str, Any]) -> None:
    (server,) = spec["servers"]
    assert server["url"] == "https://moa-engineers.midasit.com:443/{product}"
    assert server["variables"]["product"]["default"] == "gen"


def test_every_db_body_wraps_assign(spec: dict[str, Any]) -> None:
    bad = []
    for path, method, op in operations(spec):
        if not path.startswith("/db/") or method == "get":
            continue
        body = resolve(spec, op["requestBody"]["content"]["application/json"]["schema"])
        assign = body["properties"]["Assign"]
        if not (
            body.get("required") == ["Assign"]
            and assign["type"] == "object"
            and assign["propertyNames"] == {"pattern": "^[0-9]+$"}
            and assign["minProperties"] == 1
            and "additionalProperties" in assign
        ):
            bad.append(f"{method.upper()} {path}")
    assert bad == []


def test_db_writes_reference_the_table_item_schema(spec: dict[str, Any]) -> None:
    for path, method, op in operations(spec):
        if path.startswith("/db/") and method in ("post", "put"):
            assign = resolve(spec, op["requestBody"]["content"]["application/json"]["schema"])["properties"][
                "Assign"
            ]
            assert assign["additionalProperties"]["$ref"].endswith("_Item"), path


def test_other_groups_take_an_argument_body(spec: dict[str, Any]) -> None:
    for path, method, op in operations(spec):
        if path.startswith("/db/") or method == "get":
            continue
        body = resolve(spec, op["requestBody"]["content"]["application/json"]["schema"])
        assert body["required"] == ["Argument"], path


def test_every_200_response_can_be_an_error_body(spec: dict[str, Any]) -> None:
    error = {"$ref": REF + "Error"}
    for path, method, op in operations(spec):
        schema = resolve(spec, op["responses"]["200"]["content"]["application/json"]["schema"])
        assert error in schema["oneOf"], f"{method.upper()} {path}"


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"NODE": {"1": {"X": 0, "Y": 0, "Z": 0}}}, True),
        ({"message": ""}, True),
        ({"error": {"message": "Key Already Exist"}}, True),
        ({"NODE": {"one": {"X": 0}}}, False),  # row ids are digit strings
        ({"NODE": {"1": {"X": "zero"}}}, False),
    ],
)
def test_db_response_schema_separates_rows_message_and_error(
    spec: dict[str, Any], body: dict, valid: bool
) -> None:
    schema = spec["paths"]["/db/NODE"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert validator(spec, schema).is_valid(body) is valid


def test_every_example_validates_against_its_schema(spec: dict[str, Any]) -> None:
    failures, checked = [], 0
    for path, method, op in operations(spec):
        media_types = [("request", op.get("requestBody", {}).get("content", {}).get("application/json"))]
        media_types += [
            (f"response {code}", r.get("content", {}).get("application/json"))
            for code, r in op["responses"].items()
        ]
        for where, media in media_types:
            if not media:
                continue
            check = validator(spec, media["schema"])
            for name, example in media.get("examples", {}).items():
                checked += 1
                error = jsonschema.exceptions.best_match(check.iter_errors(example["value"]))
                if error is not None:
                    failures.append(f"{method.upper()} {path} {where} {name}: {error.message[:120]}")
    assert failures == []
    assert checked > 300  # the manual's examples really are in the spec


def test_defaults_and_enum_values_fit_their_declared_type(spec: dict[str, Any]) -> None:
    misfits = []

    def walk(node: Any, pointer: str) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("type"), str):
                check = jsonschema.Draft202012Validator({"type": node["type"]})
                values = node.get("enum", []) + ([node["default"]] if "default" in node else [])
                misfits.extend(f"{pointer}: {v!r}" for v in values if not check.is_valid(v))
            for key, value in node.items():
                walk(value, f"{pointer}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{pointer}/{index}")

    walk(spec["components"]["schemas"], "#/components/schemas")
    assert misfits == []


def test_table_type_is_an_enum_of_the_manual_tables(spec: dict[str, Any]) -> None:
    body = resolve(
        spec, spec["paths"]["/post/TABLE"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )
    argument = body["properties"]["Argument"]
    assert "TABLE_TYPE" in argument["required"]
    enum = argument["properties"]["TABLE_TYPE"]["enum"]
    assert {"REACTIONG", "DISPLACEMENTG", "BEAMFORCE", "STORY_DRIFT_X", "BEAMDESIGNFORCES"} <= set(enum)
    assert len(enum) >= 118


def test_live_corrections_are_in_the_schemas(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    cons = schemas["CONS_Item"]["properties"]["ITEMS"]["items"]["properties"]["CONSTRAINT"]
    assert cons["pattern"] == "^[01]{7}$"
    assert set(schemas["NMAS_Item"]["required"]) == {"mX", "mY", "mZ", "rmX", "rmY", "rmZ"}
    assert spec["x-callforge-notes"]


def test_the_manuals_allowed_values_are_enums(spec: dict[str, Any]) -> None:
    """The codes a teacher used to guess (issue 21): cutting-line direction, linear-constraint type."""
    schemas = spec["components"]["schemas"]
    assert schemas["CUTL_Item"]["properties"]["DIR"]["enum"] == ["NORMAL", "DIR"]
    for name in ("LCOM_GEN_Item", "LCOM_CONC_Item", "LCOM_STEEL_Item", "LCOM_SRC_Item", "LCOM_SEISMIC_Item"):
        comb = schemas[name]["properties"]["vCOMB"]["items"]["properties"]
        assert comb["ANAL"]["enum"] == ["ST", "CS", "MV", "SM", "RS", "TH", "CB"]
    load_types = schemas["STLD_Item"]["properties"]["TYPE"]["enum"]
    assert len(load_types) == 67 and {"D", "L", "W", "E", "T", "USER"} <= set(load_types)
    item = schemas["MCON_Item"]["properties"]["ITEMS"]["items"]
    assert item["properties"]["TYPE"]["enum"] == ["EX", "WD"]
    assert {"TYPE", "SLAVE_TYPE", "SLAVES"} <= set(item["required"])
    for name in ("SECT_Item_DB_User", "SECT_Item_Combined"):
        assert schemas[name]["properties"]["SECT_BEFORE"]["properties"]["DATATYPE"]["enum"] == [1, 2]
    # not in the manual: left open (its examples carry the value)
    db_name = schemas["SECT_Item_DB_User"]["properties"]["SECT_BEFORE"]["properties"]["SECT_I"]
    assert "enum" not in db_name["properties"]["DB_NAME"]


# ---------------------------------------------------------------------------------------- tiers


def test_all_methods_of_an_endpoint_share_one_tier(spec: dict[str, Any], rules: TierRules) -> None:
    mixed = {path: got for path, got in endpoint_tiers(spec, rules).items() if len(got) != 1}
    assert mixed == {}


def test_every_endpoint_gets_a_tier_and_category(spec: dict[str, Any], rules: TierRules) -> None:
    untiered = [
        p for p, got in endpoint_tiers(spec, rules).items() if any(t is None or c is None for t, c in got)
    ]
    assert untiered == []


def test_endpoint_counts_per_tier_are_near_the_seed(spec: dict[str, Any], rules: TierRules) -> None:
    counts = collections.Counter(next(iter(got))[0] for got in endpoint_tiers(spec, rules).values())
    for tier, expected in SEED_TIER_COUNTS.items():
        assert abs(counts[tier] - expected) <= TOLERANCE, (tier, counts[tier], expected)


@pytest.mark.parametrize(
    ("path", "tier", "category"),
    [
        ("/db/NODE", 1, "modeling"),  # MCP map tier 1
        ("/db/GSPR", 2, "boundary"),  # MCP map tier 2 beats the analysis' DB_Boundary tier 1
        ("/db/LCOM-GEN", 1, "load_combinations"),  # MCP map tier 1 beats the analysis' tier 2
        ("/doc/ANAL", 1, "analysis"),
        ("/db/MVLD", 3, "moving_loads"),
        ("/db/HSTG", 3, "heat_of_hydration"),
        ("/db/DCON", 2, "design"),
    ],
)
def test_known_endpoints_land_in_their_seed_tier(
    spec: dict[str, Any], rules: TierRules, path: str, tier: int, category: str
) -> None:
    assert endpoint_tiers(spec, rules)[path] == {(tier, category)}


def test_quotas_are_the_seed_sample_counts(rules: TierRules) -> None:
    assert rules.quotas == {1: (15, 20), 2: (5, 10), 3: (0, 2)}


def test_ingests_through_schemas_openapi() -> None:
    openapi = pytest.importorskip(
        "schemas.openapi", reason="the OpenAPI ingester (schemas.openapi) is not there yet"
    )
    result = openapi.ingest([SPEC], naming="snake", tier_rules=TIERS)
    tools = list(result.catalog)
    assert len(tools) == OPERATIONS
    assert len({t.binding.path for t in tools}) == ENDPOINTS
    assert all(t.tier is not None for t in tools)
    per_path = {t.binding.path: t.tier for t in tools}
    counts = collections.Counter(per_path.values())
    for tier, expected in SEED_TIER_COUNTS.items():
        assert abs(counts[tier] - expected) <= TOLERANCE, (tier, counts[tier])
