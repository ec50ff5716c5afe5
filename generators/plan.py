"""The sampling plan: which tools, in which query style and language, how many times.

Input: a :class:`~schemas.catalog.Catalog` (tools with tiers and categories; the manifest may carry
tier quotas) and a :class:`~generators.config.PlanConfig`. Output: a list of :class:`WorkItem`, one per
sample to generate, in catalog order.

Quotas are per *tool*, i.e. per (path, method): ``/db/NODE`` with POST, GET, PUT and DELETE is four
tools and each gets its own quota. Each method is a different call the model must learn to choose and
fill (create vs. update vs. delete), so each needs its own examples; a per-path quota split across
methods would leave tier-3 methods with nothing. A tool's count is drawn in ``[min, max]`` of its tier
(``config.quotas`` > ``catalog.manifest.quotas`` > the GEN NX defaults; no tier -> ``default_quota``).

A tool that takes no values (``takes_values``) makes the same call every time, so its ``simple``
items can only differ in wording: past its first ``config.fixed_call_simple`` items they become
``multiple`` (the same call, chosen among distractors) and keep the tier's quota. Without that, GEN
NX's ~200 argument-free GET tools made 869 of 10,094 offline samples exact repeats.

Determinism: every random choice about a tool comes from ``random.Random`` seeded with a hash of
(plan seed, tool name, item index), never from a shared stream, so adding a tool to the catalog does not
reshuffle anyone else's items. Distractors are ranked by a hash of (seed, target, candidate)
(rendezvous hashing): a new tool enters another's distractor set only where it ranks first.

Resume: ``satisfied[tool] = n`` (accepted samples already held) drops that tool's first n items, and
``done`` (item ids already present in candidate shards) drops items by id. Item ids are content hashes
of everything the item says, so the same plan gives the same ids on every run.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from generators.config import DEFAULT_TIER_QUOTAS, PlanConfig
from generators.names import tool_names
from schemas.canonical import content_hash
from schemas.catalog import Catalog
from schemas.models import Style, Tool
from schemas.value_space import takes_values


class WorkItem(BaseModel):
    """One sample to generate.

    ``targets`` are the calls the answer must make, in order (a tool name repeats for ``parallel``;
    empty for ``irrelevance``). ``offered`` are the tools the model is shown, distractors included,
    shuffled. ``subject`` is the tool this item counts for in the quota: the single target, the first of
    several, or for ``irrelevance`` the tool the query is about, which is deliberately NOT offered.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = ""
    style: Style
    language: str
    subject: str
    targets: list[str] = Field(default_factory=list)
    offered: list[str] = Field(min_length=1)
    n_calls: int = Field(ge=0)
    tier: int | None = None
    category: str | None = None
    seed: int
    index: int = Field(ge=0, description="position of this item among its subject's items")

    def model_post_init(self, context: object) -> None:
        if not self.id:
            object.__setattr__(
                self, "id", content_hash(self.model_dump(mode="json", exclude={"id"}), length=20)
            )


def stable_seed(*parts: object) -> int:
    """A 63-bit integer from the parts (sha256; stable across processes and Python versions)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def tier_quotas(catalog: Catalog, config: PlanConfig) -> dict[str, tuple[int, int]]:
    """tier ('1','2','3') -> (min, max) samples per tool, by precedence config > manifest > defaults."""
    quotas = dict(DEFAULT_TIER_QUOTAS)
    for tier, pair in (catalog.manifest.quotas or {}).items():
        quotas[str(tier)] = (int(pair[0]), int(pair[1]))
    quotas.update(config.quotas or {})
    return quotas


def quota_for(tool: Tool, quotas: Mapping[str, tuple[int, int]], config: PlanConfig) -> int:
    """The number of items this tool gets: a deterministic draw in its tier's [min, max]."""
    low, high = (
        quotas.get(str(tool.tier), config.default_quota) if tool.tier is not None else config.default_quota
    )
    return random.Random(stable_seed(config.seed, "quota", tool.name)).randint(low, high)


