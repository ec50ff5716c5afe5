"""Hold-out at the right grain: whole endpoint families, never a schema the model trained on."""

from __future__ import annotations

from typing import Any

from schemas.catalog import Catalog
from schemas.manifest import CatalogManifest
from schemas.models import Sample, Tool
from tests.trainer.dataset.assembly_fixtures import make_catalog, make_samples, make_tool
from trainer.dataset.holdout import endpoint_families, schema_signature
from trainer.dataset.splits import SplitConfig, choose_unseen_tools, split_samples

ROW = {
    "type": "object",
    "properties": {"Assign": {"type": "object", "additionalProperties": {"type": "object"}}},
    "required": ["Assign"],
}
EMPTY = {"type": "object", "properties": {}}


def _tool(name: str, path: str, parameters: dict[str, Any], *, method: str = "POST", tier: int = 1) -> Tool:
    base = make_tool(name, tier=tier, category="modeling")
    data = base.model_dump(exclude={"fingerprint"})
    data["parameters"] = parameters
    data["binding"] = {**data["binding"], "path": path, "method": method}
    return Tool.model_validate(data)


def _catalog(tools: list[Tool]) -> Catalog:
    return Catalog(tools, CatalogManifest(tool_count=len(tools)))


def test_tools_on_different_paths_with_byte_identical_schemas_are_one_family() -> None:
    tools = [_tool("post_a", "/db/A", ROW), _tool("post_b", "/db/B", ROW), _tool("post_c", "/db/C", EMPTY)]
    assert endpoint_families(tools) == [["post_a", "post_b"], ["post_c"]]


def test_schemas_equal_up_to_key_order_descriptions_and_required_order_are_one_family() -> None:
    a = {
        "type": "object",
        "properties": {"X": {"type": "number", "description": "x"}, "Y": {"type": "number"}},
        "required": ["X", "Y"],
    }
    b = {
        "required": ["Y", "X"],
        "properties": {"Y": {"type": "number", "title": "why"}, "X": {"type": "number"}},
        "type": "object",
        "x-internal": True,
    }
    assert schema_signature(_tool("p", "/p", a)) == schema_signature(_tool("q", "/q", b))


def test_schemas_that_differ_in_a_property_name_or_type_are_different_families() -> None:
    x = {"type": "object", "properties": {"X": {"type": "number"}}}
    y = {"type": "object", "properties": {"Y": {"type": "number"}}}
    s = {"type": "object", "properties": {"X": {"type": "string"}}}
    tools = [_tool("a", "/a", x), _tool("b", "/b", y), _tool("c", "/c", s)]
    assert endpoint_families(tools) == [["a"], ["b"], ["c"]]


def test_every_method_of_a_path_is_one_family_and_families_chain() -> None:
    tools = [
        _tool("get_a", "/db/A", EMPTY, method="GET"),
        _tool("post_a", "/db/A", ROW),
        _tool("post_b", "/db/B", ROW),  # same schema as post_a: joins /db/A's family ...
        _tool(
            "delete_b", "/db/B", {"type": "object", "properties": {"k": {"type": "string"}}}, method="DELETE"
        ),
    ]  # ... and brings its own path's other method along
    assert endpoint_families(tools) == [["delete_b", "get_a", "post_a", "post_b"]]


def test_explicit_hold_out_takes_the_whole_family() -> None:
    tools = [_tool("post_a", "/db/A", ROW), _tool("post_b", "/db/B", ROW), _tool("post_c", "/db/C", EMPTY)]
    held = choose_unseen_tools(_catalog(tools), [], SplitConfig(unseen_tools=("post_a",)))
    assert held.tools == ["post_a", "post_b"]
    assert (held.families, held.by_tier) == (1, {"1": 2})


def _shared_schema_catalog() -> Catalog:
    """20 tier-1 tools with distinct schemas, plus 6 that share one schema among them (an oversized family)."""
    plain = list(make_catalog((20, 0, 0)))
    shared = [_tool(f"t1_shared_{i}", f"/db/SHARED{i}", ROW) for i in range(6)]
    return _catalog(plain + shared)


def test_no_held_out_tool_shares_a_schema_or_path_with_a_trained_tool() -> None:
    catalog = _shared_schema_catalog()
    samples = make_samples(catalog, 1500, seed=4)
    for seed in range(6):
        result = split_samples(samples, catalog, SplitConfig(seed=seed, unseen_fraction=0.15))
        held = set(result.held_out)
        assert held
        trained = {
            c.name
            for split in ("train", "validation", "test_seen")
            for s in result.splits[split]
            for c in s.calls
        }
        assert not held & trained
        held_shapes = {schema_signature(catalog[n]) for n in held}
        assert not any(schema_signature(catalog[n]) in held_shapes for n in trained)
        held_paths = {catalog[n].binding.path for n in held}
        assert not any(catalog[n].binding.path in held_paths for n in trained)


def test_a_family_larger_than_the_tier_goal_is_never_held_out() -> None:
    catalog = _shared_schema_catalog()  # goal round(0.15 x 26) = 4 < the 6 shared-schema tools
    samples = make_samples(catalog, 1500, seed=4)
    for seed in range(6):
        held = choose_unseen_tools(catalog, samples, SplitConfig(seed=seed, unseen_fraction=0.15))
        assert not any(name.startswith("t1_shared") for name in held.tools)
        assert held.by_tier == {"1": 4} == held.goal_by_tier


def test_test_unseen_mixes_held_out_targets_with_seen_distractors_and_counts_calls_apart() -> None:
    catalog = make_catalog((6, 0, 0))
    mixed = Sample.create(
        query="add t1_tool_00 record 5 and a t1_tool_01 record 6",
        style="parallel_multiple",
        tools=["t1_tool_00", "t1_tool_01", "t1_tool_02"],
        calls=[
            {"name": "t1_tool_00", "arguments": {"Assign": {"5": {"T1_TOOL_00": 1}}}},
            {"name": "t1_tool_01", "arguments": {"Assign": {"6": {"T1_TOOL_01": 2}}}},
        ],
        tier=1,
    )
    result = split_samples([mixed], catalog, SplitConfig(unseen_tools=("t1_tool_00",)))
    assert [s.id for s in result.splits["test_unseen"]] == [mixed.id]
    mix = result.report.unseen_mix
    assert (
        mix["unseen_targets_with_seen_distractors"],
        mix["calls_to_held_out_tools"],
        mix["calls_to_seen_tools"],
    ) == (
        1,
        1,
        1,
    )


def test_argument_free_tools_do_not_chain_their_paths_into_one_family() -> None:
    # GEN NX: every /db path has an argument-free GET; joining them by their common empty schema made one
    # family of 889 tools
    tools = [
        _tool("get_a", "/db/A", EMPTY, method="GET"),
        _tool("get_b", "/db/B", EMPTY, method="GET"),
        _tool("post_a", "/db/A", {"type": "object", "properties": {"X": {"type": "number"}}}),
    ]
    assert endpoint_families(tools) == [["get_a", "post_a"], ["get_b"]]
