"""A sandbox that degrades per spec: a spec it cannot load makes its own samples undecided, with the
reason, while the other specs' samples are judged and `callforge verify` exits 0. Also: specs are read
the way ingestion reads them (JSON as JSON; file refs confined to the allowed root)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from flows.cli import main
from schemas.models import Sample, ToolCall
from schemas.openapi import ingest
from schemas.shards import read_verdicts, write_samples
from verifiers.base import VerifyContext
from verifiers.execution import ExecutionOptions, ExecutionVerifier
from verifiers.sandbox import SandboxServer, build_app

OK = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}


def _spec(title: str, path: str, description: str = "") -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "1", "description": description},
        "servers": [{"url": f"https://{title.lower()}.example.test"}],
        "paths": {
            path: {
                "get": {
                    "operationId": f"get{title}",
                    "parameters": [
                        {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": OK,
                }
            }
        },
    }


def _sample(tool: str, q: str) -> Sample:
    return Sample.create(
        query=f"look up {q}",
        language="en",
        style="simple",
        tools=[tool],
        calls=[ToolCall(name=tool, arguments={"q": q})],
    )


@pytest.fixture
def two_specs(tmp_path: Path) -> tuple[Path, Path]:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(_spec("Good", "/items")))
    bad.write_text(json.dumps(_spec("Bad", "/things")))
    return good, bad


def test_a_spec_the_sandbox_cannot_load_makes_only_its_samples_undecided(two_specs) -> None:
    good, bad = two_specs
    catalog = ingest([good, bad], naming="operation_id").catalog
    bad.write_text('{"openapi": "3.0.3", "paths": {')  # broken after ingestion
    samples = [_sample("getGood", "a"), _sample("getBad", "b")]
    verdicts = ExecutionVerifier(ExecutionOptions(sandbox_mode="thread")).verify(
        samples, VerifyContext(catalog=catalog)
    )
    assert [(v.passed, v.code) for v in verdicts] == [(True, "ok"), (None, "spec_unavailable")]
    assert "not valid JSON" in verdicts[1].message and str(bad) in verdicts[1].message


def test_a_missing_spec_file_is_unavailable_too(two_specs) -> None:
    good, bad = two_specs
    catalog = ingest([good, bad], naming="operation_id").catalog
    bad.unlink()
    verdicts = ExecutionVerifier(ExecutionOptions(sandbox_mode="process")).verify(
        [_sample("getBad", "b"), _sample("getGood", "a")], VerifyContext(catalog=catalog)
    )
    assert [(v.passed, v.code) for v in verdicts] == [(None, "spec_unavailable"), (True, "ok")]
    assert "not found" in verdicts[0].message


def test_verify_exits_zero_when_one_spec_cannot_be_served(two_specs, tmp_path: Path, capsys) -> None:
    good, bad = two_specs
    from schemas.openapi import write_ingest

    write_ingest(ingest([good, bad], naming="operation_id"), tmp_path / "catalog")
    write_samples(
        tmp_path / "candidates" / "shard-00000.parquet", [_sample("getGood", "a"), _sample("getBad", "b")]
    )
    bad.write_text("openapi: [\n")
    (tmp_path / "options.yaml").write_text("execution: {sandbox_mode: thread}\n")
    code = main(
        [
            "verify",
            "--samples",
            str(tmp_path),
            "--catalog",
            str(tmp_path / "catalog"),
            "--out",
            str(tmp_path),
            "--verifiers",
            "format,execution",
            "--options",
            str(tmp_path / "options.yaml"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    shards = sorted(tmp_path.rglob("verdict*/*.parquet")) or sorted(tmp_path.rglob("*verdict*.parquet"))
    codes = {v.code for shard in shards for v in read_verdicts(shard) if v.verifier == "execution"}
    assert {"ok", "spec_unavailable"} <= codes


def test_json_spec_with_a_raw_c1_control_character_loads(tmp_path: Path) -> None:
    # DocuSign eSignature's spec is valid JSON with a raw U+0083 inside a string; YAML refuses it
    spec = tmp_path / "docusign_like.json"
    spec.write_text(json.dumps(_spec("Sign", "/envelopes", "Envelope\u0083 API"), ensure_ascii=False))
    app = build_app([str(spec)])
    assert [op.template for op in app.specs[0].operations()] == ["/envelopes"]
    catalog = ingest([spec], naming="operation_id").catalog
    (verdict,) = ExecutionVerifier(ExecutionOptions(sandbox_mode="thread")).verify(
        [_sample("getSign", "x")], VerifyContext(catalog=catalog)
    )
    assert (verdict.passed, verdict.code) == (True, "ok")


def test_the_sandbox_reads_no_file_outside_the_allowed_root(tmp_path: Path) -> None:
    (tmp_path / "secret.yaml").write_text("type: string\n")
    folder = tmp_path / "api"
    folder.mkdir()
    doc = _spec("Leak", "/x")
    doc["paths"]["/x"]["get"]["parameters"][0]["schema"] = {"$ref": "../secret.yaml"}
    spec = folder / "openapi.json"
    spec.write_text(json.dumps(doc))
    with SandboxServer([str(spec)], mode="thread", degrade=True) as sandbox:
        (gone,) = sandbox.health()["unavailable"]
    assert "outside the allowed root" in gone["reason"]
    with SandboxServer([str(spec)], mode="thread", allowed_root=tmp_path) as sandbox:
        answer = httpx.get(
            sandbox.base_url + "/x",
            params={"q": "a"},
            headers={"X-Callforge-Origin": "https://leak.example.test"},
            timeout=10,
        )
    assert answer.status_code == 200


def test_errors_as_200_is_reported_per_spec(tmp_path: Path) -> None:
    plain, flagged = tmp_path / "plain.json", tmp_path / "flagged.json"
    plain.write_text(json.dumps(_spec("Plain", "/a")))
    flagged.write_text(json.dumps({**_spec("Flagged", "/b"), "x-callforge-errors-as-200": True}))
    with SandboxServer([str(plain), str(flagged)], mode="thread") as sandbox:
        specs = {s["key"]: s["errors_as_200"] for s in sandbox.health()["specs"]}
    assert specs == {str(plain): False, str(flagged): True}


def test_hostile_specs_are_unavailable_within_seconds_not_fatal(tmp_path: Path) -> None:
    import time

    from tests.schemas.test_openapi_hostile import ALIAS_BOMB

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_spec("Good", "/items")))
    start = time.monotonic()
    app = build_app([str(bomb), str(good)], degrade=True)
    assert time.monotonic() - start < 10
    assert [s.key for s in app.specs] == [str(good)]
    assert "max_alias_nodes" in app.unavailable[str(bomb)]
