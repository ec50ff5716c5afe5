"""A small hand-written catalog shaped like GEN NX (and a few schema corners GEN NX does not have).

Tools are built the way the ingester builds them: JSON-Schema parameters, an HTTP binding with each
argument's location, a tier and a category. Descriptions are our own words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schemas.catalog import Catalog
from schemas.manifest import CatalogManifest
from schemas.models import ArgumentBinding, HttpBinding, ParamLocation, Tool, ToolSource

REPO = Path(__file__).resolve().parents[2]
GENNX_SPEC = REPO / "specs" / "gennx" / "openapi.yaml"
GENNX_TIERS = REPO / "specs" / "gennx" / "tiers.yaml"

_ID_MAP = {"type": "object", "propertyNames": {"pattern": "^[0-9]+$"}, "minProperties": 1}


def assign(item: dict[str, Any], description: str) -> dict[str, Any]:
    """GEN NX's ``{"Assign": {"<id>": item}}`` body as parameters."""
    return {
        "type": "object",
        "properties": {"Assign": {**_ID_MAP, "description": description, "additionalProperties": item}},
        "required": ["Assign"],
    }


NODE_ITEM = {
    "type": "object",
    "properties": {
        "X": {"type": "number", "description": "X coordinate (m)"},
        "Y": {"type": "number", "description": "Y coordinate (m)"},
        "Z": {"type": "number", "description": "Z coordinate (m)"},
    },
    "required": ["X", "Y", "Z"],
}
ELEM_ITEM = {
    "type": "object",
    "properties": {
        "TYPE": {
            "type": "string",
            "enum": ["BEAM", "TRUSS", "PLATE", "SOLID"],
            "description": "Element type",
        },
        "MATL": {"type": "integer", "minimum": 1, "description": "Material number"},
        "SECT": {"type": "integer", "minimum": 1, "description": "Section number"},
        "NODE": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1},
            "minItems": 2,
            "maxItems": 4,
            "description": "Connected node numbers",
        },
        "ANGLE": {
            "type": "number",
            "default": 0,
            "minimum": -180,
            "maximum": 180,
            "description": "Beta angle",
        },
    },
    "required": ["TYPE", "MATL", "SECT", "NODE"],
}
STLD_ITEM = {
    "type": "object",
    "properties": {
        "NO": {"type": "integer", "readOnly": True, "description": "Ordering index in the GUI"},
        "NAME": {
            "type": "string",
            "maxLength": 16,
            "description": "Load case name",
            "examples": ["DL", "LL"],
        },
        "TYPE": {"type": "string", "enum": ["USER", "D", "L", "W", "E", "T"], "description": "Load type"},
        "DESC": {"type": "string", "description": "Description"},
    },
    "required": ["NAME", "TYPE"],
}
MATL_DEFS = {
    "Material": {
        "type": "object",
        "properties": {
            "TYPE": {"type": "string", "enum": ["STEEL", "CONC", "USER"], "description": "Material type"},
            "NAME": {"type": "string", "description": "Material name"},
            "PARAM": {"type": "array", "items": {"$ref": "#/$defs/Param"}, "maxItems": 2},
        },
        "required": ["TYPE", "NAME"],
    },
    "Param": {
        "type": "object",
        "properties": {
            "P_TYPE": {"type": "integer", "enum": [1, 2], "description": "Parameter input kind"},
            "ELAST": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 300000,
                "description": "Elastic modulus",
            },
            "POISN": {"type": "number", "minimum": 0, "exclusiveMaximum": 0.5, "multipleOf": 0.01},
        },
        "required": ["P_TYPE"],
    },
}
GROUP_DEFS = {
    "Group": {
        "type": "object",
        "properties": {
            "NAME": {"type": "string", "minLength": 2, "maxLength": 12, "description": "Group name"},
            "CHILDREN": {"type": "array", "items": {"$ref": "#/$defs/Group"}, "description": "Sub-groups"},
        },
        "required": ["NAME"],
    }
}


def make_tool(
    name: str,
    method: str,
    path: str,
    parameters: dict[str, Any],
    *,
    description: str,
    tier: int | None,
    category: str | None,
    locations: dict[str, ParamLocation] | None = None,
) -> Tool:
    locations = locations or {}
    required = set(parameters.get("required", []))
    bindings = {
        arg: ArgumentBinding(
            location=locations.get(arg, ParamLocation.BODY_PROPERTY), name=arg, required=arg in required
        )
        for arg in parameters.get("properties", {})
    }
    has_body = any(b.location is ParamLocation.BODY_PROPERTY for b in bindings.values())
    return Tool(
        name=name,
        description=description,
        parameters=parameters,
        binding=HttpBinding(
            method=method,
            path=path,
            server_url="https://moa-engineers.midasit.com:443/gen",
            arguments=bindings,
            body_media_type="application/json" if has_body else None,
            body_required=has_body,
        ),
        tier=tier,
        category=category,
        source=ToolSource(file="tests/generators/conftest.py", title="GEN NX (fixture)", version="1"),
    )


