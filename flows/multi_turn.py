"""The ``multi-turn`` stage: generate trajectories, verify them by replay, split them, write them to the dataset.

    multi_turn_flow(config)   # -> {"multi_turn_dir": "runs/<run>/multi_turn/dataset", "splits": {...}, ...}

Runs before ``assemble`` when ``RunConfig.makes_multi_turn`` (the bundled GEN NX spec by default;
``multi_turn.enabled`` decides otherwise). Writes, into ``runs/<run>/multi_turn/dataset/`` (replaced
whole, so a stage that fails leaves the previous folder as it was), which ``assemble`` then copies to
``dataset/multi_turn/`` before it hashes the dataset, so a published version carries both kinds:

* ``{train,validation,test_seen,test_unseen}.jsonl``: verified trajectory records (``schemas.trajectories``,
  tool messages filled in from the replay), split by ``trainer.dataset.trajectory_splits``;
* ``trl/SPLIT.jsonl`` and ``hf/`` (TRL/HF conversational rows) and ``bfcl/SPLIT/…`` (BFCL multi-turn
  layout) from ``trainer.dataset.trajectory_exports``;
* ``manifest.json``: counts per stage and split, rejection reasons, lengths against ``multi_turn.max_length``,
  what ``test_unseen`` holds out, and with ``multi_turn.paraphrase`` the ``paraphrased`` stage (rewritten,
  kept as templates, why, which ids: ``flows.multi_turn_paraphrase``);

and publishes the markdown artifact ``<spec>-multi-turn``. The working files (everything generated,
the verdicts) stay in ``runs/<run>/multi_turn/``.

Everything written is a function of the catalog and the ``multi_turn`` config (seeded generation, replay in
fresh sessions), so an unchanged refresh hashes to the same dataset version; with ``paraphrase``, also of
the teacher's replies (cached under the data root, so a rerun is served the same ones).
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from prefect import flow

from flows import monitoring
from flows.config import RunConfig
from flows.ingest import CATALOG_DIR
from flows.stage_support import load_catalog
from generators.trajectories import TrajectoryGenerator
from schemas import atomic
from schemas.errors import RecordError
from schemas.openapi.load import DocumentSet
from schemas.reference_heuristics import infer_references
from schemas.references import ReferenceGraph, load_references
from schemas.trajectories import Trajectory, read_trajectories, write_trajectories
from trainer.dataset.multi_turn_config import STAGED_DIR
from trainer.dataset.trajectory_exports import trl_rows, write_bfcl, write_trl
from trainer.dataset.trajectory_splits import SPLITS, split_summary, split_trajectories
from verifiers.trajectory import verify_trajectory_file

WORK_DIR = "multi_turn"
DRAW_FACTOR = 4  # draws allowed per trajectory wanted before the stage stops short and says so


def reference_graph(spec: str) -> ReferenceGraph:
    """The spec's checked-in reference file (``references.yaml`` beside it) over the inferred references."""
    inferred = infer_references(DocumentSet(Path(spec)).root)
    checked = Path(spec).parent / "references.yaml"
    return load_references(checked).merged(inferred) if checked.is_file() else inferred


def draw(config: RunConfig, generator: TrajectoryGenerator) -> tuple[list[Trajectory], Counter[str]]:
    """Trajectories filling ``multi_turn``'s quotas per (category, language), and why draws were skipped."""
    settings = config.multi_turn
    wanted = {k: n for k, n in settings.quotas().items() if n > 0}
    total = sum(wanted.values())
    kept: list[Trajectory] = []
    skipped: Counter[str] = Counter()
    # the generator round-robins every category and language: draw until every quota is filled
    for item in generator.generate(total * DRAW_FACTOR, seed=settings.seed, variants=settings.variants):
        if isinstance(item, str):
            skipped[item.split(": ", 1)[-1]] += 1
            continue
        key = (item.category, item.language)
        if wanted.get(key, 0) > 0:
            wanted[key] -= 1
            kept.append(item)
            if not any(wanted.values()):
                break
    if short := {f"{c}/{lang}": n for (c, lang), n in wanted.items() if n}:
        skipped[f"quota not reached after {total * DRAW_FACTOR} draws: {short}"] += 1
    return kept, skipped


