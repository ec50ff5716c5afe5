"""Exports: every format loads back to the same samples, and TRL records render through a real template."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import polars as pl
import pytest

from schemas.catalog import Catalog
from schemas.errors import ConfigError, RecordError
from schemas.records import from_flat, from_trl, from_xlam, to_trl, to_xlam
from tests.trainer.dataset.assembly_fixtures import make_catalog, make_samples
from trainer.dataset.config import ExportOptions
from trainer.dataset.encoders import Encoders, hf_features, tool_responses
from trainer.dataset.exports import write_exports
from trainer.dataset.splits import SPLITS, SplitConfig, split_samples


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory):
    catalog = make_catalog((6, 6, 6))
    samples = make_samples(catalog, 240, seed=4, with_execution=True)
    splits = split_samples(samples, catalog, SplitConfig(seed=1, unseen_fraction=0.2)).splits
    out = tmp_path_factory.mktemp("export")
    rows = write_exports(out, splits, catalog, ExportOptions(include_tool_responses=True))
    return out, splits, catalog, rows


def _ids(split_samples_: list) -> list[str]:
    return [s.id for s in split_samples_]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_hf_dataset_round_trips_to_the_same_samples(exported) -> None:
    out, splits, _, _ = exported
    loaded = datasets.load_from_disk(str(out / "hf"))
    assert set(loaded) == set(SPLITS)
    for split in SPLITS:
        assert [from_trl(row).id for row in loaded[split]] == _ids(splits[split])


def test_hf_dataset_keeps_each_calls_arguments_exactly(exported) -> None:
    out, splits, _, _ = exported
    loaded = datasets.load_from_disk(str(out / "hf"))["train"]
    for row, sample in zip(loaded, splits["train"], strict=True):
        calls = [tc["function"]["arguments"] for m in row["messages"] for tc in m.get("tool_calls") or []]
        assert calls == [c.arguments for c in sample.calls]  # no null-filled keys of other tools


def test_trl_jsonl_round_trips(exported) -> None:
    out, splits, _, _ = exported
    for split in SPLITS:
        assert [from_trl(r).id for r in _jsonl(out / "trl" / f"{split}.jsonl")] == _ids(splits[split])


def test_trl_lines_are_the_records_of_schemas_records(exported) -> None:
    out, splits, catalog, _ = exported
    records = _jsonl(out / "trl" / "train.jsonl")
    expected = [to_trl(s, catalog.by_name, tool_responses=tool_responses(s)) for s in splits["train"]]
    assert records == expected


def test_trl_lines_without_tool_responses_are_the_records_of_schemas_records(tmp_path: Path) -> None:
    catalog = make_catalog((4, 4, 0))
    samples = make_samples(catalog, 60, seed=9, with_execution=True)
    write_exports(tmp_path, {"train": samples}, catalog, ExportOptions(formats=("trl",)))
    assert _jsonl(tmp_path / "trl" / "train.jsonl") == [to_trl(s, catalog.by_name) for s in samples]


def test_xlam_lines_are_the_records_of_schemas_records(exported) -> None:
    out, splits, catalog, _ = exported
    records = _jsonl(out / "xlam" / "train.jsonl")
    assert records == [to_xlam(s, catalog.by_name) for s in splits["train"]]


def test_trl_parquet_loads_with_load_dataset_and_round_trips(exported, tmp_path: Path) -> None:
    out, splits, _, _ = exported
    files = {split: str(out / "trl" / f"{split}.parquet") for split in SPLITS}
    loaded = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path))
    assert loaded["train"].features == hf_features()
    for split in SPLITS:
        assert [from_trl(row).id for row in loaded[split]] == _ids(splits[split])


def test_trl_jsonl_loads_with_the_documented_features(exported, tmp_path: Path) -> None:
    out, _, _, _ = exported
    loaded = datasets.load_dataset(
        "json",
        data_files={"train": str(out / "trl" / "train.jsonl")},
        features=hf_features(),
        cache_dir=str(tmp_path),
    )
    assert list(loaded["train"]) == _jsonl(out / "trl" / "train.jsonl")


@pytest.mark.parametrize(("fmt", "decode"), [("xlam", from_xlam), ("flat", from_flat)])
def test_xlam_and_flat_exports_round_trip(exported, fmt: str, decode) -> None:
    out, splits, _, _ = exported
    for split in SPLITS:
        expected = [s.id for s in splits[split] if fmt == "xlam" or len(s.calls) == 1]
        assert [decode(r).id for r in _jsonl(out / fmt / f"{split}.jsonl")] == expected
        parquet = pl.read_parquet(out / fmt / f"{split}.parquet")
        assert [decode(r).id for r in parquet.iter_rows(named=True)] == expected


def test_row_counts_match_the_files(exported) -> None:
    out, splits, _, rows = exported
    for key, count in rows.items():
        fmt, split = key.split("/")
        if fmt != "hf":
            assert len(_jsonl(out / fmt / f"{split}.jsonl")) == count
    assert rows["flat/train"] == sum(len(s.calls) == 1 for s in splits["train"])


def test_tool_responses_follow_the_calls(exported) -> None:
    out, splits, _, _ = exported
    records = _jsonl(out / "trl" / "train.jsonl")
    sample, record = next((s, r) for s, r in zip(splits["train"], records, strict=True) if len(s.calls) == 2)
    tool_turns = [m for m in record["messages"] if m["role"] == "tool"]
    assert [(m["name"], m["content"]) for m in tool_turns] == [
        (c.name, r.response) for c, r in zip(sample.calls, sample.execution, strict=True)
    ]


def test_empty_split_is_saved_and_loads_back(tmp_path: Path) -> None:
    catalog = make_catalog((4, 0, 0))
    samples = make_samples(catalog, 5, seed=1)
    write_exports(tmp_path, {"train": samples, "validation": []}, catalog, ExportOptions())
    loaded = datasets.load_from_disk(str(tmp_path / "hf"))
    assert (len(loaded["train"]), len(loaded["validation"])) == (5, 0)


def test_chat_template_renders_schema_query_and_exact_call(exported) -> None:
    import trl
    from transformers.utils.chat_template_utils import render_jinja_template

    out, _, catalog, _ = exported
    template = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text("utf-8")
    row = next(r for r in datasets.load_from_disk(str(out / "hf"))["train"] if r["style"] == "multiple")
    (text,), _ = render_jinja_template([row["messages"]], tools=row["tools"], chat_template=template)
    call = next(m for m in row["messages"] if m.get("tool_calls"))["tool_calls"][0]["function"]
    assert json.dumps(catalog[call["name"]].openai_schema(), ensure_ascii=False) in text
    assert row["messages"][1]["content"] in text
    expected = f'<tool_call>\n{{"name": "{call["name"]}", "arguments": {json.dumps(call["arguments"], ensure_ascii=False)}}}\n</tool_call>'
    assert expected in text


@pytest.mark.parametrize("formats", [("csv",), ("hf", "xlam")])
def test_bad_formats_are_a_config_error(formats: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError, match="formats"):
        ExportOptions.from_dict({"formats": formats})


@pytest.mark.parametrize("fmt", ["trl", "xlam"])
def test_a_tool_missing_from_the_catalog_is_a_record_error_naming_it(tmp_path: Path, fmt: str) -> None:
    catalog = make_catalog((4, 0, 0))
    samples = make_samples(catalog, 5, seed=2)
    smaller = Catalog([t for t in catalog if t.name != samples[0].tools[0]])
    with pytest.raises(RecordError, match=samples[0].tools[0]):
        write_exports(tmp_path, {"train": samples}, smaller, ExportOptions(formats=(fmt,)))


def test_encodings_made_ahead_write_the_same_files(tmp_path: Path) -> None:
    catalog = make_catalog((4, 4, 0))
    samples = make_samples(catalog, 40, seed=6)
    encoders = Encoders(catalog, ExportOptions())
    encoders.warm(samples)
    write_exports(tmp_path / "warm", {"train": samples}, catalog, ExportOptions(), encoders)
    write_exports(tmp_path / "cold", {"train": samples}, catalog, ExportOptions())
    for fmt in ("trl", "xlam", "flat"):
        assert (tmp_path / "warm" / fmt / "train.jsonl").read_bytes() == (
            tmp_path / "cold" / fmt / "train.jsonl"
        ).read_bytes()


def test_a_samples_reference_survives_every_export_and_reaches_evaluation(tmp_path: Path) -> None:
    from schemas.models import CallReference
    from trainer.evaluation.examples import load_examples

    catalog = make_catalog((4, 4, 0))
    plain = make_samples(catalog, 40, seed=3)
    target = next(s for s in plain if len(s.calls) == 1)
    name, arguments = target.calls[0].name, target.calls[0].arguments
    ((row_id, row),) = arguments["Assign"].items()
    ((field, value),) = row.items()
    alternative = {row_id: {field: value + 1}}  # another acceptable value of the argument "Assign"
    reference = [CallReference(acceptable={"Assign": [alternative]}, omittable=["note"])]
    carried = target.model_copy(update={"reference": reference})
    samples = [carried if s.id == target.id else s for s in plain]
    splits = {split: [] for split in SPLITS}
    splits["test_seen"] = samples
    write_exports(tmp_path, splits, catalog, ExportOptions(formats=("hf", "trl", "xlam", "flat")))

    trl = {r["id"]: r for r in _jsonl(tmp_path / "trl" / "test_seen.jsonl")}
    assert json.loads(trl[target.id]["reference"]) == [r.model_dump() for r in reference]
    assert all(r["reference"] == "" for i, r in trl.items() if i != target.id)  # none invented
    assert from_trl(trl[target.id]).reference == reference
    xlam = pl.read_parquet(tmp_path / "xlam" / "test_seen.parquet").to_dicts()
    assert from_xlam(next(r for r in xlam if r["id"] == target.id)).reference == reference
    flat = pl.read_parquet(tmp_path / "flat" / "test_seen.parquet").to_dicts()
    assert from_flat(next(r for r in flat if r["id"] == target.id)).reference == reference

    (example,) = [e for e in load_examples(tmp_path, ["test_seen"]) if e.id == target.id]
    (ref,) = example.references
    assert ref.name == name
    assert ref.values["Assign"] == [arguments["Assign"], alternative]
    assert "note" in ref.omittable


def test_a_reference_must_have_one_entry_per_call() -> None:
    from schemas.models import Sample

    sample = make_samples(make_catalog((4, 4, 0)), 1)[0]  # one call
    with pytest.raises(ValueError, match="one per call"):
        Sample.model_validate({**sample.model_dump(), "reference": [{}, {}]})
    with pytest.raises(RecordError, match="'reference' is not JSON"):
        from_trl({**to_trl(sample, make_catalog((4, 4, 0)).by_name), "reference": "[{"})
