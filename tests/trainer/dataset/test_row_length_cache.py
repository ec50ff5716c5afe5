"""Row lengths kept between assemblies: the same counts as measuring, keyed on what measures them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from schemas.models import Sample
from schemas.records import to_trl
from tests.trainer.dataset.assembly_fixtures import make_catalog
from trainer import row_lengths
from trainer.dataset.config import ExportOptions
from trainer.row_length_cache import RowLengthCache, record_key
from trainer.row_lengths import meter_identity, row_meter

CATALOG = make_catalog((6, 0, 0))
OTHER_CATALOG = make_catalog((7, 0, 0))
TOOLS = {t.name: t for t in CATALOG}
OPTIONS = ExportOptions()


def _records(n: int, start: int = 0) -> list[dict[str, Any]]:
    out = []
    for i in range(start, start + n):
        target = f"t1_tool_0{i % 6}"
        sample = Sample.create(
            query=f"add record {i} to {target}",
            style="simple",
            tools=[target],
            calls=[{"name": target, "arguments": {"Assign": {str(i): {"X": i}}}}],
            tier=1,
        )
        out.append(to_trl(sample, TOOLS, system_prompt=OPTIONS.system_prompt))
    return out


class _Counting:
    """Counts the records the wrapped meter really measures (the rest came from the cache)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.measured = 0
        original = row_lengths.RowMeter.__call__

        def counting(meter: Any, records: Any) -> list[int]:
            self.measured += len(records)
            return original(meter, records)

        monkeypatch.setattr(row_lengths.RowMeter, "__call__", counting)


def test_cached_counts_equal_measured_ones_and_only_new_records_are_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = str(tmp_path / "no-such-model")  # the stand-in
    plain = row_meter(source, CATALOG)([*_records(8), *_records(4, start=8)])
    counting = _Counting(monkeypatch)
    cache = RowLengthCache(tmp_path / "lengths.sqlite")
    first = row_meter(source, CATALOG, cache=cache)(_records(8))
    assert counting.measured == 8 and first == plain[:8]
    # another meter over the same cache: 8 known, 4 new, in the caller's order
    mixed = [*_records(4, start=8), *_records(8)]
    counts = row_meter(source, CATALOG, cache=RowLengthCache(tmp_path / "lengths.sqlite"))(mixed)
    assert counting.measured == 12 and counts == plain[8:] + plain[:8]


def test_a_fully_cached_count_loads_no_tokenizer_and_still_names_the_stand_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = str(tmp_path / "no-such-model")
    cache = RowLengthCache(tmp_path / "lengths.sqlite")
    counts = row_meter(source, CATALOG, cache=cache)(_records(5))

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("the tokenizer was loaded although every record was cached")

    monkeypatch.setattr(row_lengths, "_load", refuse)
    monkeypatch.setattr(row_lengths, "stand_in_meter", refuse)
    again = row_meter(source, CATALOG, cache=RowLengthCache(tmp_path / "lengths.sqlite"))
    assert again(_records(5)) == counts
    # the card says what measured, not the name a loaded model would have had
    assert again.name.startswith("a stand-in") and "not the model's exact count" in again.name


def test_another_stand_in_corpus_is_another_meter_not_a_stale_hit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache keyed on the record alone would hand the first stand-in's counts to the second."""
    source = str(tmp_path / "no-such-model")
    cache = RowLengthCache(tmp_path / "lengths.sqlite")
    row_meter(source, CATALOG, cache=cache)(_records(3))
    counting = _Counting(monkeypatch)
    other = row_meter(source, OTHER_CATALOG, cache=cache)(_records(3))
    assert counting.measured == 3
    assert other == row_meter(source, OTHER_CATALOG)(_records(3))
    assert meter_identity(source, ["a"]) != meter_identity(source, ["b"])


def test_a_local_tokenizer_that_changes_is_a_new_identity(tmp_path: Path, tiny_model: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(tiny_model, copy)
    before = meter_identity(str(copy), [])
    assert meter_identity(str(copy), []) == before  # the same files, the same identity
    config = copy / "tokenizer_config.json"
    config.write_text(config.read_text().replace("}", ', "model_max_length": 7}', 1))
    assert meter_identity(str(copy), []) != before


def test_a_damaged_cache_file_is_left_aside_and_counting_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "lengths.sqlite"
    path.write_bytes(b"not a database" * 100)
    source = str(tmp_path / "no-such-model")
    counts = row_meter(source, CATALOG, cache=RowLengthCache(path))(_records(4))
    assert counts == row_meter(source, CATALOG)(_records(4))


def test_the_record_key_ignores_key_order_but_not_content() -> None:
    record = _records(1)[0]
    reordered = {"tools": record["tools"], "messages": record["messages"]}
    assert record_key(record) == record_key(reordered)
    changed = {**record, "messages": [*record["messages"][:-1], {"role": "assistant", "content": "x"}]}
    assert record_key(changed) != record_key(record)
