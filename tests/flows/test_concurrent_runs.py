"""Two ``callforge refresh`` of one spec started together on one data root, without run names, each
publish the dataset one run alone publishes (issue 25): two real CLI processes against the session's
Prefect server, compared with an in-process reference run on another data root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flows.refresh import refresh
from flows.run_ownership import OWNER_FILE

ROOT = Path(__file__).resolve().parents[2]


def content_hash(dataset_dir: str | Path) -> str:
    return json.loads((Path(dataset_dir) / "manifest.json").read_text("utf-8"))["content_hash"]


@pytest.mark.slow
def test_two_concurrent_refreshes_publish_the_dataset_of_one_run_alone(
    prefect_server: None, mini_kwargs: dict, tmp_path: Path
) -> None:
    """A reference refresh and two more at once (three refreshes): publishing races only show with two
    real runs over one data root."""
    from prefect.settings import PREFECT_API_URL

    settings = {**mini_kwargs["settings"], "verifiers": ["format", "dedup"], "sandbox": False}
    reference = refresh(**{**mini_kwargs, "settings": settings, "data_root": str(tmp_path / "alone")})

    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(settings), "utf-8")
    shared = tmp_path / "shared"
    argv = [sys.executable, "-m", "flows.cli", "refresh", "--no-progress", "--data-root", str(shared)]
    argv += [
        "--spec",
        mini_kwargs["spec"],
        "--tier-rules",
        mini_kwargs["tier_rules"],
        "--config",
        str(config),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)]
    procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs

    runs = sorted((shared / "runs").iterdir())
    assert len(runs) == 2, runs  # one folder each, neither adopted by the other
    owners = [json.loads((run / OWNER_FILE).read_text())["owner"]["pid"] for run in runs]
    assert sorted(owners) == sorted(p.pid for p in procs)
    expected = content_hash(reference["dataset_dir"])
    assert [content_hash(run / "dataset") for run in runs] == [expected, expected]
    # every plan item of the two runs came through generate and verify once per run, none lost or doubled
    for run in runs:
        manifest = json.loads((run / "manifest.json").read_text())
        assert (
            manifest["stages"]["verify"]["counts"]["samples"]
            == manifest["stages"]["generate"]["counts"]["samples"]
        )
