"""Small hand-built tools and samples shared by the contract tests."""

from __future__ import annotations

from schemas.models import ArgumentBinding, HttpBinding, Sample, Tool, ToolCall, ToolSource


def make_tool(name: str = "post_db_node", *, description: str = "Create nodes", tier: int | None = 1) -> Tool:
    return Tool(
        name=name,
        description=description,
        parameters={
            "type": "object",
            "properties": {
                "Assign": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "X": {"type": "number"},
                            "Y": {"type": "number"},
                            "Z": {"type": "number"},
                        },
                        "required": ["X", "Y", "Z"],
                    },
                }
            },
            "required": ["Assign"],
        },
        binding=HttpBinding(
            method="POST",
            path="/db/NODE",
            server_url="https://example.test/gen",
            arguments={"Assign": ArgumentBinding(location="body-property", name="Assign", required=True)},
            body_media_type="application/json",
        ),
        tier=tier,
        category="modeling",
        source=ToolSource(file="openapi.yaml", title="GEN NX", version="1", pointer="/paths/~1db~1NODE/post"),
    )


def node_call(node_id: str = "1", x: float = 0, y: float = 0, z: float = 0) -> ToolCall:
    return ToolCall(name="post_db_node", arguments={"Assign": {node_id: {"X": x, "Y": y, "Z": z}}})


def make_sample(**overrides) -> Sample:
    fields = {
        "query": "절점 1번을 원점에 추가해줘",
        "language": "ko",
        "style": "simple",
        "tools": ["post_db_node"],
        "calls": [node_call()],
        "tier": 1,
    }
    fields.update(overrides)
    return Sample.create(**fields)
