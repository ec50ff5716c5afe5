"""``callforge verify``: run the verifiers over candidate shards and write verified/rejected/verdicts.

    callforge verify --samples data/runs/r1 --catalog data/runs/r1/catalog --out data/runs/r1 \
        --verifiers format,semantic,dedup --options verify.yaml

``--samples`` is a run directory with ``candidates/shard-*.parquet`` (or that ``candidates`` directory
itself). ``--options`` is a JSON or YAML file mapping verifier names to their options, e.g.
``{"semantic": {"similarity": "lexical"}, "dedup": {"threshold": 0.85}}``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from schemas.errors import ConfigError

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
    from schemas.catalog import Catalog
    from verifiers.base import VerifyContext
    from verifiers.pipeline import summarise_shards, verify_shard
    from verifiers.registry import load_verifiers, verifier_names

    verifiers = load_verifiers(verifier_names(args.verifiers), read_options(args.options))
    catalog = Catalog.load(args.catalog)
    ctx = VerifyContext(catalog=catalog)  # one context: dedup keys carry across shards
    results = []
    for index, path in candidate_shards(args.samples):
        result = verify_shard(
            path, catalog, verifiers, ctx, args.out, index, undecided=args.undecided, gate=args.gate
        )
        results.append(result)
        print(
            f"shard {index:05d}: {result['samples']} samples, {result['accepted']} accepted, {result['rejected']} rejected"
        )
    print(format_summary(summarise_shards(results)))
    return 0


def format_summary(summary: dict[str, Any]) -> str:
    """The pass-rate table printed at the end of ``callforge verify``."""
    lines = [
        f"samples {summary['samples']}, accepted {summary['accepted']} ({summary['acceptance_rate']:.1%}), "
        f"rejected {summary['rejected']}",
        "pass rate per verifier:",
    ]
    for name, row in summary["verifiers"].items():
        lines.append(
            f"  {name:<14} {row['pass_rate']:7.1%}  seen {row['seen']:>7}  failed {row['failed']:>6}  "
            f"undecided {row['undecided']:>5}"
        )
    lines.append("acceptance per tier:")
    for tier, row in summary["tiers"].items():
        lines.append(f"  tier {tier:<5} {row['acceptance_rate']:7.1%}  of {row['samples']}")
    if summary["top_rejections"]:
        lines.append("top rejection codes:")
        lines.extend(f"  {r['count']:>6}  {r['verifier']}/{r['code']}" for r in summary["top_rejections"])
    return "\n".join(lines)
