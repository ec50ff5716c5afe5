"""Training rows that fit: measured with a real tokenizer and chat template, fitted to max_length."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.models import Sample, Style
from schemas.records import to_trl
from tests.trainer.dataset.assembly_fixtures import make_catalog
from trainer.dataset.config import ExportOptions, LengthConfig
from trainer.dataset.lengths import fit_training_rows
from trainer.row_lengths import RowMeter, row_meter

CATALOG = make_catalog((6, 0, 0))
TOOLS = {t.name: t for t in CATALOG}
OPTIONS = ExportOptions()


@pytest.fixture(scope="module")
def meter() -> RowMeter:
    from trainer.tiny import qwen2_style_tokenizer

    return RowMeter(qwen2_style_tokenizer(), "the tiny Qwen2-style tokenizer", exact=True)


def _call(name: str) -> dict[str, Any]:
    return {"name": name, "arguments": {"Assign": {"1": {name.upper(): 2}}}}


def _multiple(query: str, target: str, distractors: list[str]) -> Sample:
    return Sample.create(
        query=query, style="multiple", tools=[target, *distractors], calls=[_call(target)], tier=1
    )


def _length(meter: RowMeter, sample: Sample) -> int:
    return meter([to_trl(sample, TOOLS, system_prompt=OPTIONS.system_prompt)])[0]


def _fit(meter: RowMeter, splits: dict[str, list[Sample]], max_length: int, fit: str = "fewer_distractors"):
    return fit_training_rows(splits, TOOLS, OPTIONS, meter, LengthConfig(fit=fit), max_length=max_length)


def test_the_meter_counts_what_apply_chat_template_tokenises(meter: RowMeter) -> None:
    sample = _multiple("add a t1_tool_00 record", "t1_tool_00", ["t1_tool_01"])
    record = to_trl(sample, TOOLS, system_prompt=OPTIONS.system_prompt)
    ids = meter.tokenizer.apply_chat_template(record["messages"], tools=record["tools"], tokenize=True)
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    assert meter([record]) == [len(ids)]


def _records(count: int) -> list[dict[str, Any]]:
    names = sorted(TOOLS)
    samples = [
        _multiple(f"add record {i} " + "with a longer query " * (i % 7), names[i % 6], [names[(i + 1) % 6]])
        for i in range(count)
    ]
    return [to_trl(s, TOOLS, system_prompt=OPTIONS.system_prompt) for s in samples]


def test_many_rows_are_counted_in_threads_in_order_as_apply_chat_template_counts(
    meter: RowMeter, monkeypatch
):
    monkeypatch.setattr("trainer.row_lengths.os.cpu_count", lambda: 3)  # uneven chunks on any machine
    records = _records(200)  # rows of different lengths: a chunk returned out of order shows
    expected = []
    for record in records:
        ids = meter.tokenizer.apply_chat_template(record["messages"], tools=record["tools"], tokenize=True)
        expected.append(len(ids["input_ids"] if hasattr(ids, "keys") else ids))
    assert len(set(expected)) > 5
    assert meter(records) == expected


def test_a_backend_with_truncation_set_is_not_used_from_threads(meter: RowMeter) -> None:
    from trainer.row_lengths import _parallel_backend

    assert _parallel_backend(meter.tokenizer, 200) is not None
    backend = meter.tokenizer._tokenizer
    backend.enable_truncation(max_length=16)
    try:  # the backend would cut every row to 16 tokens; the tokenizer's own call turns that off
        assert _parallel_backend(meter.tokenizer, 200) is None
        assert min(meter(_records(100))) > 16
    finally:
        backend.no_truncation()


def test_a_row_exactly_at_max_length_is_kept_as_it_is(meter: RowMeter) -> None:
    sample = _multiple("add a t1_tool_00 record", "t1_tool_00", ["t1_tool_01", "t1_tool_02"])
    limit = _length(meter, sample)
    splits, report = _fit(meter, {"train": [sample]}, limit)
    assert splits["train"] == [sample]
    assert (report.over_before, report.redrawn, report.dropped, report.distribution["max"]) == (
        0,
        0,
        0,
        limit,
    )


def test_a_row_one_token_over_loses_distractors_until_it_fits(meter: RowMeter) -> None:
    sample = _multiple("add a t1_tool_00 record", "t1_tool_00", ["t1_tool_01", "t1_tool_02"])
    splits, report = _fit(meter, {"train": [sample]}, _length(meter, sample) - 1)
    (fitted,) = splits["train"]
    assert fitted.calls == sample.calls and fitted.query == sample.query
    assert len(fitted.tools) == 2 and "t1_tool_00" in fitted.tools  # one distractor was enough
    assert _length(meter, fitted) <= _length(meter, sample) - 1
    assert (report.over_before, report.redrawn, report.dropped, report.over_after) == (1, 1, 0, 0)


def test_a_multiple_left_with_only_its_target_becomes_simple(meter: RowMeter) -> None:
    sample = _multiple("add a t1_tool_00 record", "t1_tool_00", ["t1_tool_01"])
    alone = Sample.create(
        query=sample.query, style="simple", tools=["t1_tool_00"], calls=sample.calls, tier=1
    )
    splits, _ = _fit(meter, {"train": [sample]}, _length(meter, alone))
    assert splits["train"][0].style is Style.SIMPLE and splits["train"][0].tools == ["t1_tool_00"]


def test_a_row_whose_target_alone_is_too_long_is_dropped_and_test_splits_are_never_changed(
    meter: RowMeter,
) -> None:
    long = _multiple("add a t1_tool_00 record " * 40, "t1_tool_00", ["t1_tool_01"])
    short = _multiple("add a t1_tool_03 record", "t1_tool_03", [])
    limit = _length(meter, short) + 5
    splits, report = _fit(meter, {"train": [long, short], "test_seen": [long]}, limit)
    assert splits["train"] == [short] and splits["test_seen"] == [long]
    assert (report.over_before, report.dropped, report.dropped_ids) == (1, 1, [long.id])
    assert report.dropped_by_tool == {"t1_tool_00": 1}


def test_an_irrelevance_row_keeps_one_tool(meter: RowMeter) -> None:
    sample = Sample.create(
        query="sing me a song " * 30, style="irrelevance", tools=["t1_tool_00", "t1_tool_01"], tier=1
    )
    splits, report = _fit(meter, {"validation": [sample]}, 10)
    assert splits["validation"] == [] and report.dropped == 1  # never left with nothing offered


@pytest.mark.parametrize(
    ("fit", "kept", "max_length"), [("drop", 0, None), ("raise_max_length", 1, "raised")]
)
def test_drop_and_raise_max_length(meter: RowMeter, fit: str, kept: int, max_length: str | None) -> None:
    sample = _multiple("add a t1_tool_00 record", "t1_tool_00", ["t1_tool_01", "t1_tool_02"])
    length = _length(meter, sample)
    splits, report = _fit(meter, {"train": [sample]}, length - 1, fit)
    assert len(splits["train"]) == kept
    if max_length == "raised":
        assert report.max_length >= length and report.max_length % 64 == 0 and splits["train"] == [sample]


def test_a_model_not_available_offline_gets_the_stated_stand_in(tmp_path) -> None:
    meter = row_meter(str(tmp_path / "no-such-model"), CATALOG)
    sample = _multiple("add a t1_tool_00 record", "t1_tool_00", ["t1_tool_01"])
    (n,) = meter([to_trl(sample, TOOLS, system_prompt=OPTIONS.system_prompt)])
    assert n > 20 and meter.name.startswith("a stand-in") and "not the model's exact count" in meter.name
    again = row_meter(str(tmp_path / "no-such-model"), CATALOG)  # the same catalog, the same counts
    assert again([to_trl(sample, TOOLS, system_prompt=OPTIONS.system_prompt)]) == [n]


def test_a_local_model_directory_is_measured_exactly(tiny_model) -> None:
    meter = row_meter(str(tiny_model))
    sample = _multiple("add a t1_tool_00 record", "t1_tool_00", ["t1_tool_01"])
    meter([to_trl(sample, TOOLS, system_prompt=OPTIONS.system_prompt)])
    assert meter.name == f"{tiny_model}'s tokenizer and chat template"


def test_a_row_that_loses_distractors_keeps_its_reference(meter: RowMeter) -> None:
    from schemas.models import CallReference

    sample = _multiple("add a t1_tool_00 record", "t1_tool_00", ["t1_tool_01", "t1_tool_02"])
    sample = Sample.create(**{**sample.model_dump(), "reference": [CallReference(omittable=["Assign"])]})
    splits, _ = _fit(meter, {"train": [sample]}, _length(meter, sample) - 1)
    assert splits["train"][0].reference == sample.reference
