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
  ssv -> ``spaceDelimited``, pipes -> ``pipeDelimited``. tsv has no 3.0 style: it is read as csv (what
  callforge's request builder sends for it), so a tab-joined value is one item. ``allowEmptyValue``
  is kept on query parameters.
- ``in: body`` -> ``requestBody`` with one media type per ``consumes`` (the operation's, else the
  root's, else ``application/json``). ``in: formData`` -> an object schema under the form media types
  of ``consumes`` (urlencoded when none is, multipart too when a field has ``type: file``); urlencoded
  arrays get an ``encoding`` style from their collectionFormat; ``type: file`` -> string/binary.
- responses: ``schema`` -> ``content`` per ``produces``, ``examples`` -> that media type's ``example``,
  headers -> headers with a schema. ``definitions``, root ``parameters`` (non-body) and ``responses``
  -> ``components``; ``securityDefinitions`` -> ``securitySchemes`` (basic -> http/basic; oauth2
  ``flow`` -> ``flows``); ``security`` kept.
- schemas: ``x-nullable`` -> ``nullable``, a ``discriminator`` name -> ``{propertyName}``, ``type:
  file`` -> string/binary. ``#/definitions/X`` of the root file -> ``#/components/schemas/X``; any other
  schema ``$ref`` (into another file, or elsewhere in this one) is copied once into
  ``components/schemas`` under a name made from its file and pointer, so the result has no external
  ``$ref`` and recursive schemas stay references.

Not carried over: ``allowEmptyValue`` on formData (3.0 has none for bodies), header parameters
``Accept``/``Content-Type``/``Authorization`` (3.0 ignores them; ingestion makes no argument of them),
collectionFormat of nested ``items`` and of multipart fields (3.0 multipart arrays are repeated parts).
A ``$ref`` into a file that was read but to a pointer that is not there is logged; a schema so
referenced fails when a request reaches it (as a dangling ``$ref`` in a 3.x spec does), a parameter,
response or path item so referenced is left out.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from jsonschema_path.handlers.file import FileHandler

from schemas.errors import SpecError
from schemas.openapi.refs import escape, join, unescape

Reader = Callable[[Path], Any]
log = logging.getLogger("callforge.sandbox")

JSON = "application/json"
URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")  # 2.0 has no trace
_LOCATIONS = frozenset({"path", "query", "header", "body", "formData"})
_IN_BODY = frozenset({"body", "formData"})
# 3.0: "If in is header and the name is Accept, Content-Type or Authorization, the parameter SHALL be ignored"
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
# what a non-body parameter says about itself; everything else it holds (type, items, enum...) is schema
_PARAMETER_FIELDS = frozenset(
    {"name", "in", "description", "required", "allowEmptyValue", "collectionFormat"}
)
_OPERATION_FIELDS = frozenset(
    {"tags", "summary", "description", "externalDocs", "operationId", "deprecated", "security"}
)
_COLLECTION_STYLES = {
    "csv": ("form", False),
    "tsv": ("form", False),  # no 3.0 tabDelimited: the closest, see the module docstring
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
_MAX_CHAIN = 32  # a $ref to a $ref to ...: longer chains are cycles


def read_local(path: Path) -> Any:
    """A spec file parsed the way ``LoadedSpec`` parses the root (JSON or YAML)."""
    with path.open(encoding="utf-8") as handle:
        return FileHandler()(handle)


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
        self.file = file.resolve()
        self.display = str(file)
        self.read = read
        self.trees: dict[Path, Any] = {self.file: root}
        self.schema_names: dict[tuple[Path, str], str] = {}
        self.taken = set(_mapping(root.get("definitions")))
        self.components: dict[str, dict[str, Any]] = {
            "schemas": {},
            "parameters": {},
            "responses": {},
            "securitySchemes": {},
        }

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
        for name, node in _mapping(root.get("definitions")).items():
            components["schemas"][name] = self.schema(node, self.file, join("/definitions", name))
        for name, node in _mapping(root.get("parameters")).items():
            param = self.parameter(node, self.file, join("/parameters", name))
            if param is not None and param.openapi is not None:
                components["parameters"][name] = param.openapi
        for name, node in _mapping(root.get("responses")).items():
            components["responses"][name] = self.response(node, self.file, join("/responses", name), None)
        for name, node in _mapping(root.get("securityDefinitions")).items():
            if isinstance(node, dict):
                components["securitySchemes"][name] = security_scheme(node)
        out["paths"] = self.paths()
        out["components"] = {k: v for k, v in components.items() if v}
        return out

    def paths(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for template, raw in _mapping(self.root.get("paths")).items():
            if not template.startswith("/"):
                continue  # x- extensions
            found = self.follow(raw, self.file, join("/paths", template))
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
        found = self.follow(entry, file, pointer)
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
        if node["in"] == "header" and node["name"].lower() in _IGNORED_HEADERS:
            return None
        if node["in"] in _IN_BODY:
            return _Parameter(node, at_file, at, None)
        shared = self.root_component(entry, file, "parameters")
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
        return self.schema(own, file, pointer)

    def request_body(self, params: list[_Parameter], consumes: list[str]) -> dict[str, Any] | None:
        """The operation's ``in: body`` parameter (2.0 allows one; the last counts, as in ingestion),
        else its ``in: formData`` ones, as a 3.0 Request Body; None when it has neither."""
        bodies = [p for p in params if p.node["in"] == "body"]
        if bodies:
            return self.json_body(bodies[-1], consumes)
        fields = [p for p in params if p.node["in"] == "formData"]
        return self.form_body(fields, consumes) if fields else None

    def json_body(self, param: _Parameter, consumes: list[str]) -> dict[str, Any]:
        schema = self.schema(param.node.get("schema", {}), param.file, join(param.pointer, "schema"))
        content = {media: {"schema": schema} for media in consumes}
        if JSON not in content and any("*" in media for media in consumes):
            # openapi-core decodes a body matched by a range (*/*) as that range: bytes, never JSON.
            # Clients send JSON for a range (callforge's request builder does); list it by name.
            content[JSON] = {"schema": schema}
        out: dict[str, Any] = {"content": content}
        if "description" in param.node:
            out["description"] = param.node["description"]
        out["required"] = param.node.get("required") is True
        return out

    def form_body(self, fields: list[_Parameter], consumes: list[str]) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        urlencoded: dict[str, Any] = {}  # encoding per media type
        multipart: dict[str, Any] = {}
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
            item = node.get("items") if node.get("type") == "array" else node
            if isinstance(item, dict) and item.get("type") in ("integer", "number", "boolean"):
                # openapi-core reads a text part as a string and never casts it; "3" and "true" are JSON
                multipart[name] = {"contentType": JSON}
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
            encoding = urlencoded if _base(name) == URLENCODED else multipart
            content[name] = {"schema": schema, **({"encoding": encoding} if encoding else {})}
        return {"content": content, "required": bool(required)}

    # ------------------------------------------------------------------------------------- responses

    def responses(self, raw: Any, file: Path, pointer: str, produces: list[str] | None) -> dict[str, Any]:
        """``produces`` None: the root's applies, so a root response can stay a components reference."""
        out: dict[str, Any] = {}
        for code, entry in _mapping(raw).items():
            if code.startswith("x-"):
                continue
            shared = self.root_component(entry, file, "responses") if produces is None else None
            if shared:
                out[code] = {"$ref": shared}
                continue
            found = self.follow(entry, file, join(pointer, code))
            if found is not None:
                out[code] = self.response(*found, produces)
        return out

    def response(self, node: Any, file: Path, pointer: str, produces: list[str] | None) -> dict[str, Any]:
        if not isinstance(node, dict):
            return {"description": ""}
        out: dict[str, Any] = {"description": node.get("description", "")}
        headers = _mapping(node.get("headers"))
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
            schema = self.schema(node["schema"], file, join(pointer, "schema"))
            examples = _mapping(node.get("examples"))
            out["content"] = {
                media: {
                    "schema": schema,
                    **({"example": copy.deepcopy(examples[media])} if media in examples else {}),
                }
                for media in (produces or self.media({}, "produces"))
            }
        return out

    # --------------------------------------------------------------------------------------- schemas

    def schema(self, node: Any, file: Path, pointer: str) -> Any:
        """A 2.0 Schema Object (or a parameter's inline schema) in 3.0 spelling."""
        if not isinstance(node, dict):
            return copy.deepcopy(node)
        if isinstance(node.get("$ref"), str):
            target = {"$ref": self.schema_ref(node["$ref"], file, join(pointer, "$ref"))}
            # 3.0 ignores a $ref's siblings, and `nullable` only works beside a `type`
            return {"anyOf": [target, {"enum": [None]}]} if node.get("x-nullable") is True else target
        out: dict[str, Any] = {}
        for key, value in node.items():
            at = join(pointer, key)
            if key == "properties" and isinstance(value, dict):
                out[key] = {name: self.schema(v, file, join(at, name)) for name, v in value.items()}
            elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
                out[key] = self.schema(value, file, at)
            elif key in ("items", "allOf", "anyOf", "oneOf") and isinstance(value, list):
                out[key] = [self.schema(v, file, join(at, i)) for i, v in enumerate(value)]
            elif key == "x-nullable":
                if value is True:
                    out["nullable"] = True
            elif key == "discriminator" and isinstance(value, str):
                out[key] = {"propertyName": value}
            elif key != "collectionFormat":  # only meaningful on a parameter's items
                out[key] = copy.deepcopy(value)
        if out.get("type") == "file":
            out["type"], out["format"] = "string", "binary"
        if out.get("nullable") is True and isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"].append(None)  # 3.0 checks enum on null too; 2.0's x-nullable meant null is fine
        return out

    def schema_ref(self, ref: str, file: Path, at: str) -> str:
        """Where a schema ``$ref`` written in ``file`` at ``at`` points in the 3.0 document."""
        location, _, fragment = ref.partition("#")
        target = self.target_file(location, file, at, ref)
        pointer = unquote(fragment)
        tokens = [unescape(t) for t in pointer.split("/")[1:]]
        if target == self.file and len(tokens) == 2 and tokens[0] == "definitions":
            return _component_ref("schemas", tokens[1])  # a missing one fails when used, as in 3.x
        key = (target, pointer)
        name = self.schema_names.get(key)
        if name is None:
            name = self.schema_names[key] = self.new_name(target, tokens)
            found = self.resolve(ref, file, at)
            if found is not None:  # the name is taken first, so a recursive schema refers to itself
                self.components["schemas"][name] = self.schema(*found)
        return _component_ref("schemas", name)

    def new_name(self, file: Path, tokens: list[str]) -> str:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", tokens[-1] if tokens else file.stem).strip("_") or "schema"
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name

    # ------------------------------------------------------------------------------------------ refs

    def root_component(self, entry: Any, file: Path, section: str) -> str | None:
        """``#/components/<section>/X`` when ``entry`` is a ``$ref`` to the root's ``#/<section>/X``."""
        if file != self.file or not isinstance(entry, dict) or not isinstance(entry.get("$ref"), str):
            return None
        tokens = [unescape(t) for t in unquote(entry["$ref"]).split("/")]  # as resolve() reads it
        if len(tokens) == 3 and tokens[:2] == ["#", section] and tokens[2] in self.components[section]:
            return _component_ref(section, tokens[2])
        return None

    def follow(self, node: Any, file: Path, pointer: str) -> tuple[Any, Path, str] | None:
        """Follow a chain of ``$ref``s from a parameter, response or path item; None when it dangles."""
        for _ in range(_MAX_CHAIN):
            if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
                return node, file, pointer
            found = self.resolve(node["$ref"], file, join(pointer, "$ref"))
            if found is None:
                return None
            node, file, pointer = found
        log.warning("%s#%s: $ref chain longer than %d (a cycle?); left out", file, pointer, _MAX_CHAIN)
        return None

    def resolve(self, ref: str, file: Path, at: str) -> tuple[Any, Path, str] | None:
        location, _, fragment = ref.partition("#")
        target = self.target_file(location, file, at, ref)
        node = self.trees[target]
        pointer = unquote(fragment)
        for raw in pointer.split("/")[1:]:
            token = unescape(raw)
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                log.warning("%s#%s: $ref %r: %s has nothing at %s", self.name(file), at, ref, target, pointer)
                return None
        return node, target, pointer

    def target_file(self, location: str, file: Path, at: str, ref: str) -> Path:
        """The file a ``$ref``'s location names, read on first use."""
        if "://" in location:
            raise SpecError(
                self.name(file),
                at,
                f"remote $ref {ref!r} is not fetched: the sandbox reads local spec files only",
            )
        target = (file.parent / unquote(location)).resolve() if location else file
        if target not in self.trees:
            try:
                self.trees[target] = self.read(target)
            except Exception as exc:  # missing file, bad YAML: the $ref is at fault
                raise SpecError(self.name(file), at, f"$ref {ref!r}: cannot read {target}: {exc}") from exc
        return target

    def name(self, file: Path) -> str:
        return self.display if file == self.file else str(file)


def servers(root: dict[str, Any], schemes: list[Any] | None = None) -> list[dict[str, str]]:
    """Server objects for ``host`` + ``basePath``, one per scheme, the one ingestion binds to first."""
    host = root.get("host") if isinstance(root.get("host"), str) else ""
    base_path = root.get("basePath") if isinstance(root.get("basePath"), str) else ""
    if not host:
        return [{"url": base_path or "/"}]
    if schemes is None:
        schemes = root.get("schemes") if isinstance(root.get("schemes"), list) else []
    declared = [s for s in schemes if isinstance(s, str)]
    # A file has no scheme to default to; ingestion assumes https, and http is as likely.
    first = "https" if not declared or "https" in declared else declared[0]
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
        return {"type": "oauth2", "flows": {_OAUTH2_FLOWS.get(node.get("flow"), "implicit"): flow}, **kept}
    return copy.deepcopy(node)


def _component_ref(section: str, name: str) -> str:
    return f"#/components/{section}/{quote(escape(name), safe='')}"


def _mapping(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _base(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()