def fixture_tools() -> list[Tool]:
    empty = {"type": "object", "properties": {}}
    return [
        make_tool("post_db_node", "POST", "/db/NODE", assign(NODE_ITEM, "Nodes keyed by node number"),
                  description="Create nodes in the structural model.", tier=1, category="modeling"),
        make_tool("get_db_node", "GET", "/db/NODE", empty,
                  description="Read every node of the model.", tier=1, category="modeling"),
        make_tool("put_db_node", "PUT", "/db/NODE", assign(NODE_ITEM, "Nodes keyed by node number"),
                  description="Updates the coordinates of existing nodes.", tier=1, category="modeling"),
        make_tool("delete_db_node_id", "DELETE", "/db/NODE/{id}",
                  {"type": "object", "properties": {"id": {"type": "integer", "minimum": 1, "description": "Node number"}},
                   "required": ["id"]},
                  description="Delete one node by its number.", tier=2, category="modeling",
                  locations={"id": ParamLocation.PATH}),
        make_tool("post_db_elem", "POST", "/db/ELEM", assign(ELEM_ITEM, "Elements keyed by element number"),
                  description="Create elements that connect nodes.", tier=1, category="modeling"),
        make_tool("post_db_stld", "POST", "/db/STLD", assign(STLD_ITEM, "Load cases keyed by number"),
                  description="Define static load cases.", tier=1, category="loads"),
        make_tool("post_db_matl", "POST", "/db/MATL",
                  {**assign({"$ref": "#/$defs/Material"}, "Materials keyed by number"), "$defs": MATL_DEFS},
                  description="Create materials.", tier=2, category="properties"),
        make_tool("post_doc_anal", "POST", "/doc/ANAL",
                  {"type": "object", "properties": {"Argument": {"type": "object", "properties": {}}},
                   "required": ["Argument"]},
                  description="Run the structural analysis.", tier=1, category="analysis"),
        make_tool("post_post_table", "POST", "/post/TABLE", {
            "type": "object",
            "properties": {"Argument": {"type": "object", "properties": {
                "TABLE_TYPE": {"type": "string", "enum": ["REACTIONG", "DISPLACEMENTG", "BEAMFORCE"],
                               "description": "Result table to read"},
                "UNIT": {"type": "object", "properties": {
                    "FORCE": {"type": "string", "enum": ["KN", "N", "TONF"]},
                    "DIST": {"type": "string", "enum": ["M", "MM"]}}},
                "COMPONENTS": {"type": "array", "uniqueItems": True, "minItems": 1, "maxItems": 3,
                               "items": {"type": "string", "enum": ["Fx", "Fy", "Fz", "Mx", "My", "Mz"]}},
                "NODE_ELEMS": {"type": "object", "properties": {
                    "KEYS": {"type": "array", "items": {"type": "integer", "minimum": 1}, "maxItems": 5}}},
            }, "required": ["TABLE_TYPE"]}},
            "required": ["Argument"],
        }, description="Read a table of analysis results.", tier=2, category="results"),
        make_tool("get_view_capture", "GET", "/view/CAPTURE", {
            "type": "object",
            "properties": {
                "format": {"type": "string", "enum": ["png", "jpg"], "description": "Image format"},
                "width": {"type": "integer", "minimum": 100, "maximum": 4000, "multipleOf": 10,
                          "description": "Image width in pixels"},
                "scale": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10,
                          "description": "Zoom factor"},
                "tags": {"type": ["string", "null"], "description": "Free-text tag"},
            },
            "required": ["format"],
        }, description="Capture the model view as an image.", tier=3, category="view",
            locations={k: ParamLocation.QUERY for k in ("format", "width", "scale", "tags")}),
        make_tool("post_ope_user", "POST", "/ope/USER", {
            "type": "object",
            "properties": {
                "email": {"type": "string", "format": "email", "description": "Contact e-mail"},
                "id": {"type": "string", "format": "uuid"},
                "when": {"type": "string", "format": "date-time", "description": "Time of the change"},
                "day": {"type": "string", "format": "date"},
                "site": {"type": "string", "format": "uri"},
                "code": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{3}$", "description": "Project code"},
                "level": {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 9}, {"type": "string", "enum": ["roof"]}]},
                "note": {"anyOf": [{"type": "string", "maxLength": 20}, {"type": "null"}]},
                "flags": {"allOf": [{"type": "object", "properties": {"urgent": {"type": "boolean"}}},
                                    {"properties": {"silent": {"type": "boolean"}}, "required": ["urgent"]}]},
            },
            "required": ["email", "code", "when"],
        }, description="Register the engineer responsible for the model.", tier=None, category=None),
        make_tool("post_db_grup", "POST", "/db/GRUP",
                  {**assign({"$ref": "#/$defs/Group"}, "Groups keyed by number"), "$defs": GROUP_DEFS},
                  description="Define structure groups.", tier=3, category="modeling"),
    ]  # fmt: skip


def synthetic_tools(count: int, *, categories: int = 5, tier: int | None = 1) -> list[Tool]:
    """``count`` simple tools spread over ``categories`` categories (for plan statistics)."""
    params = {
        "type": "object",
        "properties": {"id": {"type": "integer", "minimum": 1, "description": "Record number"}},
        "required": ["id"],
    }
    return [
        make_tool(
            f"post_res{i:04d}",
            "POST",
            f"/res{i:04d}",
            params,
            description=f"Create resource {i}.",
            tier=tier,
            category=f"cat{i % categories}",
        )
        for i in range(count)
    ]


def fixture_catalog() -> Catalog:
    tools = fixture_tools()
    manifest = CatalogManifest(tool_count=len(tools), quotas={"1": [15, 20], "2": [5, 10], "3": [0, 2]})
    return Catalog(tools, manifest)
