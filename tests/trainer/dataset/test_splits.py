"""Splits: held-out tools never leak, strata are kept, near-duplicates stay together, seeds decide."""

from __future__ import annotations

import functools
from collections import Counter

import polars as pl
import pytest

from schemas.catalog import Catalog
from schemas.errors import ConfigError
from schemas.models import Sample
from tests.trainer.dataset.assembly_fixtures import make_catalog, make_samples, near_duplicates
from trainer.dataset.splits import SPLITS, SplitConfig, choose_unseen_tools, split_samples
from verifiers.dedup import near_duplicate_clusters


@functools.cache
def _data(count: int = 1000):
    catalog = make_catalog((10, 10, 10))
    return catalog, make_samples(catalog, count, seed=11)


def _names(sample: Sample) -> set[str]:
    return set(sample.tools) | {c.name for c in sample.calls}


@pytest.mark.parametrize(("seed", "fraction"), [(s, f) for s in range(4) for f in (0.1, 0.3)])
def test_held_out_tools_never_reach_train_or_validation(seed: int, fraction: float) -> None:
    catalog, samples = _data()
    result = split_samples(samples, catalog, SplitConfig(seed=seed, unseen_fraction=fraction))
    held = set(result.held_out)
    assert held
    leaked = [
        s.id
        for split in ("train", "validation", "test_seen")
        for s in result.splits[split]
        if _names(s) & held
    ]
    assert leaked == []


@pytest.mark.parametrize("seed", range(4))
def test_every_sample_calling_a_held_out_tool_is_in_test_unseen(seed: int) -> None:
    catalog, samples = _data()
    result = split_samples(samples, catalog, SplitConfig(seed=seed, unseen_fraction=0.2))
    held = set(result.held_out)
    expected = {
        s.id for s in samples if {c.name for c in s.calls} & held or (not s.calls and set(s.tools) & held)
    }
    assert {s.id for s in result.splits["test_unseen"]} == expected


def test_held_out_tools_are_drawn_per_tier() -> None:
    catalog = make_catalog((10, 20, 5))
    samples = make_samples(catalog, 800, seed=2)
    held = choose_unseen_tools(catalog, samples, SplitConfig(seed=5, unseen_fraction=0.1)).tools
    tiers = Counter(catalog[name].tier for name in held)
    assert tiers == {1: 1, 2: 2, 3: 1}  # round(1.0), round(2.0), round(0.5) lifted to one


def test_explicit_unseen_tools_are_held_out_exactly() -> None:
    catalog, samples = _data()
    result = split_samples(samples, catalog, SplitConfig(unseen_tools=("t2_tool_03", "t1_tool_07")))
    assert result.held_out == ["t1_tool_07", "t2_tool_03"]


def test_unknown_explicit_unseen_tool_is_a_config_error_naming_it() -> None:
    catalog, samples = _data()
    with pytest.raises(ConfigError, match="no_such_tool"):
        split_samples(samples, catalog, SplitConfig(unseen_tools=("no_such_tool",)))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("unseen_fraction", 1.0),
        ("unseen_fraction", -0.1),
        ("fractions", (0.5, 0.5, 0.5)),
        ("fractions", (0.0, 0.5, 0.5)),
    ],
)
def test_bad_split_config_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        SplitConfig.from_dict({field: value})


def test_held_out_distractors_are_redrawn_from_the_same_category() -> None:
    catalog, samples = _data()
    config = SplitConfig(seed=1, unseen_tools=("t1_tool_00",))
    result = split_samples(samples, catalog, config)
    offering = [  # irrelevance offering it goes to test_unseen instead
        s
        for s in samples
        if s.calls and "t1_tool_00" in s.tools and "t1_tool_00" not in {c.name for c in s.calls}
    ]
    assert result.report.redrawn == len(offering) > 0
    by_content = {
        (s.query, tuple(c.name for c in s.calls)): s for name in SPLITS for s in result.splits[name]
    }
    for original in offering:
        redrawn = by_content[(original.query, tuple(c.name for c in original.calls))]
        (new,) = set(redrawn.tools) - set(original.tools)
        assert catalog[new].category == catalog["t1_tool_00"].category
        assert redrawn.id == Sample.create(**redrawn.model_dump(exclude={"id"})).id  # rebuilt, id recomputed


def test_sample_without_any_replacement_is_dropped_and_counted() -> None:
    catalog = make_catalog((3, 0, 0))  # hold t1_tool_00 out: both other tools are already offered
    sample = Sample.create(
        query="add t1_tool_01 records with their labels",
        style="multiple",
        tools=["t1_tool_01", "t1_tool_02", "t1_tool_00"],
        calls=[{"name": "t1_tool_01", "arguments": {"Assign": {}}}],
        tier=1,
    )
    result = split_samples([sample], catalog, SplitConfig(unseen_tools=("t1_tool_00",)))
    assert result.report.dropped == {"held_out_distractor_no_replacement": 1}
    assert result.dropped["held_out_distractor_no_replacement"] == [sample.id]


def test_irrelevance_offering_a_held_out_tool_goes_to_test_unseen() -> None:
    catalog = make_catalog((4, 0, 0))
    held = ("t1_tool_00", "t1_tool_01")

    def irrelevant(query: str, tools: list[str]) -> Sample:
        return Sample.create(query=query, style="irrelevance", tools=tools, tier=1)

    only_held = irrelevant("sing me a song about the sea", list(held))
    mixed = irrelevant("what is the capital of Peru?", ["t1_tool_00", "t1_tool_02"])
    only_seen = irrelevant("how tall is the tallest tree on earth?", ["t1_tool_02", "t1_tool_03"])
    result = split_samples([only_held, mixed, only_seen], catalog, SplitConfig(unseen_tools=held))
    assert {s.id for s in result.splits["test_unseen"]} == {only_held.id, mixed.id}
    assert result.report.unseen_mix["irrelevance"] == 2
    seen = [s for split in ("train", "validation", "test_seen") for s in result.splits[split]]
    assert [s.id for s in seen] == [only_seen.id]


