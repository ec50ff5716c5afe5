"""parse_tool_calls: every shape a model may answer in, one row each."""

from __future__ import annotations

import pytest

from trainer.inference import parse_tool_calls

W = {"name": "get_weather", "arguments": {"city": "Oslo"}}
N = {"name": "create_node", "arguments": {"id": 3, "x": 1, "y": 2}}

CASES = [
    (
        "qwen block",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>',
        [W],
        "",
    ),
    (
        "trailing text after the block",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\nDone, calling it.',
        [W],
        "Done, calling it.",
    ),
    (
        "text before the block",
        'Sure.\n<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>',
        [W],
        "Sure.",
    ),
    (
        "missing closing tag",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}',
        [W],
        "",
    ),
    (
        "missing closing tag between two blocks",
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}\n'
        '<tool_call>{"name": "create_node", "arguments": {"id": 3, "x": 1, "y": 2}}</tool_call>',
        [W, N],
        "",
    ),
    (
        "several blocks",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "create_node", "arguments": {"id": 3, "x": 1, "y": 2}}\n</tool_call>',
        [W, N],
        "",
    ),
    (
        "text after the JSON inside a block",
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}} thanks</tool_call>',
        [W],
        "",
    ),
    ("bare JSON object", '{"name": "get_weather", "arguments": {"city": "Oslo"}}', [W], ""),
    (
        "bare JSON list",
        '[{"name": "get_weather", "arguments": {"city": "Oslo"}}, '
        '{"name": "create_node", "arguments": {"id": 3, "x": 1, "y": 2}}]',
        [W, N],
        "",
    ),
    (
        "bare JSON with trailing prose",
        '{"name": "get_weather", "arguments": {"city": "Oslo"}} I asked for the weather.',
        [W],
        "I asked for the weather.",
    ),
    (
        "llama 3.1 parameters, one object per line",
        '{"name": "get_weather", "parameters": {"city": "Oslo"}}\n'
        '{"name": "create_node", "parameters": {"id": 3, "x": 1, "y": 2}}',
        [W, N],
        "",
    ),
    (
        "arguments as a JSON string",
        '<tool_call>{"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}</tool_call>',
        [W],
        "",
    ),
    (
        "openai function wrapper",
        '[{"type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}}]',
        [W],
        "",
    ),
    ("code fence", '```json\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n```', [W], ""),
    (
        "call inside prose",
        'I will call {"name": "get_weather", "arguments": {"city": "Oslo"}} now.',
        [W],
        "I will call  now.",
    ),
    (
        "no arguments key",
        '<tool_call>{"name": "list_all"}</tool_call>',
        [{"name": "list_all", "arguments": {}}],
        "",
    ),
    ("plain answer", "None of the tools can do this.", [], "None of the tools can do this."),
]


@pytest.mark.parametrize(("text", "calls", "content"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parses(text: str, calls: list[dict], content: str) -> None:
    reply = parse_tool_calls(text)
    assert reply.error is None
    assert [c.canonical() for c in reply.calls] == calls
    assert reply.content == content


ERRORS = [
    ("garbage in a block", "<tool_call>garbage</tool_call>", "not valid JSON"),
    ("empty block", "<tool_call></tool_call>", "empty"),
    ("truncated JSON", '<tool_call>{"name": "get_weather", "arguments": {"ci', "not valid JSON"),
    ("bare truncated JSON", '{"name": "get_weather", "argu', "not valid JSON"),
    ("object without name", '{"city": "Oslo"}', "no 'name'"),
    (
        "arguments not an object",
        '<tool_call>{"name": "x", "arguments": [1, 2]}</tool_call>',
        "must be an object",
    ),
    (
        "string arguments not JSON",
        '<tool_call>{"name": "x", "arguments": "city=Oslo"}</tool_call>',
        "not JSON",
    ),
    ("list of non-objects", "[1, 2]", "expected a JSON object"),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_reports_unreadable_calls(text: str, message: str) -> None:
    reply = parse_tool_calls(text)
    assert reply.error is not None and message in reply.error
    assert reply.calls == []


def test_keeps_readable_blocks_beside_a_broken_one() -> None:
    reply = parse_tool_calls(
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call><tool_call>{oops</tool_call>'
    )
    assert [c.canonical() for c in reply.calls] == [W]
    assert reply.error is not None and "block 2" in reply.error
