"""Cut a big real spec down to a sample for the robustness suite: some of its paths, and only what they reach.

    python tests/data/real_specs/sample_spec.py BIG.json OUT.json --every 6 [--keep /path ...]
    python tests/data/real_specs/sample_spec.py ROOT.yaml OUTDIR --every 15 --multi-file

Single file: keeps every N-th path key (plus ``--keep`` ones) and, of ``components``/``definitions``/
``parameters``/``responses``, only the entries those paths reach through local ``$ref``s (security
schemes are kept whole). Nothing else is changed: the sample is the vendor's own text, fewer paths.

``--multi-file``: a root whose operations point at other files (DigitalOcean): the root keeps every
N-th path, and OUTDIR gets the root plus every file callforge's ingestion reads for it, at the same
relative places.

This is how the files in this folder were made (see README.md); it is not used by the tests.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from schemas.openapi.load import parse_text  # noqa: E402
from schemas.openapi.pointers import unescape  # noqa: E402

SECTIONS = ("components", "definitions", "parameters", "responses")


def reachable(doc: dict[str, Any], start: Any) -> set[tuple[str, ...]]:
    """Local ``#/a/b`` reference targets reachable from ``start``, as pointer token tuples."""
    seen: set[tuple[str, ...]] = set()
    stack = [start]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str) and value.startswith("#/"):
                    tokens = tuple(unescape(t) for t in value[2:].split("/"))
                    if tokens not in seen:
                        seen.add(tokens)
                        target: Any = doc
                        for token in tokens:
                            target = target.get(token) if isinstance(target, dict) else None
                        stack.append(target)
                elif key == "mapping" and isinstance(value, dict):  # discriminator mappings name schemas
                    stack.extend({"$ref": v} for v in value.values() if isinstance(v, str))
                else:
                    stack.append(value)
    return seen


def sample_document(doc: dict[str, Any], every: int, keep: list[str]) -> dict[str, Any]:
    paths = doc.get("paths") or {}
    chosen = {p: item for i, (p, item) in enumerate(paths.items()) if i % every == 0 or p in keep}
    out = {k: v for k, v in doc.items() if k not in SECTIONS and k not in ("paths", "tags", "x-tagGroups")}
    out["paths"] = chosen
    needed = reachable(doc, [chosen, doc.get("security")])
    for section in SECTIONS:
        if section not in doc:
            continue
        if section == "components":
            kept: dict[str, Any] = {}
            for kind, entries in doc["components"].items():
                if kind == "securitySchemes":
                    kept[kind] = entries
                    continue
                names = {t[2] for t in needed if len(t) >= 3 and t[:2] == ("components", kind)}
                if names:
                    kept[kind] = {n: e for n, e in entries.items() if n in names}
            out["components"] = kept
        else:
            names = {t[1] for t in needed if len(t) >= 2 and t[0] == section}
            out[section] = {n: e for n, e in doc[section].items() if n in names}
    if "securityDefinitions" in doc:
        out["securityDefinitions"] = doc["securityDefinitions"]
    return out


def sample_multi_file(root: Path, out_dir: Path, every: int, keep: list[str]) -> None:
    from schemas.openapi import ingest

    doc = parse_text(root.read_bytes(), str(root))
    paths = doc.get("paths") or {}
    doc["paths"] = {p: item for i, (p, item) in enumerate(paths.items()) if i % every == 0 or p in keep}
    doc.pop("tags", None)
    doc.pop("x-tagGroups", None)
    staged = root.parent / f".sample-{root.name}"
    staged.write_text(json.dumps(doc, indent=1, ensure_ascii=False))
    try:
        files = ingest([staged]).report.specs[0].files
    finally:
        staged.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / root.name).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    for name in files[1:]:
        source = Path(name).resolve()
        target = out_dir / source.relative_to(root.parent.resolve())
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--every", type=int, default=5, help="keep every N-th path key")
    parser.add_argument("--keep", action="append", default=[], help="a path key to keep as well")
    parser.add_argument("--multi-file", action="store_true", help="root + the files its $refs reach")
    args = parser.parse_args()
    if args.multi_file:
        sample_multi_file(args.spec, args.out, args.every, args.keep)
        return 0
    doc = parse_text(args.spec.read_bytes(), str(args.spec))
    text = json.dumps(sample_document(doc, args.every, args.keep), indent=1, ensure_ascii=False)
    args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
