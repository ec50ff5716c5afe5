"""Discovery through the entry-point group, configuration errors, run order, and a real plugin package."""

from __future__ import annotations

import importlib
import importlib.metadata

import pytest

from schemas.errors import ConfigError
from tests.verifiers.verifier_fixtures import fixture_ctx, node, sample
from verifiers.base import VerifierOptions
from verifiers.format import FormatVerifier
from verifiers.pipeline import run_verifiers
from verifiers.registry import DEFAULT_VERIFIERS, available, load_verifiers, order_verifiers
from verifiers.testing import check_verifier


def test_builtins_are_registered_through_the_entry_point_group():
    eps = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="callforge.verifiers")}
    assert {k: eps[k] for k in ("format", "semantic", "dedup")} == {
        "format": "verifiers.format:FormatVerifier",
        "semantic": "verifiers.semantic:SemanticVerifier",
        "dedup": "verifiers.dedup:DedupVerifier",
    }


def test_available_returns_the_builtin_classes():
    assert available()["format"] is FormatVerifier


def test_default_selection_is_the_four_builtins():
    assert DEFAULT_VERIFIERS == ("format", "execution", "semantic", "dedup")


def test_load_orders_by_requires_then_cost():
    assert [v.name for v in load_verifiers(["semantic", "dedup", "format"])] == [
        "format",
        "dedup",
        "semantic",
    ]


def test_unknown_verifier_name_lists_the_registered_ones():
    with pytest.raises(ConfigError, match=r"unknown verifier 'formt'.*format.*semantic"):
        load_verifiers(["formt"])


def test_unknown_option_names_verifier_key_and_valid_keys():
    with pytest.raises(
        ConfigError,
        match=r"verifier 'dedup': unknown option\(s\) 'treshold'; valid options: near, seen_file, threshold",
    ):
        load_verifiers(["dedup"], {"dedup": {"treshold": 0.8}})


def test_invalid_option_value_names_the_key():
    with pytest.raises(ConfigError, match=r"verifier 'dedup': invalid options: threshold"):
        load_verifiers(["dedup"], {"dedup": {"threshold": 3}})


def test_options_for_a_verifier_not_selected_are_rejected():
    with pytest.raises(ConfigError, match="not selected: 'semantic'"):
        load_verifiers(["format"], {"semantic": {"mode": "judge"}})


def test_requiring_a_verifier_that_is_not_selected_is_rejected():
    with pytest.raises(ConfigError, match="'semantic' requires 'format', which is not selected"):
        load_verifiers(["semantic"])


class _Node:
    """Minimal verifier-shaped objects for ordering (never run)."""

    class Options(VerifierOptions):
        pass

    def __init__(self, name, cost, requires=()):
        self.name, self.cost, self.requires = name, cost, tuple(requires)

    def verify(self, samples, ctx):
        raise AssertionError("not run")


def test_order_is_topological_before_cheapest():
    ordered = order_verifiers(
        [_Node("judge", 1, ["exec"]), _Node("exec", 100), _Node("fmt", 10), _Node("dup", 20)]
    )
    assert [v.name for v in ordered] == ["fmt", "dup", "exec", "judge"]


def test_requirement_cycles_are_rejected():
    with pytest.raises(ConfigError, match="cycle"):
        order_verifiers([_Node("a", 1, ["b"]), _Node("b", 1, ["a"])])


# ------------------------------------------------------------------------------ the example plugin


def test_plugin_package_is_discovered_through_its_entry_point(example_plugin):
    assert available()["query_length"].__module__ == "callforge_example_verifier"


def test_plugin_is_not_run_unless_named(example_plugin):
    assert "query_length" not in [v.name for v in load_verifiers(["format", "semantic", "dedup"])]


def test_plugin_options_are_validated(example_plugin):
    with pytest.raises(ConfigError, match="valid options: max_chars, min_chars"):
        load_verifiers(["query_length"], {"query_length": {"min_char": 3}})


def test_plugin_conforms_to_the_contract(example_plugin):
    cls = available()["query_length"]
    check_verifier(
        cls, [sample("Add node 1 at the origin", [node("1", 0, 0, 0)], ["post_db_node"])], fixture_ctx()
    )


def test_plugin_runs_first_in_a_pipeline_and_rejects_short_queries(example_plugin):
    verifiers = load_verifiers(["format", "query_length"], {"query_length": {"min_chars": 10}})
    short = sample("Node 1?", [node("1", 0, 0, 0)], ["post_db_node"])
    result = run_verifiers([short], verifiers, fixture_ctx())
    assert [(v.verifier, v.code) for v in result.verdicts] == [("query_length", "query_too_short")]
