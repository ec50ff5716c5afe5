"""Multi-turn splits over generated GEN NX trajectories: blueprints, templates and tables never leak."""

from __future__ import annotations

import functools
import random
from collections import Counter

import pytest

from schemas.trajectories import Trajectory
from tests.generators.test_trajectory_generator import _draw
from trainer.dataset.trajectory_splits import (
    SPLITS,
    TrajectorySplit,
    TrajectorySplitConfig,
    blueprint_group,
    split_trajectories,
    subject_table,
    workflow_template,
)

SEEN = ("train", "validation", "test_seen")


@functools.lru_cache(maxsize=1)
def drawn() -> tuple[Trajectory, ...]:
    return tuple(_draw(800, seed=5))


def leaks(splits: dict[str, list[Trajectory]]) -> list[str]:
    """Every way the splits break the rules: a blueprint in two splits, a test_unseen subject table that
    is also a seen trajectory's subject (held-out templates are checked against the split's own list)."""
    problems = []
    where: dict[str, set[str]] = {}
    for name, rows in splits.items():
        for t in rows:
            where.setdefault(blueprint_group(t), set()).add(name)
    problems += [f"blueprint in {sorted(s)}" for s in where.values() if len(s) > 1]
    seen_tables = {subject_table(t) for n in SEEN for t in splits[n]}
    unseen = splits["test_unseen"]
    problems += [f"table {subject_table(t)}" for t in unseen if subject_table(t) in seen_tables]
    return problems


def test_the_split_keeps_blueprints_tables_and_templates_apart() -> None:
    result = split_trajectories(drawn(), TrajectorySplitConfig(seed=0))
    assert sum(result.counts().values()) == len(drawn())
    assert all(result.counts()[n] > 0 for n in SPLITS), result.counts()
    assert not leaks(result.splits)
    seen_templates = {workflow_template(t) for n in SEEN for t in result.splits[n]}
    assert result.held_out_templates and not set(result.held_out_templates) & seen_templates
    seen_tables = {subject_table(t) for n in SEEN for t in result.splits[n]}
    assert result.held_out_tables and not set(result.held_out_tables) & seen_tables
    # surface variants exist in the data (else the blueprint rule would be tested on nothing)
    groups = [blueprint_group(t) for t in drawn()]
    assert len(set(groups)) < len(groups)
    # test_unseen is a test set, not most of the data
    assert result.counts()["train"] > 0.5 * len(drawn())


def test_a_naive_random_split_would_leak() -> None:
    # the same data shuffled 80/10/10 + test_unseen by record: the check above catches it
    rows = list(drawn())
    random.Random(0).shuffle(rows)
    n = len(rows)
    naive = {
        "train": rows[: int(0.7 * n)],
        "validation": rows[int(0.7 * n) : int(0.8 * n)],
        "test_seen": rows[int(0.8 * n) : int(0.9 * n)],
        "test_unseen": rows[int(0.9 * n) :],
    }
    problems = leaks(naive)
    assert any(p.startswith("blueprint") for p in problems)
    assert any(p.startswith("table") for p in problems)


def test_the_subject_is_the_walked_table_not_its_prerequisite() -> None:
    elem = next(t for t in drawn() if t.id.startswith("gen-ELEM-") and len(t.turns[0].gold_calls))
    assert subject_table(elem) == "ELEM"
    assert workflow_template(elem).split(":")[0] == elem.category


def test_the_split_is_deterministic_and_follows_the_seed() -> None:
    a = split_trajectories(drawn(), TrajectorySplitConfig(seed=1))
    b = split_trajectories(drawn(), TrajectorySplitConfig(seed=1))
    c = split_trajectories(drawn(), TrajectorySplitConfig(seed=2))
    ids = lambda r: {n: [t.id for t in r.splits[n]] for n in SPLITS}  # noqa: E731
    assert ids(a) == ids(b)
    assert ids(a) != ids(c)


def test_no_hold_out_puts_everything_in_the_seen_splits() -> None:
    result: TrajectorySplit = split_trajectories(
        drawn(), TrajectorySplitConfig(unseen_table_fraction=0.0, unseen_template_fraction=0.0)
    )
    assert result.counts()["test_unseen"] == 0


def test_bad_fractions_are_refused() -> None:
    with pytest.raises(ValueError, match="fractions"):
        TrajectorySplitConfig(fractions=(0.5, 0.2, 0.2))


def test_every_category_keeps_training_data() -> None:
    # holding out a category's main template would leave nothing to learn miss_func from
    for seed in range(4):
        result = split_trajectories(drawn(), TrajectorySplitConfig(seed=seed))
        trained = Counter(t.category for t in result.splits["train"])
        everything = Counter(t.category for t in drawn())
        assert all(trained[c] >= 0.4 * everything[c] for c in everything), (seed, trained, everything)
