"""Multi-turn trajectories: the verifier on hand-written data, and the offline generator's speed and acceptance.

    .venv/bin/python benchmarks/trajectories.py                    # both parts, 1,000 generated
    .venv/bin/python benchmarks/trajectories.py --generate 5000    # the issue's speed goal
    .venv/bin/python benchmarks/trajectories.py --parts handwritten

Part 1 (quality, on material the project did not generate): the hand-written GEN NX set
(``tests/data/trajectories/gennx_handwritten.yaml``, 48 records written by a person, each labelled with
its verdict) goes through ``verify_trajectory_file``. It prints acceptance of the good records,
rejection of the defective ones, each record's reason and failed turn against its label, and the same
for a baseline measured in the same run: a final-state-only replay (gold and trajectory in two seeded
sessions, compare the state at the end), which is what the sandbox allowed before this work.
Goal: every label met (100 % of good accepted, 100 % of defective rejected with the labelled reason).

Part 2 (speed, acceptance): the offline generator (``generators.trajectories``) draws N trajectories
over the GEN NX reference graph, then the verifier replays them all. It prints trajectories generated
per second, verified per second (sandbox start included), acceptance (goal >= 99 %; a lower figure is
a bug to name), tables covered (goal >= 60), per category and language, and the ratio against the
goal of 5,000 verified in under 5 minutes (16.7 per second) on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas.openapi import ingest  # noqa: E402
from schemas.openapi.load import DocumentSet  # noqa: E402
from schemas.reference_heuristics import describe, infer_references  # noqa: E402
from schemas.references import load_references  # noqa: E402
from schemas.trajectories import parse_trajectory, write_trajectories  # noqa: E402

SPEC = ROOT / "specs" / "gennx" / "openapi.yaml"
GOAL_PER_S = 5000 / 300


def handwritten(catalog, tmp: Path) -> None:
    from tests.verifiers.trajectory_fixtures import entries, expected, write_jsonl
    from verifiers.trajectory import verify_trajectory_file

    path = write_jsonl(tmp / "handwritten.jsonl")
    start = time.perf_counter()
    summary = verify_trajectory_file(path, catalog, tmp / "out", sandbox_mode="process")
    took = time.perf_counter() - start
    labels = expected()
    good = [e["id"] for e in entries() if e["expect"]["valid"]]
    bad = [e["id"] for e in entries() if not e["expect"]["valid"]]
    by_id = {v.id: v for v in summary.verdicts}
    met = sum(
        (by_id[i].valid, by_id[i].reason, by_id[i].failed_turn)
        == (labels[i]["valid"], labels[i]["reason"], labels[i]["failed_turn"])
        for i in labels
    )
    print(
        f"hand-written set: {len(labels)} records ({len(good)} good, {len(bad)} defective), verified in {took:.1f} s"
    )
    print(f"  good accepted      {sum(by_id[i].valid for i in good)}/{len(good)}")
    print(f"  defective rejected {sum(not by_id[i].valid for i in bad)}/{len(bad)}")
    print(f"  verdict, reason and failed turn as labelled: {met}/{len(labels)} (goal {len(labels)})")
    defects = {e["id"]: e.get("defect", "-") for e in entries()}
    for i in bad:
        v = by_id[i]
        print(f"    {i:<34} {defects[i]:<22} -> {v.reason} at turn {v.failed_turn}")
    baseline = final_state_only(catalog, path)
    caught = sum(not baseline[i] for i in bad)
    wrong_good = sum(not baseline[i] for i in good)
    print(
        f"  baseline (final state only): defective rejected {caught}/{len(bad)}, good rejected {wrong_good}/{len(good)}; "
        f"the verifier rejects {sum(not by_id[i].valid for i in bad) / max(caught, 1):.1f}x as many defective records"
    )


def final_state_only(catalog, path: Path) -> dict[str, bool]:
    """Accept when the final state of the trajectory's calls equals the gold's (both seeded, strict)."""
    from verifiers.sandbox import SandboxServer
    from verifiers.trajectory.replay import SandboxReplay

    out: dict[str, bool] = {}
    with SandboxServer([str(SPEC)]) as server:
        replay = SandboxReplay(server.base_url, catalog, errors_as_200={str(SPEC)})
        for n, line in enumerate(path.read_text().splitlines()):
            t = parse_trajectory(json.loads(line))
            gold, own = f"b{n}g", f"b{n}t"
            for session in (gold, own):
                replay.seed(session, t.initial_state, check_references=False)
            for turn in t.turns:
                for call in turn.gold_calls:
                    replay.execute(gold, call.name, call.arguments)
            for message in t.messages:
                for call in message.get("tool_calls") or []:
                    replay.execute(own, call["function"]["name"], call["function"]["arguments"])
            out[t.id] = replay.state(gold) == replay.state(own)
        replay.close()
    return out


def generated(catalog, tmp: Path, count: int, seed: int) -> None:
    from generators.trajectories import TrajectoryGenerator
    from verifiers.trajectory import verify_trajectory_file

    graph = load_references(ROOT / "specs" / "gennx" / "references.yaml").merged(
        infer_references(DocumentSet(SPEC).root)
    )
    print("reference graph: " + "; ".join(describe(graph)))
    generator = TrajectoryGenerator(catalog, graph)
    start = time.perf_counter()
    drawn = list(generator.generate(count, seed=seed))
    gen_s = time.perf_counter() - start
    trajectories = [t for t in drawn if not isinstance(t, str)]
    skipped = [t for t in drawn if isinstance(t, str)]
    path = tmp / "generated.jsonl"
    write_trajectories(path, trajectories)
    start = time.perf_counter()
    summary = verify_trajectory_file(path, catalog, tmp / "gen-out", sandbox_mode="process")
    verify_s = time.perf_counter() - start
    per_s = summary.valid / verify_s
    valid_ids = {v.id for v in summary.verdicts if v.valid}
    kept = [t for t in trajectories if t.id in valid_ids]
    tables = {t.id[len("gen-") :].rsplit("-", 4)[0] for t in kept}
    print(
        f"generated {len(trajectories)} trajectories ({len(skipped)} draws skipped) in {gen_s:.2f} s: "
        f"{len(trajectories) / gen_s:,.0f}/s"
    )
    for reason, n in Counter(s.split(": ", 1)[1] for s in skipped).most_common(3):
        print(f"  skipped {n}: {reason}")
    print(
        f"verified {summary.total} in {verify_s:.1f} s (sandbox start included): {summary.valid} valid, {per_s:.1f}/s"
    )
    print(f"  acceptance {summary.valid / max(summary.total, 1):.2%} (goal >= 99 %)")
    for line in summary.lines()[1:]:
        print("  rejected:" + line)
    for v in [v for v in summary.verdicts if not v.valid][:5]:
        print(f"    e.g. {v.id}: {v.reason} at turn {v.failed_turn}: {v.message[:200]}")
    print(f"  tables covered {len(tables)} (goal >= 60)")
    print(
        "  per category: "
        + ", ".join(f"{k} {n}" for k, n in sorted(Counter(t.category for t in kept).items()))
    )
    print(
        "  per language: "
        + ", ".join(f"{k} {n}" for k, n in sorted(Counter(t.language for t in kept).items()))
    )
    turns = Counter(len(t.turns) for t in kept)
    calls = Counter(sum(len(x.gold_calls) for x in t.turns) for t in kept)
    print(f"  user turns {dict(sorted(turns.items()))}; calls {dict(sorted(calls.items()))}")
    print(
        f"  speed: {per_s:.1f} verified/s vs goal {GOAL_PER_S:.1f}/s (5,000 in 5 min): ratio {per_s / GOAL_PER_S:.2f}; "
        f"5,000 would take {5000 / per_s / 60:.1f} min"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="handwritten,generated", help="handwritten, generated, or both")
    parser.add_argument("--generate", type=int, default=1000, help="trajectories the generator draws")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    catalog = ingest([SPEC], naming="snake", tier_rules=ROOT / "specs" / "gennx" / "tiers.yaml").catalog
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        if "handwritten" in parts:
            handwritten(catalog, Path(tmp))
        if "generated" in parts:
            generated(catalog, Path(tmp), args.generate, args.seed)


if __name__ == "__main__":
    main()
