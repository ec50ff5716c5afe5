"""The tool-call grammar behind constrained decoding (``trainer.evaluation.call_grammar``), without a model.

Random walks through the grammar stand in for a model that picks any allowed character: with the
budget respected, every walk must end in a reply the real parser reads and the real validators
(``jsonschema`` and the format verifier) accept.
"""

from __future__ import annotations

import random
from typing import Any

import jsonschema
import pytest

from schemas.openapi import ingest
from tests.trainer.evaluation.evaluation_fixtures import SANDBOX_SPECS
from trainer.evaluation.call_grammar import Grammar
from trainer.evaluation.schema_nodes import number_cost, simple_pattern
from trainer.replies import parse_tool_calls
from verifiers.format import check_call

ALPHABET = "".join(chr(c) for c in range(32, 127)) + "\néß한"


def tool(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": "", "parameters": parameters}}


def obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or list(properties), **extra}


SCHEMAS = {
    "scalars": obj(
        {
            "city": {"type": "string", "minLength": 2, "maxLength": 5},
            "n": {"type": "integer", "minimum": -3, "maximum": 12},
            "x": {"type": "number", "exclusiveMinimum": 0.5, "maximum": 2},
            "ok": {"type": "boolean"},
            "unit": {"enum": ["m", "mm", 3, None]},
        },
        ["city", "n", "x"],
    ),
    "map": obj(
        {
            "Assign": {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 3,
                "propertyNames": {"pattern": "^[0-9]+$"},
                "additionalProperties": obj({"X": {"type": "number"}, "Y": {"type": "number", "minimum": 0}}),
            }
        }
    ),
    "arrays": obj(
        {
            "ids": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1},
                "minItems": 2,
                "maxItems": 3,
            },
            "tag": {"type": ["string", "null"], "pattern": "^[a-z]{2,4}$"},
        }
    ),
    "recursive": {
        **obj({"tree": {"$ref": "#/$defs/T"}}),
        "$defs": {
            "T": obj(
                {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/T"}}}, ["v"]
            )
        },
    },
    "alternatives": obj(
        {
            "p": {"anyOf": [{"const": "a"}, obj({"q": {"type": "integer"}})]},
            "r": {"allOf": [obj({"s": {"type": "string"}})]},
        }
    ),
    "no-arguments": obj({}),
    "open": {"type": "object", "additionalProperties": True},
}


def random_reply(grammar: Grammar, rng: random.Random, budget: int) -> str:
    """Pick allowed characters at random, keeping within ``budget``, until the reply may end."""
    state, text = grammar.start(), ""
    for used in range(budget):
        choices = [
            c
            for c in grammar.next_chars(state, ALPHABET)
            if grammar.cost(grammar.step(state, c)) < budget - used
        ]
        if grammar.can_end(state) and (not choices or rng.random() < 0.3):
            return text
        assert choices, f"stuck after {text!r}"
        ch = rng.choice(choices)
        text, state = text + ch, grammar.step(state, ch)
    assert grammar.can_end(state), f"budget {budget} ran out in {text!r}"
    return text


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_random_replies_are_valid_calls(name: str) -> None:
    other = tool("other", obj({"a": {"type": "string"}}))
    tools = [tool(name, SCHEMAS[name]), other]
    grammar, rng = Grammar(tools, max_calls=2), random.Random(name)
    for _ in range(25):
        parsed = parse_tool_calls(random_reply(grammar, rng, rng.choice([90, 160, 320])))
        assert parsed.error is None and 1 <= len(parsed.calls) <= 2
        for call in parsed.calls:
            schema = SCHEMAS[name] if call.name == name else other["function"]["parameters"]
            jsonschema.validate(call.arguments, schema)


def test_random_replies_to_gennx_tools_pass_the_format_verifier() -> None:
    catalog = ingest([str(SANDBOX_SPECS / "gennx_mini.yaml")], naming="snake").catalog
    grammar, rng = Grammar([t.openai_schema() for t in catalog], max_calls=3), random.Random(7)
    for _ in range(60):
        parsed = parse_tool_calls(random_reply(grammar, rng, rng.choice([100, 200])))
        assert parsed.error is None and parsed.calls
        assert [check_call(catalog.get(c.name), c) for c in parsed.calls] == [[]] * len(parsed.calls)


WEATHER = [
    tool(
        "get_weather", obj({"city": {"type": "string"}, "days": {"type": "integer", "maximum": 7}}, ["city"])
    )
]


@pytest.mark.parametrize(
    ("reply", "accepted"),
    [
        ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>', True),
        (
            '<tool_call>\n{"name": "get_weather", "arguments": {"days": 3, "city": "Oslo"}}\n</tool_call>',
            True,
        ),
        (
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n' * 2 + "x",
            False,
        ),
        (
            '<tool_call>\n{"name": "get_time", "arguments": {"city": "Oslo"}}\n</tool_call>',
            False,
        ),  # not offered
        (
            '<tool_call>\n{"name": "get_weather", "arguments": {"days": 3}}\n</tool_call>',
            False,
        ),  # city missing
        (
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "C"}}\n</tool_call>',
            False,
        ),
        ('<tool_call>\n{"name": "get_weather", "arguments": {"city": 5}}\n</tool_call>', False),  # wrong type
        (
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "days": 8}}\n</tool_call>',
            False,
        ),
        (
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "days": 2.5}}\n</tool_call>',
            False,
        ),
        ('<tool_call>\n{"name":"get_weather","arguments":{"city":"Oslo"}}\n</tool_call>', False),  # layout
        ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}', False),  # unfinished
        ("The weather is nice.", False),  # a constrained model always calls
    ],
)
def test_grammar_accepts_exactly_valid_replies(reply: str, accepted: bool) -> None:
    assert Grammar(WEATHER).accepts(reply) is accepted


