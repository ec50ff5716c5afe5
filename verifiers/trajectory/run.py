"""Verify a JSONL file of trajectories end to end: start the sandbox, replay, write the verdicts.

    summary = verify_trajectory_file("traj.jsonl", Catalog.load("catalog"), "out")

writes ``out/verdicts.jsonl`` (``{"id", "valid", "reason", "failed_turn"}`` per record, in order) and
``out/verified.jsonl`` (the valid records, tool messages filled in from the replay), atomically (each
through a temporary file and a rename). The sandbox serves the catalog's spec files, resolved against
``spec_root`` (default: the working directory), and answers GEN NX errors-as-200 as the API does.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.catalog import Catalog
from schemas.errors import ConfigError, RecordError
from schemas.trajectories import read_trajectories
from verifiers.trajectory.replay import connect
from verifiers.trajectory.verifier import TrajectoryVerdict, TrajectoryVerifier


@dataclass
class TrajectorySummary:
    total: int = 0
    valid: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    verdicts: list[TrajectoryVerdict] = field(default_factory=list)

    def lines(self) -> list[str]:
        rate = self.valid / self.total if self.total else 0.0
        out = [
            f"trajectories {self.total}, valid {self.valid} ({rate:.1%}), rejected {self.total - self.valid}"
        ]
        out += [f"  {n:>6}  {reason}" for reason, n in self.reasons.most_common()]
        return out


def verify_trajectory_file(
    path: str | Path,
    catalog: Catalog,
    out_dir: str | Path | None = None,
    *,
    spec_root: str | Path | None = None,
    check_references: bool = False,
    sandbox_mode: str = "process",
    sandbox_url: str | None = None,
) -> TrajectorySummary:
    """Verify every record of ``path`` (see the module docstring); malformed lines get a verdict too.

    ``sandbox_url``: a sandbox already serving the catalog's specs (else one is started and stopped)."""

    items = []
    for number, item in read_trajectories(path):
        items.append((f"line-{number}", item) if isinstance(item, RecordError) else item)
    if sandbox_url:
        verdicts = _verify(items, catalog, sandbox_url.rstrip("/"), check_references)
    else:
        server = start_sandbox(
            catalog, spec_root=spec_root, mode=sandbox_mode, purpose=f"verify-trajectories {path}"
        )
        try:
            verdicts = _verify(items, catalog, server.base_url, check_references)
        finally:
            server.stop()
    summary = TrajectorySummary(total=len(verdicts), verdicts=verdicts)
    for verdict in verdicts:
        if verdict.valid:
            summary.valid += 1
        else:
            summary.reasons[verdict.reason or "?"] += 1
    if out_dir is not None:
        write_outputs(Path(out_dir), verdicts)
    return summary


def start_sandbox(catalog: Catalog, *, spec_root: str | Path | None, mode: str, purpose: str) -> Any:
    """A started sandbox serving the catalog's spec files; a failure to start is a ``ConfigError``
    naming ``purpose`` (what the sandbox was for). The caller stops it."""
    from verifiers.sandbox import SandboxServer

    specs = [entry.file for entry in catalog.manifest.specs] if catalog.manifest else []
    if not specs:
        specs = sorted({tool.source.file for tool in catalog})
    if not specs:
        raise ConfigError(f"{purpose}: the catalog names no spec file to serve")
    server = SandboxServer(specs, root=spec_root, mode=mode)  # type: ignore[arg-type]
    server.start_for(purpose)
    return server


def _verify(
    items: list[Any], catalog: Catalog, base_url: str, check_references: bool
) -> list[TrajectoryVerdict]:
    replay = connect(base_url, catalog)
    try:
        return TrajectoryVerifier(replay, catalog, check_references=check_references).verify_all(items)
    finally:
        replay.close()


def write_outputs(out_dir: Path, verdicts: list[TrajectoryVerdict]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    _atomic_lines(out_dir / "verdicts.jsonl", (json.dumps(v.line(), ensure_ascii=False) for v in verdicts))
    _atomic_lines(
        out_dir / "verified.jsonl",
        (v.trajectory.to_json_line() for v in verdicts if v.valid and v.trajectory is not None),
    )


def _atomic_lines(path: Path, lines: object) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        for line in lines:  # type: ignore[attr-defined]
            handle.write(line + "\n")
    temporary.replace(path)
