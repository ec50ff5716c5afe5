"""Grounding: which argument values the query states (one row per rule, English and Korean)."""

from __future__ import annotations

import pytest

from tests.verifiers.verifier_fixtures import fixture_ctx
from verifiers.grounding import QueryFacts, grounded, leaves

TOOLS = fixture_ctx().catalog


def leaf_of(tool: str, arguments: dict, path: tuple):
    found = [leaf for leaf in leaves(arguments, TOOLS[tool].parameters) if leaf.path == path]
    assert found, f"no leaf at {path}"
    return found[0]


@pytest.mark.parametrize(
    ("query", "tool", "arguments", "path", "expected"),
    [
        # numbers
        ("Resize to width 10 and height 20", "resize_image", {"width": 10.0, "height": 20}, ("width",), True),
        ("Resize to width 10.0 and height 20", "resize_image", {"width": 10, "height": 20}, ("width",), True),
        ("Resize to width 1,000", "resize_image", {"width": 1000, "height": 1}, ("width",), True),
        ("Resize to width three", "resize_image", {"width": 3, "height": 1}, ("width",), True),
        ("Resize to width 7", "resize_image", {"width": 8, "height": 1}, ("width",), False),
        (
            "Add node 1 at the origin",
            "post_db_node",
            {"Assign": {"1": {"X": 0, "Y": 0, "Z": 0}}},
            ("Assign", "1", "X"),
            True,
        ),
        (
            "절점 1번을 원점에 추가해줘",
            "post_db_node",
            {"Assign": {"1": {"X": 0, "Y": 0, "Z": 0}}},
            ("Assign", "1", "Z"),
            True,
        ),
        (
            "Add node 1 at X minus 5",
            "post_db_node",
            {"Assign": {"1": {"X": -5, "Y": 0, "Z": 0}}},
            ("Assign", "1", "X"),
            True,
        ),
        (
            "Add node 1 at X 5",
            "post_db_node",
            {"Assign": {"1": {"X": -5, "Y": 0, "Z": 0}}},
            ("Assign", "1", "X"),
            False,
        ),
        # map keys are values too
        (
            "절점 12번을 원점에 추가해줘",
            "post_db_node",
            {"Assign": {"12": {"X": 0, "Y": 0, "Z": 0}}},
            ("Assign", "12"),
            True,
        ),
        (
            "절점 12번을 원점에 추가해줘",
            "post_db_node",
            {"Assign": {"13": {"X": 0, "Y": 0, "Z": 0}}},
            ("Assign", "13"),
            False,
        ),
        # strings
        ("What's the weather in paris?", "get_weather", {"city": "Paris"}, ("city",), True),
        ("서울의 날씨 알려줘", "get_weather", {"city": "서울"}, ("city",), True),
        ("서울의 날씨 알려줘", "get_weather", {"city": "부산"}, ("city",), False),
        ("What's the weather in Paris?", "get_weather", {"city": "London"}, ("city",), False),
        (
            "Register Kim Min-su (kim@example.com)",
            "create_user",
            {"name": "kim min-su", "email": "kim@example.com"},
            ("name",),
            True,
        ),
        # enums, defaults and booleans
        (
            "Weather in Oslo in fahrenheit",
            "get_weather",
            {"city": "Oslo", "unit": "fahrenheit"},
            ("unit",),
            True,
        ),
        (
            "Weather in Oslo",
            "get_weather",
            {"city": "Oslo", "unit": "celsius"},
            ("unit",),
            True,
        ),  # the default
        (
            "Weather in Oslo, unit of your choice",
            "get_weather",
            {"city": "Oslo", "unit": "fahrenheit"},
            ("unit",),
            True,
        ),
        ("Weather in Oslo", "get_weather", {"city": "Oslo", "unit": "fahrenheit"}, ("unit",), False),
        (
            "Register Ann (a@b.co) and subscribe to the newsletter",
            "create_user",
            {"name": "Ann", "email": "a@b.co", "newsletter": True},
            ("newsletter",),
            True,
        ),
        (
            "Register Ann (a@b.co)",
            "create_user",
            {"name": "Ann", "email": "a@b.co", "newsletter": True},
            ("newsletter",),
            False,
        ),
        (
            "Register Ann (a@b.co)",
            "create_user",
            {"name": "Ann", "email": "a@b.co", "newsletter": False},
            ("newsletter",),
            True,
        ),
    ],
)
def test_grounding(query, tool, arguments, path, expected):
    assert grounded(leaf_of(tool, arguments, path), QueryFacts(query)) is expected


def test_iso_dates_match_year_month_and_day_in_any_order():
    leaf = leaf_of("create_user", {"name": "2024-05-01", "email": "a@b.co"}, ("name",))
    assert grounded(leaf, QueryFacts("2024년 5월 1일 가입한 사용자")) is True


def test_leaves_include_map_keys_and_array_items():
    arguments = {"Assign": {"7": {"TYPE": "BEAM", "MATL": 1, "SECT": 2, "NODE": [3, 4]}}}
    paths = [leaf.path for leaf in leaves(arguments, TOOLS["post_db_elem"].parameters)]
    assert paths == [
        ("Assign", "7"),
        ("Assign", "7", "TYPE"),
        ("Assign", "7", "MATL"),
        ("Assign", "7", "SECT"),
        ("Assign", "7", "NODE", 0),
        ("Assign", "7", "NODE", 1),
    ]
