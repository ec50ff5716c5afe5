"""Prompts that ask a teacher for one sample, in the manner of APIGen (our own wording).

The teacher sees the offered tools' JSON Schemas, the query style, the language, the calls to make
in order, the rules a good sample follows, and a few examples; it answers with one JSON object
``{"query": ..., "calls": [{"name": ..., "arguments": {...}}]}`` (:data:`RESPONSE_SCHEMA`).

:data:`PROMPT_VERSION` enters the teacher cache key: change it whenever the wording changes, so cached
answers to the old prompt are not reused for the new one.

The user message carries two machine-readable anchors the loopback test teacher also reads: the
``<tools>...</tools>`` block (JSON) and the ``Target calls in order: [...]`` line (JSON).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from generators.plan import WorkItem
from generators.seed_pool import SeedExample
from schemas.models import Style, Tool

PROMPT_VERSION = "apigen-v1"

RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1},
        "calls": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "arguments": {"type": "object"}},
                "required": ["name", "arguments"],
            },
        },
    },
    "required": ["query", "calls"],
}

SYSTEM = (
    "You write training data for function calling. Given a set of tools described by JSON Schemas, you "
    "invent one realistic request a user of those tools could make, and the exact function calls that "
    "fulfil it. Reply with a single JSON object and nothing else: "
    '{"query": "<the user\'s request>", "calls": [{"name": "<tool name>", "arguments": {...}}]}.'
)

LANGUAGES = {
    "en": "English",
    "ko": "Korean (natural Korean as an engineer would type it; keep identifiers, codes and numbers as they are)",
}

STYLE_TASKS = {
    Style.SIMPLE: "One request that needs exactly one call to the target tool.",
    Style.MULTIPLE: (
        "Several tools are offered but the request needs exactly one call, to the target tool. Make the "
        "request clearly point to the target rather than its look-alikes, without naming any tool."
    ),
    Style.PARALLEL: (
        "One request that needs the target tool called {n} times, each with different arguments "
        "(for example the same operation on {n} different items), all in one reply."
    ),
    Style.PARALLEL_MULTIPLE: (
        "One request that needs {n} calls, in this order, across different tools: a single task a user "
        "would naturally ask for in one breath."
    ),
    Style.IRRELEVANCE: (
        "A request that NONE of the offered tools can fulfil, so the correct answer makes no call "
        '("calls": []). Make it plausible for the same user, about this task: {subject}'
    ),
}

RULES = (
    "Rules:\n"
    "- The query states every value the arguments use (ids, numbers, names, options), so the calls follow "
    "from the query alone; never leave a value for the model to invent.\n"
    "- Arguments validate against the tool's parameters schema: the right types, only enum values, every "
    "required key, no keys the schema does not define.\n"
    "- Use realistic values for the tools' domain, and vary them; do not copy the examples' values.\n"
    "- Write the query as a user would: no tool names, no JSON, no mention of an API."
)


def tool_block(tools: list[Tool]) -> str:
    """The offered tools as an OpenAI ``tools`` JSON list."""
    return json.dumps([t.openai_schema() for t in tools], ensure_ascii=False, indent=1)


def _example_block(examples: list[SeedExample]) -> str:
    lines = []
    for i, example in enumerate(examples, 1):
        lines.append(
            f"Example {i} ({example.style.value}, {example.language}; tools offered: {example.tools}):"
        )
        lines.append(json.dumps(example.answer(), ensure_ascii=False))
    return "\n".join(lines)


def build_messages(
    item: WorkItem, offered: list[Tool], *, subject: Tool | None = None, examples: Sequence[SeedExample] = ()
) -> list[dict[str, str]]:
    """System and user messages asking for the sample ``item`` describes."""
    style = Style(item.style)
    task = STYLE_TASKS[style].format(
        n=item.n_calls,
        subject=(subject.description or subject.name) if subject is not None else "something unrelated",
    )
    language = LANGUAGES.get(item.language, item.language)
    parts = [
        "Tools offered to the model:",
        f"<tools>\n{tool_block(offered)}\n</tools>",
        "",
        f"Style: {style.value}. {task}",
        f"Language: {item.language} - write the query in {language}.",
        f"Number of calls: {item.n_calls}",
        f"Target calls in order: {json.dumps(item.targets)}",
        "",
        RULES,
    ]
    if examples:
        parts += [
            "",
            "Examples of the answer format (their tools may differ from yours):",
            _example_block(list(examples)),
        ]
    parts += ["", "Answer with the JSON object only."]
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n".join(parts)}]
