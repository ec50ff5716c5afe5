"""Quotas that close: top-up items for tools below quota, and varied items for calls that cannot vary."""

from __future__ import annotations

from generators.config import PlanConfig
from generators.plan import build_plan, takes_values, tool_quotas, top_up_items
from schemas.catalog import Catalog
from schemas.models import Style
from tests.generators.catalog_fixtures import synthetic_tools


def _catalog() -> Catalog:
    return Catalog(synthetic_tools(12))


def test_a_tool_below_quota_gets_as_many_new_items_as_it_is_short() -> None:
    catalog, config = _catalog(), PlanConfig(seed=3)
    quotas = tool_quotas(catalog, config)
    short, full = "post_res0001", "post_res0002"
    accepted = {name: quota for name, quota in quotas.items()} | {short: quotas[short] - 3}
    items = top_up_items(catalog, config, accepted=accepted, tried={})
    assert [i.subject for i in items] == [short] * 3
    assert [i.index for i in items] == [quotas[short], quotas[short] + 1, quotas[short] + 2]
    planned = {i.id for i in build_plan(catalog, config)}
    assert not planned & {i.id for i in items}  # new items, never the ones the ledger already skips
    assert full not in {i.subject for i in items}


def test_top_up_continues_after_earlier_top_ups_and_stops_at_the_bound() -> None:
    catalog, config = _catalog(), PlanConfig(seed=3, top_up_max=5)
    quotas = tool_quotas(catalog, config)
    name = "post_res0004"
    accepted = dict(quotas) | {name: 0}  # short by a whole quota (15+), far more than the bound
    first = top_up_items(catalog, config, accepted=accepted, tried={})
    assert len(first) == 5
    later = top_up_items(catalog, config, accepted=accepted, tried={name: 3})
    assert [i.index for i in later] == [quotas[name] + 3, quotas[name] + 4]
    assert top_up_items(catalog, config, accepted=accepted, tried={name: 5}) == []


def test_a_tool_at_or_over_quota_gets_nothing() -> None:
    catalog, config = _catalog(), PlanConfig(seed=3)
    over = {name: quota + 2 for name, quota in tool_quotas(catalog, config).items()}
    assert top_up_items(catalog, config, accepted=over, tried={}) == []


def test_items_of_a_call_that_cannot_vary_offer_different_distractors(catalog: Catalog) -> None:
    # Ranked distractors alone would offer such a tool the same top few every time, so its multiple
    # items would be exact duplicates of each other whenever their queries coincide.
    fixed = [t.name for t in catalog if not takes_values(t.parameters)]
    items = build_plan(catalog, PlanConfig(seed=1, styles={"multiple": 1}, distractors=(1, 1)))

    def sets(name: str) -> set[frozenset[str]]:
        return {frozenset(i.offered) for i in items if i.subject == name and i.style is Style.MULTIPLE}

    for name in fixed:
        assert len(sets(name)) >= 4, name
    # a tool whose values vary keeps its ranked distractors (its plan is unchanged by this)
    varying = next(t.name for t in catalog if takes_values(t.parameters) and t.tier == 1)
    assert len(sets(varying)) == 1
