"""Do the splits and quotas of a full GEN NX refresh mean what they say? Each figure beside its goal.

    .venv/bin/python benchmarks/splits_quality.py                      # a full offline refresh into a temp
                                                                       # data root (minutes), then the checks
    .venv/bin/python benchmarks/splits_quality.py --run data/runs/gennx-20261205-120000   # an existing run

The checks read the run's *exported* dataset (``dataset/trl/*.jsonl``, ``dataset/manifest.json``) and the
catalog, and recompute each figure here rather than trusting the assembly's own counters:

1. **tier-1 tools under quota** -- from the card's quota section (accepted samples per tool against its
   quota, the store's count). Goal 0; tools still short are printed with the reason the card gives.
2. **held-out tools whose schema is identical to a trained tool's** -- canonical parameter schemas
   (``trainer.dataset.holdout.schema_signature``) of the held-out tools against every tool called or
   offered in train / validation, among tools that take values; argument-free tools (whose schema is
   the empty one: nothing to generalise to) and shared paths are counted on lines of their own. Goal 0.
3. **test_unseen irrelevance samples**. Goal > 0.
4. **cross-split near-duplicates** -- every exported query clustered with the dedup verifier's measure
   (``near_duplicate_clusters`` at its threshold, 0.9); a cluster with members in two splits counts.
   Goal 0. The same at 0.8 (the issue's "template twins") is shown for information.
5. **training rows whose assistant turn would be truncated** -- train + validation rows re-measured from
   the export with the meter the card names, against its ``max_length``. Goal 0.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from schemas.catalog import Catalog  # noqa: E402
from schemas.models import Sample  # noqa: E402
from schemas.records import from_trl  # noqa: E402
from schemas.value_space import takes_values  # noqa: E402
from trainer.dataset.holdout import schema_signature  # noqa: E402
from verifiers.near_duplicates import near_duplicate_clusters  # noqa: E402

SPLITS = ("train", "validation", "test_seen", "test_unseen")
DEDUP_THRESHOLD = 0.9  # verifiers.dedup.DedupVerifier.Options.threshold's default


def refresh(data_root: Path) -> Path:
    """A full offline refresh of the bundled spec (``callforge refresh``) into ``data_root``; its run dir."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_HOME": str(data_root / "prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    }
    command = [sys.executable, "-m", "flows.cli", "refresh", "--data-root", str(data_root)]
    subprocess.run(command, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
    (run,) = sorted((data_root / "runs").iterdir())
    return run


def load_splits(dataset: Path) -> dict[str, list[tuple[dict[str, Any], Sample]]]:
    out: dict[str, list[tuple[dict[str, Any], Sample]]] = {}
    for split in SPLITS:
        path = dataset / "trl" / f"{split}.jsonl"
        rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        out[split] = [(row, from_trl(row)) for row in rows]
    return out


def line(label: str, value: Any, goal: str, met: bool) -> str:
    return f"  {label:<62} {value!s:>8}   goal {goal:<4} {'MET' if met else 'NOT MET'}"


def check(run: Path) -> int:
    dataset = run / "dataset"
    manifest = json.loads((dataset / "manifest.json").read_text("utf-8"))
    catalog = Catalog.load(run / "catalog")
    tools = {t.name: t for t in catalog}
    splits = load_splits(dataset)
    counts = {s: len(rows) for s, rows in splits.items()}
    print(f"run {run.name}: {counts}")
    results: list[bool] = []

    # 1. quotas
    quotas = manifest.get("quotas") or {}
    under = [row for row in quotas.get("under_quota", []) if row["tier"] == 1]
    tier1 = sum(1 for t in catalog if t.tier == 1)
    results.append(not under)
    print(line(f"tier-1 tools under quota (of {tier1})", len(under), "0", not under))
    print(
        f"    all tiers under quota: {len(quotas.get('under_quota', []))} of {quotas.get('tools', '?')} tools"
    )
    for row in under[:10]:
        print(f"    {row['tool']}: {row['accepted']}/{row['quota']} -- {row['reason']}")

    # 2. held-out schemas
    held = set(manifest["held_out_tools"])
    trained = {
        name
        for split in ("train", "validation")
        for _, sample in splits[split]
        for name in {*sample.tools, *(c.name for c in sample.calls)}
    }
    leaked = held & trained
    trained_shapes = {schema_signature(tools[n]) for n in trained if takes_values(tools[n].parameters)}
    same_schema = sorted(
        n for n in held if takes_values(tools[n].parameters) and schema_signature(tools[n]) in trained_shapes
    )
    trivial = sorted(n for n in held if not takes_values(tools[n].parameters))
    trained_paths = {tools[n].binding.path for n in trained}
    same_path = sorted(n for n in held if tools[n].binding.path in trained_paths)
    results.append(not same_schema and not leaked and not same_path)
    print(
        line(
            f"held-out tools with a trained tool's schema (of {len(held)})",
            len(same_schema),
            "0",
            not same_schema,
        )
    )
    print(line("held-out tools sharing a path with a trained tool", len(same_path), "0", not same_path))
    print(line("held-out tools called or offered in train/validation", len(leaked), "0", not leaked))
    print(f"    argument-free held-out tools (empty schema, compared by path only): {len(trivial)}")
    holdout = manifest["split_report"].get("holdout", {})
    print(f"    hold-out: {holdout.get('families')} families; by tier {holdout.get('by_tier')}")
    print(f"    by category {holdout.get('by_category')}")

    # 3. test_unseen composition
    unseen = [s for _, s in splits["test_unseen"]]
    irrelevance = sum(1 for s in unseen if not s.calls)
    results.append(irrelevance > 0)
    print(line("test_unseen irrelevance samples", irrelevance, "> 0", irrelevance > 0))
    mixed = sum(1 for s in unseen if s.calls and {c.name for c in s.calls} <= held and set(s.tools) - held)
    seen_calls = sum(1 for s in unseen for c in s.calls if c.name not in held)
    all_calls = sum(len(s.calls) for s in unseen)
    print(
        f"    held-out targets among seen distractors: {mixed}; calls to seen tools {seen_calls}/{all_calls}"
    )

    # 4. cross-split near-duplicates
    queries = [(split, sample.query) for split in SPLITS for _, sample in splits[split]]
    for threshold in (DEDUP_THRESHOLD, 0.8):
        clusters = near_duplicate_clusters([q for _, q in queries], threshold=threshold)
        members: dict[int, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for (split, _), cluster in zip(queries, clusters, strict=True):
            members[cluster][split] += 1
        spanning = [per_split for per_split in members.values() if len(per_split) > 1]
        samples = sum(sum(per_split.values()) for per_split in spanning)
        if threshold == DEDUP_THRESHOLD:
            results.append(not spanning)
            label = f"near-duplicate clusters spanning two splits (Jaccard >= {threshold})"
            print(line(label, len(spanning), "0", not spanning))
        else:  # clusters chain (a~b, b~c): this counts samples in a chain, not pairs this similar
            print(
                f"    at Jaccard >= {threshold} (information): {len(spanning)} chained clusters span splits ({samples} samples)"
            )

    # 5. lengths
    lengths = manifest.get("lengths")
    if lengths is None:
        results.append(False)
        print(line("training rows whose assistant turn would be cut", "?", "0", False))
        print("    the dataset was assembled without measuring rows")
    else:
        from trainer.row_lengths import row_meter

        source = manifest["options"]["lengths"]["tokenizer"]
        meter = row_meter(source, catalog)
        rows = [row for split in ("train", "validation") for row, _ in splits[split]]
        measured = meter([{"messages": r["messages"], "tools": r["tools"]} for r in rows])
        limit = int(lengths["max_length"])
        over = sum(1 for n in measured if n > limit)
        results.append(over == 0)
        print(line(f"training rows longer than max_length {limit} (of {len(rows)})", over, "0", over == 0))
        print(f"    measured with {meter.name}")
        print(
            f"    distribution before fitting {lengths['distribution']}; fitted: {lengths['redrawn']} rows lost "
            f"distractors, {lengths['dropped']} dropped"
        )
        dropped = lengths.get("dropped_by_tool") or {}
        print(f"    rows dropped per called tool ({len(dropped)} tools): {dict(list(dropped.items())[:12])}")
    print(f"{sum(results)}/{len(results)} goals met")
    return 0 if all(results) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, help="an existing run directory (default: a fresh full refresh)")
    args = parser.parse_args()
    if args.run:
        return check(args.run)
    with tempfile.TemporaryDirectory(prefix="callforge-splits-") as tmp:
        started = time.perf_counter()
        run = refresh(Path(tmp))
        print(f"full offline refresh of specs/gennx: {time.perf_counter() - started:.0f} s")
        return check(run)


if __name__ == "__main__":
    sys.exit(main())