def row_lengths(trajectories: list[Trajectory], max_length_chars: int) -> dict[str, int]:
    """Characters of each TRL row (messages and tools as JSON): p50 / p99 / max, and rows over the bound."""
    sizes = np.array(
        [
            len(json.dumps(r["messages"], ensure_ascii=False))
            + len(json.dumps(r["tools"], ensure_ascii=False))
            for t in trajectories
            for r in trl_rows(t)
        ]
        or [0]
    )
    return {
        "p50_chars": int(np.percentile(sizes, 50)),
        "p99_chars": int(np.percentile(sizes, 99)),
        "max_chars": int(sizes.max()),
        "over_bound": int((sizes > max_length_chars).sum()),
    }


@flow(
    name="multi-turn",
    flow_run_name=functools.partial(monitoring.stage_run_name, "multi-turn"),
    on_failure=[monitoring.log_failure_url],
    # Not the refresh's log_prints: building the HF export makes dill disassemble a function with print()
    # while it captures stdout, and Prefect's print patch would log every bytecode line of it.
    log_prints=False,
)
def multi_turn_flow(config: RunConfig, out_dir: str | None = None) -> dict[str, Any]:
    """Generate, verify, split and write the run's multi-turn trajectories (see the module docstring)."""
    config = config.with_run_name()
    settings = config.multi_turn
    work = config.run_dir / WORK_DIR
    work.mkdir(parents=True, exist_ok=True)
    target = Path(out_dir) if out_dir else config.run_dir / STAGED_DIR
    catalog = load_catalog(config.run_dir / CATALOG_DIR)
    generator = TrajectoryGenerator(catalog, reference_graph(config.specs[0]), spec=config.specs[0])
    drawn, skipped = draw(config, generator)
    paraphrased: dict[str, Any] | None = None
    if settings.paraphrase:  # rewritten user turns where they hold; the template trajectory otherwise
        from flows.multi_turn_paraphrase import paraphrase_drawn

        drawn, paraphrased = paraphrase_drawn(config, catalog, drawn, work)
    generated = work / "generated.jsonl"
    write_trajectories(generated, drawn)
    summary = verify_trajectory_file(generated, catalog, work / "verify")
    verified: list[Trajectory] = []
    for _, item in read_trajectories(work / "verify" / "verified.jsonl"):
        if isinstance(item, RecordError):  # written by the verifier a moment ago: a bug, not bad input
            raise item
        verified.append(item)
    result = split_trajectories(verified, settings.split)
    # the bound in characters: no tokenizer is loaded here (the stage stays a few seconds)
    lengths = row_lengths(verified, int(settings.max_length * CHARS_PER_TOKEN))
    manifest = {
        "spec": config.specs[0],
        "run": config.run_name,
        "stages": {
            "generated": {
                "wanted": sum(settings.counts.values()),
                "drawn": len(drawn),
                "skipped": dict(skipped),
            },
            **({"paraphrased": paraphrased} if paraphrased is not None else {}),
            "verified": {"total": summary.total, "valid": summary.valid, "reasons": dict(summary.reasons)},
            "split": split_summary(result),
        },
        "lengths": {"max_length": settings.max_length, "chars_per_token": CHARS_PER_TOKEN, **lengths},
        "config": settings.model_dump(mode="json"),
    }
    with atomic.directory(target) as tmp:
        for name in SPLITS:
            write_trajectories(tmp / f"{name}.jsonl", result.splits[name])
        manifest["trl_rows"] = write_trl(tmp, result.splits)
        write_bfcl(tmp, result.splits, config.slug)
        atomic.write_text(tmp / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    monitoring.publish_markdown(
        config.slug,
        "multi-turn",
        render_markdown(manifest),
        description=f"{config.run_name}: multi-turn trajectories generated, verified and split",
    )
    return {
        "multi_turn_dir": str(target),
        "splits": result.counts(),
        "verified": summary.valid,
        "total": summary.total,
    }


# Characters per token of GEN NX multi-turn TRL rows, measured at p99 (13,889 characters, 4,788 tokens of
# the stand-in tokenizer; 3.4 at p50): the lower ratio, so a row near the bound is counted as over it.
CHARS_PER_TOKEN = 2.9


def render_markdown(manifest: dict[str, Any]) -> str:
    stages = manifest["stages"]
    generated, verified, split = stages["generated"], stages["verified"], stages["split"]
    rate = verified["valid"] / verified["total"] if verified["total"] else 0.0
    kept = sum(split["counts"].values())
    lines = [
        f"# Multi-turn trajectories: {manifest['spec']}",
        "",
        "| stage | in | out | acceptance |",
        "|---|---:|---:|---:|",
        f"| generate | {generated['wanted']} wanted | {generated['drawn']} drawn | "
        f"{generated['drawn'] / max(generated['wanted'], 1):.1%} |",
        *_paraphrase_row(stages.get("paraphrased")),
        f"| verify (state replay) | {verified['total']} | {verified['valid']} | {rate:.1%} |",
        f"| split | {verified['valid']} | {kept} | {kept / max(verified['valid'], 1):.1%} |",
        "",
        "| split | trajectories |",
        "|---|---:|",
        *(f"| {name} | {n} |" for name, n in split["counts"].items()),
        "",
        f"test_unseen holds out {len(split['held_out_tables'])} subject tables and "
        f"{len(split['held_out_templates'])} workflow templates.",
        "",
        "## Top rejection reasons",
        "",
    ]
    reasons = Counter(verified["reasons"]) + Counter(generated["skipped"])
    if reasons:
        lines += ["| reason | n |", "|---|---:|", *(f"| {r} | {n} |" for r, n in reasons.most_common(5))]
    else:
        lines.append("none: every drawn trajectory was verified")
    lines += _paraphrase_reasons(stages.get("paraphrased"))
    lengths = manifest["lengths"]
    lines += [
        "",
        f"Row lengths (characters, TRL rows): p50 {lengths['p50_chars']}, p99 {lengths['p99_chars']}, "
        f"max {lengths['max_chars']}; {lengths['over_bound']} over max_length {lengths['max_length']} tokens "
        f"(at {lengths['chars_per_token']} characters per token).",
    ]
    return "\n".join(lines) + "\n"


def _paraphrase_row(paraphrased: dict[str, Any] | None) -> list[str]:
    if paraphrased is None:
        return []
    total = paraphrased["total"]
    return [
        f"| paraphrase (teacher {paraphrased['teacher_model']}) | {total} | {paraphrased['paraphrased']} "
        f"rewritten, {paraphrased['kept_template']} kept as templates | "
        f"{paraphrased['paraphrased'] / max(total, 1):.1%} |"
    ]


def _paraphrase_reasons(paraphrased: dict[str, Any] | None) -> list[str]:
    """Why rewrites fell back to their templates: never a rejection, the template trajectory goes on."""
    if paraphrased is None:
        return []
    reasons = Counter(paraphrased["reasons"])
    lines = ["", "## Paraphrases that fell back to the template", ""]
    if stopped := paraphrased.get("teacher_stopped"):
        lines += [f"The teacher was stopped: {stopped}", ""]
    if not reasons:
        return [*lines, "none: every drawn trajectory was rewritten"]
    return [*lines, "| reason | n |", "|---|---:|", *(f"| {r} | {n} |" for r, n in reasons.most_common(5))]
