"""BFCL parity: how often callforge's ``bfcl`` rule set gives BFCL's own AST checker's verdict.

    pip install --no-deps --target .bfcl bfcl-eval        # the oracle, without its vendor SDKs
    CALLFORGE_BFCL_EVAL=.bfcl .venv/bin/python benchmarks/bfcl_parity.py
    .venv/bin/python benchmarks/bfcl_parity.py --data tests/data/bfcl   # another BFCL data folder

Over every entry of BFCL's single-turn Python AST categories (the data shipped inside ``bfcl-eval``
unless ``--data`` names a folder), it generates replies (``trainer.evaluation.parity.cases``: the
reference, every acceptable alternative, omissions and perturbations) and has both checkers judge
each. It prints the agreement rate of the ``bfcl`` rule set (goal >= 99.9 %, counting only cases where
BFCL's greedy pairing of parallel calls is not the cause of its verdict), each class of disagreement,
and, measured in the same run, the ``callforge`` rule set's agreement with the classes where it
differs on purpose (see ``trainer/evaluation/scoring.py``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer.evaluation.bfcl import load_entries  # noqa: E402
from trainer.evaluation.parity import ParityReport, compare, load_oracle  # noqa: E402
from trainer.evaluation.scoring import Rules  # noqa: E402

GOAL = 0.999


def _print(report: ParityReport, rules: Rules, seconds: float, classes: int) -> None:
    print(f"\n{rules.value} rules vs bfcl-eval: {report.cases} cases in {seconds:.1f} s")
    print(f"  agree                 {report.agree}")
    print(
        f"  greedy pairing only   {report.greedy_pairing} (BFCL rejects a reply an optimal pairing accepts)"
    )
    print(f"  oracle raised         {report.oracle_errors}")
    print(f"  agreement             {report.agreement:.4%} of {report.counted} counted cases")
    for label, count in report.classes.most_common(classes):
        entry_id, category, calls = report.examples[label]
        shown = ", ".join(f"{c.name}({dict(c.arguments)})" for c in calls)
        print(f"  {count:>6}  {label}\n          e.g. {category}/{entry_id}: {shown[:160]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="a BFCL data folder (default: the one inside bfcl-eval)")
    parser.add_argument("--oracle", type=Path, default=ROOT / ".bfcl", help="folder holding bfcl_eval")
    parser.add_argument("--classes", type=int, default=25, help="disagreement classes to list")
    args = parser.parse_args()
    loaded = load_oracle([args.oracle])
    if loaded is None:
        print("bfcl-eval is not importable: pip install --no-deps --target .bfcl bfcl-eval", file=sys.stderr)
        return 2
    oracle, shipped = loaded
    data = args.data or shipped
    entries, skipped = load_entries(data, data / "possible_answer")
    print(f"data: {data} — {len(entries)} entries; categories not scored: {', '.join(skipped) or 'none'}")
    results = {}
    for rules in (Rules.BFCL, Rules.CALLFORGE):
        started = time.perf_counter()
        results[rules] = report = compare(entries, oracle, rules)
        _print(report, rules, time.perf_counter() - started, args.classes)
    agreement = results[Rules.BFCL].agreement
    print(
        f"\nbfcl rule set agreement {agreement:.4%}  goal {GOAL:.1%}  ratio {agreement / GOAL:.4f}  "
        f"({'met' if agreement >= GOAL else 'NOT met'}); callforge rule set {results[Rules.CALLFORGE].agreement:.2%}"
    )
    return 0 if agreement >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
