"""GEN NX and Kubernetes ingest: cold, warm (parsed-spec cache), and prance's resolve-only path, one run.

    .venv/bin/python benchmarks/ingest_speed.py                 # Kubernetes from ../shared/specs
    .venv/bin/python benchmarks/ingest_speed.py --specs DIR     # another copy of the corpus

For each spec, CPU seconds of this process (wall seconds beside them) for:
  * callforge cold: ``schemas.openapi.ingest`` with the parsed-spec cache off — read, parse (the native
    YAML fast path where it applies), resolve, convert, build every Tool; best of ``--repeat``;
  * callforge with only the parsed-spec cache on (``CALLFORGE_INGEST_CACHE=off``): the parse is read
    back, resolving and converting still run; best of ``--repeat``;
  * callforge warm: both caches on and the spec unchanged (the nightly-refresh case: the ingested
    catalog is read back, checksummed, from ``schemas.openapi.ingest_cache``); best of ``--repeat``;
  * the parse step alone, cold (PyYAML only / native fast path) and warm (cache), for GEN NX;
  * prance, resolve only: read + parse + resolve every ``$ref`` (``RefResolver``), no validation — the
    same work as callforge's resolve, before callforge converts anything (labelled; once);
  * openapi-spec-validator ``validate`` on the parsed document, separately labelled (validation is not
    work callforge's ingest does; once).
Goals: GEN NX <= 0.5 CPU-s cold, a warm run <= 0.1 s. The cache lives in a temporary directory here.
Kubernetes is JSON (the YAML fast path and the parse cache are for YAML; JSON parses in C already;
the ingest cache applies to both).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from schemas.openapi import ingest  # noqa: E402
from schemas.openapi.load import _SpecLoader, parse_text  # noqa: E402
from schemas.openapi.yaml_loader import load_fast  # noqa: E402

GOAL_COLD, GOAL_WARM = 0.5, 0.1


def timed(run: Callable[[], Any]) -> tuple[float, float, Any, str | None]:
    """(cpu s, wall s, result, error) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        result, error = run(), None
    except Exception as exc:  # a baseline failing is a result to report, not a crash
        result, error = None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}"
    return time.process_time() - cpu, time.perf_counter() - wall, result, error


def best(run: Callable[[], Any], repeat: int) -> tuple[float, float, Any, str | None]:
    return min((timed(run) for _ in range(repeat)), key=lambda r: r[0])


def row(spec: str, what: str, cpu: float, wall: float, note: str = "") -> None:
    print(f"{spec:<11} {what:<40} {cpu:7.3f} {wall:7.3f}  {note}")


def prance_resolve_only(path: Path) -> Any:
    from prance.util import formats, fs, resolver

    text = fs.read_file(str(path))
    specs = formats.parse_spec(text, str(path))
    ref_resolver = resolver.RefResolver(specs, fs.abspath(str(path)))
    ref_resolver.resolve_references()
    return ref_resolver.specs


def measure(label: str, path: Path, repeat: int, cache: Path) -> list[str]:
    missed = []
    os.environ["CALLFORGE_PARSE_CACHE"] = "off"
    cpu, wall, result, error = best(lambda: ingest([path]), repeat)
    if error:
        print(f"{label:<11} callforge ingest failed: {error}")
        return [f"{label}: ingest failed"]
    row(label, "callforge ingest, cold", cpu, wall, f"{len(result.catalog)} tools (best of {repeat})")
    cold = cpu
    os.environ["CALLFORGE_PARSE_CACHE"] = str(cache)
    os.environ["CALLFORGE_INGEST_CACHE"] = "off"
    ingest([path])  # fills the parse cache
    parsed, parsed_wall, _, _ = best(lambda: ingest([path]), repeat)
    row(label, "callforge ingest, parse cached only", parsed, parsed_wall, f"best of {repeat}")
    os.environ["CALLFORGE_INGEST_CACHE"] = "on"
    ingest([path])  # fills the ingest cache
    warm, warm_wall, _, _ = best(lambda: ingest([path]), repeat)
    row(label, "callforge ingest, warm (ingest cached)", warm, warm_wall, f"best of {repeat}")
    if label == "GEN NX":
        data = path.read_bytes()
        text = data.decode("utf-8")
        pyyaml, pyyaml_wall, _, _ = timed(lambda: yaml.load(text, Loader=_SpecLoader))
        row(label, "  parse only: PyYAML (libyaml + Python)", pyyaml, pyyaml_wall)
        native, native_wall, tree, _ = best(
            lambda: load_fast(text, _SpecLoader.yaml_implicit_resolvers), repeat
        )
        row(
            label,
            "  parse only: native fast path",
            native,
            native_wall,
            "taken" if tree is not None else "DECLINED",
        )
        hit, hit_wall, _, _ = best(lambda: parse_text(data, str(path)), repeat)
        row(
            label,
            "  parse only: from the cache",
            hit,
            hit_wall,
            f"{pyyaml / max(hit, 1e-9):.0f}x less than PyYAML",
        )
        if cold > GOAL_COLD:
            missed.append(f"GEN NX cold {cold:.2f} CPU-s > {GOAL_COLD}")
        if warm > GOAL_WARM:
            missed.append(f"GEN NX warm ingest {warm:.2f} s > {GOAL_WARM}")
    p_cpu, p_wall, _, p_error = timed(lambda: prance_resolve_only(path))
    row(
        label,
        "prance, resolve only (no validation)",
        p_cpu,
        p_wall,
        p_error or f"{p_cpu / cold:.1f}x callforge cold",
    )
    document = parse_text(path.read_bytes(), str(path))
    from openapi_spec_validator import validate

    v_cpu, v_wall, _, v_error = timed(lambda: validate(document))
    row(label, "[validation] openapi-spec-validator", v_cpu, v_wall, v_error or "ok (not ingest's work)")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=Path, default=ROOT / ".." / "shared" / "specs", help="spec corpus")
    parser.add_argument("--repeat", type=int, default=3, help="callforge runs per measure (best is kept)")
    args = parser.parse_args()
    specs = {"GEN NX": ROOT / "specs" / "gennx" / "openapi.yaml"}
    kubernetes = args.specs / "k8s_swagger2_kubernetes.json"
    if kubernetes.is_file():
        specs["Kubernetes"] = kubernetes
    else:
        print(f"Kubernetes spec not found at {kubernetes.resolve()} (../shared/specs); GEN NX only")
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; CPU s and wall s of this process"
    )
    print(f"{'spec':<11} {'what':<40} {'cpu s':>7} {'wall s':>7}")
    for key in ("CALLFORGE_PARSE_CACHE", "CALLFORGE_INGEST_CACHE"):
        os.environ.pop(key, None)
    missed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="callforge-parse-cache-") as cache:
        for label, path in specs.items():
            missed += measure(label, path, args.repeat, Path(cache))
    print(
        f"goals: GEN NX <= {GOAL_COLD} CPU-s cold, warm <= {GOAL_WARM} s: "
        + ("MET" if not missed else "; ".join(missed))
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
