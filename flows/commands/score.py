"""``callforge score``: score predictions without running a model, on BFCL's data or a dataset split.

    callforge score --bfcl-questions BFCL_v4_simple_python.json \\
        --bfcl-answers possible_answer/BFCL_v4_simple_python.json \\
        --predictions predictions.jsonl --rules bfcl --out scores/
    callforge score --dataset data/runs/gennx/dataset --split test_unseen \\
        --predictions predictions.jsonl --rules callforge --out scores/

PATH is a BFCL question file (``BFCL_v<N>_<category>.json``) or a folder of them; the answers are the
matching ``possible_answer`` file or folder. FILE is JSON Lines ``{"id", "calls": [{"name",
"arguments"}]}`` (empty ``calls``: an abstention), a BFCL result file, or ``callforge evaluate``'s
predictions. OUT gets verdicts.jsonl, metrics.json and report.md; both rule sets are reported, the
chosen one first.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score predictions on BFCL data or a dataset split, without running a model",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--bfcl-questions", type=Path, metavar="PATH", help="BFCL question file or folder")
    parser.add_argument(
        "--bfcl-answers", type=Path, metavar="PATH", help="the matching possible_answer file or folder"
    )
    parser.add_argument("--dataset", type=Path, help="assembled dataset directory (instead of BFCL data)")
    parser.add_argument("--split", help="with --dataset: the split to score, e.g. test_unseen")
    parser.add_argument(
        "--predictions", required=True, type=Path, metavar="FILE", help="predictions (JSON Lines)"
    )
    parser.add_argument(
        "--rules", choices=("bfcl", "callforge"), default="bfcl", help="the headline rule set"
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from schemas.errors import ConfigError
    from trainer.evaluation.scorecard import score_bfcl, score_split, write_scorecard
    from trainer.evaluation.scoring import Rules

    rules = Rules(args.rules)
    if args.bfcl_questions and args.dataset:
        raise ConfigError("score: give either --bfcl-questions (BFCL data) or --dataset/--split, not both")
    if args.bfcl_questions:
        card = score_bfcl(args.bfcl_questions, args.bfcl_answers, args.predictions, rules)
    elif args.dataset:
        if not args.split:
            raise ConfigError("score: --dataset needs --split (e.g. --split test_unseen)")
        card = score_split(args.dataset, args.split, args.predictions, rules)
    else:
        raise ConfigError("score: give --bfcl-questions PATH --bfcl-answers PATH, or --dataset D --split S")
    metrics = write_scorecard(card, args.out)
    accuracy = metrics["accuracy"]
    other = next(iter(metrics["other_rules"].items()))
    print(
        f"{metrics['questions']} questions · {rules.value} accuracy {accuracy['value']:.1%} "
        f"[{accuracy['ci_low']:.1%}–{accuracy['ci_high']:.1%}] · {other[0]} {other[1]['accuracy']['value']:.1%}"
    )
    for category, entry in metrics["by_category"].items():
        print(f"  {category:<24} {entry['value']:.1%} (n={entry['n']})")
    if metrics["missing_predictions"]:
        print(f"  {metrics['missing_predictions']} questions had no prediction (counted wrong)")
    print(f"report: {args.out / 'report.md'}")
    return 0
