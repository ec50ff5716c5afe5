"""The OpenAI chat-completions shapes ``callforge serve`` speaks: requests in, completions out.

    request = ChatRequest.parse(body)                # ProtocolError(param, message) when malformed
    messages, tools = request.conversation()         # what the chat template renders
    completion(request.model, generation, tool_calls_of(generation.text))

Accepted: ``model``, ``messages`` (``system`` / ``user`` / ``assistant`` with ``tool_calls`` / ``tool``;
text content or a list of text parts), ``tools`` (``{"type": "function", "function": {...}}``),
``tool_choice`` (``auto``, ``required``, ``none``, or one named function, which is then the only tool
offered), ``max_tokens`` / ``max_completion_tokens``, ``temperature``, ``n`` (1), ``stream`` (false).
Other fields OpenAI clients send (``seed``, ``user``, ``top_p`` …) are ignored. Everything is bounded,
and a malformed request is a 400 naming the field, never a traceback.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trainer.replies import parse_tool_calls

MAX_MESSAGES = 512
MAX_TOOLS = 4096


class ProtocolError(ValueError):
    """A request the server refuses: HTTP ``status``, the offending ``param``, and why."""

    def __init__(self, message: str, *, param: str | None = None, status: int = 400, code: str | None = None):
        super().__init__(message)
        self.param, self.status, self.code = param, status, code

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": str(self),
                "type": "invalid_request_error",
                "param": self.param,
                "code": self.code,
            }
        }


class ChatRequest(BaseModel):
    """The fields of a chat-completions request the server uses."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=512)
    messages: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_MESSAGES)
    tools: list[dict[str, Any]] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: str | dict[str, Any] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    n: int | None = Field(default=None, ge=1, le=1)
    stream: Literal[False] | None = None

    @classmethod
    def parse(cls, body: Any) -> ChatRequest:
        if not isinstance(body, dict):
            raise ProtocolError(f"the request body must be a JSON object, got {type(body).__name__}")
        try:
            return cls.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            param = ".".join(str(p) for p in first["loc"]) or None
            hint = " (streaming is not supported: send stream=false)" if param == "stream" else ""
            raise ProtocolError(f"{param}: {first['msg']}{hint}", param=param) from None

    def reply_tokens(self, default: int, cap: int) -> int:
        wanted = self.max_completion_tokens or self.max_tokens or default
        if wanted > cap:
            raise ProtocolError(
                f"max_tokens {wanted} is above this server's limit of {cap} (--max-tokens-limit)",
                param="max_tokens",
            )
        return wanted

    def offered_tools(self) -> list[dict[str, Any]]:
        """The tools the prompt offers, after ``tool_choice``; each checked to be an OpenAI function tool."""
        tools = [_function_tool(tool, i) for i, tool in enumerate(self.tools or [])]
        choice = self.tool_choice
        if choice is None or choice in ("auto", "required"):
            return tools
        if choice == "none":
            return []
        if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
            name = choice["function"].get("name")
            chosen = [t for t in tools if t["function"]["name"] == name]
            if not chosen:
                raise ProtocolError(
                    f"tool_choice names {name!r}, which is not among the tools", param="tool_choice"
                )
            return chosen
        raise ProtocolError(
            "tool_choice must be 'auto', 'required', 'none' or {'type': 'function', 'function': {'name': ...}}",
            param="tool_choice",
        )

    def conversation(self) -> list[dict[str, Any]]:
        """The messages as chat templates expect them: text content, tool-call arguments as objects."""
        return [_message(m, i) for i, m in enumerate(self.messages)]


def _function_tool(tool: Any, index: int) -> dict[str, Any]:
    where = f"tools[{index}]"
    if not isinstance(tool, dict) or tool.get("type", "function") != "function":
        raise ProtocolError(f"{where}: expected {{'type': 'function', 'function': {{...}}}}", param=where)
    fn = tool.get("function")
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        raise ProtocolError(f"{where}.function.name: a non-empty string is required", param=where)
    if "parameters" in fn and not isinstance(fn["parameters"], dict):
        raise ProtocolError(f"{where}.function.parameters: expected a JSON Schema object", param=where)
    return {"type": "function", "function": fn}


def _text(content: Any, where: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):  # [{"type": "text", "text": "..."}]
        parts = []
        for i, part in enumerate(content):
            if (
                not isinstance(part, dict)
                or part.get("type") != "text"
                or not isinstance(part.get("text"), str)
            ):
                raise ProtocolError(f"{where}[{i}]: only text parts are supported", param=where)
            parts.append(part["text"])
        return "".join(parts)
    raise ProtocolError(f"{where}: expected a string or a list of text parts", param=where)


def _message(message: Any, index: int) -> dict[str, Any]:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise ProtocolError(f"{where}: expected an object with a role", param=where)
    role = message.get("role")
    if role not in ("system", "developer", "user", "assistant", "tool"):
        raise ProtocolError(f"{where}.role: unknown role {role!r}", param=f"{where}.role")
    out: dict[str, Any] = {
        "role": "system" if role == "developer" else role,
        "content": _text(message.get("content"), f"{where}.content"),
    }
    if role == "tool" and message.get("tool_call_id"):
        out["tool_call_id"] = str(message["tool_call_id"])
    if role == "assistant" and message.get("tool_calls"):
        calls = []
        for j, call in enumerate(message["tool_calls"]):
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise ProtocolError(f"{where}.tool_calls[{j}]: expected a function call", param=where)
            arguments = fn.get("arguments") or {}
            if isinstance(arguments, str):  # OpenAI sends a JSON string; templates want the object
                try:
                    arguments = json.loads(arguments) if arguments.strip() else {}
                except json.JSONDecodeError:
                    raise ProtocolError(
                        f"{where}.tool_calls[{j}].function.arguments: not valid JSON", param=where
                    ) from None
            calls.append({"type": "function", "function": {"name": fn["name"], "arguments": arguments}})
        out["tool_calls"] = calls
    return out


def tool_calls_of(text: str) -> tuple[list[dict[str, Any]], str]:
    """The OpenAI ``tool_calls`` a reply makes, and its remaining text (the whole text if no call is readable)."""
    parsed = parse_tool_calls(text)
    if not parsed.calls:
        return [], text
    calls = [
        {
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments, ensure_ascii=False)},
        }
        for call in parsed.calls
    ]
    return calls, parsed.content


def completion(
    model: str, text: str, *, prompt_tokens: int, completion_tokens: int, stopped: bool
) -> dict[str, Any]:
    """A ``chat.completion`` object for one reply."""
    calls, content = tool_calls_of(text)
    message: dict[str, Any] = {"role": "assistant", "content": content or None}
    if calls:
        message["tool_calls"] = calls
    finish = "tool_calls" if calls else ("stop" if stopped else "length")
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def models_list(name: str, created: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": name, "object": "model", "created": created, "owned_by": "callforge"}],
    }
