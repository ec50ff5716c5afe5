"""The sampling plan: quotas per tier, style and language mix, distractors, determinism, resume."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import ValidationError

from generators.config import PlanConfig
from generators.plan import WorkItem, build_plan, shards, takes_values, tier_quotas
from schemas.catalog import Catalog
from schemas.manifest import CatalogManifest
from schemas.models import Style
from tests.generators.catalog_fixtures import make_tool, synthetic_tools


def _per_tool(items: list[WorkItem]) -> Counter[str]:
    return Counter(item.subject for item in items)


@pytest.mark.parametrize(
    ("tier", "low", "high"),
    [(1, 15, 20), (2, 5, 10), (3, 0, 2), (None, 5, 10)],
)
def test_each_tool_gets_a_count_within_its_tier_quota(
    catalog: Catalog, tier: int | None, low: int, high: int
) -> None:
    counts = _per_tool(build_plan(catalog, PlanConfig(seed=1)))
    tools = [t for t in catalog if t.tier == tier]
    assert tools
    for tool in tools:
        assert low <= counts.get(tool.name, 0) <= high, tool.name


def test_quota_counts_vary_within_the_range_across_tools() -> None:
    catalog = Catalog(synthetic_tools(60))
    counts = set(_per_tool(build_plan(catalog, PlanConfig(seed=1))).values())
    assert len(counts) >= 4 and counts <= set(range(15, 21))


@pytest.mark.parametrize(
    ("manifest_quotas", "config_quotas", "expected"),
    [
        ({}, None, (15, 20)),
        ({"1": [3, 3]}, None, (3, 3)),
        ({"1": [3, 3]}, {"1": (7, 7)}, (7, 7)),
    ],
)
def test_quotas_come_from_config_then_manifest_then_defaults(
    manifest_quotas: dict, config_quotas: dict | None, expected: tuple[int, int]
) -> None:
    tools = synthetic_tools(3)
    catalog = Catalog(tools, CatalogManifest(tool_count=3, quotas=manifest_quotas))
    config = PlanConfig(quotas=config_quotas)
    assert tier_quotas(catalog, config)["1"] == expected
    counts = _per_tool(build_plan(catalog, config))
    assert all(expected[0] <= counts[t.name] <= expected[1] for t in tools)


def test_untiered_tools_use_the_configured_default_quota() -> None:
    catalog = Catalog(synthetic_tools(4, tier=None))
    counts = _per_tool(build_plan(catalog, PlanConfig(default_quota=(2, 2))))
    assert set(counts.values()) == {2}


def test_style_mix_matches_the_configured_proportions() -> None:
    catalog = Catalog(synthetic_tools(300, categories=6))
    mix = {"simple": 4, "multiple": 3, "parallel": 1, "parallel_multiple": 1, "irrelevance": 1}
    items = build_plan(catalog, PlanConfig(seed=5, styles=mix, quotas={"1": (20, 20)}))
    observed = Counter(item.style.value for item in items)
    for style, weight in mix.items():
        assert observed[style] / len(items) == pytest.approx(weight / 10, abs=0.025), style


def test_language_mix_matches_the_configured_proportions() -> None:
    catalog = Catalog(synthetic_tools(200))
    items = build_plan(catalog, PlanConfig(seed=2, languages={"ko": 3, "en": 1}, quotas={"1": (20, 20)}))
    share = Counter(item.language for item in items)["ko"] / len(items)
    assert share == pytest.approx(0.75, abs=0.025)


def test_multiple_style_offers_distractors_from_the_targets_category() -> None:
    catalog = Catalog(synthetic_tools(60, categories=4))
    category = {t.name: t.category for t in catalog}
    items = [i for i in build_plan(catalog, PlanConfig(seed=3)) if i.style is Style.MULTIPLE]
    assert items
    for item in items:
        distractors = [n for n in item.offered if n != item.subject]
        assert 1 <= len(distractors) <= 4
        assert {category[n] for n in distractors} == {item.category}


def test_distractors_come_from_other_categories_when_the_category_is_too_small() -> None:
    tools = synthetic_tools(10, categories=1)
    lonely = make_tool(
        "get_lonely",
        "GET",
        "/lonely",
        {"type": "object", "properties": {}},
        description="x",
        tier=1,
        category="solo",
    )
    catalog = Catalog([*tools, lonely])
    items = [i for i in build_plan(catalog, PlanConfig(seed=3)) if i.subject == "get_lonely"]
    multiple = [i for i in items if i.style is Style.MULTIPLE]
    assert multiple and all(len(i.offered) >= 2 for i in multiple)


@pytest.mark.parametrize("style", list(Style))
def test_each_style_has_the_shape_it_promises(catalog: Catalog, style: Style) -> None:
    items = [i for i in build_plan(Catalog(synthetic_tools(40)), PlanConfig(seed=4)) if i.style is style]
    assert items
    for item in items:
        assert item.n_calls == len(item.targets)
        assert set(item.targets) <= set(item.offered)
        if style is Style.SIMPLE:
            assert item.targets == item.offered == [item.subject]
        elif style is Style.MULTIPLE:
            assert item.targets == [item.subject] and len(item.offered) >= 2
        elif style is Style.PARALLEL:
            assert (
                set(item.targets) == {item.subject}
                and 2 <= item.n_calls <= 4
                and item.offered == [item.subject]
            )
        elif style is Style.PARALLEL_MULTIPLE:
            assert item.targets[0] == item.subject and 2 <= len(set(item.targets)) == item.n_calls <= 3
        else:
            assert item.targets == [] and item.subject not in item.offered and item.offered


def test_irrelevance_never_offers_another_method_of_the_same_path(catalog: Catalog) -> None:
    path = {t.name: t.binding.path for t in catalog}
    items = [i for i in build_plan(catalog, PlanConfig(seed=8, styles={"irrelevance": 1})) if i.offered]
    assert items
    for item in items:
        assert all(path[n] != path[item.subject] for n in item.offered)


@pytest.mark.parametrize(("tool", "style"), [("get_db_node", Style.SIMPLE), ("post_doc_anal", Style.SIMPLE),
                                             ("post_db_node", Style.PARALLEL)])  # fmt: skip
def test_parallel_degrades_to_simple_for_a_tool_that_takes_no_values(
    catalog: Catalog, tool: str, style: Style
) -> None:
    # fixed_call_simple high: this test is about parallel alone (the next one covers the re-draw).
    items = build_plan(catalog, PlanConfig(seed=1, styles={"parallel": 1}, fixed_call_simple=100))
    assert {i.style for i in items if i.subject == tool} == {style}


@pytest.mark.parametrize("keep", [0, 2, 4])
def test_a_tool_that_takes_no_values_keeps_only_its_first_simple_items(catalog: Catalog, keep: int) -> None:
    fixed = [t.name for t in catalog if not takes_values(t.parameters)]
    assert fixed
    items = build_plan(catalog, PlanConfig(seed=1, styles={"simple": 1}, fixed_call_simple=keep))
    for name in fixed:
        mine = sorted((i for i in items if i.subject == name), key=lambda i: i.index)
        assert len(mine) >= 15  # the tier's quota is kept: only the style changes
        assert [i.style for i in mine] == [Style.SIMPLE] * keep + [Style.MULTIPLE] * (len(mine) - keep)
        assert all(len(i.offered) > 1 and i.targets == [name] for i in mine[keep:])
    # A tool that takes values keeps every simple item.
    assert {i.style for i in items if i.subject not in fixed} == {Style.SIMPLE}


def test_the_same_seed_gives_the_same_plan(catalog: Catalog) -> None:
    first = build_plan(catalog, PlanConfig(seed=11))
    second = build_plan(catalog, PlanConfig(seed=11))
    assert [i.model_dump() for i in first] == [i.model_dump() for i in second]


def test_another_seed_gives_another_plan(catalog: Catalog) -> None:
    first = {i.id for i in build_plan(catalog, PlanConfig(seed=11))}
    second = {i.id for i in build_plan(catalog, PlanConfig(seed=12))}
    assert not first & second


def test_adding_a_tool_leaves_the_other_tools_plans_nearly_untouched() -> None:
    tools = synthetic_tools(50, categories=5)
    before = build_plan(Catalog(tools), PlanConfig(seed=6))
    extra = make_tool(
        "post_new", "POST", "/new", tools[0].parameters, description="New.", tier=1, category="cat0"
    )
    after = [i for i in build_plan(Catalog([*tools, extra]), PlanConfig(seed=6)) if i.subject != "post_new"]
    assert _per_tool(before) == _per_tool(after)
    assert [(i.subject, i.style, i.language) for i in before] == [
        (i.subject, i.style, i.language) for i in after
    ]
    changed = [a for a, b in zip(before, after, strict=True) if a.id != b.id]
    assert all("post_new" in b.offered for b in after if b.id not in {a.id for a in before})
    assert len(changed) < len(before) * 0.1


def test_item_ids_are_unique_and_content_hashes(catalog: Catalog) -> None:
    items = build_plan(catalog, PlanConfig(seed=1))
    assert len({i.id for i in items}) == len(items)
    item = items[0]
    assert WorkItem.model_validate_json(item.model_dump_json()).id == item.id
    assert WorkItem(**{**item.model_dump(exclude={"id"}), "language": "xx"}).id != item.id


def test_satisfied_counts_skip_that_many_of_a_tools_items(catalog: Catalog) -> None:
    full = build_plan(catalog, PlanConfig(seed=2))
    node_items = [i for i in full if i.subject == "post_db_node"]
    resumed = build_plan(catalog, PlanConfig(seed=2), satisfied={"post_db_node": 5})
    assert [i.id for i in resumed if i.subject == "post_db_node"] == [i.id for i in node_items[5:]]
    assert [i.id for i in resumed if i.subject != "post_db_node"] == [
        i.id for i in full if i.subject != "post_db_node"
    ]


def test_a_tool_satisfied_beyond_its_quota_gets_no_items(catalog: Catalog) -> None:
    items = build_plan(catalog, PlanConfig(seed=2), satisfied={"post_db_node": 1000})
    assert not [i for i in items if i.subject == "post_db_node"]


def test_done_ids_are_skipped_on_resume(catalog: Catalog) -> None:
    full = build_plan(catalog, PlanConfig(seed=2))
    half = len(full) // 2
    resumed = build_plan(catalog, PlanConfig(seed=2), done={i.id for i in full[:half]})
    assert [i.id for i in resumed] == [i.id for i in full[half:]]


def test_deprecated_tools_are_not_targets_unless_asked(catalog: Catalog) -> None:
    tools = synthetic_tools(3)
    old = tools[0].model_copy(update={"deprecated": True, "fingerprint": ""})
    old = type(old).model_validate(old.model_dump(exclude={"fingerprint"}))
    catalog = Catalog([old, *tools[1:]])
    assert old.name not in {i.subject for i in build_plan(catalog, PlanConfig())}
    assert old.name in {i.subject for i in build_plan(catalog, PlanConfig(include_deprecated=True))}


def test_shards_split_consecutively(catalog: Catalog) -> None:
    items = build_plan(catalog, PlanConfig(seed=2))
    parts = shards(items, 7)
    assert [i for part in parts for i in part] == items and all(len(p) <= 7 for p in parts)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("styles", {"chatty": 1}, "unknown style"),
        ("styles", {"simple": 0}, "sum to 0"),
        ("languages", {"en": -1}, ">= 0"),
        ("quotas", {"4": (1, 2)}, "tier '1', '2' or '3'"),
        ("quotas", {"1": (5, 2)}, "0 <= min <= max"),
        ("parallel_calls", (1, 3), "at least 2"),
        ("shard_sizes", 3, "Extra inputs"),
    ],
)
def test_bad_plan_config_names_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PlanConfig(**{field: value})


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "object", "properties": {}}, False),
        ({"type": "object", "properties": {"Argument": {"type": "object", "properties": {}}}}, False),
        ({"type": "object", "properties": {"on": {"type": "boolean"}}}, True),
        ({"type": "object", "properties": {"mode": {"enum": ["only"]}}}, False),
        ({"type": "object", "properties": {"mode": {"enum": ["a", "b"]}}}, True),
        ({"type": "object", "additionalProperties": {"type": "object"}}, True),
        ({"type": "object", "properties": {"x": {"$ref": "#/$defs/X"}}}, True),
    ],
)
def test_takes_values(schema: dict, expected: bool) -> None:
    assert takes_values(schema) is expected


# ------------------------------------------------------------------------------ a limited run (--limit)


def _items(counts: dict[tuple[str, str], int]) -> list[WorkItem]:
    from generators.plan import WorkItem

    out = []
    for (style, language), count in counts.items():
        for i in range(count):
            targets = [] if style == "irrelevance" else ["a"] * (2 if style == "parallel" else 1)
            if style == "parallel_multiple":
                targets = ["a", "b"]
            out.append(
                WorkItem(
                    style=style,
                    language=language,
                    subject=f"t{i}",
                    targets=targets,
                    offered=["a", "b"] if style != "simple" else ["a"],
                    n_calls=len(targets),
                    seed=i,
                    index=i,
                )
            )
    return sorted(out, key=lambda w: (w.seed, w.style.value, w.language))  # interleaved, like a plan


SKEWED = {  # the plan's own mix: GEN NX-like, parallel rare
    ("multiple", "en"): 2100, ("multiple", "ko"): 2100, ("simple", "en"): 1400, ("simple", "ko"): 1400,
    ("parallel_multiple", "en"): 780, ("parallel_multiple", "ko"): 780, ("irrelevance", "en"): 480,
    ("irrelevance", "ko"): 480, ("parallel", "en"): 275, ("parallel", "ko"): 275,
}  # fmt: skip


def test_a_limited_run_spreads_over_every_style_and_language_by_the_configured_mix() -> None:
    from generators.plan import limit_items

    items = _items(SKEWED)
    picked = limit_items(items, 60)
    counts = Counter((w.style.value, w.language) for w in picked)
    assert len(picked) == 60 and set(counts) == set(SKEWED)
    by_style = Counter(w.style.value for w in picked)
    # default mix: simple .40, multiple .25, parallel .10, parallel_multiple .15, irrelevance .10
    mix = {"simple": 0.40, "multiple": 0.25, "parallel": 0.10, "parallel_multiple": 0.15, "irrelevance": 0.10}
    assert all(abs(by_style[style] - 60 * share) <= 1 for style, share in mix.items()), by_style
    assert by_style["parallel"] == 6  # the plan's own mix would give 2 or 3
    assert Counter(w.language for w in picked) == {"en": 30, "ko": 30}
    positions = [items.index(w) for w in picked]
    assert positions == sorted(positions)  # plan order kept


def test_a_stratum_too_small_for_its_share_gives_the_rest_to_the_others() -> None:
    from generators.plan import limit_items

    counts = {("simple", "en"): 100, ("parallel", "en"): 2, ("multiple", "ko"): 100}
    picked = limit_items(_items(counts), 40, styles={"simple": 1, "parallel": 8, "multiple": 1})
    got = Counter((w.style.value, w.language) for w in picked)
    assert got[("parallel", "en")] == 2 and sum(got.values()) == 40
    assert got[("simple", "en")] == got[("multiple", "ko")] == 19


def test_a_limit_below_the_number_of_strata_takes_the_heaviest_and_none_twice() -> None:
    from generators.plan import limit_items

    picked = limit_items(_items(SKEWED), 3)
    assert len(picked) == 3 and len({w.id for w in picked}) == 3
    assert {(w.style.value, w.language) for w in picked} <= {
        ("simple", "en"),
        ("simple", "ko"),
        ("multiple", "en"),
        ("multiple", "ko"),
    }
    assert limit_items(_items({("simple", "en"): 5}), 10) == _items({("simple", "en"): 5})
