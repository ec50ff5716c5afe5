"""Reading the JSON object a teacher meant to write."""

from __future__ import annotations

import pytest

from generators.parsing import JSONExtractionError, parse_json_object

EXPECTED = {
    "query": "Add node 1",
    "calls": [{"name": "post_db_node", "arguments": {"Assign": {"1": {"X": 0}}}}],
}
PLAIN = (
    '{"query": "Add node 1", "calls": [{"name": "post_db_node", "arguments": {"Assign": {"1": {"X": 0}}}}]}'
)


@pytest.mark.parametrize(
    "text",
    [
        PLAIN,
        f"  \n{PLAIN}\n",
        f"```json\n{PLAIN}\n```",
        f"```\n{PLAIN}```",
        f"Here is the sample:\n```json\n{PLAIN}\n```\nHope it helps!",
        f"Sure! {PLAIN} Let me know.",
        PLAIN.replace("}}}}]", "}}}},],").replace("]}", "],}"),
        f"```json\n{PLAIN[:-1]},\n}}\n```",
    ],
    ids=[
        "plain",
        "whitespace",
        "fence",
        "bare-fence",
        "fence-with-prose",
        "prose-around",
        "trailing-commas",
        "fenced-trailing",
    ],
)
def test_the_object_is_found(text: str) -> None:
    assert parse_json_object(text) == EXPECTED


def test_braces_inside_strings_do_not_confuse_the_scan() -> None:
    text = 'Note {draft}: {"query": "use {braces} and \\"quotes\\" {", "calls": []} trailing }'
    assert parse_json_object(text) == {"query": 'use {braces} and "quotes" {', "calls": []}


def test_the_first_object_wins() -> None:
    assert parse_json_object('{"a": 1} and {"b": 2}') == {"a": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("no json here", "no JSON object"),
        ('["a", "b"]', "expected an object"),
        ('{"query": "cut off", "calls": [', "no JSON object"),
    ],
)
def test_no_object_is_an_error_that_says_so(text: str, message: str) -> None:
    with pytest.raises(JSONExtractionError, match=message):
        parse_json_object(text)
