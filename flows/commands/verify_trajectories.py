"""``callforge verify-trajectories``: replay multi-turn trajectories in the sandbox and judge each one.

    callforge verify-trajectories --trajectories traj.jsonl --catalog data/runs/r1/catalog --out out/

Writes ``out/verdicts.jsonl`` (``{"id", "valid", "reason", "failed_turn"}`` per record, in file order)
and ``out/verified.jsonl`` (the valid records with their tool messages filled in from the replay).
The record format and the checks are described in ``schemas/trajectories.py`` and
``verifiers/trajectory/verifier.py``. Exit code 0 when the file was verified (whatever the verdicts).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify-trajectories",
        help="verify multi-turn trajectories by replaying them in the sandbox",
        description="Replay gold and trajectory calls in two seeded, strict sandbox sessions; one verdict "
        "per record with a reason code and the failed turn.",
    )
    parser.add_argument("--trajectories", required=True, type=Path, help="JSONL file of trajectory records")
    parser.add_argument("--catalog", required=True, type=Path, help="catalog directory (catalog.jsonl)")
    parser.add_argument(
        "--out", required=True, type=Path, help="directory for verdicts.jsonl and verified.jsonl"
    )
    parser.add_argument(
        "--spec-root",
        type=Path,
        default=None,
        help="directory the catalog's relative spec paths resolve against",
    )
    parser.add_argument(
        "--check-references",
        action="store_true",
        help="also refuse writes naming rows that do not exist (an assumption about the live server)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from schemas.catalog import Catalog
    from schemas.errors import ConfigError
    from verifiers.trajectory import verify_trajectory_file

    if not args.trajectories.is_file():
        raise ConfigError(f"--trajectories {args.trajectories}: no such file")
    catalog = Catalog.load(args.catalog)
    summary = verify_trajectory_file(
        args.trajectories,
        catalog,
        args.out,
        spec_root=args.spec_root,
        check_references=args.check_references,
    )
    print("\n".join(summary.lines()))
    print(f"wrote {args.out / 'verdicts.jsonl'} and {args.out / 'verified.jsonl'}")
    return 0
