"""GEN NX rows are closed where the manual fixes the fields; the sandbox answers Wrong Field like the
live server (HTTP 200 with an error body), over loopback."""

from __future__ import annotations

import httpx
import pytest

from tests.verifiers.gennx_fixtures import ROOT
from verifiers.sandbox import SandboxServer
from verifiers.sandbox.assign_tables import wrong_field

SPEC = ROOT / "specs" / "gennx" / "openapi.yaml"


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer([SPEC]) as server:
        yield server.base_url


def post(base: str, path: str, body: dict) -> httpx.Response:
    # A placeholder key: the sandbox checks that the spec's MAPI-Key header is present, not its value.
    headers = {"X-Callforge-Session": path + str(body), "MAPI-Key": "placeholder"}
    return httpx.post(f"{base}/gen{path}", json=body, headers=headers, timeout=30)


@pytest.mark.parametrize(
    ("path", "row"),
    [
        ("/db/NODE", {"x": 3, "y": 4, "z": 0}),
        ("/db/CNLD", {"ITEMS": [{"ID": 1, "LCNAME": "LL", "FORCE_Z": -10}]}),
        ("/db/STLD", {"NAME": "DL", "TYPE": "D", "DESCRIPTION": "dead"}),
    ],
    ids=["node-xyz", "cnld-force-z", "stld-description"],
)
def test_an_undeclared_row_field_is_answered_wrong_field(sandbox, path, row):
    answer = post(sandbox, path, {"Assign": {"1": row}})
    assert answer.status_code == 200
    assert answer.json() == {"error": {"message": "Wrong Field"}}


def test_a_declared_row_is_stored(sandbox):
    answer = post(sandbox, "/db/NODE", {"Assign": {"1": {"X": 3, "Y": 4, "Z": 0}}})
    assert answer.status_code == 200 and answer.json() == {"NODE": {"1": {"X": 3, "Y": 4, "Z": 0}}}


def test_other_row_errors_keep_their_4xx(sandbox):
    # A wrong type is not the live server's "Wrong Field"; the sandbox's usual answer stands.
    answer = post(sandbox, "/db/NODE", {"Assign": {"1": {"X": "three"}}})
    assert answer.status_code == 422


def test_wrong_field_needs_every_problem_to_be_an_undeclared_field():
    assert wrong_field(["Additional properties are not allowed ('x' was unexpected)"]) is not None
    assert (
        wrong_field(["Additional properties are not allowed ('x')", "'three' is not of type 'number'"])
        is None
    )
    assert wrong_field([]) is None
