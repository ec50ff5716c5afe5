"""Execution during evaluation: its prerequisites, checked before any model loads, and the run itself.

    options = execution_options_for(catalog, config.execution_options, catalog_path)  # fails early
    attach_execution(run, examples, catalog, options)                                # after generation

The sandbox is built from the spec files the catalog records (``Tool.source.file`` and the
manifest's specs). Those paths are as ``callforge ingest`` saw them: absolute, or relative to the
folder it ran in. They are resolved against, in order: ``spec_root`` (``--spec-root``), the catalog's
folder and each folder above it, then the current directory; the first root under which every spec
exists becomes the sandbox's ``spec_root``. A spec found nowhere is an error naming it, the places
tried and ``--spec-root`` — raised before any model has generated, so no compute is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas.catalog import Catalog
from schemas.errors import ConfigError
from schemas.models import Sample, infer_style
from trainer.replies import parse_tool_calls

if TYPE_CHECKING:
    from trainer.evaluation.backends import ModelSpec
    from trainer.evaluation.examples import EvalExample, ModelRun


def spec_files(catalog: Catalog) -> list[str]:
    """Every spec file the catalog's tools come from, manifest order first."""
    used = {t.source.file for t in catalog.tools if t.source.file}
    ordered = [e.file for e in catalog.manifest.specs if e.file in used]
    return ordered + sorted(used - set(ordered))


def _roots(spec_root: str | None, catalog_path: Path | None) -> list[Path]:
    if spec_root:
        return [Path(spec_root)]
    roots: list[Path] = []
    if catalog_path is not None:
        folder = Path(catalog_path).resolve()
        folder = folder if folder.is_dir() else folder.parent
        roots += [folder, *folder.parents]
    roots.append(Path.cwd())
    return roots


def execution_options_for(
    catalog: Catalog, options: dict[str, Any] | None, catalog_path: Path | None
) -> dict[str, Any]:
    """The execution verifier's options with a ``spec_root`` under which every spec exists.

    Nothing to resolve when the options point at a running server (``base_url``) or a real target.
    """
    options = dict(options or {})
    if options.get("base_url") or options.get("target", "sandbox") != "sandbox":
        return options
    files = spec_files(catalog)
    if not files:
        raise ConfigError("evaluate --execution: the catalog records no spec file to build the sandbox from")
    relative = [f for f in files if not Path(f).is_absolute()]
    missing_absolute = [f for f in files if Path(f).is_absolute() and not Path(f).is_file()]
    if missing_absolute:
        raise ConfigError(
            f"evaluate --execution: spec file {missing_absolute[0]} (recorded in the catalog) is missing"
        )
    roots = _roots(options.get("spec_root"), catalog_path)
    for root in roots:
        if all((root / f).is_file() for f in relative):
            options["spec_root"] = str(root.resolve())
            return options
    first = next(f for f in relative if not any((r / f).is_file() for r in roots[:1]))
    tried = ", ".join(str(r) for r in roots[:4]) + (" …" if len(roots) > 4 else "")
    raise ConfigError(
        f"evaluate --execution: spec file {first!r} (recorded in the catalog, relative to where `callforge "
        f"ingest` ran) was not found under {tried}; pass that folder as --spec-root"
    )


def check_models(models: Sequence[ModelSpec]) -> None:
    """What can be checked of each model without loading it: local paths that must exist."""
    for spec in models:
        if spec.adapter is not None and not Path(spec.adapter).exists():
            raise ConfigError(f"model {spec.label!r}: adapter {spec.adapter} does not exist")
        if spec.kind == "local" and (spec.model.startswith((".", "/")) and not Path(spec.model).exists()):
            raise ConfigError(
                f"model {spec.label!r}: {spec.model} does not exist (a hub id or a local folder)"
            )
        if spec.kind == "endpoint" and not spec.base_url:
            raise ConfigError(
                f"model {spec.label!r}: an endpoint needs base_url (e.g. http://127.0.0.1:8000/v1)"
            )


def attach_execution(
    run: ModelRun, examples: Sequence[EvalExample], catalog: Catalog, options: dict[str, Any] | None = None
) -> None:
    """Execute every parsed, schema-valid prediction in the sandbox; others count as failures.

    ``options`` are the execution verifier's (``ExecutionOptions``); by default it starts a sandbox
    from the catalog's spec files.
    """
    from verifiers.base import VerifyContext
    from verifiers.execution import ExecutionOptions, ExecutionVerifier

    candidates: dict[int, Sample] = {}
    for i, (example, reply, score) in enumerate(zip(examples, run.replies, run.scores, strict=True)):
        if not example.expected:
            continue
        calls = parse_tool_calls(reply).calls
        if (
            not score.parse_ok
            or not calls
            or score.hallucinated_calls
            or score.schema_valid_calls != len(calls)
        ):
            score.execution_ok = False
            continue
        offered = [t.get("function", t)["name"] for t in example.tools]
        candidates[i] = Sample.create(
            query=example.query,
            language=example.language,
            style=infer_style(offered, calls),
            tools=offered,
            calls=calls,
        )
    if not candidates:
        return
    verifier = ExecutionVerifier(ExecutionOptions.model_validate(options or {}))
    verdicts = verifier.verify(list(candidates.values()), VerifyContext(catalog=catalog))
    for index, verdict in zip(candidates, verdicts, strict=True):
        run.scores[index].execution_ok = verdict.passed is True
