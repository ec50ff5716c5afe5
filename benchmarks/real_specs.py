"""How the sandbox judges the offline generator's samples on whole real specs (not the test samples).

    .venv/bin/python benchmarks/real_specs.py SPEC [SPEC ...] [--items 400] [--allowed-root DIR]

For each spec: ingest (seconds, tools, warnings by code, tools left with a bare ``METHOD /path``
description), offline-generate ``--items`` simple samples, keep the format-valid ones, send them to a
sandbox started from the spec, and print the pass rate against the 98 % goal with every failure's
tool, code and message. The specs are whatever you point it at (e.g. a checkout of
digitalocean/openapi's ``specification/DigitalOcean-public.v2.yaml``); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generators.config import GenerateConfig  # noqa: E402
from generators.pipeline import generate  # noqa: E402
from generators.plan import build_plan  # noqa: E402
from schemas.errors import CallforgeError  # noqa: E402
from schemas.openapi import ingest  # noqa: E402
from verifiers.base import VerifyContext  # noqa: E402
from verifiers.execution import ExecutionOptions, ExecutionVerifier  # noqa: E402
from verifiers.format import FormatVerifier  # noqa: E402

GOAL = 0.98


def run(spec: Path, items: int, allowed_root: str | None) -> bool:
    start = time.perf_counter()
    try:
        result = ingest([spec], include_deprecated=True, allowed_root=allowed_root)
    except CallforgeError as exc:
        print(f"{spec.name}: ingest refused: {exc}")
        return False
    catalog = result.catalog
    bare = sum(1 for t in catalog if t.description == f"{t.binding.method} {t.binding.path}")
    warnings = Counter(w.code for w in result.report.warnings).most_common(6)
    print(
        f"{spec.name}: {len(catalog)} tools in {time.perf_counter() - start:.1f} s; warnings {warnings}; bare METHOD /path descriptions {bare}"
    )
    config = GenerateConfig.model_validate(
        {"plan": {"seed": 1, "styles": {"simple": 1}, "languages": {"en": 1}}}
    )
    plan = build_plan(catalog, config.plan)[:items]
    samples = list({s.id: s for s in generate(plan, catalog, config).samples if s.calls}.values())
    ctx = VerifyContext(catalog=catalog)
    valid = [s for s, v in zip(samples, FormatVerifier().verify(samples, ctx), strict=True) if v.passed]
    options = ExecutionOptions(sandbox_mode="process", allowed_root=allowed_root)
    verdicts = ExecutionVerifier(options).verify(valid, ctx)
    passed = sum(1 for v in verdicts if v.passed is True)
    rate = passed / max(1, len(valid))
    print(
        f"{spec.name}: samples {len(samples)}, format-valid {len(valid)}, sandbox passed {passed} "
        f"({rate:.1%}; goal {GOAL:.0%}: {'met' if rate >= GOAL else 'MISSED'}) in {time.perf_counter() - start:.1f} s"
    )
    for verdict in verdicts:
        if verdict.passed is not True:
            print(f"  {verdict.code}: {verdict.message[:240]}")
    return rate >= GOAL


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="+", type=Path)
    parser.add_argument("--items", type=int, default=400, help="plan items generated per spec")
    parser.add_argument(
        "--allowed-root", default=None, help="folder file $refs may reach (default: each spec's)"
    )
    args = parser.parse_args()
    results = [run(spec, args.items, args.allowed_root) for spec in args.specs]
    print(f"goal met on {sum(results)} of {len(results)} specs")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
