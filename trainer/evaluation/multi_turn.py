"""The multi-turn part of an evaluation: which sets, the sandbox they run in, and each model's scores.

    sets = multi_turn_sets(dataset_dir, ["test_seen", "test_unseen"], explicit=None)
    with multi_turn_sandbox(catalog, options) as replay:
        figures = run_multi_turn(backend, loaded, replay, settings)

Sets: ``--multi-turn FILE`` names one (labelled by its file name, e.g. ``test_seen``); otherwise a
dataset directory's ``multi_turn/<split>.jsonl`` is used for every evaluated split that has one (the
multi-turn splits are written there beside the single-turn ones). A line that is not a valid
trajectory record is counted as ``malformed`` and listed, not scored and not fatal.

The sandbox is the execution verifier's: started from the catalog's spec files (found as
``--execution`` finds them) unless ``execution_options.base_url`` names one already running.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas import atomic
from schemas.catalog import Catalog
from schemas.errors import ConfigError
from schemas.trajectories import Trajectory, read_trajectories
from trainer.evaluation.backends import Backend
from trainer.evaluation.config import EvaluateConfig
from trainer.evaluation.multi_turn_metrics import EntryScore, aggregate, score_entry
from trainer.evaluation.rollout import Rollout, RolloutResult
from verifiers.trajectory.replay import SandboxReplay, connect
from verifiers.trajectory.run import start_sandbox

MULTI_TURN_DIR = "multi_turn"


@dataclass
class MultiTurnSet:
    name: str
    path: Path
    trajectories: list[Trajectory] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)  # what is wrong with each unreadable line


def load_sets(
    dataset_dir: Path | None, settings: EvaluateConfig, explicit: Path | None
) -> list[MultiTurnSet]:
    """The sets to roll out (see the module docstring), read and checked; none when there are none.
    ``settings.limit`` keeps the first N trajectories of each, as it keeps N examples per split."""
    if explicit is not None:
        if not Path(explicit).is_file():
            raise ConfigError(f"--multi-turn {explicit}: no such file")
        paths = [(Path(explicit).stem, Path(explicit))]
    elif dataset_dir is not None:
        folder = Path(dataset_dir) / MULTI_TURN_DIR
        paths = [(s, folder / f"{s}.jsonl") for s in settings.splits if (folder / f"{s}.jsonl").is_file()]
    else:
        paths = []
    sets = []
    for name, path in paths:
        loaded = MultiTurnSet(name, path)
        for _, item in read_trajectories(path):
            if isinstance(item, Trajectory):
                loaded.trajectories.append(item)
            else:
                loaded.malformed.append(str(item))
        if settings.limit:
            loaded.trajectories = loaded.trajectories[: settings.limit]
        sets.append(loaded)
    return sets


def check_tools(sets: list[MultiTurnSet], catalog: Catalog | None) -> None:
    """Every tool the sets offer must be in the catalog (it says how to call them): checked before any
    model loads."""
    if not sets:
        return
    if catalog is None:
        raise ConfigError(
            "evaluate: the multi-turn sets run in the sandbox, which needs the tool catalog; pass --catalog "
            f"(sets: {', '.join(str(s.path) for s in sets)})"
        )
    for s in sets:
        for t in s.trajectories:
            if missing := [n for n in t.tool_names() if n not in catalog]:
                raise ConfigError(
                    f"{s.path}: trajectory {t.id} offers tools the catalog lacks: {missing[:5]}"
                )


@contextlib.contextmanager
def multi_turn_sandbox(catalog: Catalog, options: dict[str, Any]) -> Iterator[SandboxReplay]:
    """A replay client on a sandbox serving the catalog's specs (started here unless ``base_url``)."""
    server = None
    base_url = options.get("base_url")
    if not base_url:
        server = start_sandbox(
            catalog, spec_root=options.get("spec_root"), mode="process", purpose="evaluate (multi-turn sets)"
        )
        base_url = server.base_url
    try:
        replay = connect(str(base_url), catalog)
        try:
            yield replay
        finally:
            replay.close()
    finally:
        if server is not None:
            server.stop()


def run_multi_turn(
    backend: Backend,
    sets: list[MultiTurnSet],
    replay: SandboxReplay,
    settings: EvaluateConfig,
    out_dir: Path,
    slug: str,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Roll every set out through ``backend``; the figures per set, and ``multi-turn-<slug>.jsonl``."""
    rollout = Rollout(
        backend,
        replay,
        max_steps=settings.max_steps,
        max_new_tokens=settings.max_new_tokens,
        batch_size=settings.batch_size,
    )
    figures: dict[str, Any] = {}
    lines: list[str] = []
    total = sum(len(s.trajectories) for s in sets)
    done = 0
    for s in sets:
        started = time.perf_counter()
        tick = (lambda n, _t, base=done: progress(base + n, total)) if progress else None
        results = rollout.run(s.trajectories, progress=tick)
        seconds = time.perf_counter() - started
        done += len(results)
        scores = [score_entry(r) for r in results]
        entry = aggregate(scores)
        entry["malformed"] = len(s.malformed)
        entry["entries_per_second"] = len(results) / seconds if seconds > 0 else 0.0
        figures[s.name] = entry
        lines += [_prediction(s.name, r, e) for r, e in zip(results, scores, strict=True)]
    atomic.write_text(out_dir / f"multi-turn-{slug}.jsonl", "".join(line + "\n" for line in lines))
    return figures


def _prediction(split: str, result: RolloutResult, score: EntryScore) -> str:
    """One line per trajectory: its score, turn by turn, and the model's whole conversation."""
    line = {"split": split, **score.line(), "messages": result.messages}
    if result.error:
        line["error_message"] = result.error_message
    return json.dumps(line, ensure_ascii=False)
