"""Ingested catalogs cached by content: a hit skips the ingest, anything changed or damaged is a miss."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from schemas.openapi import ingest, ingest_cache, ingestion, parse_cache

SPLIT = Path(__file__).resolve().parents[1] / "data" / "sandbox" / "split"  # a spec + a $ref'd file


class Counting:
    """Wraps ``open_spec`` to count the ingests that really read the spec."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = ingestion.open_spec

        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(ingestion, "open_spec", counted)


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of a two-file spec, the caches pointed at a temporary folder and open to small specs."""
    folder = tmp_path / "spec"
    shutil.copytree(SPLIT, folder)
    monkeypatch.setenv("CALLFORGE_PARSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CALLFORGE_INGEST_CACHE", raising=False)
    monkeypatch.setattr(parse_cache, "MIN_BYTES", 0)
    return folder / "openapi.yaml"


def entries(spec: Path) -> list[Path]:
    return sorted((spec.parents[1] / "cache" / "ingested").glob("*.json"))


def same(a: ingestion.IngestResult, b: ingestion.IngestResult) -> bool:
    skip = {"created_at"}
    return (
        a.catalog.tools == b.catalog.tools
        and a.catalog.manifest.model_dump(exclude=skip) == b.catalog.manifest.model_dump(exclude=skip)
        and a.report.model_dump(exclude=skip) == b.report.model_dump(exclude=skip)
    )


def test_an_unchanged_spec_is_read_back_equal_without_ingesting(spec: Path, monkeypatch):
    counting = Counting(monkeypatch)
    first = ingest([spec])
    second = ingest([spec])
    assert counting.calls == 1 and len(entries(spec)) == 1
    assert same(first, second) and len(second.catalog) > 0
    assert [t.fingerprint for t in second.catalog] == [t.compute_fingerprint() for t in second.catalog]


def test_a_changed_referenced_file_is_a_miss(spec: Path, monkeypatch):
    counting = Counting(monkeypatch)
    ingest([spec])
    components = spec.parent / "components.yaml"
    components.write_text(components.read_text().replace("description:", "description: changed", 1))
    fresh = ingest([spec])
    assert counting.calls == 2
    monkeypatch.setenv("CALLFORGE_INGEST_CACHE", "off")
    assert same(fresh, ingest([spec]))


def test_other_options_are_another_entry(spec: Path, monkeypatch):
    counting = Counting(monkeypatch)
    snake = ingest([spec])
    by_path = ingest([spec], naming="method_path")
    assert counting.calls == 2 and len(entries(spec)) == 2
    assert [t.name for t in snake.catalog] != [t.name for t in by_path.catalog]


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-10],  # truncated
        lambda b: b[:60] + bytes([b[60] ^ 1]) + b[61:],  # one bit of the payload
        lambda b: b"junk",
    ],
    ids=["truncated", "bit-flip", "junk"],
)
def test_a_damaged_entry_is_ignored_and_rebuilt(spec: Path, monkeypatch, damage):
    counting = Counting(monkeypatch)
    first = ingest([spec])
    (entry,) = entries(spec)
    entry.write_bytes(damage(entry.read_bytes()))
    assert same(first, ingest([spec])) and counting.calls == 2
    assert same(first, ingest([spec])) and counting.calls == 2  # the rebuilt entry is whole


def test_an_entry_with_a_valid_checksum_but_bad_content_is_a_miss(spec: Path, monkeypatch):
    counting = Counting(monkeypatch)
    first = ingest([spec])
    (entry,) = entries(spec)
    payload = b'{"files":{},"manifest":{},"report":{}}\n[{"name":""}]'
    entry.write_bytes(ingest_cache._MAGIC + ingest_cache.hashlib.sha256(payload).digest() + payload)
    assert same(first, ingest([spec])) and counting.calls == 2


def test_the_cache_can_be_turned_off(spec: Path, monkeypatch):
    monkeypatch.setenv("CALLFORGE_INGEST_CACHE", "off")
    counting = Counting(monkeypatch)
    ingest([spec])
    ingest([spec])
    assert counting.calls == 2 and entries(spec) == []


def test_other_ingest_code_is_another_entry(spec: Path, monkeypatch):
    counting = Counting(monkeypatch)
    ingest([spec])
    monkeypatch.setattr(ingest_cache, "code_version", lambda: "other ingest code")
    ingest([spec])
    assert counting.calls == 2 and len(entries(spec)) == 2
