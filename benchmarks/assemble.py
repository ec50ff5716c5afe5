"""How long assembling and exporting 100,000 samples takes, against merely writing them as JSONL.

    .venv/bin/python benchmarks/assemble.py               # 100,000 samples, 273 tools
    .venv/bin/python benchmarks/assemble.py --samples 20000

The parent process builds a synthetic run directory (catalog + verified shards), then a fresh child
process times ``trainer.dataset.assembly.assemble`` end to end (read shards, split with near-duplicate clustering,
write the HF / TRL / xLAM / flat exports, card, manifest) and, in the same process, the baseline:
``model_dump_json`` of every sample written to one JSONL file. The child's peak RSS is the memory
figure (its own process, so the parent's synthetic data does not count). Target: under 15 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas.catalog import Catalog
from schemas.models import ArgumentBinding, HttpBinding, Provenance, Sample, Tool, ToolCall, ToolSource
from schemas.shards import shard_name, write_samples

TIERS = {1: 127, 2: 102, 3: 44}  # GEN NX's endpoint counts per tier
STYLES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
WORDS = [
    "beam",
    "column",
    "slab",
    "node",
    "element",
    "material",
    "section",
    "support",
    "load",
    "wind",
    "snow",
    "seismic",
    "moment",
    "shear",
]


def _tool(name: str, tier: int, index: int) -> Tool:
    key = name.upper()
    return Tool(
        name=name,
        description=f"Create, read or update {key} records of the structural model",
        parameters={
            "type": "object",
            "properties": {
                "Assign": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {key: {"type": "number"}, "LABEL": {"type": "string"}},
                    },
                }
            },
            "required": ["Assign"],
        },
        binding=HttpBinding(
            method="POST",
            path=f"/db/{key}",
            arguments={"Assign": ArgumentBinding(location="body-property", name="Assign", required=True)},
        ),
        tier=tier,
        category=f"cat{index % 12}",
        source=ToolSource(file="gennx.yaml"),
    )


def build_run(run_dir: Path, count: int) -> None:
    tools = [_tool(f"t{tier}_{i:03d}", tier, i) for tier, n in TIERS.items() for i in range(n)]
    catalog = Catalog(tools)
    catalog.save(run_dir / "catalog")
    rng = random.Random(0)
    names = [t.name for t in tools]
    samples = []
    for i in range(count):
        style = STYLES[i % len(STYLES)]
        first, *others = rng.sample(names, 4)
        calls = {
            "simple": [first],
            "multiple": [first],
            "parallel": [first, first],
            "parallel_multiple": [first, others[0]],
            "irrelevance": [],
        }[style]
        offered = (
            [first]
            if style == "simple"
            else ([*others[:2]] if style == "irrelevance" else [first, *others[:2]])
        )
        query = " ".join(rng.choice(WORDS) for _ in range(8)) + f" {rng.randint(0, 10**9)} {i}"
        samples.append(
            Sample.create(
                query=query,
                language="ko" if i % 2 else "en",
                style=style,
                tools=offered,
                calls=[ToolCall(name=c, arguments={"Assign": {str(i): {c.upper(): i % 97}}}) for c in calls],
                tier=catalog[first].tier if calls else None,
                provenance=Provenance(generator="template", seed=0),
            )
        )
    for index, start in enumerate(range(0, count, 5000)):
        write_samples(run_dir / "verified" / shard_name(index), samples[start : start + 5000])


def child(run_dir: Path) -> None:
    from trainer.dataset.assembly import AssembleConfig, assemble, load_verified

    started, cpu = time.perf_counter(), time.process_time()
    result = assemble(run_dir, AssembleConfig(split={"seed": 0}))
    assemble_s, assemble_cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    samples = load_verified(run_dir)
    started, cpu = time.perf_counter(), time.process_time()
    with (run_dir / "baseline.jsonl").open("w", encoding="utf-8") as handle:
        for sample in samples:
            handle.write(sample.model_dump_json())
            handle.write("\n")
    baseline_s, baseline_cpu = time.perf_counter() - started, time.process_time() - cpu

    totals = result.report.totals()
    print(f"samples:           {len(samples):,} ({', '.join(f'{k} {v:,}' for k, v in totals.items())})")
    print(f"assemble+export:   {assemble_s:7.2f} s wall  {assemble_cpu:7.2f} s cpu")
    print(f"baseline (JSONL):  {baseline_s:7.2f} s wall  {baseline_cpu:7.2f} s cpu")
    print(
        f"ratio:             {assemble_s / baseline_s:7.1f}x the baseline (cpu: {assemble_cpu / baseline_cpu:.1f}x)"
    )
    print(
        f"load average:      {os.getloadavg()[0]:7.1f} (on {os.cpu_count()} cores; above that, wall times stretch)"
    )
    print(f"phases (wall s):   {', '.join(f'{k} {v:.2f}' for k, v in result.seconds.items())}")
    print(f"peak RSS (child):  {peak_mib:7.0f} MiB")
    print(f"target < 15 s:     {'met' if assemble_s < 15 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, help="keep the synthetic run here and reuse it on later runs")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = (args.workdir or Path(tmp)) / f"run-{args.samples}"
        if not (run_dir / "verified").exists():
            started = time.perf_counter()
            build_run(run_dir, args.samples)
            print(f"built the synthetic run in {time.perf_counter() - started:.1f} s")
        subprocess.run([sys.executable, __file__, "--child", str(run_dir)], check=True)


if __name__ == "__main__":
    main()
