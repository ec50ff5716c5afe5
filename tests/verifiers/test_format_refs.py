"""The format verifier's compiled validators keep `$ref` semantics (inlined or not)."""

from __future__ import annotations

import pytest

from schemas.models import HttpBinding, Tool, ToolSource
from verifiers.arguments import argument_issues

TREE = {
    "type": "object",
    "properties": {"root": {"$ref": "#/$defs/Node"}, "point": {"$ref": "#/$defs/Point"}},
    "required": ["root"],
    "additionalProperties": False,
    "$defs": {
        # recursive: must stay a reference, not be expanded forever
        "Node": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
            "required": ["name"],
        },
        # plain: inlined into the caller
        "Point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
    },
}
TOOL = Tool(
    name="tree", parameters=TREE, binding=HttpBinding(method="POST", path="/t"), source=ToolSource(file="t")
)


@pytest.mark.parametrize(
    ("arguments", "valid"),
    [
        ({"root": {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]}}, True),
        ({"root": {"name": "a", "children": [{"name": "b", "children": [{}]}]}}, False),  # deep missing name
        ({"root": {"name": "a", "children": [{"name": 3}]}}, False),  # deep wrong type
        ({"root": {"name": "a"}, "point": {"x": 1.5}}, True),
        ({"root": {"name": "a"}, "point": {}}, False),  # inlined def keeps its required
        ({"root": {"name": "a"}, "point": {"x": "1"}}, False),
    ],
)
def test_refs_validate_like_the_schema_says(arguments, valid):
    assert (not argument_issues(TOOL, arguments)) is valid
