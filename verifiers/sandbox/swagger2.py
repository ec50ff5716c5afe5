"""Swagger 2.0 -> OpenAPI 3.0.3 in memory, so openapi-core can validate requests against a 2.0 spec.

In: a Swagger 2.0 document already parsed (a dict) and the file it was read from; the other files its
``$ref``s name are read with ``read`` (local files only: a remote ``$ref`` raises ``SpecError``).
Out: a new, self-contained OpenAPI 3.0.3 document (the input is not changed) that accepts and refuses
the same requests::

    document = upgrade_to_openapi30(json.loads(path.read_text()), path)
    document["paths"]["/pets"]["post"]["requestBody"]["content"]["application/json"]["schema"]

What becomes what:

- ``schemes``/``host``/``basePath`` -> one server per scheme (``https`` then ``http`` when none is
  declared); the first is the URL ingestion binds a tool to (``schemas/openapi/servers.py``), so the
  requests the execution verifier sends are routed. Without ``host`` the server is ``basePath`` alone
  (only the path is compared). An operation's own ``schemes`` become its ``servers``.
- non-body parameters (path item and operation level, root ``parameters`` by ``$ref``): the inline
  type keywords become ``schema``; ``collectionFormat`` becomes style/explode: csv -> ``form``, explode
  false (``simple`` in path and header, where 3.0 has no other style), multi -> ``form``, explode true,
  ssv -> ``spaceDelimited``, pipes -> ``pipeDelimited``, tsv -> ``tabDelimited``: not a 3.0 style,
  the one the sandbox's validator adds (``validation.py``), so the items are what a tab separates —
  what tsv means and what callforge's request builder sends (``%09``); a comma is part of an item.
  ``allowEmptyValue`` is kept on query parameters.
- ``in: body`` -> ``requestBody`` with one media type per ``consumes`` (the operation's, else the
  root's, else ``application/json``). ``in: formData`` -> an object schema under the form media types
  of ``consumes`` (urlencoded when none is, multipart too when a field has ``type: file``); urlencoded
  arrays get an ``encoding`` style from their collectionFormat (tsv as above); ``type: file`` ->
  string/binary. Multipart fields get no encoding: the sandbox casts a text part to its field's type
  (``validation.py``), and an array is repeated parts, as in 3.0.
- responses: ``schema`` -> ``content`` per ``produces``, ``examples`` -> that media type's ``example``,
  headers -> headers with a schema. ``definitions``, root ``parameters`` (non-body) and ``responses``
  -> ``components``; ``securityDefinitions`` -> ``securitySchemes`` (basic -> http/basic; oauth2
  ``flow`` -> ``flows``); ``security`` kept.
- schemas and every ``$ref``: ``swagger2_refs.py`` (``x-nullable`` -> ``nullable``, schemas of other
  files copied into ``components/schemas``; the result has no external ``$ref``).

Not carried over: ``allowEmptyValue`` on formData (3.0 has none for bodies), header parameters
``Accept``/``Content-Type``/``Authorization`` (3.0 ignores them; ingestion makes no argument of them),
collectionFormat of nested ``items`` and of multipart fields (3.0 multipart arrays are repeated parts).
A parameter, response or path item that a dangling ``$ref`` names is left out (the ``$ref`` is logged).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.openapi.parameters import IGNORED_HEADERS
from schemas.openapi.pointers import join
from schemas.openapi.servers import swagger2_scheme
from verifiers.sandbox.swagger2_refs import Reader, Swagger2Refs, mapping, read_local

__all__ = ["collection_style", "read_local", "security_scheme", "servers", "upgrade_to_openapi30"]
log = logging.getLogger("callforge.sandbox")

JSON = "application/json"
URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")  # 2.0 has no trace
_LOCATIONS = frozenset({"path", "query", "header", "body", "formData"})
_IN_BODY = frozenset({"body", "formData"})
# what a non-body parameter says about itself; everything else it holds (type, items, enum...) is schema
_PARAMETER_FIELDS = frozenset(
    {"name", "in", "description", "required", "allowEmptyValue", "collectionFormat"}
)
_OPERATION_FIELDS = frozenset(
    {"tags", "summary", "description", "externalDocs", "operationId", "deprecated", "security"}
)
_COLLECTION_STYLES = {
    "csv": ("form", False),
    "tsv": ("tabDelimited", False),  # not a 3.0 style: validation.py reads it, see the module docstring
    "ssv": ("spaceDelimited", False),
    "pipes": ("pipeDelimited", False),
    "multi": ("form", True),
}
_OAUTH2_FLOWS = {
    "implicit": "implicit",
    "password": "password",
    "application": "clientCredentials",
    "accessCode": "authorizationCode",
}


def upgrade_to_openapi30(
    document: dict[str, Any], file: Path, *, read: Reader = read_local
) -> dict[str, Any]:
    """The OpenAPI 3.0.3 equivalent of the Swagger 2.0 ``document`` read from ``file``.

    Raises ``SpecError`` (file and pointer of the ``$ref``) for a ``$ref`` to a remote or unreadable file.
    """
    return _Upgrade(document, file, read).document()


@dataclass(frozen=True)
class _Parameter:
    node: dict[str, Any]  # the 2.0 Parameter Object, $refs followed
    file: Path
    pointer: str
    openapi: dict[str, Any] | None  # its 3.0 form, or a $ref to components; None for body and formData

    @property
    def key(self) -> tuple[str, str]:
        return self.node["name"], self.node["in"]


class _Upgrade:
    def __init__(self, root: dict[str, Any], file: Path, read: Reader) -> None:
        self.root = root
        self.refs = Swagger2Refs(root, file, read)
        self.file = self.refs.file
        self.components = self.refs.components

    # ------------------------------------------------------------------------------------- document

    def document(self) -> dict[str, Any]:
        root = self.root
        out: dict[str, Any] = {
            "openapi": "3.0.3",
            "info": copy.deepcopy(root.get("info")) or {"title": "", "version": ""},
            "servers": servers(root),
        }
        for key in ("security", "tags", "externalDocs"):
            if key in root:
                out[key] = copy.deepcopy(root[key])
        out.update({k: copy.deepcopy(v) for k, v in root.items() if k.startswith("x-")})
        components = self.components
        for name, node in mapping(root.get("definitions")).items():
            components["schemas"][name] = self.refs.schema(node, self.file, join("/definitions", name))
        for name, node in mapping(root.get("parameters")).items():
            param = self.parameter(node, self.file, join("/parameters", name))
            if param is not None and param.openapi is not None:
                components["parameters"][name] = param.openapi
        for name, node in mapping(root.get("responses")).items():
            components["responses"][name] = self.response(node, self.file, join("/responses", name), None)
        for name, node in mapping(root.get("securityDefinitions")).items():
            if isinstance(node, dict):
                components["securitySchemes"][name] = security_scheme(node)
        out["paths"] = self.paths()
        out["components"] = {k: v for k, v in components.items() if v}
        return out

    def paths(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for template, raw in mapping(self.root.get("paths")).items():
            if not template.startswith("/"):
                continue  # x- extensions
            found = self.refs.follow(raw, self.file, join("/paths", template))
            if found is None or not isinstance(found[0], dict):
                continue
            item, file, pointer = found
            shared = self.parameters(item.get("parameters"), file, join(pointer, "parameters"))
            converted: dict[str, Any] = {}
            plain = [p.openapi for p in shared if p.openapi is not None]
            if plain:
                converted["parameters"] = plain
            for method in _METHODS:
                if isinstance(item.get(method), dict):
                    converted[method] = self.operation(item[method], file, join(pointer, method), shared)
            out[template] = converted
        return out

    def operation(
        self, op: dict[str, Any], file: Path, pointer: str, shared: list[_Parameter]
    ) -> dict[str, Any]:
        out = {k: copy.deepcopy(v) for k, v in op.items() if k in _OPERATION_FIELDS or k.startswith("x-")}
        own = self.parameters(op.get("parameters"), file, join(pointer, "parameters"))
        plain = [p.openapi for p in own if p.openapi is not None]
        if plain:
            out["parameters"] = plain  # openapi-core lets these override the path item's, as 2.0 does
        merged = {p.key: p for p in [*shared, *own]}  # the operation's win on (name, in)
        body = self.request_body(list(merged.values()), self.media(op, "consumes"))
        if body is not None:
            out["requestBody"] = body
        produces = self.media(op, "produces") if "produces" in op else None
        out["responses"] = self.responses(op.get("responses"), file, join(pointer, "responses"), produces)
        if isinstance(op.get("schemes"), list):
            out["servers"] = servers(self.root, op["schemes"])
        return out

    def media(self, op: dict[str, Any], key: str) -> list[str]:
        """``consumes``/``produces`` of an operation: its own, else the root's, else JSON."""
        declared = op.get(key, self.root.get(key))
        listed = [m for m in declared if isinstance(m, str)] if isinstance(declared, list) else []
        return listed or [JSON]

    # ------------------------------------------------------------------------------------ parameters

    def parameters(self, raw: Any, file: Path, pointer: str) -> list[_Parameter]:
        out = []
        for index, entry in enumerate(raw if isinstance(raw, list) else []):
            param = self.parameter(entry, file, join(pointer, index))
            if param is not None:
                out.append(param)
        return out

    def parameter(self, entry: Any, file: Path, pointer: str) -> _Parameter | None:
        found = self.refs.follow(entry, file, pointer)
        if found is None:
            return None
        node, at_file, at = found
        if (
            not isinstance(node, dict)
            or not isinstance(node.get("name"), str)
            or node.get("in") not in _LOCATIONS
        ):
            log.warning("%s#%s: not a parameter (needs a string 'name' and 'in'); left out", at_file, at)
            return None
        if node["in"] == "header" and node["name"].lower() in IGNORED_HEADERS:
            return None
        if node["in"] in _IN_BODY:
            return _Parameter(node, at_file, at, None)
        shared = self.refs.root_component(entry, file, "parameters")
        openapi = {"$ref": shared} if shared else self.plain_parameter(node, at_file, at)
        return _Parameter(node, at_file, at, openapi)

    def plain_parameter(self, node: dict[str, Any], file: Path, pointer: str) -> dict[str, Any]:
        location = node["in"]
        out: dict[str, Any] = {"name": node["name"], "in": location}
        if "description" in node:
            out["description"] = node["description"]
        out["required"] = location == "path" or node.get("required") is True  # 3.0: path ones must be
        if location == "query" and node.get("allowEmptyValue") is True:
            out["allowEmptyValue"] = True
        out["schema"] = self.inline_schema(node, file, pointer)
        if node.get("type") == "array":
            out["style"], out["explode"] = collection_style(node.get("collectionFormat"), location)
        out.update({k: copy.deepcopy(v) for k, v in node.items() if k.startswith("x-") and k != "x-nullable"})
        return out

    def inline_schema(self, node: dict[str, Any], file: Path, pointer: str) -> Any:
        """The schema a 2.0 parameter or header spells inline beside its own fields."""
        own = {
            k: v
            for k, v in node.items()
            if k not in _PARAMETER_FIELDS and k != "schema" and (not k.startswith("x-") or k == "x-nullable")
        }
        return self.refs.schema(own, file, pointer)

    def request_body(self, params: list[_Parameter], consumes: list[str]) -> dict[str, Any] | None:
        """The operation's ``in: body`` parameter (2.0 allows one; the last counts, as in ingestion),
        else its ``in: formData`` ones, as a 3.0 Request Body; None when it has neither."""
        bodies = [p for p in params if p.node["in"] == "body"]
        if bodies:
            return self.json_body(bodies[-1], consumes)
        fields = [p for p in params if p.node["in"] == "formData"]
        return self.form_body(fields, consumes) if fields else None

    def json_body(self, param: _Parameter, consumes: list[str]) -> dict[str, Any]:
        schema = self.refs.schema(param.node.get("schema", {}), param.file, join(param.pointer, "schema"))
        content = {media: {"schema": schema} for media in consumes}
        if JSON not in content and any("*" in media for media in consumes):
            # Clients send JSON for a range (callforge's request builder does); listing it by name keeps
            # the upgraded document explicit (validation.py also decodes JSON sent to a range).
            content[JSON] = {"schema": schema}
        out: dict[str, Any] = {"content": content}
        if "description" in param.node:
            out["description"] = param.node["description"]
        out["required"] = param.node.get("required") is True
        return out

    def form_body(self, fields: list[_Parameter], consumes: list[str]) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        urlencoded: dict[str, Any] = {}  # the urlencoded media type's encoding
        for param in fields:
            node, name = param.node, param.node["name"]
            prop = self.inline_schema(node, param.file, param.pointer)
            if isinstance(node.get("description"), str) and isinstance(prop, dict):
                prop["description"] = node["description"]
            properties[name] = prop
            if node.get("required") is True:
                required.append(name)
            if node.get("type") == "array":
                style, explode = collection_style(node.get("collectionFormat"), "formData")
                urlencoded[name] = {"style": style, "explode": explode}
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        has_file = any(p.node.get("type") == "file" for p in fields)
        media = [m for m in consumes if _base(m) in (URLENCODED, MULTIPART)]
        media = media or [MULTIPART if has_file else URLENCODED]  # as ingestion picks
        if has_file and MULTIPART not in map(_base, media):
            media.append(MULTIPART)  # a file goes as a multipart part whatever consumes says
        content = {}
        for name in media:
            encoding = urlencoded if _base(name) == URLENCODED else {}
            content[name] = {"schema": schema, **({"encoding": encoding} if encoding else {})}
        return {"content": content, "required": bool(required)}

    # ------------------------------------------------------------------------------------- responses

    def responses(self, raw: Any, file: Path, pointer: str, produces: list[str] | None) -> dict[str, Any]:
        """``produces`` None: the root's applies, so a root response can stay a components reference."""
        out: dict[str, Any] = {}
        for code, entry in mapping(raw).items():
            if code.startswith("x-"):
                continue
            shared = self.refs.root_component(entry, file, "responses") if produces is None else None
            if shared:
                out[code] = {"$ref": shared}
                continue
            found = self.refs.follow(entry, file, join(pointer, code))
            if found is not None:
                out[code] = self.response(*found, produces)
        return out

    def response(self, node: Any, file: Path, pointer: str, produces: list[str] | None) -> dict[str, Any]:
        if not isinstance(node, dict):
            return {"description": ""}
        out: dict[str, Any] = {"description": node.get("description", "")}
        headers = mapping(node.get("headers"))
        if headers:
            out["headers"] = {
                name: {
                    **({"description": h["description"]} if "description" in h else {}),
                    "schema": self.inline_schema(h, file, join(pointer, "headers", name)),
                }
                for name, h in headers.items()
                if isinstance(h, dict)
            }
        if "schema" in node:
            schema = self.refs.schema(node["schema"], file, join(pointer, "schema"))
            examples = mapping(node.get("examples"))
            out["content"] = {
                media: {
                    "schema": schema,
                    **({"example": copy.deepcopy(examples[media])} if media in examples else {}),
                }
                for media in (produces or self.media({}, "produces"))
            }
        return out

    # --------------------------------------------------------------------------------------- schemas


