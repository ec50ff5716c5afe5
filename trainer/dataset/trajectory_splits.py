"""Multi-turn splits: train / validation / test_seen / test_unseen over trajectory records.

    result = split_trajectories(trajectories, TrajectorySplitConfig(seed=0))
    result.splits["test_unseen"]      # whole workflow templates and subject tables never trained on

Three units decide where a trajectory goes, coarsest first:

* **subject table**: the table a trajectory works on, i.e. the table most of its gold calls touch (an
  ``ELEM`` walk creates one ``NODE`` first, then four calls on ``ELEM``: its subject is ``ELEM``).
  A table is derived from the GEN NX tool name (``post_db_elem`` -> ``ELEM``); any other tool is its
  own "table". ``test_unseen`` holds out whole subject tables: no subject table of ``test_unseen`` is
  the subject of a trajectory in train, validation or test_seen. Tables a trajectory only seeds or
  uses as a prerequisite (``NODE`` under almost everything) are shared on purpose: holding those out
  would empty the training set.
* **workflow template**: the shape of the gold calls -- per turn, the verbs called (``post``, ``get``,
  ``put``, ``delete``) -- and the category. ``test_unseen`` also holds out whole templates (never a
  category's most common one, so every category is still trained on); a held-out template never
  appears in the other splits, and its trajectories' subject tables are held out with it.
* **blueprint**: spec, initial state and gold calls (``blueprint_group``), i.e. what stays when the
  user's words change. Surface variants of one blueprint share it and always land in one split.

The seen blueprints are then shared out by ``fractions`` with a seeded hash of the blueprint, so the
split of a blueprint does not move when other blueprints come or go.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.trajectories import Trajectory

SPLITS = ("train", "validation", "test_seen", "test_unseen")
_DB_TOOL = re.compile(r"^(post|get|put|delete)_db_(.+)$")


class TrajectorySplitConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    unseen_table_fraction: float = Field(
        default=0.1,
        ge=0.0,
        lt=1.0,
        description="share of subject tables held out for test_unseen (with every trajectory on them)",
    )
    unseen_template_fraction: float = Field(
        default=0.1,
        ge=0.0,
        lt=1.0,
        description="share of workflow templates held out for test_unseen; at least one is kept for training",
    )
    fractions: tuple[float, float, float] = Field(
        default=(0.8, 0.1, 0.1), description="train / validation / test_seen shares of the seen blueprints"
    )

    @field_validator("fractions")
    @classmethod
    def _shares(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(f < 0 for f in value) or abs(sum(value) - 1.0) > 1e-6 or value[0] <= 0:
            raise ValueError(f"fractions: three non-negative shares summing to 1, train > 0; got {value!r}")
        return value


@dataclass
class TrajectorySplit:
    splits: dict[str, list[Trajectory]]
    held_out_tables: list[str] = field(default_factory=list)
    held_out_templates: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(self.splits[name]) for name in SPLITS}


def tool_table(name: str) -> str:
    """``post_db_elem`` -> ``ELEM``; a tool that is not a GEN NX ``/db`` tool is its own table."""
    match = _DB_TOOL.match(name)
    return match.group(2).upper() if match else name


def subject_table(trajectory: Trajectory) -> str:
    """The table most gold calls touch; a tie goes to the table touched last (the walk's dependent)."""
    counts: Counter[str] = Counter()
    last: dict[str, int] = {}
    position = 0
    for turn in trajectory.turns:
        for call in turn.gold_calls:
            table = tool_table(call.name)
            counts[table] += 1
            last[table] = position
            position += 1
    if not counts:  # no call at all: the tools offered say what it is about
        names = trajectory.tool_names()
        return tool_table(names[0]) if names else "-"
    return max(counts, key=lambda t: (counts[t], last[t]))


def workflow_template(trajectory: Trajectory) -> str:
    """``base:post|post;get;get,put`` -- category, then per turn the verbs of its gold calls."""
    turns = []
    for turn in trajectory.turns:
        verbs = []
        for call in turn.gold_calls:
            match = _DB_TOOL.match(call.name)
            verbs.append(match.group(1) if match else "call")
        turns.append(",".join(verbs) or "-")
    return f"{trajectory.category}:" + ";".join(turns)


def blueprint_group(trajectory: Trajectory) -> str:
    """What surface variants share: spec, initial state and gold calls (not the user's words)."""
    gold = [[c.model_dump() for c in t.gold_calls] for t in trajectory.turns]
    payload = [trajectory.spec, trajectory.initial_state, gold]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def split_trajectories(
    trajectories: Iterable[Trajectory], config: TrajectorySplitConfig | None = None
) -> TrajectorySplit:
    """The four splits (see the module docstring); input order is kept inside each split."""
    config = config or TrajectorySplitConfig()
    items = list(trajectories)
    subjects = [subject_table(t) for t in items]
    categories = [t.category for t in items]
    templates = [workflow_template(t) for t in items]
    rng = random.Random(config.seed)
    held_templates = _pick_templates(templates, categories, config.unseen_template_fraction, rng)
    held_tables = _pick(sorted(set(subjects)), config.unseen_table_fraction, rng)
    # A trajectory of a held-out template also takes its subject table out of training, so test_unseen's
    # subject tables are never trained on (held_tables grows; nothing else moves to test_unseen).
    held_tables |= {s for s, tpl in zip(subjects, templates, strict=True) if tpl in held_templates}
    groups: dict[str, str] = {}
    splits: dict[str, list[Trajectory]] = {name: [] for name in SPLITS}
    for trajectory, subject, template in zip(items, subjects, templates, strict=True):
        if subject in held_tables or template in held_templates:
            splits["test_unseen"].append(trajectory)
            continue
        group = blueprint_group(trajectory)
        name = groups.setdefault(group, _seen_split(group, config))
        splits[name].append(trajectory)
    return TrajectorySplit(splits, sorted(held_tables), sorted(held_templates))


def _pick(values: Sequence[str], fraction: float, rng: random.Random) -> set[str]:
    """``fraction`` of ``values`` (rounded, at least one when the fraction is positive), never all."""
    if fraction <= 0 or len(values) < 2:
        return set()
    k = min(len(values) - 1, max(1, round(fraction * len(values))))
    return set(rng.sample(list(values), k))


def _pick_templates(
    templates: Sequence[str], categories: Sequence[str], fraction: float, rng: random.Random
) -> set[str]:
    """``fraction`` of the templates, never a category's most common one: every category keeps its main
    shape for training (holding out ``miss_func``'s main template would leave nothing to learn it from)."""
    counts = Counter(zip(categories, templates, strict=True))
    main: dict[str, str] = {}
    for (category, template), _n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1])):
        main.setdefault(category, template)
    candidates = sorted({t for t in templates} - set(main.values()))
    if fraction <= 0 or not candidates:
        return set()
    k = min(len(candidates), max(1, round(fraction * len(set(templates)))))
    return set(rng.sample(candidates, k))


def _seen_split(group: str, config: TrajectorySplitConfig) -> str:
    digest = hashlib.sha256(f"{config.seed}:{group}".encode()).digest()
    x = int.from_bytes(digest[:8], "big") / 2**64
    train, validation, _ = config.fractions
    if x < train:
        return "train"
    return "validation" if x < train + validation else "test_seen"


def split_summary(result: TrajectorySplit) -> dict[str, Any]:
    """The manifest's view of a split: counts, and what test_unseen holds out."""
    per_category: dict[str, dict[str, int]] = defaultdict(dict)
    for name, rows in result.splits.items():
        per_category[name] = dict(sorted(Counter(t.category for t in rows).items()))
    return {
        "counts": result.counts(),
        "per_category": dict(per_category),
        "held_out_tables": result.held_out_tables,
        "held_out_templates": result.held_out_templates,
    }
