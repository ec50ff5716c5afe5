"""TierRules: loading from YAML, first-match-wins assignment, quotas, and errors that name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import ConfigError
from schemas.tiers import DEFAULT_QUOTAS, TierRules

RULES_YAML = """\
default_tier: 3
quotas: {1: [15, 20], 2: [5, 10], 3: [0, 2]}
rules:
  - tier: 1
    category: modeling
    paths: ["/db/NODE", "/db/S*"]
    methods: [POST]
  - tier: 2
    category: loads
    tags: ["DB_*Loads"]
  - tier: 1
    category: picked
    tools: [get_view_select]
  - tier: 2
    category: any_db_read
    paths: ["/db/*"]
    methods: [get]
  - tier: 3
    category: node_fallback
    paths: ["/db/NODE"]
"""


@pytest.fixture
def rules(tmp_path: Path) -> TierRules:
    path = tmp_path / "tiers.yaml"
    path.write_text(RULES_YAML)
    return TierRules.load(path)


@pytest.mark.parametrize(
    ("path", "method", "tags", "name", "expected"),
    [
        # path glob + method filter
        ("/db/NODE", "POST", [], "post_db_node", (1, "modeling")),
        ("/db/SECT", "post", [], "post_db_sect", (1, "modeling")),  # glob, method case-insensitive
        ("/db/sect", "POST", [], "post_db_sect_lower", (3, None)),  # globs are case-sensitive
        # method filter rejects PUT, falls through to later rules / default
        ("/db/NODE", "PUT", [], "put_db_node", (3, "node_fallback")),
        # tag glob: any tag of the tool may match
        ("/db/MVLD", "PUT", ["Other", "DB_Moving Loads"], "put_db_mvld", (2, "loads")),
        # explicit tool name
        ("/view/SELECT", "GET", ["VIEW"], "get_view_select", (1, "picked")),
        # first match wins: GET /db/NODE matches rule 4 before the /db/NODE fallback (rule 5)
        ("/db/NODE", "GET", [], "get_db_node", (2, "any_db_read")),
        # unmatched -> default tier, no category
        ("/ope/AUTOMESH", "POST", ["OPE"], "post_ope_automesh", (3, None)),
    ],
)
def test_assign(
    rules: TierRules, path: str, method: str, tags: list[str], name: str, expected: tuple
) -> None:
    assert rules.assign(path=path, method=method, tags=tags, name=name) == expected


def test_quotas_are_read_as_int_tiers_and_pairs(rules: TierRules) -> None:
    assert rules.quotas == {1: (15, 20), 2: (5, 10), 3: (0, 2)}
    assert rules.quota(2) == (5, 10)
    assert rules.quota(None) is None


def test_omitted_quotas_default_to_the_seed_counts() -> None:
    assert TierRules.from_mapping({"rules": []}).quotas == DEFAULT_QUOTAS


def test_null_default_tier_leaves_unmatched_tools_untiered() -> None:
    rules = TierRules.from_mapping({"default_tier": None, "rules": [{"tier": 1, "paths": ["/a"]}]})
    assert rules.assign(path="/b", method="GET", tags=[], name="get_b") == (None, None)


def test_empty_file_is_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    rules = TierRules.load(path)
    assert (rules.default_tier, rules.rules) == (3, ())


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "rules:\n  - {tier: 1, paths: [/a]}\n  - {tier: 7, paths: [/b]}\n",
            ["rules[1].tier", "1, 2 or 3", "7"],
        ),
        (
            "rules:\n  - {tier: 1, paths: [/a]}\n  - {tier: 2, category: x}\n",
            ["rules[1]", "at least one matcher"],
        ),
        ("rules:\n  - {tier: 1, path: [/a]}\n", ["rules[0].path", "unknown key", "paths"]),
        ("rules:\n  - {tier: 1, tags: []}\n", ["rules[0].tags", "at least one entry"]),
        ("rules:\n  - {tier: true, tools: [x]}\n", ["rules[0].tier", "True"]),
        ("quotas: {1: [20, 15]}\n", ["quotas", "min must be <= max", "[20, 15]"]),
        ("quotas: {4: [1, 2]}\n", ["quotas", "got 4"]),
        ("quotas: {1: [-1, 2]}\n", ["quotas", ">= 0"]),
        ("default_tier: 0\n", ["default_tier", "1, 2, 3 or null"]),
        ("defaults: 3\n", ["defaults", "unknown key", "default_tier"]),
        ("- just\n- a list\n", ["expected a mapping"]),
        ("rules: [\n", ["not valid YAML"]),
    ],
)
def test_bad_files_name_the_file_and_the_key(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = tmp_path / "bad_tiers.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        TierRules.load(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_missing_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        TierRules.load(missing)
