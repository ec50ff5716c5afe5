"""Record formats the dataset is exported in, and the way back to ``Sample``.

Three formats, each a plain dict that serialises to one JSON line:

* **TRL** conversational tool calling — ``{"messages": [...], "tools": [...]}``: a system turn, the user
  query, an assistant turn with ``tool_calls`` (arguments as dicts, which chat templates render with
  ``tojson``), optionally one ``tool`` turn per call and a final assistant answer, as in the GEN NX seed.
* **xLAM / APIGen** — ``{"id", "query", "tools", "answers"}`` with ``tools`` and ``answers`` as JSON
  strings, as the Salesforce xLAM datasets store them.
* **flat** — ``{"query", "tool_name", "arguments"}``, single-call samples only (one seed trains on it).

Every record also carries ``id``, ``style``, ``language`` and ``tier`` columns, so converting back gives
the same ``Sample`` (same id). Records from elsewhere that lack them get the style inferred from the
calls and the language guessed from the script.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from schemas.errors import RecordError
from schemas.models import CallReference, Provenance, Sample, Style, Tool, ToolCall, infer_style

DEFAULT_SYSTEM_PROMPT = (
    "You are an assistant that operates an API by calling the provided tools. "
    "Call the tools that answer the user's request with arguments taken from the request; "
    "if no tool fits, answer without calling any."
)

_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def guess_language(text: str) -> str:
    """``ko`` when the text contains Hangul, else ``en``."""
    return "ko" if _HANGUL.search(text) else "en"


def _tool_schemas(sample: Sample, tools: Mapping[str, Tool]) -> list[dict[str, Any]]:
    missing = [name for name in sample.tools if name not in tools]
    if missing:
        raise RecordError(f"sample {sample.id}: offered tools not in the catalog: {missing}")
    return [tools[name].openai_schema() for name in sample.tools]


def _meta(sample: Sample) -> dict[str, Any]:
    return {
        "id": sample.id,
        "style": sample.style.value,
        "language": sample.language,
        "tier": sample.tier,
        "reference": reference_json(sample),
    }


def reference_json(sample: Sample) -> str:
    """The sample's ``reference`` as one JSON string column (``""`` when it has none): a list, one
    ``{"acceptable": {argument: [values]}, "omittable": [arguments]}`` per call, in call order."""
    if sample.reference is None:
        return ""
    return json.dumps([r.model_dump() for r in sample.reference], ensure_ascii=False)


def _decode_reference(record: Mapping[str, Any], where: str) -> list[CallReference] | None:
    raw = record.get("reference")
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RecordError(f"{where}: field 'reference' is not JSON ({exc})") from None
    if not isinstance(raw, list):
        raise RecordError(f"{where}: field 'reference' must be a list with one entry per call")
    try:
        return [CallReference.model_validate(entry) for entry in raw]
    except ValueError as exc:
        raise RecordError(f"{where}: field 'reference': {exc}") from None


# ---------------------------------------------------------------------------------------------- TRL


def to_trl(
    sample: Sample,
    tools: Mapping[str, Tool],
    *,
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    tool_responses: list[str] | None = None,
    final_answer: str | None = None,
) -> dict[str, Any]:
    """A sample as a TRL conversational record (``messages`` + ``tools``)."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system_prompt},
        {"role": "user", "content": sample.query},
    ]
    if sample.calls:
        messages.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in sample.calls
                ],
            }
        )
        if tool_responses is not None:
            if len(tool_responses) != len(sample.calls):
                raise RecordError(
                    f"sample {sample.id}: {len(tool_responses)} tool responses for {len(sample.calls)} calls"
                )
            for call, response in zip(sample.calls, tool_responses, strict=True):
                messages.append({"role": "tool", "name": call.name, "content": response})
            if final_answer:
                messages.append({"role": "assistant", "content": final_answer})
    else:
        messages.append({"role": "assistant", "content": final_answer or _refusal(sample.language)})
    return {"messages": messages, "tools": _tool_schemas(sample, tools), **_meta(sample)}


def _refusal(language: str) -> str:
    if language == "ko":
        return "제공된 도구로는 이 요청을 처리할 수 없습니다."
    return "None of the available tools can do this, so I cannot perform this request."


