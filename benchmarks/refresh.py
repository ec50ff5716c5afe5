"""How long a GEN NX refresh takes, how much of it is Prefect, and what incremental refreshes save.

    .venv/bin/python benchmarks/refresh.py            # the full bundled spec (minutes on 2 cores)
    .venv/bin/python benchmarks/refresh.py --small    # 1 sample per tier-1/2 tool: a quick check
    .venv/bin/python benchmarks/refresh.py --embedding-precision float32   # as on a CPU without bfloat16

In one process, against a fresh ephemeral Prefect server (temporary PREFECT_HOME and data root):

1. Prefect start-up: the first flow call starts the temporary server (timed with an empty flow).
2. A full refresh with the embedded defaults (offline generator, sandbox, built-in verifiers).
3. A second refresh with the spec unchanged: the store holds every sample, so nothing is generated.
4. A refresh after editing one endpoint's description: only the samples that depend on it are
   generated again (their count is printed).

The stage functions (ingest, plan, generate_shard, verify_shard, sandbox start/stop, assemble, the
store's lookup) are wrapped with timers; the wall time they do not cover is orchestration (Prefect
runs, states, artifacts, result persistence, our flow glue). Overlapping shard calls count once (the
union of their intervals), so the share is of wall time, not CPU time. Baselines come from the same
run: the incremental refreshes are ratios to the full one, orchestration a share of its wall time.
Targets on a 2-core machine: full < 120 s with start-up, unchanged < 20 s, orchestration < 10 %.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
EDITED = ("/db/NODE", "post")
SMALL_QUOTAS = {
    "1": [1, 1],
    "2": [1, 1],
    "3": [0, 0],
}  # a tier-1 endpoint: the edit touches one of the most-sampled tools
for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "TOKENIZERS_PARALLELISM": "false",
    "TQDM_DISABLE": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
}.items():
    os.environ.setdefault(_key, _value)


class StageClock:
    """Wall-clock intervals spent inside stage functions, from any thread."""

    def __init__(self) -> None:
        self.intervals: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.intervals.append((start, time.perf_counter()))

        return timed

    def covered(self, start: float, end: float) -> float:
        """Seconds of [start, end] inside at least one interval (overlaps count once)."""
        total, reach = 0.0, start
        for a, b in sorted(self.intervals):
            a, b = max(a, reach), min(b, end)
            if b > a:
                total += b - a
                reach = b
        return total


def install_clock(clock: StageClock) -> None:
    """Wrap the stage functions where the flows look them up (module attributes)."""
    from generators import pipeline, plan
    from schemas import openapi
    from trainer.dataset import assembly as data
    from trainer.dataset.store import SampleStore
    from verifiers import pipeline as verify_pipeline
    from verifiers import registry, sandbox

    for module, name in [
        (openapi, "ingest"),
        (openapi, "write_ingest"),
        (plan, "build_plan"),
        (pipeline, "write_plan"),
        (pipeline, "generate_shard"),
        (verify_pipeline, "verify_shard"),
        (registry, "load_verifiers"),
        (data, "assemble"),
    ]:
        setattr(module, name, clock.wrap(getattr(module, name)))
    SampleStore.satisfied = clock.wrap(SampleStore.satisfied)  # type: ignore[method-assign]
    # Work of the stages added after the first rows of this benchmark (top-up planning, the attempt
    # and top-up ledgers, the multi-turn stage's body): stage time, not orchestration.
    from flows import multi_turn, refresh
    from flows.attempts import AttemptLedger
    from flows.top_up_ledger import TopUpLedger

    for name in ("plan_top_up", "run_top_ups", "final_item_ids"):
        setattr(refresh, name, clock.wrap(getattr(refresh, name)))
    AttemptLedger.record_plan = clock.wrap(AttemptLedger.record_plan)  # type: ignore[method-assign]
    TopUpLedger.record = clock.wrap(TopUpLedger.record)  # type: ignore[method-assign]
    # the stage's steps, where its flow looks them up (wrapping the flow function itself would change
    # the parameter model Prefect builds from its signature)
    for name in (
        "load_catalog",
        "reference_graph",
        "TrajectoryGenerator",
        "draw",
        "verify_trajectory_file",
        "split_trajectories",
        "row_lengths",
        "write_trl",
        "write_bfcl",
    ):
        setattr(multi_turn, name, clock.wrap(getattr(multi_turn, name)))
    server = sandbox.SandboxServer
    server.start = clock.wrap(server.start)  # type: ignore[method-assign]
    server.stop = clock.wrap(server.stop)  # type: ignore[method-assign]


def edit_description(spec: Path, path: str, method: str) -> None:
    """Append a sentence to one operation's description (its tool's fingerprint changes)."""
    document = yaml.safe_load(spec.read_text("utf-8"))
    operation = document["paths"][path][method]
    operation["description"] = (operation.get("description") or "") + " Edited for the refresh benchmark."
    spec.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), "utf-8")


@contextlib.contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    """A temporary working directory holding a copy of specs/gennx (the same relative paths as the repo)."""
    root = Path(tempfile.mkdtemp(prefix="callforge-bench-refresh-"))
    shutil.copytree(REPO / "specs" / "gennx", root / "specs" / "gennx")
    previous = Path.cwd()
    os.chdir(root)
    try:
        yield root
    finally:
        os.chdir(previous)
        if keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def timed_refresh(clock: StageClock, **parameters: Any) -> tuple[dict[str, Any], float, float]:
    from flows.refresh import refresh

    start = time.perf_counter()
    result = refresh(**parameters)
    end = time.perf_counter()
    return result, end - start, clock.covered(start, end)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--small", action="store_true", help="quotas of 1 sample per tier-1/2 tool (a quick check)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    parser.add_argument(
        "--embedding-precision",
        choices=["auto", "float32", "bfloat16"],
        default="auto",
        help="the semantic verifier's embedding arithmetic (auto: bfloat16 where the CPU has it)",
    )
    args = parser.parse_args(argv)

    with workspace(args.keep) as root:
        os.environ["PREFECT_HOME"] = str(
            root / "prefect-home"
        )  # a fresh database: start-up as a new user sees it
        sys.path.insert(0, str(REPO))
        import logging

        logging.getLogger("httpx").setLevel(logging.WARNING)
        from prefect import flow

        clock = StageClock()
        install_clock(clock)

        @flow(name="bench-start-up")
        def start_up() -> None:
            return None

        t0 = time.perf_counter()
        start_up()
        startup = time.perf_counter() - t0

        settings: dict[str, Any] = {}
        if args.small:  # smaller quotas, not a limit: the plan stays complete, so the store can satisfy it
            settings["generate"] = {"plan": {"quotas": SMALL_QUOTAS}}
        if args.embedding_precision != "auto":
            settings["verifier_options"] = {"semantic": {"embedding_precision": args.embedding_precision}}
        common: dict[str, Any] = {"data_root": str(root / "data"), "settings": settings or None}
        full, full_s, full_stage = timed_refresh(clock, **common)
        again, again_s, _ = timed_refresh(clock, **common)
        edit_description(root / "specs" / "gennx" / "openapi.yaml", *EDITED)
        edited, edited_s, _ = timed_refresh(clock, **common)

        orchestration = full_s - full_stage
        print()
        from verifiers.similarity import resolve_precision

        precision = resolve_precision(args.embedding_precision)
        print(
            f"GEN NX refresh benchmark ({os.cpu_count()} cores, embeddings in {precision}"
            f"{', small quotas' if args.small else ''}; load average {os.getloadavg()[0]:.2f})"
        )
        print(f"  Prefect start-up (ephemeral server, fresh DB)  {startup:7.1f} s")
        print(
            f"  full refresh                                   {full_s:7.1f} s   "
            f"({full['generate']['items']} items, {full['verify']['accepted']} accepted, "
            f"{sum(full['assemble']['splits'].values())} in the dataset)"
        )
        print(
            f"  full refresh + start-up                        {full_s + startup:7.1f} s   (target < 120 s)"
        )
        print(
            f"  second refresh, spec unchanged                 {again_s:7.1f} s   "
            f"({again['generate']['samples']} samples generated; {again_s / full_s:.2f}x the full refresh; "
            "target < 20 s)"
        )
        print(
            f"  dataset versions: full {full['assemble']['publication']}, unchanged rerun "
            f"{again['assemble']['publication']} ({'same' if again['assemble']['version'] == full['assemble']['version'] else 'another'} "
            f"version), edited {edited['assemble']['publication']}   (target: the unchanged rerun publishes nothing)"
        )
        carried = Path(full["assemble"]["version_dir"] or "/nonexistent") / "multi_turn"
        trajectories = sum(
            sum(1 for line in (carried / f"{split}.jsonl").open() if line.strip())
            for split in ("train", "validation", "test_seen", "test_unseen")
            if (carried / f"{split}.jsonl").is_file()
        )
        print(
            f"  published version carries multi_turn/: {'yes' if trajectories else 'NO'} "
            f"({trajectories} trajectories)   (target: both kinds in the version: "
            f"{'met' if trajectories else 'NOT MET'})"
        )
        print(
            f"  refresh after editing {EDITED[1].upper()} {EDITED[0]:<16}     {edited_s:7.1f} s   "
            f"({edited['generate']['samples']} samples regenerated, {edited['generate']['items']} items planned; "
            f"{edited_s / full_s:.2f}x the full refresh)"
        )
        print(
            f"  full refresh: stages {full_stage:.1f} s, orchestration {orchestration:.1f} s = "
            f"{orchestration / full_s:.1%} of its wall time; with start-up "
            f"{(orchestration + startup) / (full_s + startup):.1%}   (target < 10 %)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
