"""A small hand-built catalog (GEN NX nodes and elements, plus a few everyday APIs) and sample makers."""

from __future__ import annotations

from typing import Any

from schemas.catalog import Catalog
from schemas.models import HttpBinding, Sample, Style, Tool, ToolCall, ToolSource, infer_style
from verifiers.base import VerifyContext

_NODE_ITEM = {
    "type": "object",
    "properties": {
        "X": {"type": "number", "description": "X coordinate (m)"},
        "Y": {"type": "number", "description": "Y coordinate (m)"},
        "Z": {"type": "number", "description": "Z coordinate (m)"},
    },
    "required": ["X", "Y", "Z"],
}
_ELEM_ITEM = {
    "type": "object",
    "properties": {
        "TYPE": {"type": "string", "enum": ["BEAM", "TRUSS", "PLATE"], "description": "Element type"},
        "MATL": {"type": "integer", "minimum": 1, "description": "Material number"},
        "SECT": {"type": "integer", "minimum": 1, "description": "Section number"},
        "NODE": {
            "type": "array",
            "items": {"type": "integer"},
            "minItems": 2,
            "description": "Connected nodes",
        },
        "ANGLE": {"type": "number", "default": 0, "description": "Beta angle in degrees"},
    },
    "required": ["TYPE", "MATL", "SECT", "NODE"],
}


def _assign(item: dict[str, Any], what: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "Assign": {
                "type": "object",
                "description": f"{what} keyed by their number",
                "propertyNames": {"pattern": "^[0-9]+$"},
                "additionalProperties": item,
            }
        },
        "required": ["Assign"],
    }


def make_tool(
    name: str, description: str, parameters: dict[str, Any], method: str = "POST", path: str = "/x"
) -> Tool:
    return Tool(
        name=name,
        description=description,
        parameters=parameters,
        binding=HttpBinding(method=method, path=path, server_url="https://example.test"),
        source=ToolSource(file="tests/verifiers/verifier_fixtures.py", title="fixture", version="1"),
    )


def fixture_tools() -> list[Tool]:
    return [
        make_tool(
            "post_db_node",
            "Create nodes in the structural model.",
            _assign(_NODE_ITEM, "nodes"),
            "POST",
            "/db/NODE",
        ),
        make_tool(
            "put_db_node",
            "Update the coordinates of existing nodes.",
            _assign(_NODE_ITEM, "nodes"),
            "PUT",
            "/db/NODE",
        ),
        make_tool(
            "delete_db_node",
            "Delete nodes by number.",
            {
                "type": "object",
                "properties": {"ids": {"type": "array", "items": {"type": "integer"}}},
                "required": ["ids"],
            },
            "DELETE",
            "/db/NODE",
        ),
        make_tool(
            "post_db_elem",
            "Create elements (beams, trusses, plates).",
            _assign(_ELEM_ITEM, "elements"),
            "POST",
            "/db/ELEM",
        ),
        make_tool(
            "get_weather",
            "Current weather forecast for a city.",
            {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
                    "days": {"type": "integer", "minimum": 1, "maximum": 14, "description": "Forecast days"},
                },
                "required": ["city"],
            },
            "GET",
            "/weather",
        ),
        make_tool(
            "create_user",
            "Register a new user account.",
            {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "Full name"},
                    "email": {"type": "string", "format": "email"},
                    "zip": {"type": "string", "pattern": "^[0-9]{5}$", "description": "Postal code"},
                    "age": {"type": "integer", "minimum": 0},
                    "newsletter": {
                        "type": "boolean",
                        "default": False,
                        "description": "Subscribe to the newsletter",
                    },
                },
                "required": ["name", "email"],
            },
            "POST",
            "/users",
        ),
        make_tool(
            "resize_image",
            "Resize an image to a width and height in pixels.",
            {
                "type": "object",
                "properties": {
                    "width": {"type": "integer", "description": "Width in pixels"},
                    "height": {"type": "integer", "description": "Height in pixels"},
                },
                "required": ["width", "height"],
            },
            "POST",
            "/images/resize",
        ),
    ]


def fixture_catalog() -> Catalog:
    return Catalog(fixture_tools())


def fixture_ctx() -> VerifyContext:
    return VerifyContext(catalog=fixture_catalog())


def call(tool_name: str, /, **arguments: Any) -> ToolCall:
    return ToolCall(name=tool_name, arguments=arguments)


def node(node_id: str, x: float, y: float, z: float, name: str = "post_db_node") -> ToolCall:
    return ToolCall(name=name, arguments={"Assign": {node_id: {"X": x, "Y": y, "Z": z}}})


def sample(
    query: str,
    calls: list[ToolCall],
    tools: list[str],
    *,
    language: str = "en",
    style: Style | str | None = None,
) -> Sample:
    """A sample whose style is inferred from the calls unless given (a wrong style is a test case)."""
    return Sample.create(
        query=query,
        language=language,
        style=style or infer_style(tools, calls),
        tools=tools,
        calls=calls,
    )


class Reply:
    def __init__(self, text: str) -> None:
        self.text = text
        self.cached = False


class ReplayTeacher:
    """A fault fake of the Teacher client: replays queued replies (or raises queued exceptions) and
    records the messages it was sent."""

    def __init__(self, replies: list[str | Exception]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []

    async def complete(self, messages, *, json_schema=None, temperature=0.0, seed=None):
        self.requests.append(
            {"messages": messages, "json_schema": json_schema, "temperature": temperature, "seed": seed}
        )
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return Reply(reply)
