"""A refresh tops up the tools its plan left below quota, bounded, and says which are still short."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.refresh import refresh


def _run(mini_kwargs: dict, data_root: Path, rounds: int) -> dict:
    # The example plugin rejects every query over 70 characters: about half of the template generator's,
    # so tools end short of their quota as GEN NX's did (and no sandbox is needed).
    settings = {
        **mini_kwargs["settings"],
        "generate": {"plan": {"shard_size": 6, "seed": 0, "top_up_rounds": rounds, "top_up_max": 6}},
        "verifiers": ["format", "query_length"],
        "verifier_options": {"query_length": {"max_chars": 70}},
        "sandbox": False,
    }
    return refresh(**{**mini_kwargs, "settings": settings, "data_root": str(data_root)})


def _under(out: dict) -> dict[str, int]:
    manifest = json.loads((Path(out["dataset_dir"]) / "manifest.json").read_text("utf-8"))
    return {row["tool"]: row["quota"] - row["accepted"] for row in manifest["quotas"]["under_quota"]}


@pytest.mark.slow
def test_top_up_rounds_close_quotas_within_the_bound(
    prefect_server: None, example_plugin: object, mini_kwargs: dict, tmp_path: Path
) -> None:
    """Two refreshes (without and with top-up rounds) with the example verifier plugin: the comparison
    between them is the test."""
    without = _run(mini_kwargs, tmp_path / "without", rounds=0)
    short = _under(without)
    assert short, "the query-length limit should leave some tool short"

    topped = _run(mini_kwargs, tmp_path / "with", rounds=2)
    assert topped["top_up"] and topped["top_up"][0]["items"] > 0
    items = [
        json.loads(line)
        for line in (Path(topped["run_dir"]) / "plan" / "items.jsonl").read_text().splitlines()
    ]
    assert len(items) > without["generate"]["items"]  # the plan grew by the top-up items
    assert sum(_under(topped).values()) < sum(short.values())
    (ledger_file,) = (tmp_path / "with").rglob("attempts/mini.top-up.json")  # in the spec's store
    ledger = json.loads(ledger_file.read_text("utf-8"))
    assert ledger["tools"] and all(0 < entry["tried"] <= 6 for entry in ledger["tools"].values())
