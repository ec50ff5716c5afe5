"""How fast `callforge ingest` reads big specs, against prance and openapi-spec-validator in the same run.

    .venv/bin/python benchmarks/ingest.py              # specs from ../shared/specs
    .venv/bin/python benchmarks/ingest.py --specs DIR  # another copy of the corpus

For the Kubernetes spec (4.1 MB, 1,123 operations) and star-trek (0.5 MB, 120 operations) it times:
- callforge: ``schemas.openapi.ingest`` (read + resolve + convert + build every Tool), best of N;
- prance: ``ResolvingParser`` (read + resolve every $ref + validate; its defaults), once;
- openapi-spec-validator: ``validate`` on the already-parsed document, once.
Targets: Kubernetes under 1.5 s, and >= 10x faster than prance where prance succeeds. Every step is
single-threaded, so on an idle machine wall ~= CPU seconds; on a shared one (load average printed)
wall time includes waiting for a core, so the targets are judged on CPU seconds, both are printed.
This script reads ../shared: it is a measurement, not part of the product.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas.openapi import ingest  # noqa: E402

SPECS = {"kubernetes": "k8s_swagger2_kubernetes.json", "star-trek": "readme_3.0_star-trek.json"}
TARGET_SECONDS = {"kubernetes": 1.5}
TARGET_RATIO = 10.0


def timed(run: Callable[[], Any]) -> tuple[float, float, Any, str | None]:
    """(wall s, cpu s, result, error) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        result, error = run(), None
    except Exception as exc:  # a baseline failing is a result to report, not a crash
        result, error = None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    return time.perf_counter() - wall, time.process_time() - cpu, result, error


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--specs", type=Path, default=ROOT / ".." / "shared" / "specs", help="spec corpus folder"
    )
    parser.add_argument("--repeat", type=int, default=3, help="callforge runs per spec (best is kept)")
    args = parser.parse_args()
    if not all((args.specs / name).is_file() for name in SPECS.values()):
        print(
            f"benchmark needs {', '.join(SPECS.values())} in {args.specs.resolve()} (../shared/specs); not found"
        )
        return 2
    import prance
    from openapi_spec_validator import validate

    failures = []
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'spec':<11} {'tool':<24} {'wall s':>8} {'cpu s':>8}  result")
    for label, name in SPECS.items():
        path = args.specs / name
        runs = [timed(lambda p=path: ingest([p])) for _ in range(args.repeat)]
        ours_wall, ours_cpu, result, error = min(runs, key=lambda r: r[1])
        if error:
            print(f"{label:<11} callforge ingest failed: {error}")
            return 1
        tools = len(result.catalog)
        print(
            f"{label:<11} {'callforge ingest':<24} {ours_wall:8.3f} {ours_cpu:8.3f}  {tools} tools (best of {args.repeat})"
        )
        p_wall, p_cpu, _, p_error = timed(lambda p=path: prance.ResolvingParser(str(p)))
        print(f"{label:<11} {'prance ResolvingParser':<24} {p_wall:8.3f} {p_cpu:8.3f}  {p_error or 'ok'}")
        document = json.loads(path.read_text(encoding="utf-8"))
        v_wall, v_cpu, _, v_error = timed(lambda d=document: validate(d))
        print(f"{label:<11} {'openapi-spec-validator':<24} {v_wall:8.3f} {v_cpu:8.3f}  {v_error or 'ok'}")
        if p_error:
            print(f"{label:<11} ratio prance/callforge: n/a (prance failed)")
        else:
            ratio = p_cpu / ours_cpu
            print(f"{label:<11} ratio prance/callforge: {p_wall / ours_wall:.1f}x wall, {ratio:.1f}x cpu")
            if ratio < TARGET_RATIO:
                failures.append(f"{label}: {ratio:.1f}x faster than prance, target {TARGET_RATIO:.0f}x")
        print(
            f"{label:<11} ratio validator/callforge: {v_wall / ours_wall:.1f}x wall, {v_cpu / ours_cpu:.1f}x cpu"
        )
        target = TARGET_SECONDS.get(label)
        if target is not None and ours_cpu > target:
            failures.append(f"{label}: {ours_cpu:.2f} cpu s, target {target} s")
    print("targets: " + ("all met" if not failures else "MISSED - " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
