"""Prompts that ask a teacher for one sample, in the manner of APIGen (our own wording).

The teacher sees the tools to call with their JSON Schemas (the other offered tools by description),
the spec's own example request and the allowed values of each tool to call
(:mod:`generators.prompt_tools`), the query style, the language, the calls to make in order, the rules
a good sample follows, and a few examples of the same style; it answers with one JSON object
``{"query": ..., "calls": [{"name": ..., "arguments": {...}}]}`` (:data:`RESPONSE_SCHEMA`).

What the prompt says agrees with what the API does: a tool that clears a whole table (GEN NX DELETE)
is asked for as "clear all …", never "delete record 3"; ``parallel`` means several independent
requests (rows the user wants written together belong in one call's ``Assign``); ``parallel_multiple``
asks for one piece of work across the tools, or plainly separate asks where the tools share none.

Size: a prompt's user message is at most :data:`MAX_PROMPT_CHARS` characters. The tools to call are
shown with at most :data:`~generators.prompt_tools.VARIANTS_SHOWN` variants each; over the bound the
prompt is rebuilt with fewer variants, then fewer few-shot examples, then without the spec example
(``benchmarks/teacher_replay.py`` measures a whole plan's prompts against the bound).

:data:`PROMPT_VERSION` enters the teacher cache key: change it whenever the wording changes, so cached
answers to the old prompt are not reused for the new one.

The user message carries two machine-readable anchors the loopback test teacher also reads: the
``<tools>...</tools>`` block (JSON) and the ``Target calls in order: [...]`` line (JSON).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from generators.plan import WorkItem
from generators.prompt_tools import VARIANTS_SHOWN, tools_section
from generators.seed_pool import SeedExample
from schemas.models import Style, Tool

PROMPT_VERSION = "apigen-v2"

# 24,000 characters (~8k tokens) leaves any 16k-context teacher room to answer. Measured over the whole
# GEN NX plan (10,063 items; benchmarks/teacher_replay.py prints it): median 3,535 characters, largest
# 23,942 once the reductions below apply (a parallel_multiple of three large row schemas).
MAX_PROMPT_CHARS = 24_000

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
        "One message with {n} independent requests, each answered by its own call to the target tool "
        "(for example {n} separate changes the user lists one after another). A call that takes several "
        "rows at once (an `Assign` map) writes the rows of ONE request together; here the user asks for "
        "{n} separate things, so make {n} calls, each complete on its own."
    ),
    Style.PARALLEL_MULTIPLE: (
        "One message that needs {n} calls, in this order, to the tools listed as targets. Where the tools "
        "belong to one workflow (create something, then load, support or analyse it), ask for that piece "
        "of work in one breath; where they share nothing, ask for {n} plainly separate things in one "
        "message rather than inventing a link between them."
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
    '- State values the way people say them ("node 5", "3.5 m up", "the KS21 database"), but keep every '
    "argument exactly equal to a value the query states.\n"
    "- Arguments validate against the tool's parameters schema: the right types, only allowed values, every "
    "required key, no keys the schema does not define. For a code field use only the allowed values or the "
    "codes of the API's example shown above; never invent a code that merely looks plausible.\n"
    "- Use realistic values for the tools' domain, and vary them; do not copy the examples' values.\n"
    "- Write the query as a user would: no tool names, no JSON, no mention of an API."
)

# A tool that empties its whole table whatever ids are sent (GEN NX DELETE on /db/*): its summary says so.
_CLEARS_TABLE = re.compile(r"^\s*clear all\b|empties the whole", re.I)


def clears_whole_table(tool: Tool) -> bool:
    """Whether ``tool``'s description says it clears its whole table (so a query must ask for that)."""
    return bool(_CLEARS_TABLE.search(tool.description or ""))


def _example_block(examples: list[SeedExample]) -> str:
    lines = []
    for i, example in enumerate(examples, 1):
        lines.append(
            f"Example {i} ({example.style.value}, {example.language}; tools offered: {example.tools}):"
        )
        lines.append(json.dumps(example.answer(), ensure_ascii=False))
    return "\n".join(lines)


def _user_message(
    item: WorkItem,
    offered: list[Tool],
    subject: Tool | None,
    examples: Sequence[SeedExample],
    *,
    variants: int,
    with_spec_example: bool = True,
    siblings: Mapping[str, Tool] | None = None,
) -> str:
    style = Style(item.style)
    task = STYLE_TASKS[style].format(
        n=item.n_calls,
        subject=(subject.description or subject.name) if subject is not None else "something unrelated",
    )
    language = LANGUAGES.get(item.language, item.language)
    by_name = {t.name: t for t in offered}
    clearing = sorted(
        {name for name in item.targets if name in by_name and clears_whole_table(by_name[name])}
    )
    parts = [
        tools_section(
            offered,
            list(item.targets),
            variants=variants,
            seed=item.seed,
            spec_examples=with_spec_example,
            siblings=siblings,
        ),
        "",
        f"Style: {style.value}. {task}",
    ]
    if clearing:
        parts.append(
            f"Note: {', '.join(clearing)} clears the WHOLE table whatever row ids are sent; phrase the "
            "request as clearing all of those records (never as deleting particular ones), and send the "
            "placeholder body its description gives."
        )
    parts += [
        f"Language: {item.language} - write the query in {language}.",
        f"Number of calls: {item.n_calls}",
        f"Target calls in order: {json.dumps(item.targets)}",
        "",
        RULES,
    ]
    if examples:
        parts += [
            "",
            "Examples of the answer format for this style (their tools may differ from yours):",
            _example_block(list(examples)),
        ]
    parts += ["", "Answer with the JSON object only."]
    return "\n".join(parts)


def build_messages(
    item: WorkItem,
    offered: list[Tool],
    *,
    subject: Tool | None = None,
    examples: Sequence[SeedExample] = (),
    siblings: Mapping[str, Tool] | None = None,
) -> list[dict[str, str]]:
    """System and user messages asking for the sample ``item`` describes (user message at most
    :data:`MAX_PROMPT_CHARS` characters when any reduction gets it there). ``siblings``: for a target
    without a documented example, the tool writing the same rows that has one."""
    examples = list(examples)
    attempts = [
        (VARIANTS_SHOWN, len(examples), True),
        (1, len(examples), True),
        (1, min(1, len(examples)), True),
        (1, 0, True),
        (1, 0, False),
    ]
    user = ""
    for variants, shown, with_example in attempts:
        user = _user_message(
            item,
            offered,
            subject,
            examples[:shown],
            variants=variants,
            with_spec_example=with_example,
            siblings=siblings,
        )
        if len(user) <= MAX_PROMPT_CHARS:
            break
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
