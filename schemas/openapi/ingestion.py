"""Specs in, a tool catalog and an ingestion report out.

    result = ingest(["specs/gennx/openapi.yaml"], naming="snake", tier_rules="specs/gennx/tiers.yaml")
    write_ingest(result, "data/runs/nightly/catalog")   # catalog.jsonl, manifest.json, ingest_report.json

A spec that cannot be read raises :class:`~schemas.errors.SpecError` (file + JSON pointer) before
anything is written; everything a readable spec gets wrong becomes a warning in the report.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from schemas import atomic
from schemas.catalog import CATALOG_FILE, MANIFEST_FILE, Catalog
from schemas.errors import ConfigError, SpecError
from schemas.manifest import CatalogManifest, SpecEntry
from schemas.models import Tool, ToolSource
from schemas.openapi import ingest_cache
from schemas.openapi.budgets import SpecBudgets, budgets_or_env
from schemas.openapi.files import ALLOWED_ROOT_ENV
from schemas.openapi.ingest_result import IngestResult
from schemas.openapi.naming import NAMINGS, base_name, category_for, unique_names
from schemas.openapi.operations import (
    OperationDraft,
    SkipOperation,
    build_operation,
    operation_items,
    operation_target,
)
from schemas.openapi.pointers import join
from schemas.openapi.report import Counts, IngestReport, SkippedOperation, SpecReport, WarningLog
from schemas.openapi.security import credential_parameters, security_schemes
from schemas.openapi.spec import Spec, open_spec

REPORT_FILE = "ingest_report.json"


def ingest(
    paths: Sequence[str | Path],
    *,
    naming: str = "snake",
    tier_rules: str | Path | None = None,
    include_deprecated: bool = True,
    allowed_root: str | Path | None = None,
    budgets: SpecBudgets | None = None,
) -> IngestResult:
    """Read ``paths`` (OpenAPI 2.0/3.0/3.1, JSON or YAML) and build one catalog of tools.

    ``naming`` is ``snake`` | ``method_path`` | ``operation_id``; ``tier_rules`` a tier-rules YAML
    file (see :mod:`schemas.tiers`); with ``include_deprecated=False`` deprecated operations are
    skipped (and listed in the report). File ``$ref``s may only reach files under ``allowed_root``
    (default: each spec's own folder tree); ``budgets`` bound what a spec may make us read and
    walk (default: ``SpecBudgets.from_env()``, see :mod:`schemas.openapi.budgets`). Raises
    SpecError for a spec that cannot be read and ConfigError for a bad option or rules file.
    """
    if naming not in NAMINGS:
        raise ConfigError(f"naming: expected one of {', '.join(NAMINGS)}, got {naming!r}")
    if not paths:
        raise ConfigError("ingest: expected at least one spec file")
    cache_key = ingest_cache.entry_key(
        paths,
        {
            "naming": naming,
            "tier_rules": None if tier_rules is None else str(Path(tier_rules).resolve()),
            "include_deprecated": include_deprecated,
            "allowed_root": None if allowed_root is None else str(Path(allowed_root).resolve()),
            "allowed_root_env": os.environ.get(ALLOWED_ROOT_ENV),
            "budgets": asdict(budgets_or_env(budgets)),
        },
    )
    hit = ingest_cache.load(cache_key)
    if hit is not None:
        return hit
    rules = None
    if tier_rules is not None:
        from schemas.tiers import TierRules  # only needed with rules

        rules = TierRules.load(tier_rules)
    warnings = WarningLog()
    specs: list[tuple[Spec, SpecReport]] = []
    drafts: list[tuple[int, Spec, OperationDraft]] = []
    for index, path in enumerate(paths):
        spec = open_spec(path, warnings, allowed_root=allowed_root, budgets=budgets)
        specs.append((spec, _ingest_spec(spec, index, include_deprecated, drafts)))
    keys = [(d.path, d.method, i) for i, _, d in drafts]
    names = unique_names(
        naming, keys, [base_name(naming, d.method, d.path, d.operation_id) for _, _, d in drafts]
    )
    tools: list[Tool] = []
    for name, (_, spec, draft) in zip(names, drafts, strict=True):
        tier, category = None, category_for(draft.tags, draft.path)
        if rules is not None:
            tier, rule_category = rules.assign(
                path=draft.path, method=draft.method, tags=draft.tags, name=name
            )
            category = rule_category or category
        tools.append(_tool(name, spec, draft, tier, category))
    per_spec = Counter(index for index, _, _ in drafts)
    for index, (spec, spec_report) in enumerate(specs):
        spec_report.tools = per_spec[index]
        spec_report.warnings = warnings.count_for(spec.docs.display_name(f) for f in spec.docs.files)
    tiers = _counts(tools, lambda t: "none" if t.tier is None else str(t.tier))
    manifest = CatalogManifest(
        naming=naming,
        specs=[SpecEntry(**r.model_dump(include=set(SpecEntry.model_fields))) for _, r in specs],
        tool_count=len(tools),
        tiers={k: c.tools for k, c in tiers.items()},
        tier_rules=str(tier_rules) if tier_rules is not None else None,
        quotas={str(k): list(v) for k, v in rules.quotas.items()} if rules is not None else {},
    )
    report = IngestReport(
        naming=naming,
        tier_rules=manifest.tier_rules,
        include_deprecated=include_deprecated,
        specs=[r for _, r in specs],
        tools=len(tools),
        endpoints=len({(t.source.file, t.binding.path) for t in tools}),
        tiers=tiers,
        categories=_counts(tools, lambda t: t.category or "none"),
        warnings=warnings.items,
    )
    result = IngestResult(Catalog(tools, manifest), report)
    ingest_cache.store(cache_key, result, [f for spec, _ in specs for f in spec.docs.files])
    return result


def _ingest_spec(
    spec: Spec, index: int, include_deprecated: bool, drafts: list[tuple[int, Spec, OperationDraft]]
) -> SpecReport:
    """Build the drafts of one spec (appended to ``drafts``); returns its report."""
    info = spec.info
    report = SpecReport(
        file=spec.name,
        title=str(info.get("title", "")),
        version=str(info.get("version", "")),
        openapi=spec.declared,
    )
    schemes = security_schemes(spec)
    credentials = credential_parameters(schemes)
    for path, method, item in operation_items(spec):
        report.operations += 1
        try:
            with _bounded(spec, join("/paths", path, method)):
                op = operation_target(spec, item, method).node
                if not include_deprecated and isinstance(op, dict) and op.get("deprecated") is True:
                    report.skipped.append(
                        _skip(path, method, "deprecated", "deprecated operation (--skip-deprecated)")
                    )
                    continue
                draft = build_operation(spec, path, method, item, schemes, credentials)
        except SkipOperation as exc:
            skipped = _skip(path, method, exc.code, exc.reason)
            report.skipped.append(skipped)
            spec.warn(skipped.pointer, exc.code, f"operation skipped: {exc.reason}")
            continue
        drafts.append((index, spec, draft))
    if report.operations == 0:
        spec.warn(
            "/paths", "no_operations", "the document has no operations under paths (webhooks are not tools)"
        )
    # External files are read lazily while operations are built, so the hash comes last.
    with _bounded(spec, "/"):
        dangling = spec.resolver.load_all_files()
    # references tools did not need (responses, unused definitions) are warned about too, once
    warned = {(w.file, w.pointer) for w in spec.warnings.items if w.code == "missing_ref"}
    for file, pointer, reason in dangling:
        name = spec.resolver.name(file)
        if (name, pointer) not in warned and (name, pointer.removesuffix("/$ref")) not in warned:
            spec.warn(pointer, "missing_ref", f"{reason}; not followed", file)
    report.sha256 = spec.docs.sha256
    report.files = [spec.docs.display_name(f) for f in spec.docs.files]
    return report


@contextmanager
def _bounded(spec: Spec, pointer: str) -> Iterator[None]:
    """Turn a RecursionError or MemoryError escaping the budgets into a SpecError naming the spot.

    The budgets (``budgets.py``) are meant to stop every hostile spec first; this is the backstop
    that keeps a traceback from ever reaching the user if one slips through.
    """
    try:
        yield
    except RecursionError:
        raise SpecError(
            spec.name, pointer, "nested too deeply to convert (lower nesting or raise the budgets)"
        ) from None
    except MemoryError:
        raise SpecError(spec.name, pointer, "ran out of memory while converting (budget max_nodes)") from None


def _skip(path: str, method: str, code: str, reason: str) -> SkippedOperation:
    return SkippedOperation(
        method=method.upper(), path=path, pointer=join("/paths", path, method), code=code, reason=reason
    )


def _tool(name: str, spec: Spec, draft: OperationDraft, tier: int | None, category: str | None) -> Tool:
    info = spec.info
    return Tool(
        name=name,
        description=draft.description,
        parameters=draft.parameters,
        binding=draft.binding,
        tier=tier,
        category=category,
        deprecated=draft.deprecated,
        source=ToolSource(
            file=spec.name,
            title=str(info.get("title", "")),
            version=str(info.get("version", "")),
            openapi=spec.declared,
            pointer=draft.pointer,
            operation_id=draft.operation_id,
        ),
    )


def _counts(tools: list[Tool], key: Callable[[Tool], str]) -> dict[str, Counts]:
    """Tools and distinct endpoints per key (tier or category)."""
    tool_counts: dict[str, int] = defaultdict(int)
    endpoints: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for tool in tools:
        k = key(tool)
        tool_counts[k] += 1
        endpoints[k].add((tool.source.file, tool.binding.path))
    return {k: Counts(tools=tool_counts[k], endpoints=len(endpoints[k])) for k in sorted(tool_counts)}


def write_ingest(result: IngestResult, out_dir: str | Path) -> Path:
    """Write ``catalog.jsonl``, ``manifest.json`` and ``ingest_report.json`` into ``out_dir`` atomically.

    A folder holding only these files (or none) is replaced as a whole, so readers see the old
    catalog or the new one. A folder that also holds other things is never swapped (that would
    delete them): each file is then replaced atomically on its own, the report last.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: the output must be a directory, and this is a file")
    ours = {CATALOG_FILE, MANIFEST_FILE, REPORT_FILE}
    report_json = result.report.model_dump_json(indent=2) + "\n"
    if out.exists() and any(p.name not in ours for p in out.iterdir()):
        result.catalog.save(out)
        atomic.write_text(out / REPORT_FILE, report_json)
        return out
    with atomic.directory(out) as tmp:
        result.catalog.save(tmp)
        atomic.write_text(tmp / REPORT_FILE, report_json)
    return out
