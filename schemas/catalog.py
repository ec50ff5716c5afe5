"""The tool catalog on disk: ``catalog.jsonl`` (one Tool per line) and ``manifest.json``.

catalog = Catalog.load("runs/x/catalog")
tool = catalog["post_db_node"]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from schemas import atomic
from schemas.errors import RecordError
from schemas.manifest import CatalogManifest
from schemas.models import Tool

CATALOG_FILE = "catalog.jsonl"
MANIFEST_FILE = "manifest.json"


class Catalog:
    """An ordered, name-unique collection of tools with its manifest."""

    def __init__(self, tools: Iterable[Tool], manifest: CatalogManifest | None = None) -> None:
        self.tools: list[Tool] = list(tools)
        self._by_name: dict[str, Tool] = {}
        for tool in self.tools:
            if tool.name in self._by_name:
                raise ValueError(f"duplicate tool name in catalog: {tool.name!r}")
            self._by_name[tool.name] = tool
        self.manifest = manifest or CatalogManifest(tool_count=len(self.tools))

    def __len__(self) -> int:
        return len(self.tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self.tools)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Tool:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no tool named {name!r} in the catalog") from None

    def get(self, name: str) -> Tool | None:
        return self._by_name.get(name)

    @property
    def by_name(self) -> dict[str, Tool]:
        return dict(self._by_name)

    def save(self, directory: str | Path) -> Path:
        """Write the catalog and its manifest atomically into ``directory``."""
        out = Path(directory)
        lines = "".join(t.model_dump_json() + "\n" for t in self.tools)
        atomic.write_text(out / CATALOG_FILE, lines)
        atomic.write_text(out / MANIFEST_FILE, self.manifest.model_dump_json(indent=2) + "\n")
        return out

    @classmethod
    def load(cls, directory: str | Path) -> Catalog:
        """Read a catalog directory (or a ``catalog.jsonl`` path); errors name the file and line."""
        path = Path(directory)
        if path.is_dir():
            path = path / CATALOG_FILE
        if not path.exists():
            raise RecordError(
                f"{path}: no tool catalog here (expected {CATALOG_FILE}; run `callforge ingest`)"
            )
        tools = list(read_tools(path))
        manifest_path = path.parent / MANIFEST_FILE
        manifest = None
        if manifest_path.exists():
            try:
                manifest = CatalogManifest.model_validate_json(manifest_path.read_text("utf-8"))
            except ValidationError as exc:
                raise RecordError(f"{manifest_path}: invalid catalog manifest: {exc}") from exc
        return cls(tools, manifest)


def read_tools(path: Path) -> Iterator[Tool]:
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield Tool.model_validate(json.loads(line))
            except (ValueError, ValidationError) as exc:
                raise RecordError(f"{path}:{lineno}: invalid tool record: {exc}") from exc