class _Catalogue:
    """The catalog seen by the planner: who can be a target, a distractor, a co-target."""

    def __init__(self, catalog: Catalog, config: PlanConfig) -> None:
        self.config = config
        self.tools = [t for t in catalog if config.include_deprecated or not t.deprecated]
        self.all_names = [t.name for t in catalog]
        self.by_category: dict[str | None, list[str]] = {}
        for tool in catalog:
            self.by_category.setdefault(tool.category, []).append(tool.name)
        self.path_of = {t.name: t.binding.path for t in catalog}
        self.category_of = {t.name: t.category for t in catalog}
        # Tools whose call cannot vary (no values to give): asked once per tool, not once per item.
        self.fixed_calls = {t.name for t in catalog if not takes_values(t.parameters)}
        # How a query names each tool, per language: (kind, name). Two tools with the same label in a
        # language cannot be told apart by a query in it, so they never meet as target and distractor.
        self.labels: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {}
        for tool in catalog:
            names = tool_names(tool)
            self.labels[tool.name] = (("en", names.intent_en.lower()), names.ko_label)
        self.redrawn = 0  # distractors skipped because a query could not tell them from the target
        self.dropped = 0  # items left without a distractor after that (irrelevance made simple)
        self._hashes: dict[str, dict[str, int]] = {}
        self._cache_target: str | None = None
        self._cache: dict[tuple[str | None, str], list[str]] = {}

    def ranked(self, target: str, pool: str | None, salt: str) -> list[str]:
        """Tools of category ``pool`` (every tool when ``pool`` is ``"*"``) in the order ``target`` prefers.

        The order is by ``r(candidate) XOR r(target)`` with ``r`` a seeded hash per name: the relative
        order of two candidates never depends on a third, so adding a tool moves no one else. Rankings
        are cached for the current target only (the planner walks one tool at a time).
        """
        if self._cache_target != target:
            self._cache_target, self._cache = target, {}
        key = (pool, salt)
        if key not in self._cache:
            r = self._salted(salt)
            mask = r[target]
            names = self.all_names if pool == "*" else self.by_category.get(pool, [])
            self._cache[key] = sorted(names, key=lambda n: r[n] ^ mask)
        return self._cache[key]

    def _salted(self, salt: str) -> dict[str, int]:
        if salt not in self._hashes:
            self._hashes[salt] = {n: stable_seed(self.config.seed, salt, n) for n in self.all_names}
        return self._hashes[salt]

    def clash(self, a: str, b: str) -> bool:
        """Whether a query for ``a`` could as well be asking for ``b`` (same kind and name, in English or
        in Korean)."""
        la, lb = self.labels.get(a), self.labels.get(b)
        return la is not None and lb is not None and (la[0] == lb[0] or la[1] == lb[1])

    def pick(self, target: str, count: int, exclude: Collection[str], salt: str) -> list[str]:
        """``count`` others, from the target's category first, then from the rest of the catalog.

        A candidate the target's query could not be told from (:meth:`clash`) is skipped and the next
        one in rank order is drawn instead (counted in ``redrawn``)."""
        chosen: list[str] = []
        skipped: set[str] = set()
        for pool in (self.category_of.get(target), "*"):
            for name in self.ranked(target, pool, salt):
                if len(chosen) >= count:
                    return chosen
                if name in exclude or name in chosen or name in skipped:
                    continue
                if self.clash(target, name):
                    skipped.add(name)
                    self.redrawn += 1
                    continue
                chosen.append(name)
        return chosen

    def siblings(self, name: str) -> set[str]:
        """Tools on the same path (other methods): too close to be an irrelevance distractor."""
        path = self.path_of[name]
        return {n for n, p in self.path_of.items() if p == path}


def _weighted(rng: random.Random, mix: Mapping[str, float]) -> str:
    keys = [k for k, w in mix.items() if w > 0]
    return rng.choices(keys, weights=[mix[k] for k in keys])[0]


