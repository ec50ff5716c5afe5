"""Repeated sample ids in a candidate shard: verified once, counted per tier."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.candidates import SCRATCH_DIR, unique_candidates
from flows.refresh import refresh
from schemas.models import Sample, ToolCall
from schemas.shards import read_samples, write_samples
from verifiers.summary import VerdictSummary


def _sample(query: str, tier: int | None) -> Sample:
    return Sample.create(
        query=query, style="simple", tools=["get_db_node"], calls=[ToolCall(name="get_db_node")], tier=tier
    )


def test_unique_shard_is_verified_as_it_is(tmp_path: Path) -> None:
    path = write_samples(tmp_path / "candidates" / "shard-00000.parquet", [_sample("a", 1), _sample("b", 1)])
    assert unique_candidates(path, tmp_path) == (path, {})
    assert not (tmp_path / SCRATCH_DIR).exists()


def test_repeats_are_dropped_in_order_and_counted_per_tier(tmp_path: Path) -> None:
    a, b, c = _sample("a", 1), _sample("b", None), _sample("c", 2)
    path = write_samples(tmp_path / "candidates" / "shard-00003.parquet", [a, b, a, c, b, a])
    unique, repeats = unique_candidates(path, tmp_path)
    assert unique == tmp_path / SCRATCH_DIR / "shard-00003.parquet"
    assert [s.id for s in read_samples(unique)] == [a.id, b.id, c.id]
    assert repeats == {"1": 2, "none": 1}
    assert len(read_samples(path)) == 6  # the candidate shard stays as generated


@pytest.mark.slow
def test_refresh_verifies_a_plan_that_repeats_samples(
    prefect_server: None, mini_kwargs: dict, tmp_path: Path
) -> None:
    """One refresh of the mini spec (format verifier only); often the first flow test of a session, so its
    setup also starts the session's Prefect test server (~10 s)."""
    # Seed 3 repeats two samples on the small spec: "delete /db/NODE" and "get /db/NODE", in Korean.
    # Repeats are dropped before verification: the format verifier alone is enough to see it, and it
    # spares this run the sandbox process and the embedding model (~half its time).
    settings = {
        **mini_kwargs["settings"],
        "generate": {"plan": {"shard_size": 18, "seed": 3}},
        "verifiers": ["format"],
        "sandbox": False,
    }
    result = refresh(**{**mini_kwargs, "data_root": str(tmp_path), "settings": settings})
    # Each repeat left its tool one sample short: the top-up round gave each one new item, verified with
    # the rest (the verify record covers every round).
    topped = sum(step["items"] for step in result["top_up"])
    assert topped == 2
    assert (result["verify"]["samples"], result["verify"]["repeated"]) == (16 + topped, 2)
    summary = VerdictSummary.from_dict(result["verify"]["summary"])
    assert summary.rejection_counts(tier="1")[("generate", "duplicate_sample")] == 2
