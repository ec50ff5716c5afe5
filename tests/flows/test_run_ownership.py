"""Run ownership: one live owner per run folder; resume adopts only abandoned runs with the same parameters.

Owners in other processes are real processes (a child that claims a folder and sleeps), killed with
SIGKILL where a test needs a crashed owner. No Prefect.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows import run_ownership
from flows.config import RunConfig
from flows.run_ownership import OWNER_FILE, RunInUse, claim, owned, owner_alive, release

ROOT = Path(__file__).resolve().parents[2]


def config(root: Path, **overrides: object) -> RunConfig:
    return RunConfig.resolve(overrides={"data_root": str(root), **overrides})


class Owner:
    """A child process that claims a run folder (as a refresh would) and holds it until killed."""

    def __init__(self, root: Path, **overrides: object) -> None:
        script = textwrap.dedent(
            f"""
            import sys, time
            from flows.config import RunConfig
            from flows.run_ownership import claim
            config = RunConfig.resolve(overrides={{"data_root": {str(root)!r}, **{overrides!r}}})
            print(claim(config, flow_run_id="child-flow-run").run_name, flush=True)
            time.sleep(120)
            """
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, text=True
        )
        assert self.proc.stdout is not None
        self.run_name = self.proc.stdout.readline().strip()
        assert self.run_name, "the owner process did not claim a folder"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def owners() -> Iterator[list[Owner]]:
    started: list[Owner] = []
    yield started
    for owner in started:
        if owner.proc.poll() is None:
            owner.kill()


def stages(root: Path, name: str, **records: dict) -> None:
    (root / "runs" / name / "manifest.json").write_text(json.dumps({"run_name": name, "stages": records}))


def test_two_claims_at_once_get_two_folders(tmp_path: Path) -> None:
    first, second = claim(config(tmp_path)), claim(config(tmp_path))
    try:
        assert first.run_name != second.run_name
        assert first.run_name.startswith("gennx-") and second.run_name.startswith("gennx-")
    finally:
        release(first.run_dir), release(second.run_dir)


def test_a_folder_with_a_live_owner_is_never_adopted(tmp_path: Path, owners: list[Owner]) -> None:
    owners.append(owner := Owner(tmp_path))
    assert owner_alive(tmp_path / "runs" / owner.run_name)
    with owned(config(tmp_path)) as mine:
        assert mine.run_name != owner.run_name


def test_a_named_run_with_a_live_owner_is_refused(tmp_path: Path, owners: list[Owner]) -> None:
    owners.append(owner := Owner(tmp_path))
    with pytest.raises(RunInUse, match=f"pid {owner.proc.pid}.*child-flow-run"):
        claim(config(tmp_path, run_name=owner.run_name))


def test_a_crashed_owners_folder_is_resumed_and_says_what_it_reuses(
    tmp_path: Path, owners: list[Owner]
) -> None:
    owners.append(owner := Owner(tmp_path))
    stages(tmp_path, owner.run_name, ingest={"finished_at": "x"}, generate={"finished_at": "y"}, verify={})
    owner.kill()
    assert not owner_alive(tmp_path / "runs" / owner.run_name)
    lines: list[str] = []
    resumed = claim(config(tmp_path), flow_run_id="mine", log=lines.append)
    try:
        assert resumed.run_name == owner.run_name
        assert "RESUMING" in lines[0] and f"pid {owner.proc.pid}" in lines[0]
        assert "finished stages ingest, generate" in lines[0]
        record = json.loads((resumed.run_dir / OWNER_FILE).read_text())
        assert [o["flow_run_id"] for o in record["owners"]] == ["child-flow-run", "mine"]
        assert record["owner"]["pid"] == os.getpid()
    finally:
        release(resumed.run_dir)


def test_a_crashed_run_with_other_parameters_is_not_adopted(tmp_path: Path, owners: list[Owner]) -> None:
    owners.append(owner := Owner(tmp_path, limit=10))
    owner.kill()
    with owned(config(tmp_path, limit=20)) as other:
        assert other.run_name != owner.run_name
    with owned(config(tmp_path, limit=10, task_runner={"max_workers": 3})) as same:
        assert same.run_name == owner.run_name  # where shards run is not a parameter of the result


def test_a_newer_finished_run_supersedes_an_older_crashed_one(tmp_path: Path, owners: list[Owner]) -> None:
    owners.append(old := Owner(tmp_path))
    old.kill()
    with owned(config(tmp_path)) as newer:
        assert newer.run_name == old.run_name  # adopted...
    stages(tmp_path, old.run_name, assemble={"finished_at": "x"})  # ...and finished
    owners.append(crashed := Owner(tmp_path))
    crashed.kill()
    stages(tmp_path, crashed.run_name, generate={})
    (tmp_path / "runs" / crashed.run_name).rename(tmp_path / "runs" / "gennx-20000101-000000-abcdef")
    with owned(config(tmp_path)) as fresh:
        assert fresh.run_name not in {old.run_name, "gennx-20000101-000000-abcdef"}


def test_a_folder_without_an_owner_record_is_not_adopted(tmp_path: Path) -> None:
    (tmp_path / "runs" / "gennx-20261120-020000").mkdir(parents=True)
    with owned(config(tmp_path)) as mine:
        assert mine.run_name != "gennx-20261120-020000"


def test_claims_in_one_process_are_counted(tmp_path: Path) -> None:
    first = claim(config(tmp_path))
    again = claim(first, flow_run_id="flow-1")  # the flow claims what the CLI claimed
    assert again.run_name == first.run_name
    release(first.run_dir)
    assert run_ownership._try_lock(first.run_dir) is None  # still held once
    run_ownership.release_flow_run("flow-1")
    fd = run_ownership._try_lock(first.run_dir)
    assert fd is not None
    os.close(fd)


@pytest.mark.parametrize("run", ["gennx-20261120-020005-3fa9c1", "gennx-20261120-020005", "gennx"])
def test_the_train_flow_names_a_dataset_by_its_spec(run: str) -> None:
    from flows.train import dataset_slug

    assert dataset_slug(f"data/runs/{run}/dataset") == "gennx"


def test_the_train_flow_strips_what_new_run_names_add(tmp_path: Path) -> None:
    from flows.train import dataset_slug

    assert dataset_slug(f"data/runs/{config(tmp_path).with_run_name().run_name}/dataset") == "gennx"