def _plan_item(tool: Tool, index: int, cat: _Catalogue) -> WorkItem:
    config = cat.config
    item_seed = stable_seed(config.seed, "item", tool.name, index)
    rng = random.Random(item_seed)
    style = Style(_weighted(rng, config.styles))
    language = _weighted(rng, config.languages)
    others = len(cat.all_names) - 1
    # A style the catalog cannot support (one tool has no distractors) degrades to simple, visibly.
    if style in (Style.MULTIPLE, Style.PARALLEL_MULTIPLE) and others < 1:
        style = Style.SIMPLE
    fixed_call = tool.name in cat.fixed_calls
    # Calling a tool without parameters several times "in parallel" would repeat one identical call.
    if style is Style.PARALLEL and fixed_call:
        style = Style.SIMPLE
    # ... and past its first few simple items, another would repeat one: offer a choice instead.
    if style is Style.SIMPLE and fixed_call and index >= config.fixed_call_simple and others >= 1:
        style = Style.MULTIPLE
    name = tool.name
    targets: list[str] = [name]
    offered: list[str] = [name]
    if style is Style.MULTIPLE:
        low, high = config.distractors
        # A call that cannot vary is told apart only by its query and its distractors, and the ranking
        # would offer the same top few every time: its items each rank with their own salt.
        salt = f"distractor:{index}" if fixed_call else "distractor"
        offered += cat.pick(name, rng.randint(max(1, low), max(1, high)), {name}, salt)
    elif style is Style.PARALLEL:
        targets = [name] * rng.randint(*config.parallel_calls)
    elif style is Style.PARALLEL_MULTIPLE:
        co = cat.pick(name, rng.randint(*config.multi_targets) - 1, {name}, "co-target")
        targets = [name, *co]
        offered = list(targets)
        if rng.random() < 0.5:  # sometimes a distractor too, so "call everything offered" is not a rule
            offered += cat.pick(name, 1, set(offered), "distractor")
    elif style is Style.IRRELEVANCE:
        exclude = cat.siblings(name)
        low, high = config.distractors
        offered = cat.pick(name, rng.randint(max(1, low), max(1, high)), exclude, "irrelevant")
        targets = []
        if not offered:  # a catalog of one path (or of look-alikes) cannot make an irrelevance item
            cat.dropped += 1
            style, targets, offered = Style.SIMPLE, [name], [name]
    rng.shuffle(offered)
    return WorkItem(
        style=style,
        language=language,
        subject=name,
        targets=targets,
        offered=offered,
        n_calls=len(targets),
        tier=tool.tier,
        category=tool.category,
        seed=item_seed,
        index=index,
    )


def build_plan(
    catalog: Catalog,
    config: PlanConfig | None = None,
    *,
    satisfied: Mapping[str, int] | None = None,
    done: Collection[str] | None = None,
    stats: dict[str, int] | None = None,
) -> list[WorkItem]:
    """Every work item the catalog needs, minus what ``satisfied`` and ``done`` already cover.

    ``satisfied`` maps tool name -> accepted samples already held; that many of the tool's items are
    skipped (its first ones, so a resumed plan is a suffix of the full one). ``done`` is a collection of
    item ids already generated (read from candidate shards); those are skipped too. ``stats``, when
    given, receives how many distractors were redrawn because a query could not tell them from the
    target, and how many items were left without one.
    """
    config = config or PlanConfig()
    satisfied = satisfied or {}
    done = set(done or ())
    quotas = tier_quotas(catalog, config)
    cat = _Catalogue(catalog, config)
    items: list[WorkItem] = []
    for tool in cat.tools:
        count = quota_for(tool, quotas, config)
        for index in range(min(max(0, satisfied.get(tool.name, 0)), count), count):
            item = _plan_item(tool, index, cat)
            if item.id not in done:
                items.append(item)
    if stats is not None:
        stats.update(distractors_redrawn=cat.redrawn, items_without_distractor=cat.dropped)
    return items


def tool_quotas(catalog: Catalog, config: PlanConfig | None = None) -> dict[str, int]:
    """tool name -> the number of items the plan gives it (its quota of accepted samples)."""
    config = config or PlanConfig()
    quotas = tier_quotas(catalog, config)
    return {
        t.name: quota_for(t, quotas, config) for t in catalog if config.include_deprecated or not t.deprecated
    }


