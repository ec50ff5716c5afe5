"""Sandbox state you can set and trust: seeded sessions, strict mode, the optional reference check,
and the whole-table DELETE quirk, over real HTTP against the bundled GEN NX spec."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from verifiers.sandbox import SandboxError, SandboxServer

ROOT = Path(__file__).resolve().parents[2]
GEN = {"X-Callforge-Origin": "https://moa-engineers.midasit.com:443", "MAPI-Key": "k"}
SEED = {
    "NODE": {"1": {"X": 0, "Y": 0, "Z": 0}, "2": {"X": 5, "Y": 0, "Z": 0}},
    "MATL": {"1": {"TYPE": "STEEL", "NAME": "SS275"}},
    "SECT": {"1": {"SECTTYPE": "DBUSER", "SECT_NAME": "H300"}},
    "STLD": {"1": {"NAME": "DL", "TYPE": "D"}},
}
BEAM = {"TYPE": "BEAM", "MATL": 1, "SECT": 1, "NODE": [1, 2]}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer([str(ROOT / "specs" / "gennx" / "openapi.yaml")], mode="thread") as server:
        yield server


def call(sandbox: SandboxServer, session: str, method: str, table: str, body: dict | None = None) -> dict:
    headers = {**GEN, "X-Callforge-Session": session}
    answer = httpx.request(
        method, f"{sandbox.base_url}/gen/db/{table}", json=body, headers=headers, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_seeded_session_starts_from_its_initial_state(sandbox: SandboxServer) -> None:
    assert sandbox.seed("s1", SEED) == 5
    assert call(sandbox, "s1", "GET", "NODE") == {"NODE": SEED["NODE"]}
    assert sandbox.state("s1")["MATL"] == SEED["MATL"]
    assert sandbox.state("other") == {}  # sessions stay apart


def test_seeding_again_replaces_the_state_instead_of_merging(sandbox: SandboxServer) -> None:
    sandbox.seed("s2", SEED)
    call(sandbox, "s2", "POST", "NODE", {"Assign": {"3": {"X": 1, "Y": 1, "Z": 0}}})
    sandbox.seed("s2", {"NODE": {"9": {"X": 9, "Y": 0, "Z": 0}}})
    assert sandbox.state("s2") == {"NODE": {"9": {"X": 9, "Y": 0, "Z": 0}}}


@pytest.mark.parametrize(
    ("tables", "fragment"),
    [
        ({"NOPE": {"1": {}}}, "'NOPE' is not a /db table"),
        ({"NODE": {"a": {"X": 1}}}, "row id 'a'"),
        ({"NODE": {"1": [1, 2]}}, "row 1: expected an object"),
        ({"NODE": [1]}, "table 'NODE'"),
    ],
)
def test_a_malformed_seed_is_refused_with_where(sandbox: SandboxServer, tables: dict, fragment: str) -> None:
    with pytest.raises(SandboxError, match="refused the seed") as err:
        sandbox.seed("bad", tables)
    assert fragment in str(err.value)


def test_strict_put_of_a_missing_row_is_an_api_error_and_writes_nothing(sandbox: SandboxServer) -> None:
    sandbox.seed("s3", SEED)
    answer = call(sandbox, "s3", "PUT", "NODE", {"Assign": {"7": {"X": 1}}})
    assert answer == {"error": {"message": "Key Not Exist: 7"}}
    assert "7" not in sandbox.state("s3")["NODE"]


def test_a_lenient_seed_lets_put_create_the_row(sandbox: SandboxServer) -> None:
    sandbox.seed("s4", SEED, state="lenient")
    assert call(sandbox, "s4", "PUT", "NODE", {"Assign": {"7": {"X": 1}}}) == {"NODE": {"7": {"X": 1}}}


def test_the_request_header_overrides_the_session_mode(sandbox: SandboxServer) -> None:
    sandbox.seed("s5", SEED, state="lenient")
    headers = {**GEN, "X-Callforge-Session": "s5", "X-Callforge-State": "strict"}
    body = {"Assign": {"8": {"X": 1}}}
    answer = httpx.put(f"{sandbox.base_url}/gen/db/NODE", json=body, headers=headers, timeout=10).json()
    assert "error" in answer


def test_put_merges_into_the_existing_row(sandbox: SandboxServer) -> None:
    sandbox.seed("s6", SEED)
    assert call(sandbox, "s6", "PUT", "NODE", {"Assign": {"2": {"Z": 3}}}) == {
        "NODE": {"2": {"X": 5, "Y": 0, "Z": 3}}
    }


def test_whole_table_delete_empties_the_table_whatever_row_it_names(sandbox: SandboxServer) -> None:
    sandbox.seed("s7", SEED)
    answer = call(sandbox, "s7", "DELETE", "NODE", {"Assign": {"1": {}}})
    assert answer == {"NODE": SEED["NODE"]}  # the live server returns every row it removed
    assert sandbox.state("s7").get("NODE") == {}
    assert sandbox.state("s7")["MATL"] == SEED["MATL"]  # other tables untouched (no cascade modelled)


def test_the_spec_requires_the_placeholder_row_of_a_whole_table_delete(sandbox: SandboxServer) -> None:
    sandbox.seed("s8", SEED)
    headers = {**GEN, "X-Callforge-Session": "s8"}
    answer = httpx.request(
        "DELETE", f"{sandbox.base_url}/gen/db/NODE", json={"Assign": {"2": {}}}, headers=headers, timeout=10
    )
    assert answer.status_code == 422  # "1" is required: a per-row delete cannot be expressed
    assert sandbox.state("s8")["NODE"] == SEED["NODE"]


def test_references_are_not_checked_unless_asked(sandbox: SandboxServer) -> None:
    sandbox.seed("s9", SEED)
    answer = call(sandbox, "s9", "POST", "ELEM", {"Assign": {"1": {**BEAM, "NODE": [1, 99]}}})
    assert "error" not in answer


@pytest.mark.parametrize(
    ("table", "row", "missing"),
    [
        ("ELEM", {**BEAM, "NODE": [1, 99]}, "NODE 99"),
        ("ELEM", {**BEAM, "MATL": 4}, "MATL 4"),
        ("ELEM", {**BEAM, "SECT": 2}, "SECT 2"),
        ("CNLD", {"ITEMS": [{"ID": 1, "LCNAME": "LL", "FZ": -10}]}, "STLD 'LL'"),
        ("GRUP", {"NAME": "G", "N_LIST": [1, 2, 5]}, "NODE 5"),
    ],
)
def test_a_checked_reference_to_a_missing_row_is_an_api_error(
    sandbox: SandboxServer, table: str, row: dict, missing: str
) -> None:
    sandbox.seed("s10", SEED, check_references=True)
    answer = call(sandbox, "s10", "POST", table, {"Assign": {"1": row}})
    assert missing in answer["error"]["message"]
    assert table not in sandbox.state("s10") or sandbox.state("s10")[table] == {}


def test_checked_references_accept_rows_that_exist_and_names_that_match(sandbox: SandboxServer) -> None:
    sandbox.seed("s11", SEED, check_references=True)
    assert "error" not in call(sandbox, "s11", "POST", "ELEM", {"Assign": {"1": BEAM}})
    load = {"ITEMS": [{"ID": 1, "LCNAME": "DL", "GROUP_NAME": "", "FZ": -10}]}
    assert "error" not in call(sandbox, "s11", "POST", "CNLD", {"Assign": {"2": load}})
    # the row id of CNLD is a node: node 5 does not exist
    assert "NODE '5'" in call(sandbox, "s11", "POST", "CNLD", {"Assign": {"5": load}})["error"]["message"]


def test_a_put_is_reference_checked_too(sandbox: SandboxServer) -> None:
    sandbox.seed("s12", {**SEED, "ELEM": {"1": BEAM}}, check_references=True)
    assert (
        "NODE 42"
        in call(sandbox, "s12", "PUT", "ELEM", {"Assign": {"1": {**BEAM, "NODE": [1, 42]}}})["error"][
            "message"
        ]
    )
    assert "error" not in call(sandbox, "s12", "PUT", "ELEM", {"Assign": {"1": {**BEAM, "ANGLE": 90}}})


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not JSON"),
        (b'{"tables": {}, "mode": "strict"}', "expected {'tables'"),
        (b'{"tables": {}, "state": "loose"}', "strict or lenient"),
        (b'{"tables": {}, "check_references": "yes"}', "a boolean"),
    ],
)
def test_a_seed_request_the_sandbox_cannot_read_is_a_400_with_why(
    sandbox: SandboxServer, body: bytes, fragment: str
) -> None:
    answer = httpx.post(
        f"{sandbox.base_url}/_sandbox/seed", params={"session": "x"}, content=body, timeout=10
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_seed"
    assert fragment in answer.json()["error"]["message"]


def test_reset_forgets_a_seeded_sessions_mode_too(sandbox: SandboxServer) -> None:
    sandbox.seed("s13", SEED, state="lenient")
    sandbox.reset("s13")
    assert "error" in call(sandbox, "s13", "PUT", "NODE", {"Assign": {"1": {"X": 1}}})  # strict again
