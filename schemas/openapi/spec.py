"""One opened spec: its files, reference resolver, schema converter, version and warnings.

:func:`open_spec` refuses (with :class:`SpecError`) what cannot be ingested at all: unreadable
files, text that is neither JSON nor YAML, a top level that is not an object, a document with
neither ``swagger``/``openapi`` nor ``paths``. Everything else is read leniently, with warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.errors import SpecError
from schemas.openapi.budgets import SpecBudgets
from schemas.openapi.convert import SchemaConverter
from schemas.openapi.load import DocumentSet
from schemas.openapi.refs import RefResolver, Target, UnresolvedRef
from schemas.openapi.report import WarningLog


@dataclass
class Spec:
    """The state shared while ingesting one spec. ``major`` is 2 (Swagger) or 3 (OpenAPI 3.x)."""

    name: str
    docs: DocumentSet
    resolver: RefResolver
    converter: SchemaConverter
    warnings: WarningLog
    root: dict[str, Any]
    declared: str  # "2.0", "3.0.3", "3.1.0" or "" when the document does not say
    major: int
    # Converted parameters by (file, pointer, name, in): shared ones are converted once (parameters.py).
    arguments: dict[tuple[Path, str, str, str], Any] = field(default_factory=dict)

    @property
    def file(self) -> Path:
        return self.docs.root_path

    def warn(self, pointer: str, code: str, message: str, file: Path | None = None) -> None:
        where = self.name if file is None else self.resolver.name(file)
        self.warnings.add(where, pointer, code, message)

    def follow(self, node: Any, file: Path, pointer: str, what: str) -> Target | None:
        """Follow a non-schema ``$ref`` chain; warn and return None when it leads nowhere."""
        try:
            return self.resolver.follow(node, file, pointer)
        except UnresolvedRef as exc:
            self.warn(pointer, "missing_ref", f"{what}: {exc}; ignored", file)
            return None

    @property
    def info(self) -> dict[str, Any]:
        info = self.root.get("info")
        return info if isinstance(info, dict) else {}


def open_spec(
    path: str | Path,
    warnings: WarningLog,
    *,
    allowed_root: str | Path | None = None,
    budgets: SpecBudgets | None = None,
) -> Spec:
    """Load ``path`` and check it is an OpenAPI/Swagger document (raises SpecError if not).

    File ``$ref``s may only reach files under ``allowed_root`` (default: the spec's own folder).
    """
    docs = DocumentSet(path, allowed_root=allowed_root, budgets=budgets)
    name = docs.root_name
    root = docs.root
    if not isinstance(root, dict):
        raise SpecError(
            name, "/", f"expected an object at the top level of an OpenAPI document, got {_kind(root)}"
        )
    swagger, openapi = root.get("swagger"), root.get("openapi")
    if swagger is None and openapi is None and "paths" not in root:
        raise SpecError(
            name,
            "/",
            "not an OpenAPI document: expected a 'swagger' or 'openapi' version key or a 'paths' object",
        )
    paths = root.get("paths")
    if paths is not None and not isinstance(paths, dict):
        raise SpecError(
            name, "/paths", f"expected an object mapping path templates to path items, got {_kind(paths)}"
        )
    resolver = RefResolver(docs)
    spec = Spec(
        name=name,
        docs=docs,
        resolver=resolver,
        converter=SchemaConverter(
            resolver, warnings, openapi_31=str(openapi).startswith("3.1"), budgets=docs.budgets
        ),
        warnings=warnings,
        root=root,
        declared=str(swagger if swagger is not None else openapi if openapi is not None else ""),
        major=2,
    )
    if swagger is not None:
        if str(swagger) != "2.0":
            spec.warn(
                "/swagger", "unsupported_version", f"swagger {swagger!r} is not 2.0; read as Swagger 2.0"
            )
    elif openapi is not None:
        spec.major = 3
        if not str(openapi).startswith("3."):
            spec.warn(
                "/openapi", "unsupported_version", f"openapi {openapi!r} is not 3.x; read as OpenAPI 3.1"
            )
    else:
        spec.major = 2 if "definitions" in root or "basePath" in root else 3
        guess = "Swagger 2.0" if spec.major == 2 else "OpenAPI 3"
        spec.warn("/", "missing_version", f"no 'swagger' or 'openapi' key; read as {guess}")
    if "info" not in root:
        spec.warn("/info", "missing_info", "no 'info' object; title and version are left empty")
    return spec


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", type(None): "nothing (an empty document)"}.get(
        type(value), type(value).__name__
    )
