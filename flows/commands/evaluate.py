"""``callforge evaluate``: compare models on a dataset's held-out splits.

    callforge evaluate --dataset data/runs/gennx/dataset --model Qwen/Qwen2.5-1.5B-Instruct \\
        --adapter data/runs/gennx/model/adapter --out data/runs/gennx/evaluation
    callforge evaluate --dataset DIR --model M --endpoint-model gpt-4o-mini --endpoint-base-url URL --out OUT
    callforge evaluate --multi-turn test_seen.jsonl --catalog CATALOG --model M --out OUT

With ``--adapter`` the fine-tuned model and the base without it (the ablation) are both evaluated,
unless ``--no-base``; ``--endpoint-model`` adds an OpenAI-compatible baseline (key from the variable
named by ``--endpoint-key-env``). ``--constrained`` also runs each local model with schema-constrained
decoding (every reply a valid call), reported as ``<label>+constrained``. Multi-turn trajectories
(``--multi-turn FILE``, or the dataset's ``multi_turn/<split>.jsonl``) are rolled out turn by turn in
the sandbox (``trainer.evaluation.rollout``), at most ``--max-steps`` replies with calls per user turn.
Writes report.md, metrics.json, predictions and PNG plots into OUT.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score models on test_seen and test_unseen (fine-tuned vs base vs an endpoint)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--dataset",
        type=Path,
        help="assembled dataset directory; its multi_turn/<split>.jsonl, when present, are rolled out too",
    )
    parser.add_argument(
        "--multi-turn",
        type=Path,
        metavar="FILE",
        help="a multi-turn trajectory JSONL to roll out turn by turn in the sandbox (needs --catalog)",
    )
    parser.add_argument(
        "--max-steps",
        type=int,
        default=20,
        help="multi-turn: replies with calls per user turn before the turn is cut off (default 20)",
    )
    parser.add_argument("--model", help="base model: hub id or local path")
    parser.add_argument("--adapter", type=Path, help="LoRA adapter trained on the base model")
    parser.add_argument("--no-base", action="store_true", help="with --adapter, skip the base-model ablation")
    parser.add_argument("--endpoint-model", help="model name on an OpenAI-compatible server (a baseline)")
    parser.add_argument("--endpoint-base-url", help="that server's base URL, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument(
        "--endpoint-key-env", default="CALLFORGE_TEACHER_API_KEY", help="variable with its key"
    )
    parser.add_argument(
        "--constrained",
        action="store_true",
        help="also run local models with JSON-schema-constrained decoding ('<label>+constrained')",
    )
    parser.add_argument(
        "--catalog",
        type=Path,
        help="tool catalog: enables --execution, exact schemas and the multi-turn sandbox "
        "(default for multi-turn sets: the catalog/ beside the dataset, when there is one)",
    )
    parser.add_argument("--execution", action="store_true", help="execute parsed calls in the sandbox")
    parser.add_argument(
        "--spec-root",
        type=Path,
        help="with --execution: the folder `callforge ingest` ran in (the catalog's spec paths are relative "
        "to it); default: the catalog's folder or one above it, then the current directory",
    )
    parser.add_argument("--splits", default="test_seen,test_unseen", help="comma-separated splits")
    parser.add_argument("--limit", type=int, help="at most N examples per split")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--device", default="auto", help="auto, cuda or cpu")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.set_defaults(func=run)


def model_specs(args: argparse.Namespace) -> list:
    from schemas.errors import ConfigError
    from trainer.evaluation.backends import ModelSpec

    specs = []
    if args.model and args.adapter:
        specs.append(
            ModelSpec(
                label="fine-tuned",
                model=args.model,
                adapter=args.adapter,
                device=args.device,
                constrained=args.constrained,
            )
        )
    if args.model and (not args.adapter or not args.no_base):
        specs.append(
            ModelSpec(label="base", model=args.model, device=args.device, constrained=args.constrained)
        )
    if args.endpoint_model:
        specs.append(
            ModelSpec(
                label=f"endpoint:{args.endpoint_model}",
                kind="endpoint",
                model=args.endpoint_model,
                base_url=args.endpoint_base_url,
                api_key_env=args.endpoint_key_env,
            )
        )
    if not specs:
        raise ConfigError("evaluate: give --model (and optionally --adapter) and/or --endpoint-model")
    return specs


def catalog_path(args: argparse.Namespace) -> Path | None:
    """``--catalog``, or for multi-turn sets the run's ``catalog/`` beside the dataset (the sandbox they
    run in is built from it)."""
    from trainer.evaluation.multi_turn import MULTI_TURN_DIR

    if args.catalog:
        return Path(args.catalog)
    wants_sandbox = args.multi_turn or (args.dataset and (Path(args.dataset) / MULTI_TURN_DIR).is_dir())
    beside = Path(args.dataset).parent / "catalog" if args.dataset else None
    if wants_sandbox and beside is not None and beside.is_dir():
        return beside
    return None


def run(args: argparse.Namespace) -> int:
    from rich.progress import Progress, TaskID

    from schemas.catalog import Catalog
    from schemas.errors import ConfigError
    from trainer.evaluation.config import EvaluateConfig
    from trainer.evaluation.evaluate import evaluate

    if not args.dataset and not args.multi_turn:
        raise ConfigError("evaluate: give --dataset (an assembled dataset) and/or --multi-turn FILE")
    config = EvaluateConfig(
        splits=[s.strip() for s in args.splits.split(",") if s.strip()],
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        limit=args.limit,
        execution=args.execution,
        max_steps=args.max_steps,
        multi_turn=str(args.multi_turn) if args.multi_turn else None,
        execution_options={"spec_root": str(args.spec_root)} if args.spec_root else {},
    )
    catalog_dir = catalog_path(args)
    catalog = Catalog.load(catalog_dir) if catalog_dir else None
    with Progress() as bar:
        tasks: dict[str, TaskID] = {}

        def progress(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done)

        result = evaluate(
            args.dataset,
            model_specs(args),
            config,
            args.out,
            catalog=catalog,
            catalog_path=catalog_dir,
            progress=progress,
        )
    for label, entry in result.metrics["models"].items():
        for split, values in entry["splits"].items():
            ast, bfcl = values["overall"]["ast_match"], values["overall"]["ast_match_bfcl"]
            print(
                f"{label:>24} {split:<12} AST match {ast['value']:.1%} (n={ast['n']}) "
                f"· BFCL rules {bfcl['value']:.1%}"
            )
        if entry["splits"]:
            print(f"{label:>24} {entry['examples_per_second']:.2f} examples/s")
        for name, figures in entry.get("multi_turn", {}).items():
            accuracy = figures["accuracy"]
            categories = " ".join(
                f"{c} {r['value']:.0%} (n={r['n']})" for c, r in figures["by_category"].items()
            )
            errors = sum(figures["errors"].values())
            print(
                f"{label:>24} {name:<12} multi-turn {accuracy['value']:.1%} (n={accuracy['n']}) · {categories}"
                + (f" · {errors} errors" if errors else "")
            )
    print(f"report: {result.report}")
    return 0