def test_every_tier_and_style_is_in_train() -> None:
    catalog, samples = _data()
    result = split_samples(samples, catalog, SplitConfig(seed=3))
    strata = {(s.tier, s.style) for s in samples if s.id not in {u.id for u in result.splits["test_unseen"]}}
    assert {(s.tier, s.style) for s in result.splits["train"]} == strata


def test_each_stratum_keeps_the_80_10_10_proportions() -> None:
    catalog, samples = _data(2500)
    result = split_samples(samples, catalog, SplitConfig(seed=4))
    frame = result.report.frame()
    seen = (
        frame.filter(frame["split"] != "test_unseen")
        .group_by("split", "tier", "style")
        .agg(n=pl.col("samples").sum())
    )
    for (tier, style), group in seen.group_by("tier", "style"):
        total = group["n"].sum()
        share = {row["split"]: row["n"] / total for row in group.iter_rows(named=True)}
        assert total >= 100
        assert share.get("train", 0) == pytest.approx(0.8, abs=0.03), (tier, style)
        assert share.get("validation", 0) == pytest.approx(0.1, abs=0.03), (tier, style)
        assert share.get("test_seen", 0) == pytest.approx(0.1, abs=0.03), (tier, style)


def test_same_seed_gives_the_same_split_whatever_the_input_order() -> None:
    catalog, samples = _data()
    first = split_samples(samples, catalog, SplitConfig(seed=9))
    second = split_samples(list(reversed(samples)), catalog, SplitConfig(seed=9))
    assert {k: [s.id for s in v] for k, v in first.splits.items()} == {
        k: [s.id for s in v] for k, v in second.splits.items()
    }


def test_different_seeds_give_different_splits() -> None:
    catalog, samples = _data()
    first = split_samples(samples, catalog, SplitConfig(seed=1))
    second = split_samples(samples, catalog, SplitConfig(seed=2))
    assert {s.id for s in first.splits["train"]} != {s.id for s in second.splits["train"]}


def test_near_duplicate_clusters_never_straddle_seen_splits() -> None:
    catalog, samples = _data(300)
    families = [v for s in samples[:150] for v in near_duplicates(s, 3)]
    result = split_samples([*samples, *families], catalog, SplitConfig(seed=5, unseen_fraction=0.0))
    split_of = {s.id: name for name in SPLITS for s in result.splits[name]}
    kept = [s for name in SPLITS for s in result.splits[name]]
    clusters: dict[int, set[str]] = {}
    for sample, cluster in zip(kept, near_duplicate_clusters([s.query for s in kept]), strict=True):
        clusters.setdefault(cluster, set()).add(split_of[sample.id])
    assert len(clusters) < len(kept)  # the families really clustered
    assert all(len(splits) == 1 for splits in clusters.values())


def test_seen_near_duplicate_of_a_test_unseen_query_is_dropped() -> None:
    catalog, samples = _data(300)
    unseen = next(s for s in samples if s.style.value == "simple" and s.calls[0].name == "t2_tool_05")
    twin = Sample.create(
        **{**unseen.model_dump(exclude={"id", "query", "calls", "tools"}), "query": unseen.query + " now"},
        tools=["t2_tool_06"],
        calls=[{"name": "t2_tool_06", "arguments": {}}],
    )
    result = split_samples([*samples, twin], catalog, SplitConfig(unseen_tools=("t2_tool_05",)))
    assert result.dropped["near_duplicate_of_test_unseen"] == [twin.id]


def test_report_counts_add_up_to_the_splits() -> None:
    catalog, samples = _data()
    result = split_samples(samples, catalog, SplitConfig(seed=6))
    assert result.report.totals() == {name: len(result.splits[name]) for name in SPLITS}
    assert sum(result.report.totals().values()) + sum(result.report.dropped.values()) == len(samples)
    table = result.report.table()
    assert all(name in table for name in SPLITS)


def test_samples_offering_tools_missing_from_the_catalog_are_dropped() -> None:
    catalog, samples = _data()
    smaller = Catalog([t for t in catalog if t.name != "t3_tool_09"])
    result = split_samples(samples, smaller, SplitConfig(seed=1))
    expected = sorted(s.id for s in samples if "t3_tool_09" in s.tools)
    assert sorted(result.dropped["tool_not_in_catalog"]) == expected


def test_a_redrawn_sample_keeps_its_reference() -> None:
    from schemas.models import CallReference

    catalog = make_catalog((4, 0, 0))
    sample = Sample.create(
        query="add t1_tool_01 records with their labels",
        style="multiple",
        tools=["t1_tool_01", "t1_tool_00"],
        calls=[{"name": "t1_tool_01", "arguments": {"Assign": {}}}],
        tier=1,
        reference=[CallReference(omittable=["Assign"])],
    )
    result = split_samples([sample], catalog, SplitConfig(unseen_tools=("t1_tool_00",)))
    (kept,) = [s for name in SPLITS for s in result.splits[name]]
    assert "t1_tool_00" not in kept.tools and kept.reference == sample.reference
