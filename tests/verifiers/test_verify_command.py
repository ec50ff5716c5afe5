"""`callforge verify` end to end on a run directory: shards in, three kinds of shards and a summary out."""

from __future__ import annotations

import pytest

from flows.cli import main
from schemas.shards import read_samples, read_verdicts, write_samples
from tests.verifiers.verifier_fixtures import call, fixture_catalog, node, sample

T = ["post_db_node", "put_db_node"]


@pytest.fixture
def run_dir(tmp_path):
    fixture_catalog().save(tmp_path / "catalog")
    good = sample("Add node 1 at (0, 0, 0)", [node("1", 0, 0, 0)], T)
    bad = sample(
        "Add node 2 at (1, 0, 0)", [call("post_db_node", Assign={"2": {"X": "1", "Y": 0, "Z": 0}})], T
    )
    twin = sample("add node 1 at (0, 0, 0)!!", [node("1", 0, 0, 0)], T)
    write_samples(tmp_path / "candidates" / "shard-00000.parquet", [good, bad])
    write_samples(tmp_path / "candidates" / "shard-00001.parquet", [twin])
    return tmp_path


def verify(run_dir, *extra):
    return main(
        [
            "verify",
            "--samples",
            str(run_dir),
            "--catalog",
            str(run_dir / "catalog"),
            "--out",
            str(run_dir),
            *extra,
        ]
    )


def test_verify_writes_verified_rejected_and_verdict_shards(run_dir, capsys):
    assert verify(run_dir, "--verifiers", "format,semantic,dedup", "--options", str(_options(run_dir))) == 0
    accepted = [
        s.query for i in (0, 1) for s in read_samples(run_dir / "verified" / f"shard-0000{i}.parquet")
    ]
    rejected = [
        s.query for i in (0, 1) for s in read_samples(run_dir / "rejected" / f"shard-0000{i}.parquet")
    ]
    assert (accepted, rejected) == (
        ["Add node 1 at (0, 0, 0)"],
        ["Add node 2 at (1, 0, 0)", "add node 1 at (0, 0, 0)!!"],
    )


def test_verify_keeps_every_verdict(run_dir):
    verify(run_dir, "--verifiers", "format,semantic,dedup", "--options", str(_options(run_dir)))
    codes = [(v.verifier, v.code) for v in read_verdicts(run_dir / "verdicts" / "shard-00001.parquet")]
    assert codes == [("format", "ok"), ("dedup", "exact_duplicate")]


def test_verify_prints_pass_rates_and_top_codes(run_dir, capsys):
    verify(run_dir, "--verifiers", "format,semantic,dedup", "--options", str(_options(run_dir)))
    out = capsys.readouterr().out
    assert "format" in out and "66.7%" in out and "format/type_error" in out and "tier none" in out


def test_unknown_option_in_the_file_fails_with_the_key_named(run_dir, capsys):
    bad = run_dir / "bad.json"
    bad.write_text('{"dedup": {"treshold": 0.5}}', "utf-8")
    assert verify(run_dir, "--verifiers", "format,dedup", "--options", str(bad)) == 1
    assert "unknown option(s) 'treshold'" in capsys.readouterr().err


def test_missing_candidates_is_an_error_naming_the_directory(tmp_path, capsys):
    fixture_catalog().save(tmp_path / "catalog")
    assert (
        main(
            [
                "verify",
                "--samples",
                str(tmp_path),
                "--catalog",
                str(tmp_path / "catalog"),
                "--out",
                str(tmp_path),
                "--verifiers",
                "format",
            ]
        )
        == 1
    )
    assert "no candidate shards" in capsys.readouterr().err


def _options(run_dir):
    path = run_dir / "verify.yaml"
    path.write_text("semantic:\n  similarity: lexical\ndedup:\n  threshold: 0.9\n", "utf-8")
    return path
