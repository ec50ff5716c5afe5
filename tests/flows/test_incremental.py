"""Incremental refreshes: an unchanged spec generates nothing; an edited endpoint regenerates only its items."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from flows.refresh import refresh


def _plan(run_dir: str) -> list[dict]:
    path = Path(run_dir) / "plan" / "items.jsonl"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()] if path.exists() else []


@pytest.mark.slow
def test_unchanged_then_edited_spec(prefect_server: None, mini_kwargs: dict, tmp_path: Path) -> None:
    """Three refreshes of one data root (first, unchanged, edited): what the second and third regenerate
    is the test."""
    spec = tmp_path / "spec" / "mini.yaml"
    spec.parent.mkdir()
    shutil.copy(mini_kwargs["spec"], spec)
    # What is regenerated depends on the store and the plan, not on which verifiers accept: the format
    # verifier alone keeps the three refreshes free of the sandbox process and the embedding model.
    settings = {**mini_kwargs["settings"], "verifiers": ["format"], "sandbox": False}
    kwargs = {**mini_kwargs, "spec": str(spec), "data_root": str(tmp_path / "data"), "settings": settings}

    first = refresh(**kwargs)
    second = refresh(**kwargs)
    assert first["run_name"] != second["run_name"]
    assert second["generate"]["items"] == 0
    assert second["assemble"]["splits"] == first["assemble"]["splits"]

    document = yaml.safe_load(spec.read_text("utf-8"))
    document["paths"]["/db/NODE"]["post"]["description"] = "Create or replace nodes (edited)."
    spec.write_text(yaml.safe_dump(document, sort_keys=False), "utf-8")
    third = refresh(**kwargs)
    items = _plan(third["run_dir"])
    assert 0 < len(items) < first["generate"]["items"]
    assert all("post_db_node" in {i["subject"], *i["targets"], *i["offered"]} for i in items)
