"""Deterministic, tier-aware splits: train / validation / test_seen / test_unseen.

    result = split_samples(samples, catalog, SplitConfig(seed=7))
    result.splits["train"], result.held_out, result.report.table()

What goes in: accepted samples and the catalog they were generated from. What comes out:

* ``test_unseen`` — whole endpoint families (every method of a path and every tool with the same
  canonical parameter schema, ``trainer.dataset.holdout``) making up a fraction of each tier's tools
  (or an explicit list, with their families) are held out. Every sample whose targets include a
  held-out tool goes here, and no held-out tool appears anywhere else, not even as a distractor: a
  seen sample that offers one gets that distractor replaced by another tool of the catalog (same
  category when possible, rebuilt with ``Sample.create``), or is dropped when no replacement exists.
  Both counts are reported. An irrelevance sample (no call) that offers a held-out tool goes here
  too: ``test_unseen`` then measures abstention among tools the model never saw.
* ``train`` / ``validation`` / ``test_seen`` — the rest, stratified by tier × style (80/10/10 by
  default).
* Near-duplicate queries never straddle splits: whole near-duplicate clusters (``verifiers.dedup``)
  are assigned together; a seen sample that near-duplicates a ``test_unseen`` query is dropped.

Every choice is keyed by the seed and a sample id or tool name (sha256, or a splitmix64 mix of the id's
own hash), so the same seed gives the same split on any machine and in any input order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from schemas.catalog import Catalog
from schemas.models import Sample
from trainer.dataset.card import SPLITS, SplitReport, build_report
from trainer.dataset.config import SplitConfig
from trainer.dataset.holdout import HoldOut, choose_unseen_tools

__all__ = [
    "SPLITS",
    "HoldOut",
    "PreparedSplit",
    "SplitConfig",
    "SplitReport",
    "SplitResult",
    "choose_unseen_tools",
    "finish_split",
    "prepare_split",
    "split_samples",
]

SEEN_SPLITS = SPLITS[:3]

Clusterer = Callable[[Sequence[str]], list[int]]


@dataclass
class SplitResult:
    """The four splits (lists of samples), the held-out tool names and the report."""

    splits: dict[str, list[Sample]]
    held_out: list[str]
    report: SplitReport
    dropped: dict[str, list[str]] = field(default_factory=dict)  # reason -> sample ids


def _key(seed: int, text: str) -> str:
    return hashlib.sha256(f"{seed}\x00{text}".encode()).hexdigest()


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection on uint64 that scatters nearby inputs."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def order_keys(ids: Sequence[str], seed: int) -> np.ndarray:
    """A seeded pseudo-random uint64 per sample id, the same on every machine and library version.

    Sample ids are already sha256 content hashes, so their first 64 bits are uniform; mixing them with
    the seed gives each seed its own order at a fraction of the cost of hashing every id again.
    """
    salt = np.uint64(int(_key(seed, "order")[:16], 16))
    with np.errstate(over="ignore"):
        return _mix(np.array([int(i[:16], 16) for i in ids], dtype=np.uint64) ^ salt)


# ----------------------------------------------------------------------------------- distractor redraw


class _Redrawer:
    """Replaces held-out distractors by other catalog tools, preferring the same category."""

    def __init__(self, catalog: Catalog, held_out: set[str], seed: int) -> None:
        self.seed = seed
        self.held_out = held_out
        self.category = {t.name: t.category for t in catalog}
        self.pool = sorted(t.name for t in catalog if t.name not in held_out)
        self.by_category: dict[str | None, list[str]] = {}
        for name in self.pool:
            self.by_category.setdefault(self.category[name], []).append(name)

    def redraw(self, sample: Sample) -> Sample | None:
        """The sample with each held-out tool replaced, or ``None`` when no replacement is left."""
        tools = list(sample.tools)
        for i, name in enumerate(tools):
            if name not in self.held_out:
                continue
            taken = set(tools)
            choices = [t for t in self.by_category.get(self.category.get(name), []) if t not in taken]
            if not choices:
                choices = [t for t in self.pool if t not in taken]
            if not choices:
                return None
            tools[i] = choices[int(_key(self.seed, f"{sample.id}\x00{name}")[:12], 16) % len(choices)]
        return Sample.create(
            query=sample.query,
            language=sample.language,
            style=sample.style,
            tools=tools,
            calls=sample.calls,
            tier=sample.tier,
            provenance=sample.provenance,
            execution=sample.execution,
            reference=sample.reference,  # the acceptable values stay with the calls they belong to
        )


# ------------------------------------------------------------------------------------------ splitting


def default_clusterer(threshold: float) -> Clusterer:
    from verifiers.dedup import near_duplicate_clusters

    return lambda texts: near_duplicate_clusters(texts, threshold=threshold)


def _assign_clusters(frame: pl.DataFrame, fractions: tuple[float, float, float]) -> pl.DataFrame:
    """``(cluster, split)`` for every cluster, by largest deficit within each tier × style stratum.

    ``frame`` has one row per sample: ``cluster``, ``order`` (seeded key), ``tier``, ``style``. A cluster
    takes the stratum and the order of its member with the smallest key. Within a stratum clusters are
    visited in key order; the first goes to train (so every stratum is trained on), each later one to
    the split furthest below its share of the stratum, ties broken by the split furthest below its share
    overall — which keeps the small strata from all rounding the same way. Shares are compared in
    integer millionths, so no float noise decides a tie.
    """
    clusters = (
        frame.sort("order")
        .group_by("cluster", maintain_order=True)
        .agg(
            order=pl.col("order").first(),
            tier=pl.col("tier").first(),
            style=pl.col("style").first(),
            size=pl.len(),
        )
        .sort(["tier", "style", "order"], nulls_last=True)
    )
    share = [round(f * 1_000_000) for f in fractions]
    total = [0, 0, 0]  # millionths-scaled samples per seen split, over all strata so far
    counts = [0, 0, 0]  # the same within the current stratum
    grand = in_stratum = 0
    stratum: tuple[object, object] | None = None
    chosen: list[int] = []
    for tier, style, size in clusters.select("tier", "style", "size").iter_rows():
        if (tier, style) != stratum:
            stratum, counts, in_stratum = (tier, style), [0, 0, 0], 0
        in_stratum += size
        grand += size
        best = 0
        if in_stratum != size:  # not the stratum's first cluster, which always trains
            best_key = (share[0] * in_stratum - counts[0], share[0] * grand - total[0])
            for k in (1, 2):
                key = (share[k] * in_stratum - counts[k], share[k] * grand - total[k])
                if key > best_key:  # strict: ties go to the earlier split
                    best, best_key = k, key
        counts[best] += size * 1_000_000
        total[best] += size * 1_000_000
        chosen.append(best)
    names = pl.Series("split", [SEEN_SPLITS[k] for k in chosen], dtype=pl.String)
    return clusters.select("cluster").with_columns(names)


@dataclass
class PreparedSplit:
    """The half of a split that needs no near-duplicate clusters: held-out tools chosen, held-out
    distractors redrawn, drops decided. ``kept`` are final samples; ``positions`` their input indexes."""

    held_out: list[str]
    holdout: HoldOut
    kept: list[Sample]
    positions: list[int]
    unseen: list[bool]
    dropped: dict[str, list[str]]
    redrawn: int
    inputs: int


def prepare_split(samples: Sequence[Sample], catalog: Catalog, config: SplitConfig) -> PreparedSplit:
    """Choose the held-out tools and fix every sample's content (see the module docstring)."""
    dropped: dict[str, list[str]] = {}
    known = {t.name for t in catalog}
    holdout = choose_unseen_tools(catalog, samples, config)
    held = set(holdout.tools)
    redrawer = _Redrawer(catalog, held, config.seed)
    prepared = PreparedSplit(holdout.tools, holdout, [], [], [], dropped, 0, len(samples))
    seen_ids: set[str] = set()
    for position, sample in enumerate(samples):
        if any(name not in known for name in sample.tools):
            dropped.setdefault("tool_not_in_catalog", []).append(sample.id)
            continue
        # Irrelevance offering a held-out tool belongs to test_unseen: abstaining among unseen tools.
        is_unseen = any(call.name in held for call in sample.calls) or (
            not sample.calls and bool(held.intersection(sample.tools))
        )
        if not is_unseen and held.intersection(sample.tools):
            replacement = redrawer.redraw(sample)
            if replacement is None:
                dropped.setdefault("held_out_distractor_no_replacement", []).append(sample.id)
                continue
            sample, prepared.redrawn = replacement, prepared.redrawn + 1
        if sample.id in seen_ids:
            dropped.setdefault("duplicate_id", []).append(sample.id)
            continue
        seen_ids.add(sample.id)
        prepared.kept.append(sample)
        prepared.positions.append(position)
        prepared.unseen.append(is_unseen)
    return prepared


