"""Reading the JSON object a teacher meant to write."""

from __future__ import annotations

import pytest

from generators.parsing import JSONExtractionError, nesting_depth, parse_json_object

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


ANSWER = '{"query": "Add node 1", "calls": []}'


@pytest.mark.parametrize(
    "text",
    [
        f'```json\n{{"type": "object", "required": ["query"]}}\n```\nThe answer:\n```json\n{ANSWER}\n```',
        f'Draft: {{"query": "Add node 1"}}\nFinal: {ANSWER}',
        f'```\n{{"calls": []}}\n```\n```\n{ANSWER}\n```',
        f'{{"note": "x"}}\n```json\n{ANSWER[:-1]},}}\n```',  # the preferred one needs its comma fixed
    ],
    ids=["schema-fence-first", "draft-then-final", "half-then-whole", "preferred-with-trailing-comma"],
)
def test_the_object_with_the_preferred_keys_wins_over_an_earlier_one(text: str) -> None:
    assert parse_json_object(text, prefer=("query", "calls")) == {"query": "Add node 1", "calls": []}


def test_without_a_preferred_object_the_first_object_is_returned() -> None:
    text = '```json\n{"a": 1}\n```\n```json\n{"query": "q"}\n```'
    assert parse_json_object(text, prefer=("query", "calls")) == {"a": 1}


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


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"query": "q", "calls": ' + "[" * 1_000 + "]" * 1_000 + "}", "too_deep"),
        ("Sure: " + "{" * 100_000, "too_deep"),  # unbalanced: refused before any parser recurses
        ('{"query": "' + "x" * 200_001 + '"}', "too_large"),
        ('{"query": "cut', "malformed_json"),
    ],
    ids=["1000-deep", "unclosed-100k", "over-200k-chars", "malformed"],
)
def test_a_hostile_reply_is_a_coded_error_not_a_crash(text: str, code: str) -> None:
    with pytest.raises(JSONExtractionError) as caught:
        parse_json_object(text)
    assert caught.value.code == code


def test_brackets_inside_strings_do_not_count_towards_depth() -> None:
    text = '{"query": "[[[[ \\" {{{{ ]]", "calls": [{"name": "a", "arguments": {"b": [[1]]}}]}'
    assert nesting_depth(text) == 6
    assert parse_json_object(text, max_depth=6)["calls"][0]["arguments"] == {"b": [[1]]}
    with pytest.raises(JSONExtractionError, match="nests 6 levels"):
        parse_json_object(text, max_depth=5)


def test_quotes_in_prose_around_the_object_do_not_hide_its_depth() -> None:
    assert nesting_depth('He said "here": {"a": [[[1]]]} and "bye"') == 4


def test_a_raised_depth_limit_still_cannot_crash() -> None:
    """With the limit lifted above the interpreter's recursion limit, json.loads's RecursionError
    becomes the same coded error."""
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(JSONExtractionError) as caught:
        parse_json_object('{"a": ' + deep + "}", max_depth=10**6, max_chars=10**6)
    assert caught.value.code == "too_deep"