def servers(root: dict[str, Any], schemes: list[Any] | None = None) -> list[dict[str, str]]:
    """Server objects for ``host`` + ``basePath``, one per scheme, the one ingestion binds to first."""
    host = name if isinstance(name := root.get("host"), str) else ""
    base_path = path if isinstance(path := root.get("basePath"), str) else ""
    if not host:
        return [{"url": base_path or "/"}]
    if schemes is None:
        schemes = listed if isinstance(listed := root.get("schemes"), list) else []
    declared = [s for s in schemes if isinstance(s, str)]
    # The scheme ingestion binds the tools to comes first; without declared schemes, http is as likely.
    first = swagger2_scheme(declared)
    ordered = [first, *[s for s in declared or ["http"] if s != first]]
    return [{"url": f"{scheme}://{host}{base_path}"} for scheme in ordered]


def collection_style(collection_format: Any, location: str) -> tuple[str, bool]:
    """(style, explode) of a 2.0 array parameter in ``location``."""
    if location in ("path", "header"):
        return "simple", False
    return _COLLECTION_STYLES.get(str(collection_format or "csv"), ("form", False))


def security_scheme(node: dict[str, Any]) -> dict[str, Any]:
    """A 2.0 Security Scheme Object in 3.0 shape."""
    kind = node.get("type")
    kept = {k: copy.deepcopy(v) for k, v in node.items() if k == "description" or k.startswith("x-")}
    if kind == "basic":
        return {"type": "http", "scheme": "basic", **kept}
    if kind == "oauth2":
        flow = {k: node[k] for k in ("authorizationUrl", "tokenUrl") if isinstance(node.get(k), str)}
        flow["scopes"] = copy.deepcopy(node["scopes"]) if isinstance(node.get("scopes"), dict) else {}
        return {
            "type": "oauth2",
            "flows": {_OAUTH2_FLOWS.get(str(node.get("flow")), "implicit"): flow},
            **kept,
        }
    return copy.deepcopy(node)


def _base(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()