def finish_split(prepared: PreparedSplit, clusters: Sequence[int], config: SplitConfig) -> SplitResult:
    """Assign whole near-duplicate clusters to splits. ``clusters`` has one id per *input* sample."""
    if len(clusters) != prepared.inputs:
        raise ValueError(f"got {len(clusters)} cluster ids for {prepared.inputs} samples")
    kept, dropped = prepared.kept, dict(prepared.dropped)
    frame = pl.DataFrame(
        {
            "row": range(len(kept)),
            "id": [s.id for s in kept],
            "order": order_keys([s.id for s in kept], config.seed),
            "cluster": [clusters[p] for p in prepared.positions],
            "unseen": prepared.unseen,
            "tier": [s.tier for s in kept],
            "style": [s.style.value for s in kept],
            "language": [s.language for s in kept],
        },
        schema={
            "row": pl.Int64,
            "id": pl.String,
            "order": pl.UInt64,
            "cluster": pl.Int64,
            "unseen": pl.Boolean,
            "tier": pl.Int64,
            "style": pl.String,
            "language": pl.String,
        },
    )
    # A seen sample whose query near-duplicates a test_unseen query would leak that query into training.
    frame = frame.with_columns(cluster_unseen=pl.col("unseen").any().over("cluster"))
    straddling = frame.filter(pl.col("cluster_unseen") & ~pl.col("unseen"))
    if straddling.height:
        dropped["near_duplicate_of_test_unseen"] = straddling["id"].to_list()
    assignment = _assign_clusters(frame.filter(~pl.col("cluster_unseen")), config.fractions)
    frame = (
        frame.filter(pl.col("unseen") | ~pl.col("cluster_unseen"))
        .join(assignment, on="cluster", how="left")
        .with_columns(split=pl.when(pl.col("unseen")).then(pl.lit("test_unseen")).otherwise(pl.col("split")))
        .sort("order")
    )
    rows = frame.group_by("split").agg(pl.col("row"))
    by_split = dict(zip(rows["split"].to_list(), rows["row"].to_list(), strict=True))
    splits = {name: [kept[r] for r in by_split.get(name, [])] for name in SPLITS}
    report = build_report(
        frame,
        splits,
        held_out=prepared.held_out,
        holdout=prepared.holdout.to_dict(),
        seed=config.seed,
        dropped={reason: len(ids) for reason, ids in dropped.items()},
        redrawn=prepared.redrawn,
    )
    return SplitResult(splits=splits, held_out=prepared.held_out, report=report, dropped=dropped)


def split_samples(
    samples: Sequence[Sample],
    catalog: Catalog,
    config: SplitConfig,
    *,
    clusterer: Clusterer | None = None,
    clusters: Sequence[int] | None = None,
) -> SplitResult:
    """Split ``samples`` into the four splits (see the module docstring).

    Near-duplicate clusters are those of every input query: ``clusters`` when given (one id per sample),
    else ``clusterer(queries)``, whose default is ``verifiers.dedup.near_duplicate_clusters`` at
    ``config.near_duplicate_threshold``. Samples that offer tools missing from the catalog and repeated
    ids are dropped and reported. ``prepare_split`` + ``finish_split`` are the same in two steps, for a
    caller that clusters concurrently.
    """
    if clusters is None:
        clusters = (clusterer or default_clusterer(config.near_duplicate_threshold))(
            [s.query for s in samples]
        )
    return finish_split(prepare_split(samples, catalog, config), clusters, config)
