"""The APIGen text format: tools in the system prompt, calls as ``<tool_call>[...]</tool_call>`` text.

    record = apigen_text_record(sample, tools_by_name)
    # {"messages": [{"role": "system", "content": "...<tools>[...]</tools>..."},
    #               {"role": "user", "content": "Create node 1 at the origin"},
    #               {"role": "assistant", "content": '<tool_call>[{"name": "POST /db/NODE", "arguments": {...}}]</tool_call>'}],
    #  "tools": [], "id": ..., "style": ..., "language": ..., "tier": ...}

The format of the APIGen-FC seed (Llama 3.2 fine-tuned on xLAM-style data): the model is not told about
tools through its chat template's ``tools`` argument but through the system prompt, and answers with
one ``<tool_call>`` block holding a JSON *list* of ``{"name", "arguments"}`` calls. Any chat template
can train on it (it is plain text), including ones without tool support; a model trained on it must be
prompted the same way (``callforge chat/serve --prompt-format apigen_text``), which
``apigen_system_prompt`` gives. A sample without calls (irrelevance) answers with the same plain-text
refusal as the TRL export. Llama's vocabulary has no ``<tool_call>`` token: list the tags in the
trainer config's ``model.add_tokens`` so each is one token rather than five.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from schemas.models import Sample, Tool
from schemas.records import to_trl

APIGEN_TEXT_SYSTEM_PROMPT = (
    "You compose function calls. Given a question and the functions below, answer with the calls that "
    "achieve the request, taking argument values from the question. If no function fits, say so in plain "
    "words and call none.\n\n"
    "Available functions:\n<tools>{tools}</tools>\n\n"
    "Answer with the calls only, in exactly this form and with no other text:\n"
    '<tool_call>[{{"name": "function_name", "arguments": {{"argument": "value"}}}}, ...]</tool_call>'
)
OPEN, CLOSE = "<tool_call>", "</tool_call>"


def _function(schema: Mapping[str, Any]) -> dict[str, Any]:
    fn = schema.get("function", schema)
    return {
        "name": fn["name"],
        "description": fn.get("description", ""),
        "parameters": fn.get("parameters", {}),
    }


def apigen_system_prompt(tools: Sequence[Mapping[str, Any]]) -> str:
    """The system prompt offering ``tools`` (OpenAI tool schemas, or bare ``{name, description, parameters}``)."""
    listed = json.dumps([_function(t) for t in tools], ensure_ascii=False)
    return APIGEN_TEXT_SYSTEM_PROMPT.format(tools=listed)


def apigen_answer(calls: Sequence[Mapping[str, Any]]) -> str:
    """``<tool_call>[...]</tool_call>`` for calls given as ``{"name", "arguments"}``."""
    listed = [{"name": c["name"], "arguments": c.get("arguments") or {}} for c in calls]
    return OPEN + json.dumps(listed, ensure_ascii=False) + CLOSE


def apigen_messages(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None
) -> list[dict[str, Any]]:
    """A conversation re-written for a model trained on this format: the tools move into the system
    prompt (replacing any other system turn) and earlier assistant calls become ``<tool_call>`` text."""
    out: list[dict[str, Any]] = [{"role": "system", "content": apigen_system_prompt(tools or [])}]
    for message in messages:
        if message.get("role") == "system":
            continue
        if message.get("role") == "assistant" and message.get("tool_calls"):
            calls = [c.get("function", c) for c in message["tool_calls"]]
            out.append({"role": "assistant", "content": apigen_answer(calls)})
        else:
            out.append(dict(message))
    return out


def apigen_text_record(sample: Sample, tools: Mapping[str, Tool]) -> dict[str, Any]:
    """One sample in this format, with the same metadata columns as the TRL record."""
    trl = to_trl(sample, tools)  # checks the offered tools exist; gives the refusal text for irrelevance
    if sample.calls:
        answer = apigen_answer([{"name": c.name, "arguments": c.arguments} for c in sample.calls])
    else:
        answer = trl["messages"][-1]["content"]
    messages = [
        {"role": "system", "content": apigen_system_prompt(trl["tools"])},
        {"role": "user", "content": sample.query},
        {"role": "assistant", "content": answer},
    ]
    return {**trl, "messages": messages, "tools": []}
