"""``callforge verify``: run the verifiers over candidate shards and write verified/rejected/verdicts.

    callforge verify --samples data/runs/r1 --catalog data/runs/r1/catalog --out data/runs/r1 \
        --verifiers format,semantic,dedup --options verify.yaml

``--samples`` is a run directory with ``candidates/shard-*.parquet`` (or that ``candidates`` directory
itself). ``--options`` is a JSON or YAML file mapping verifier names to their options, e.g.
``{"semantic": {"similarity": "lexical"}, "dedup": {"threshold": 0.85}}``.

Each shard is verified exactly as the refresh's verify flow does it (``flows.shard_verification``):
repeated sample ids dropped first and counted, one verifier context per shard. The closing table is the
run's ``VerdictSummary`` (``verifiers.summary``), the same numbers the Prefect tables and the card show.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas.errors import ConfigError

if TYPE_CHECKING:
    from verifiers.summary import VerdictSummary

_SHARD = re.compile(r"^shard-(\d+)\.parquet$")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="verify candidate samples (format, execution, semantic, dedup, plugins)",
        description="Run verifiers over candidates/ shards; write verified/, rejected/ and verdicts/ shards.",
    )
    parser.add_argument(
        "--samples", required=True, type=Path, help="run directory holding candidates/shard-*.parquet"
    )
    parser.add_argument("--catalog", required=True, type=Path, help="catalog directory (catalog.jsonl)")
    parser.add_argument(
        "--out", required=True, type=Path, help="run directory to write verified/ rejected/ verdicts/ into"
    )
    parser.add_argument(
        "--verifiers",
        default=None,
        help="comma-separated verifier names (default: format,execution,semantic,dedup)",
    )
    parser.add_argument(
        "--options", type=Path, default=None, help="JSON or YAML file: {verifier: {option: value}}"
    )
    parser.add_argument(
        "--undecided", choices=("reject", "accept"), default="reject", help="what an undecided verdict means"
    )
    parser.add_argument(
        "--gate",
        choices=("all", "requires"),
        default="all",
        help="all: a verifier sees samples that passed every earlier one; requires: only its requirements",
    )
    parser.set_defaults(func=run)


def read_options(path: Path | None) -> dict[str, dict[str, Any]]:
    """The verifier options file as {verifier: {option: value}}; errors name the file and key."""
    from schemas.config_files import read_mapping

    if path is None:
        return {}
    data = read_mapping(path, what="--options", expected="a mapping of verifier name -> mapping of options")
    if not all(isinstance(v, dict | type(None)) for v in data.values()):
        raise ConfigError(f"--options {path}: expected a mapping of verifier name -> mapping of options")
    return {str(k): dict(v or {}) for k, v in data.items()}


def candidate_shards(samples_dir: Path) -> list[tuple[int, Path]]:
    """(index, path) of every candidate shard, by index; raises ConfigError when there are none."""
    directory = samples_dir / "candidates" if (samples_dir / "candidates").is_dir() else samples_dir
    shards = sorted(
        (int(m.group(1)), p) for p in directory.glob("shard-*.parquet") if (m := _SHARD.match(p.name))
    )
    if not shards:
        raise ConfigError(
            f"--samples {samples_dir}: no candidate shards (expected candidates/shard-NNNNN.parquet)"
        )
    return shards


def run(args: argparse.Namespace) -> int:
    from flows.shard_verification import verify_candidate_shard
    from schemas.catalog import Catalog
    from verifiers.registry import load_verifiers, verifier_names
    from verifiers.summary import summarise_shard_results

    verifiers = load_verifiers(verifier_names(args.verifiers), read_options(args.options))
    catalog = Catalog.load(args.catalog)
    results = []
    for index, path in candidate_shards(args.samples):
        # The verify flow's behaviour (flows.shard_verification): repeats dropped, one context per shard.
        result = verify_candidate_shard(
            args.out, path, index, catalog, verifiers, undecided=args.undecided, gate=args.gate
        )
        results.append(result)
        print(
            f"shard {index:05d}: {result['samples']} samples, {result['accepted']} accepted, "
            f"{result['rejected']} rejected, {result['repeated']} repeats dropped"
        )
    print(format_summary(summarise_shard_results(results)))
    return 0


def format_summary(summary: VerdictSummary, *, top: int = 10) -> str:
    """The pass-rate table printed at the end of ``callforge verify``."""
    lines = [
        f"samples {summary.total}, accepted {summary.total_accepted} ({summary.acceptance_rate:.1%}), "
        f"rejected {summary.total_rejected}",
        "pass rate per verifier:",
    ]
    for name, row in summary.per_verifier().items():
        rate = f"{row['pass_rate']:7.1%}" if row["pass_rate"] is not None else "      -"
        lines.append(
            f"  {name:<14} {rate}  seen {row['seen']:>7}  failed {row['failed']:>6}  "
            f"undecided {row['undecided']:>5}"
        )
    lines.append("acceptance per tier:")
    for tier, row in summary.per_tier().items():
        lines.append(f"  tier {tier:<5} {row['acceptance_rate']:7.1%}  of {row['samples']}")
    if rejections := summary.top_rejections(top):
        lines.append(
            f"top rejection reasons (samples; undecided counts as a rejection: {summary.undecided == 'reject'}):"
        )
        lines.extend(f"  {r['samples']:>6}  {r['verifier']}/{r['code']}" for r in rejections)
    if warnings := summary.top_warnings(top):
        lines.append("warnings by class (samples; a warning does not reject):")
        lines.extend(f"  {w['samples']:>6}  {w['verifier']}/{w['code']}" for w in warnings)
    return "\n".join(lines)