def top_up_items(
    catalog: Catalog,
    config: PlanConfig,
    *,
    accepted: Mapping[str, int],
    tried: Mapping[str, int],
) -> list[WorkItem]:
    """Items for every tool with fewer ``accepted`` samples than its quota, beyond its planned items.

    A tool's planned items are indexes ``0 .. quota-1``; each was tried (the attempts ledger skips them
    from then on), so more of them would give the same rejected samples. Top-up items continue at index
    ``quota + tried[tool]`` -- new seeds, so new styles, languages, distractors and values -- as many as
    the tool is short, never more than ``config.top_up_max - tried[tool]`` (``tried``: top-up items the
    tool already had, over every refresh).
    """
    quota_of = tool_quotas(catalog, config)
    cat = _Catalogue(catalog, config)
    items: list[WorkItem] = []
    for tool in cat.tools:
        short = quota_of[tool.name] - accepted.get(tool.name, 0)
        done = tried.get(tool.name, 0)
        count = min(short, config.top_up_max - done)
        start = quota_of[tool.name] + done
        items += [_plan_item(tool, index, cat) for index in range(start, start + max(0, count))]
    return items


def shards(items: Sequence[WorkItem], shard_size: int) -> list[list[WorkItem]]:
    """Consecutive slices of at most ``shard_size`` items."""
    return [list(items[i : i + shard_size]) for i in range(0, len(items), shard_size)]


def limit_items(
    items: Sequence[WorkItem],
    limit: int | None,
    *,
    styles: Mapping[str, float] | None = None,
    languages: Mapping[str, float] | None = None,
) -> list[WorkItem]:
    """At most ``limit`` items of the plan, in plan order, spread over every (style, language) it has.

    A quick run (``--limit 60``) must still see every style and language: taking every n-th item
    follows the plan's own mix, where GEN NX's many argument-free tools leave ``parallel`` at ~5 %
    (2 of 60). Each (style, language) present gets a share of ``limit`` in proportion to the configured
    weights (``styles`` x ``languages``; the defaults of :class:`~generators.config.PlanConfig` when not
    given), at least one while ``limit`` allows, by largest remainder; what a stratum cannot fill goes
    to the others. Within a stratum items are taken evenly over the plan, so many tools are covered.
    """
    items = list(items)
    if limit is None or len(items) <= limit:
        return items
    if limit < 1:
        return []
    config = PlanConfig()
    styles = styles or config.styles
    languages = languages or config.languages
    strata: dict[tuple[str, str], list[int]] = {}
    for index, item in enumerate(items):
        strata.setdefault((item.style.value, item.language), []).append(index)
    weights = {
        key: max(styles.get(key[0], 0.0), 0.0) * max(languages.get(key[1], 0.0), 0.0) or 1e-6
        for key in strata
    }
    shares = _apportion(limit, weights, {key: len(v) for key, v in strata.items()})
    chosen: list[int] = []
    for key, indexes in strata.items():
        take = shares[key]
        step = len(indexes) / take if take else 0
        chosen += [indexes[int(i * step)] for i in range(take)]
    return [items[i] for i in sorted(chosen)]


def _apportion(total: int, weights: Mapping[Any, float], capacity: Mapping[Any, int]) -> dict[Any, int]:
    """``total`` split over keys by weight (largest remainder), each at least 1 while ``total`` allows
    and at most its capacity; what a full key cannot take is split over the rest."""
    shares = dict.fromkeys(weights, 0)
    open_keys = sorted(weights, key=lambda k: -weights[k])
    for key in open_keys[:total]:  # one each first: every stratum is seen
        shares[key] = 1
    left = total - sum(shares.values())
    while left > 0:
        open_keys = [k for k in open_keys if shares[k] < capacity[k]]
        if not open_keys:
            break
        weight = sum(weights[k] for k in open_keys)
        exact = {k: left * weights[k] / weight for k in open_keys}
        grant = {k: min(int(exact[k]), capacity[k] - shares[k]) for k in open_keys}
        if not any(grant.values()):  # all remainders: the largest ones get one more
            for key in sorted(open_keys, key=lambda k: -(exact[k] - int(exact[k])))[:left]:
                grant[key] = 1
        for key, extra in grant.items():
            shares[key] += extra
        left = total - sum(shares.values())
    return shares