def test_more_calls_than_max_calls_are_refused() -> None:
    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
    grammar = Grammar(WEATHER, max_calls=2)
    assert grammar.accepts("\n".join([call] * 2)) and not grammar.accepts("\n".join([call] * 3))


def test_without_tools_the_only_reply_is_empty() -> None:
    grammar = Grammar([])
    assert grammar.accepts("") and not grammar.accepts("<") and grammar.cost(grammar.start()) == 0


def test_cost_of_the_start_is_the_shortest_reply() -> None:
    shortest = '<tool_call>\n{"name": "get_weather", "arguments": {"city": ""}}\n</tool_call>'
    grammar = Grammar(WEATHER)  # measure = len: one token per character
    assert grammar.cost(grammar.start()) == len(shortest) and grammar.accepts(shortest)


@pytest.mark.parametrize(
    ("text", "spec", "cost"),
    [
        ("", (True, None, None, False, False), 1),
        ("-", (False, None, None, False, False), 1),
        ("1.", (False, None, None, False, False), 1),
        ("12", (True, None, None, False, False), 0),
        ("", (True, 10, 20, False, False), 2),  # "10"
        ("2", (True, 10, 20, False, False), 1),  # "20"
        ("3", (True, 10, 20, False, False), None),  # 3 and 3x are out of range
        ("1", (True, 10, 20, False, False), 1),
        ("", (False, 0, 1, True, False), 1),  # "1": 0 is excluded, 1 is not
        ("", (False, 0, 1, True, True), 3),  # both excluded: "0.1"
        ("0.", (False, 0.25, 0.29, False, False), 2),  # "0.25"
        ("-", (True, 0, None, False, False), 1),  # "-0" is 0
        ("-1", (True, 0, None, False, False), None),
        ("01", (True, None, None, False, False), None),  # no leading zeros in JSON
    ],
)
def test_number_cost(text: str, spec: tuple, cost: int | None) -> None:
    from fractions import Fraction

    integer, lo, hi, lo_strict, hi_strict = spec
    spec = (integer, *(None if b is None else Fraction(str(b)) for b in (lo, hi)), lo_strict, hi_strict)
    assert number_cost(text, spec) == cost


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("^[0-9]+$", ("0123456789", 1, None)),
        (r"^\d{2,4}$", ("0123456789", 2, 4)),
        ("^[a-c_]*$", ("_abc", 0, None)),
        ("^[a-c]{3}$", ("abc", 3, 3)),
        ("^[^a]+$", None),  # negated classes are not enforced
        ("^(ab)+$", None),
    ],
)
def test_simple_patterns(pattern: str, expected) -> None:
    found = simple_pattern(pattern)
    assert (found and ("".join(sorted(found[0])), found[1], found[2])) == expected


def _token_texts(count: int, seed: int) -> dict[int, str]:
    """A synthetic vocabulary: words, digits, JSON punctuation, quotes in odd places, every ASCII char."""
    rng = random.Random(seed)
    pieces = ['"', '",', '"}', "{", "}", ": ", ", ", "\n", "\\", "0", "12", " x", "ab", "9", '1"', 'a"}']
    texts = {i: chr(c) for i, c in enumerate(range(32, 127))}
    while len(texts) < count:
        word = "".join(rng.choice("abcxyz0123456789 ") for _ in range(rng.randint(1, 6)))
        texts[len(texts)] = (
            word + rng.choice(["", "", *pieces]) if rng.random() < 0.5 else rng.choice(pieces) + word
        )
    return texts


@pytest.mark.parametrize(
    "prefix",
    [
        '<tool_call>\n{"name": "t", "arguments": {"free": "',
        '<tool_call>\n{"name": "t", "arguments": {"free": "ab',
        '<tool_call>\n{"name": "t", "arguments": {"short": "a',
        '<tool_call>\n{"name": "t", "arguments": {"digits": "',
        '<tool_call>\n{"name": "t", "arguments": {"map": {"',
    ],
)
def test_fast_string_walk_allows_what_the_full_walk_allows(prefix: str) -> None:
    from trainer.evaluation.constrained import Vocabulary, walk_trie

    schema = obj(
        {
            "free": {"type": "string"},
            "short": {"type": "string", "minLength": 2, "maxLength": 3},
            "digits": {"type": "string", "pattern": "^[0-9]{1,4}$"},
            "map": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
        [],
    )
    grammar, vocabulary = Grammar([tool("t", schema)]), Vocabulary(_token_texts(3000, 1), eos_ids=[9999])
    state = grammar.feed(grammar.start(), prefix)
    fast = sorted(zip(*(a.tolist() for a in vocabulary.walk(grammar, state)), strict=True))
    full = sorted(zip(*(a.tolist() for a in walk_trie(vocabulary.trie, grammar, state).every()), strict=True))
    assert fast == full and len(full) > 10
