"""`callforge verify` end to end on a run directory: shards in, three kinds of shards and a summary out."""

from __future__ import annotations

from collections import Counter

import pytest

from flows import tables
from flows.cli import main
from flows.commands.verify import candidate_shards, read_options
from flows.shard_verification import verify_candidate_shard
from schemas.shards import read_samples, read_verdicts, write_samples
from tests.verifiers.verifier_fixtures import call, fixture_catalog, node, sample
from trainer.dataset.card import run_statistics
from verifiers.registry import load_verifiers
from verifiers.summary import summarise_shard_results

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
    # The twin in shard 1 is judged on its own, as the verify flow judges it: repeats across shards are
    # removed when the dataset is assembled, so a shard's verdicts never depend on the shards before it.
    assert (accepted, rejected) == (
        ["Add node 1 at (0, 0, 0)", "add node 1 at (0, 0, 0)!!"],
        ["Add node 2 at (1, 0, 0)"],
    )


def test_verify_keeps_every_verdict(run_dir):
    verify(run_dir, "--verifiers", "format,semantic,dedup", "--options", str(_options(run_dir)))
    codes = [(v.verifier, v.code) for v in read_verdicts(run_dir / "verdicts" / "shard-00000.parquet")]
    assert sorted(codes) == [("dedup", "ok"), ("format", "ok"), ("format", "type_error"), ("semantic", "ok")]


def test_verify_drops_repeats_in_a_shard_and_counts_them_as_the_flow_does(run_dir, capsys):
    good = read_samples(run_dir / "candidates" / "shard-00000.parquet")[0]
    write_samples(run_dir / "candidates" / "shard-00002.parquet", [good, good])
    assert verify(run_dir, "--verifiers", "format,dedup") == 0
    assert [s.id for s in read_samples(run_dir / "verified" / "shard-00002.parquet")] == [good.id]
    assert "1  generate/duplicate_sample" in capsys.readouterr().out


def test_cli_summary_prefect_table_and_card_agree_on_rejection_counts(run_dir, capsys):
    # One run, three displays: what `callforge verify` prints, the verify flow's artifact table (built from
    # the same per-shard results) and the dataset card's counts (read back from the shards on disk).
    # An unreachable execution target, told to record undecided verdicts (by default it fails the shard),
    # makes them: they count as rejections under the default policy in all three (the card once counted
    # only passed == False).
    options = run_dir / "verify.yaml"
    options.write_text(
        "execution:\n  base_url: http://127.0.0.1:9\n  retries: 0\n  timeout_s: 2\n  unreachable: undecided\n",
        "utf-8",
    )
    assert (
        verify(run_dir, "--verifiers", "format,execution", "--options", str(options), "--gate", "requires")
        == 0
    )
    printed = {}
    for line in capsys.readouterr().out.split("top rejection reasons")[1].splitlines()[1:]:
        count, reason = line.split()
        printed[reason] = int(count)

    catalog = fixture_catalog()
    verifiers = load_verifiers(["format", "execution"], read_options(options))
    flow_results = [
        verify_candidate_shard(run_dir / "flow", path, index, catalog, verifiers, gate="requires")
        for index, path in candidate_shards(run_dir)
    ]
    table: Counter[str] = Counter()
    for row in tables.rejection_rows(summarise_shard_results(flow_results), top=100):
        table[row["reason"]] += row["samples"]

    card = {
        f"{r['verifier']}/{r['code']}": r["samples"] for r in run_statistics(run_dir)["rejection_reasons"]
    }

    assert printed == dict(table) == card
    assert printed["format/type_error"] == 1 and printed["execution/transport_error"] == 2


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