def decode_arguments(raw: Any, where: str) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise RecordError(f"{where}: arguments are not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise RecordError(f"{where}: arguments must be a JSON object, got {type(raw).__name__}")
    return raw


def _decode_json_field(record: Mapping[str, Any], key: str, where: str) -> Any:
    value = record.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise RecordError(f"{where}: field {key!r} is not valid JSON: {exc}") from exc
    return value


def from_trl(record: Mapping[str, Any], *, provenance: Provenance | None = None) -> Sample:
    """A TRL record back to a ``Sample``; accepts arguments and ``tools`` as dicts or JSON strings."""
    where = f"TRL record {record.get('id') or '?'}"
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RecordError(f"{where}: field 'messages' must be a non-empty list")
    users = [m for m in messages if m.get("role") == "user"]
    if not users:
        raise RecordError(f"{where}: no message with role 'user'")
    if len(users) > 1:
        # flattening every turn's calls into one list would make a wrong single-turn sample
        raise RecordError(
            f"{where}: a multi-turn conversation ({len(users)} user messages); a Sample holds one query. "
            "Read it as a trajectory (schemas.trajectories.trajectory_from_trl)"
        )
    calls: list[ToolCall] = []
    for i, message in enumerate(messages):
        for j, tc in enumerate(message.get("tool_calls") or []):
            fn = tc.get("function", tc)
            calls.append(
                ToolCall(
                    name=fn["name"],
                    arguments=decode_arguments(
                        fn.get("arguments"), f"{where}: messages[{i}].tool_calls[{j}]"
                    ),
                )
            )
    tools_field = _decode_json_field(record, "tools", where) or []
    tool_names = [t.get("function", t)["name"] for t in tools_field]
    return _sample_from(record, users[0]["content"], tool_names, calls, provenance, where)


def _sample_from(
    record: Mapping[str, Any],
    query: str,
    tool_names: list[str],
    calls: list[ToolCall],
    provenance: Provenance | None,
    where: str,
) -> Sample:
    style = record.get("style") or infer_style(tool_names, calls).value
    return Sample.create(
        reference=_decode_reference(record, where),
        query=query,
        language=record.get("language") or guess_language(query),
        style=Style(style),
        tools=tool_names,
        calls=calls,
        tier=record.get("tier"),
        provenance=provenance or Provenance(generator="import"),
    )


# --------------------------------------------------------------------------------------------- xLAM


def to_xlam(sample: Sample, tools: Mapping[str, Tool]) -> dict[str, Any]:
    """A sample as an xLAM / APIGen record (``tools`` and ``answers`` are JSON strings)."""
    offered = [
        {
            "name": s["function"]["name"],
            "description": s["function"]["description"],
            "parameters": s["function"]["parameters"],
        }
        for s in _tool_schemas(sample, tools)
    ]
    answers = [c.canonical() for c in sample.calls]
    return {
        "query": sample.query,
        "tools": json.dumps(offered, ensure_ascii=False),
        "answers": json.dumps(answers, ensure_ascii=False),
        **_meta(sample),
    }


def from_xlam(record: Mapping[str, Any], *, provenance: Provenance | None = None) -> Sample:
    where = f"xLAM record {record.get('id') or '?'}"
    query = record.get("query")
    if not isinstance(query, str) or not query:
        raise RecordError(f"{where}: field 'query' must be a non-empty string")
    offered = _decode_json_field(record, "tools", where) or []
    answers = _decode_json_field(record, "answers", where) or []
    calls = [
        ToolCall(name=a["name"], arguments=decode_arguments(a.get("arguments"), f"{where}: answers[{i}]"))
        for i, a in enumerate(answers)
    ]
    return _sample_from(record, query, [t["name"] for t in offered], calls, provenance, where)


# --------------------------------------------------------------------------------------------- flat


def to_flat(sample: Sample) -> dict[str, Any]:
    """``{query, tool_name, arguments}`` for a single-call sample; arguments as a JSON string."""
    if len(sample.calls) != 1:
        raise RecordError(
            f"sample {sample.id}: the flat format holds exactly one call, not {len(sample.calls)}"
        )
    call = sample.calls[0]
    return {
        "query": sample.query,
        "tool_name": call.name,
        "arguments": json.dumps(call.arguments, ensure_ascii=False),
        "tools": json.dumps(sample.tools, ensure_ascii=False),
        **_meta(sample),
    }


def from_flat(record: Mapping[str, Any], *, provenance: Provenance | None = None) -> Sample:
    where = f"flat record {record.get('id') or '?'}"
    call = ToolCall(name=record["tool_name"], arguments=decode_arguments(record.get("arguments"), where))
    tools = _decode_json_field(record, "tools", where) or [call.name]
    return _sample_from(record, record["query"], list(tools), [call], provenance, where)
