"""The dataset card and manifest: numbers computed from the run's shards, and how to load each export."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.models import Provenance
from tests.trainer.dataset.assembly_fixtures import make_catalog, make_samples, write_run
from trainer.dataset.assembly import AssembleConfig, assemble
from trainer.dataset.card import export_hash, provenance_counts, run_statistics
from trainer.dataset.splits import SPLITS


@pytest.fixture(scope="module")
def assembled(tmp_path_factory: pytest.TempPathFactory):
    catalog = make_catalog((5, 5, 5))
    samples = make_samples(catalog, 150, seed=3)
    run = write_run(tmp_path_factory.mktemp("card") / "run", catalog, samples)
    return run, samples, assemble(run, AssembleConfig(split={"seed": 1}))


def test_pass_rates_and_rejection_reasons_come_from_the_verdicts(assembled) -> None:
    run, samples, _ = assembled
    stats = run_statistics(run)
    n = len(samples)
    assert stats["verifiers"] == [
        {
            "verifier": "execution",
            "passed": n,
            "failed": 0,
            "undecided": 1,
            "pass_rate": round(n / (n + 1), 4),
        },
        {"verifier": "format", "passed": n, "failed": 1, "undecided": 0, "pass_rate": round(n / (n + 1), 4)},
    ]
    # Undecided verdicts are rejection reasons under the run's default policy (verifiers.summary), as in
    # the CLI summary and the Prefect tables.
    assert stats["rejection_reasons"] == [
        {"verifier": "execution", "code": "skipped", "samples": 1},
        {"verifier": "format", "code": "missing_required", "samples": 1},
    ]
    assert stats["generation_failures"] == [{"code": "teacher_refused", "items": 1}]
    assert stats["stages"] == {"candidates": 0, "verified": n, "rejected": 1}


def test_the_card_states_counts_fingerprints_held_out_tools_and_loading(assembled) -> None:
    run, _, result = assembled
    card = (run / "dataset" / "README.md").read_text("utf-8")
    for split, count in result.report.totals().items():
        assert f"| {split} | {count} |" in card
    assert "ab" * 32 in card
    assert all(f"`{tool}`" in card for tool in result.report.held_out_tools)
    assert "| format | missing_required | 1 |" in card
    for snippet in ('load_from_disk("dataset/hf")', 'load_dataset("parquet"', "from_xlam(row)"):
        assert snippet in card


def test_provenance_is_counted_per_generator_and_teacher() -> None:
    catalog = make_catalog((4, 0, 0))
    base = make_samples(catalog, 3, seed=1)
    llm = [
        s.model_copy(update={"provenance": Provenance(generator="llm", teacher_model="gpt-x")})
        for s in base[:2]
    ]
    rows = provenance_counts([*llm, base[2]])
    assert rows == [
        {"generator": "llm", "teacher_model": "gpt-x", "prompt_version": None, "samples": 2},
        {"generator": "template", "teacher_model": None, "prompt_version": "v1", "samples": 1},
    ]


def test_export_hash_ignores_the_hf_state_file_and_sees_data_changes(tmp_path: Path) -> None:
    (tmp_path / "hf" / "train").mkdir(parents=True)
    (tmp_path / "hf" / "train" / "state.json").write_text('{"_fingerprint": "a"}', "utf-8")
    (tmp_path / "trl.jsonl").write_text("{}\n", "utf-8")
    before = export_hash(tmp_path)
    (tmp_path / "hf" / "train" / "state.json").write_text('{"_fingerprint": "b"}', "utf-8")
    assert export_hash(tmp_path) == before
    (tmp_path / "trl.jsonl").write_text("{}\n{}\n", "utf-8")
    assert export_hash(tmp_path) != before


def test_the_manifest_lists_every_split(assembled) -> None:
    _, _, result = assembled
    assert set(result.manifest["counts"]) == set(SPLITS)
    assert result.manifest["kind"] == "callforge.dataset"
