"""``callforge score``: BFCL data and dataset splits, through the CLI, with its exact interface."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.cli import main
from schemas.models import Sample, ToolCall
from tests.trainer.evaluation.evaluation_fixtures import export_dataset
from trainer.evaluation.backends import REQUEST_FAILED
from trainer.evaluation.bfcl import decode_python_calls, load_entries, load_predictions
from trainer.evaluation.parity import reference_arguments
from trainer.evaluation.scoring import Call

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "bfcl"
QUESTIONS = SAMPLE / "BFCL_v4_simple_python.json"
ANSWERS = SAMPLE / "possible_answer" / "BFCL_v4_simple_python.json"


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _reference_calls(entry) -> list[dict]:
    return [{"name": r.name, "arguments": reference_arguments(r)} for r in entry.references]


def _score(tmp_path: Path, predictions: Path, *extra: str, rules: str = "bfcl") -> tuple[int, Path]:
    out = tmp_path / "out"
    argv = ["score", "--bfcl-questions", str(QUESTIONS), "--bfcl-answers", str(ANSWERS)]
    code = main([*argv, "--predictions", str(predictions), "--rules", rules, "--out", str(out), *extra])
    return code, out


def test_score_writes_verdicts_metrics_and_report(tmp_path: Path, capsys) -> None:
    entries, _ = load_entries(QUESTIONS, ANSWERS)
    rows = [{"id": e.id, "calls": _reference_calls(e)} for e in entries]
    rows[0]["calls"][0]["name"] += "_wrong"
    rows[1]["calls"] = []  # an abstention where a call was due
    code, out = _score(tmp_path, _write(tmp_path / "p.jsonl", rows[:-1]))  # the last one missing
    assert code == 0
    verdicts = [json.loads(line) for line in (out / "verdicts.jsonl").read_text().splitlines()]
    assert [set(v) for v in verdicts] == [{"id", "category", "valid", "error_type"}] * len(entries)
    by_id = {v["id"]: v for v in verdicts}
    assert by_id[entries[0].id]["error_type"] == "simple_function_checker:wrong_func_name"
    assert by_id[entries[1].id]["error_type"] == "simple_function_checker:wrong_count"
    assert by_id[entries[-1].id]["error_type"] == "missing_prediction"
    assert sum(v["valid"] for v in verdicts) == len(entries) - 3
    metrics = json.loads((out / "metrics.json").read_text())
    accuracy = metrics["by_category"]["simple_python"]
    assert accuracy["n"] == len(entries) and accuracy["ci_low"] < accuracy["value"] < accuracy["ci_high"]
    assert metrics["missing_predictions"] == 1 and "callforge" in metrics["other_rules"]
    report = (out / "report.md").read_text()
    assert f"n={len(entries)}" in report and "simple_python" in report
    assert "simple_python" in capsys.readouterr().out


def test_score_reads_bfcl_result_files(tmp_path: Path) -> None:
    entries, _ = load_entries(QUESTIONS, ANSWERS)
    entry = entries[0]
    ((name, arguments),) = [(c["name"], c["arguments"]) for c in _reference_calls(entry)]
    text = "[" + name + "(" + ", ".join(f"{k}={v!r}" for k, v in arguments.items()) + ")]"
    rows = [{"id": entry.id, "result": text}, {"id": entries[1].id, "result": "I cannot call that"}]
    code, out = _score(tmp_path, _write(tmp_path / "p.jsonl", rows))
    assert code == 0
    verdicts = {json.loads(x)["id"]: json.loads(x) for x in (out / "verdicts.jsonl").read_text().splitlines()}
    assert verdicts[entry.id]["valid"], text
    assert verdicts[entries[1].id]["error_type"] == "ast_decoder:decoder_failed"


@pytest.mark.parametrize(
    ("text", "calls"),
    [
        ("[math.gcd(a=12, b=18)]", [Call("math.gcd", {"a": 12, "b": 18})]),
        ("f(x=(1, 2), y={'k': [True]})", [Call("f", {"x": [1, 2], "y": {"k": [True]}})]),
        ("[f(a=1), g(b='x')]", [Call("f", {"a": 1}), Call("g", {"b": "x"})]),
        ("[]", []),
        ("[f(1)]", None),  # positional arguments are not BFCL's form
        ("[f(a=open('x'))]", None),  # only literals are read, nothing is evaluated
        ("[f(**kw)]", None),
        ("not python (", None),
        ("[f(a=" + "[" * 300 + "]" * 300 + ")]", None),  # nested deeper than any tool argument
    ],
)
def test_decode_python_calls(text: str, calls: list[Call] | None) -> None:
    assert decode_python_calls(text) == calls


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a"}', "expected 'calls'"),
        ('{"calls": []}', "string 'id'"),
        ('{"id": "a", "calls": [{"arguments": {}}]}', "calls[0] must be"),
        ('{"id": "a", "calls": "f()"}', "'calls' must be a list"),
        ("not json", "not JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (
            '{"id": "a", "calls": [{"name": "f", "arguments": {"x": ' + "[" * 200 + "]" * 200 + "}}]}",
            "deeper than",
        ),
    ],
)
def test_bad_prediction_lines_name_the_file_and_line(tmp_path: Path, line: str, message: str, capsys) -> None:
    predictions = tmp_path / "p.jsonl"
    predictions.write_text('{"id": "ok", "calls": []}\n' + line + "\n")
    code, _ = _score(tmp_path, predictions)
    err = capsys.readouterr().err
    assert code == 1 and f"{predictions}:2" in err and message in err and "Traceback" not in err


def test_a_category_the_file_name_does_not_give_is_an_error(tmp_path: Path, capsys) -> None:
    renamed = tmp_path / "simple.json"
    renamed.write_text(QUESTIONS.read_text())
    predictions = _write(tmp_path / "p.jsonl", [])
    argv = ["score", "--bfcl-questions", str(renamed), "--bfcl-answers", str(ANSWERS)]
    assert main([*argv, "--predictions", str(predictions), "--out", str(tmp_path / "o")]) == 1
    assert "BFCL_v<N>_<category>.json" in capsys.readouterr().err


def test_predictions_of_callforge_evaluate_are_read(tmp_path: Path) -> None:
    reply = '<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>'
    # A failed request is saved as its error text (no call in it): unreadable, as `evaluate` scores it,
    # not an abstention (which an irrelevance question would count as right).
    failed = f"{REQUEST_FAILED}APIConnectionError: Connection error.</error>"
    rows = [
        {"id": "x", "reply": reply},
        {"id": "y", "reply": "<tool_call>{bad"},
        {"id": "z", "reply": failed},
    ]
    path = _write(tmp_path / "p.jsonl", rows)
    assert load_predictions(path) == {"x": [Call("f", {"a": 1})], "y": None, "z": None}


def test_score_a_dataset_split(tmp_path: Path, tools) -> None:
    weather = ToolCall(name="get_weather", arguments={"city": "Oslo"})
    samples = [
        Sample.create(
            query="Weather in Oslo?", language="en", style="simple", tools=["get_weather"], calls=[weather]
        ),
        Sample.create(
            query="오슬로 날씨?",
            language="ko",
            style="multiple",
            tools=["get_weather", "list_materials"],
            calls=[weather],
        ),
        Sample.create(
            query="Tell me a joke", language="en", style="irrelevance", tools=["get_weather"], calls=[]
        ),
    ]
    dataset = export_dataset(tmp_path / "dataset", {"test_unseen": samples}, tools)
    rows = [
        {"id": samples[0].id, "calls": [{"name": "get_weather", "arguments": {"city": "oslo"}}]},
        {"id": samples[1].id, "calls": [{"name": "get_weather", "arguments": {"city": "Oslo!"}}]},
        {"id": samples[2].id, "calls": []},
    ]
    predictions = _write(tmp_path / "p.jsonl", rows)
    out = tmp_path / "out"
    argv = ["score", "--dataset", str(dataset), "--split", "test_unseen", "--predictions", str(predictions)]
    assert main([*argv, "--rules", "callforge", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"]["value"] == pytest.approx(2 / 3)
    assert metrics["by_language"]["ko"]["value"] == 0 and metrics["by_language"]["en"]["value"] == 1
    assert set(metrics["by_category"]) == {"simple", "multiple", "irrelevance"}
