"""Which tools ``test_unseen`` holds out: whole endpoint families, never a schema the model trained on.

    families = endpoint_families(catalog)          # [["DELETE /db/NODE", "GET /db/NODE", ...], ...]
    held = choose_unseen_tools(catalog, samples, SplitConfig(seed=7))

Holding out single tools measured little on GEN NX: 79 of 88 held-out tools had a parameter schema
byte-identical to a trained tool's (``POST`` and ``PUT`` of one table share their row schema, and many
tables share one row shape), and 77 shared their path with a trained method. A model "generalising" to
those has only learnt a new name for a schema it already fills. So tools are grouped into *families*,
the connected components of two relations:

* same path (every method of an endpoint), and
* the same canonical parameter schema (``schema_signature``: key order, ``required`` order and the
  annotations a model does not fill -- descriptions, titles, examples, ``x-`` extensions -- ignored),
  for tools that take values (``schemas.value_space.takes_values``).

A tool whose call cannot vary (an argument-free ``GET``, GEN NX's fixed whole-table ``DELETE``) has no
schema to learn to fill: choosing it is a question of its name and description. Joining those by their
common trivial schema would chain every GEN NX endpoint into one family of 889 tools (measured), so
they join families through their path only.

A family is held out whole or not at all. Per tier, ``round(unseen_fraction x n)`` of the ``n`` tools that
are targets of a sample are the goal; families with a target are visited in a seeded order and taken
while all their members fit every tier's remaining goal, so an oversized family (GEN NX's ~100 argument-free ``GET`` tools share the
empty schema) is simply never held out rather than swallowing the catalog. ``HoldOut.by_tier`` and
``by_category`` say what the hold-out covers; the card prints them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.canonical import content_hash
from schemas.catalog import Catalog
from schemas.errors import ConfigError
from schemas.models import Sample, Tool
from schemas.value_space import takes_values
from trainer.dataset.config import SplitConfig

# Keywords that describe a value to a reader but do not change which values are valid.
_ANNOTATIONS = frozenset({"description", "title", "examples", "example", "$comment", "deprecated"})
_MAX_DEPTH = 64


def _canonical(schema: Any, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:  # catalog schemas are bounded at ingest; this only guards a cycle of dicts
        return "..."
    if isinstance(schema, dict):
        out = {
            key: _canonical(value, depth + 1)
            for key, value in schema.items()
            if key not in _ANNOTATIONS and not str(key).startswith("x-")
        }
        if isinstance(out.get("required"), list):
            out["required"] = sorted(map(str, out["required"]))
        return out
    if isinstance(schema, list):
        return [_canonical(value, depth + 1) for value in schema]
    return schema


def schema_signature(tool: Tool) -> str:
    """A hash of the tool's parameter schema after canonicalisation (see the module docstring).

    Property *names* stay: ``{"x": number}`` and ``{"y": number}`` are different things to fill.
    """
    return content_hash(_canonical(tool.parameters), length=32)


def endpoint_families(tools: Iterable[Tool]) -> list[list[str]]:
    """Tool names grouped by shared path or equal ``schema_signature`` of tools that take values
    (transitively), each sorted."""
    tools = list(tools)
    parent = {t.name: t.name for t in tools}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    first: dict[tuple[str, str], str] = {}
    for tool in tools:
        keys = [("path", tool.binding.path)]
        if takes_values(tool.parameters):
            keys.append(("schema", schema_signature(tool)))
        for key in keys:
            other = first.setdefault(key, tool.name)
            a, b = root(other), root(tool.name)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[str, list[str]] = {}
    for tool in tools:
        groups.setdefault(root(tool.name), []).append(tool.name)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


@dataclass
class HoldOut:
    """The held-out tools and what they cover."""

    tools: list[str] = field(default_factory=list)
    families: int = 0  # families held out
    by_tier: dict[str, int] = field(default_factory=dict)  # "1" / "2" / "3" / "none" -> held-out tools
    by_category: dict[str, int] = field(default_factory=dict)
    goal_by_tier: dict[str, int] = field(default_factory=dict)  # the fraction's goal per tier (targets)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tools": len(self.tools),
            "families": self.families,
            "by_tier": self.by_tier,
            "by_category": self.by_category,
            "goal_by_tier": self.goal_by_tier,
        }


def _tier(tool: Tool) -> str:
    return "none" if tool.tier is None else str(tool.tier)


def _key(seed: int, text: str) -> str:
    return hashlib.sha256(f"{seed}\x00{text}".encode()).hexdigest()


def choose_unseen_tools(catalog: Catalog, samples: Sequence[Sample], config: SplitConfig) -> HoldOut:
    """The held-out tools (sorted) and their coverage; see the module docstring.

    With ``config.unseen_tools`` those names plus the rest of each one's family (each must be in the
    catalog). Otherwise whole families chosen per tier as described above; a tier with a single target
    tool keeps it, and every tier keeps at least one target tool for training.
    """
    tools = {t.name: t for t in catalog}
    families = endpoint_families(catalog)
    family_of = {name: i for i, family in enumerate(families) for name in family}
    if config.unseen_tools is not None:
        unknown = sorted(set(config.unseen_tools) - set(tools))
        if unknown:
            raise ConfigError(f"unseen_tools: not in the catalog: {unknown}")
        chosen = sorted({family_of[name] for name in config.unseen_tools})
        return _describe(tools, [families[i] for i in chosen], {})
    if config.unseen_fraction == 0:
        return HoldOut()
    targets = {call.name for s in samples for call in s.calls if call.name in tools}
    per_tier = Counter(_tier(tools[name]) for name in targets)
    goal = {tier: min(max(int(n * config.unseen_fraction + 0.5), 1), n - 1) for tier, n in per_tier.items()}
    held = Counter[str]()
    taken: list[list[str]] = []
    # A family's place in the order is its best member's seeded key: adding an unrelated tool to the
    # catalog moves no family.
    order = sorted(range(len(families)), key=lambda i: min(_key(config.seed, n) for n in families[i]))
    for index in order:
        if not targets.intersection(families[index]):
            continue  # a family with no samples would add nothing to test_unseen
        need = Counter(_tier(tools[name]) for name in families[index])
        if all(held[tier] + n <= goal.get(tier, 0) for tier, n in need.items()):
            taken.append(families[index])
            held.update(need)
    return _describe(tools, taken, goal)


def _describe(tools: dict[str, Tool], taken: list[list[str]], goal: dict[str, int]) -> HoldOut:
    names = sorted(name for family in taken for name in family)
    return HoldOut(
        tools=names,
        families=len(taken),
        by_tier=dict(sorted(Counter(_tier(tools[n]) for n in names).items())),
        by_category=dict(sorted(Counter(tools[n].category or "none" for n in names).items())),
        goal_by_tier=dict(sorted(goal.items())),
    )
