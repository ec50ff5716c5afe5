"""Swagger 2.0 ``$ref``s and Schema Objects, rewritten for the OpenAPI 3.0 document ``swagger2.py`` builds.

In: the root Swagger 2.0 document (a dict), the file it was read from, and a ``read`` function for the
other files its ``$ref``s name (local files only: a remote ``$ref`` raises ``SpecError``). Out: a
``Swagger2Refs`` that

- follows ``$ref`` chains from parameters, responses and path items (``follow``, ``resolve``),
  reading each file once;
- rewrites a Schema Object into 3.0 spelling (``schema``): ``x-nullable`` -> ``nullable``, a
  ``discriminator`` name -> ``{propertyName}``, ``type: file`` -> string/binary. ``#/definitions/X``
  of the root file -> ``#/components/schemas/X``; any other schema ``$ref`` (into another file, or
  elsewhere in this one) is copied once into ``components["schemas"]`` under a name made from its
  file and pointer, so the result has no external ``$ref`` and recursive schemas stay references;
- keeps the 3.0 ``components`` being filled (schemas here; parameters, responses and security
  schemes by ``swagger2.py``) and says when a ``$ref`` names one of the root's (``root_component``).

A ``$ref`` into a file that was read but to a pointer that is not there is logged and gives None; a
schema so referenced fails when a request reaches it (as a dangling ``$ref`` in a 3.x spec does).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from schemas.errors import SpecError
from schemas.openapi.budgets import SpecBudgets
from schemas.openapi.files import RefusedFile, read_spec_file
from schemas.openapi.load import parse_text
from schemas.openapi.pointers import escape, join, unescape
from schemas.openapi.refs import walk

Reader = Callable[[Path], Any]
log = logging.getLogger("callforge.sandbox")
_MAX_CHAIN = 32  # a $ref to a $ref to ...: longer chains are cycles


def read_local(path: Path) -> Any:
    """A spec file parsed the way ingestion parses it (JSON as JSON, else YAML; budgets applied).

    Not confined to an allowed root: ``LoadedSpec`` passes a reader of the files it already
    loaded through ``schemas.openapi.load.DocumentSet`` instead.
    """
    budgets = SpecBudgets.from_env()
    try:
        data = read_spec_file(path, budgets.max_file_bytes)
    except RefusedFile as exc:
        raise SpecError(str(path), "/", str(exc)) from None
    return parse_text(data, str(path), budgets)


class Swagger2Refs:
    """The files of one Swagger 2.0 spec, its ``$ref``s followed, its schemas in 3.0 spelling."""

    def __init__(self, root: dict[str, Any], file: Path, read: Reader) -> None:
        self.file = file.resolve()
        self.display = str(file)
        self.read = read
        self.trees: dict[Path, Any] = {self.file: root}
        self.schema_names: dict[tuple[Path, str], str] = {}
        self.taken = set(mapping(root.get("definitions")))
        self.components: dict[str, dict[str, Any]] = {
            "schemas": {},
            "parameters": {},
            "responses": {},
            "securitySchemes": {},
        }

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
        if isinstance(out.get("type"), list):
            split_type_list(out)
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
            return component_ref("schemas", tokens[1])  # a missing one fails when used, as in 3.x
        key = (target, pointer)
        name = self.schema_names.get(key)
        if name is None:
            name = self.schema_names[key] = self.new_name(target, tokens)
            found = self.resolve(ref, file, at)
            if found is not None:  # the name is taken first, so a recursive schema refers to itself
                self.components["schemas"][name] = self.schema(*found)
        return component_ref("schemas", name)

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
            return component_ref(section, tokens[2])
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
        pointer = unquote(fragment)
        try:
            node = walk(self.trees[target], pointer)
        except KeyError:
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


def split_type_list(schema: dict[str, Any]) -> None:
    """Rewrite a ``type: [a, b]`` list (valid in 3.1, not in 2.0 or 3.0, yet written) in 3.0 terms, in place.

    openapi-core's 3.0 validator hashes ``type`` and crashed on a list (an HTTP 500 for every request
    reaching it). ``"null"`` becomes ``nullable`` (or an ``enum: [null]`` branch), one other type stays
    ``type``, several become ``anyOf`` of one-type branches; the other keywords stay beside them.
    """
    types = [t for t in dict.fromkeys(schema.pop("type")) if isinstance(t, str)]
    nullable = "null" in types
    rest = [t for t in types if t != "null"]
    if len(rest) == 1:
        schema["type"] = rest[0]
        if nullable:
            schema["nullable"] = True
        return
    if not rest:
        return  # only null (or nothing): leave it unconstrained rather than refuse everything
    branches: list[Any] = [{"type": t} for t in rest] + ([{"enum": [None]}] if nullable else [])
    if "anyOf" in schema:
        schema.setdefault("allOf", []).append({"anyOf": branches})
    else:
        schema["anyOf"] = branches


def component_ref(section: str, name: str) -> str:
    return f"#/components/{section}/{quote(escape(name), safe='')}"


def mapping(value: Any) -> dict[str, Any]:
    """``value`` as a dict with string keys; {} when it is not a mapping."""
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}
