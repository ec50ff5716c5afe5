"""Execution success: parsed, schema-valid predictions run in the sandbox built from the catalog's spec.

The catalog is ingested from ``tests/data/sandbox/gennx_mini.yaml`` (GEN NX-shaped ``Assign`` tables).
With ``state: strict`` the sandbox refuses to update a node that does not exist, so a prediction can
match the reference (AST) and still fail to execute. Replies come from a replaying fake backend: this
is plumbing, no model needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.models import Sample, ToolCall
from schemas.openapi import ingest
from tests.trainer.evaluation.evaluation_fixtures import SANDBOX_SPECS, ReplayBackend, export_dataset
from trainer.evaluation.config import EvaluateConfig
from trainer.evaluation.evaluate import evaluate

NODE = {"X": 0, "Y": 0, "Z": 3.5}
CASES = [
    # (called tool, reference arguments, the reply the "model" gives, executes?)
    ("post_db_node", {"Assign": {"1": NODE}}, None, True),  # None: the reference call itself
    ("put_db_node", {"Assign": {"77": NODE}}, None, False),  # node 77 does not exist: http error
    (
        "post_doc_anal",
        {"Argument": {}},
        '{"name": "post_doc_anal", "arguments": {"Argument": {"x": 1}}}',
        False,
    ),
    ("get_db_node", {}, '{"name": "get_db_node", "arguments": {', False),  # unparseable: never sent
    (None, {}, "No tool can do that.", None),  # irrelevance: nothing to execute
]


def _reply(name: str, arguments: dict, text: str | None) -> str:
    if text is None:
        text = json.dumps({"name": name, "arguments": arguments})
    return text if text.startswith("No tool") else f"<tool_call>\n{text}\n</tool_call>"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    catalog = ingest([str(SANDBOX_SPECS / "gennx_mini.yaml")], naming="snake").catalog
    offered = ["post_db_node", "put_db_node", "post_doc_anal", "get_db_node"]
    samples = [
        Sample.create(
            query=f"request {i}",
            language="en",
            style="multiple" if name else "irrelevance",
            tools=offered,
            calls=[ToolCall(name=name, arguments=args)] if name else [],
        )
        for i, (name, args, _, _) in enumerate(CASES)
    ]
    root = tmp_path_factory.mktemp("execution")
    dataset = export_dataset(root / "dataset", {"test_seen": samples}, catalog)
    backend = ReplayBackend("replay", [_reply(name, args, text) for name, args, text, _ in CASES])
    config = EvaluateConfig(
        splits=["test_seen"], execution=True, execution_options={"state": "strict", "sandbox_mode": "thread"}
    )
    result = evaluate(dataset, [], config, root / "out", catalog=catalog, backends=[backend])
    lines = (root / "out" / "predictions-replay.jsonl").read_text("utf-8").splitlines()
    return result, [json.loads(line) for line in lines]


def test_each_prediction_records_whether_it_executed(run) -> None:
    _, predictions = run
    assert [p["execution_ok"] for p in predictions] == [expected for *_, expected in CASES]


def test_a_call_can_match_the_reference_and_still_fail_to_execute(run) -> None:
    _, predictions = run
    assert predictions[1]["ast"] is True and predictions[1]["execution_ok"] is False


def test_execution_success_rate_counts_examples_that_expect_calls(run) -> None:
    result, _ = run
    rate = result.metrics["models"]["replay"]["splits"]["test_seen"]["overall"]["execution_success"]
    assert rate["n"] == 4 and rate["value"] == pytest.approx(1 / 4)


def test_report_shows_the_execution_row(run) -> None:
    result, _ = run
    row = next(
        line for line in Path(result.report).read_text("utf-8").splitlines() if line.startswith("| executes")
    )
    assert "25.0% [" in row and "n=4" in row


# ---------------------------------------------------------------------- prerequisites, before models


class _MustNotRun:
    """A backend that fails the test if evaluation ever asks it for replies."""

    label = "never"

    def generate(self, *args, **kwargs):  # pragma: no cover - reaching it is the failure
        raise AssertionError("a model generated before the execution prerequisites were checked")


@pytest.fixture(scope="module")
def relative_catalog(tmp_path_factory: pytest.TempPathFactory):
    """A catalog ingested with a relative spec path, as `callforge ingest` run in a project folder
    records it, saved into a run folder below that project."""
    import os
    import shutil

    project = tmp_path_factory.mktemp("project")
    (project / "specs").mkdir()
    shutil.copy(SANDBOX_SPECS / "gennx_mini.yaml", project / "specs" / "mini.yaml")
    here = os.getcwd()
    os.chdir(project)
    try:
        catalog = ingest(["specs/mini.yaml"], naming="snake").catalog
    finally:
        os.chdir(here)
    catalog_dir = catalog.save(project / "data" / "runs" / "r1" / "catalog")
    sample = Sample.create(
        query="add node 1",
        language="en",
        style="simple",
        tools=["post_db_node"],
        calls=[ToolCall(name="post_db_node", arguments={"Assign": {"1": NODE}})],
    )
    dataset = export_dataset(project / "data" / "runs" / "r1" / "dataset", {"test_seen": [sample]}, catalog)
    return project, catalog, catalog_dir, dataset


def test_specs_resolve_relative_to_the_catalog_from_any_directory(relative_catalog, tmp_path, monkeypatch):
    from trainer.evaluation.execution import execution_options_for

    project, catalog, catalog_dir, _ = relative_catalog
    monkeypatch.chdir(tmp_path)  # not the folder ingest ran in
    options = execution_options_for(catalog, {}, catalog_dir)
    assert options["spec_root"] == str(project.resolve())


def test_a_missing_spec_fails_before_any_model_runs(relative_catalog, tmp_path, monkeypatch):
    from schemas.catalog import Catalog
    from schemas.errors import ConfigError

    _, catalog, _, dataset = relative_catalog
    monkeypatch.chdir(tmp_path)
    elsewhere = Catalog(catalog.tools).save(tmp_path / "copied-catalog")  # no specs/ above this one
    config = EvaluateConfig(splits=["test_seen"], execution=True)
    with pytest.raises(ConfigError, match=r"'specs/mini.yaml'.*--spec-root"):
        evaluate(
            dataset,
            [],
            config,
            tmp_path / "out",
            catalog=catalog,
            catalog_path=elsewhere,
            backends=[_MustNotRun()],
        )
    with pytest.raises(ConfigError, match="--spec-root"):
        evaluate(
            dataset,
            [],
            EvaluateConfig(
                splits=["test_seen"], execution=True, execution_options={"spec_root": str(tmp_path)}
            ),
            tmp_path / "out",
            catalog=catalog,
            backends=[_MustNotRun()],
        )


def test_evaluate_command_takes_spec_root(relative_catalog, tmp_path, monkeypatch, capsys):
    from flows.cli import main

    project, _, catalog_dir, dataset = relative_catalog
    monkeypatch.chdir(tmp_path)
    argv = ["evaluate", "--dataset", str(dataset), "--splits", "test_seen", "--catalog", str(catalog_dir)]
    argv += ["--execution", "--model", str(tmp_path / "no-such-model"), "--out", str(tmp_path / "out")]
    # The spec resolves (through --spec-root); the missing model is then reported before loading.
    assert main([*argv, "--spec-root", str(project)]) == 1
    assert "no-such-model does not exist" in capsys.readouterr().err
    assert main([*argv, "--spec-root", str(tmp_path)]) == 1
    assert "--spec-root" in capsys.readouterr().err
