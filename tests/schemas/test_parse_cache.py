"""Parsed specs cached by content hash: a hit skips the parse, anything odd is a miss."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import SpecError
from schemas.openapi import parse_cache
from schemas.openapi.load import parse_text
from schemas.openapi.parse_cache import cached

BIG = b"x" * parse_cache.MIN_BYTES


class Parser:
    """Counts parses; returns a fresh tree each time."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict:
        self.calls += 1
        return {"paths": {"/a": {"get": {"responses": {"200": {"description": "ok"}}}}}, "n": [1, 2.5, None]}


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CALLFORGE_PARSE_CACHE", str(tmp_path))
    return tmp_path


def test_a_second_read_of_the_same_bytes_skips_the_parse(cache_dir: Path):
    parse = Parser()
    first = cached(BIG, parse)
    second = cached(BIG, parse)
    assert parse.calls == 1 and second == first == Parser()()
    second["paths"].clear()  # each read is a fresh tree: changing one leaves the cache alone
    assert cached(BIG, parse) == first and parse.calls == 1


def test_other_bytes_are_another_entry(cache_dir: Path):
    parse = Parser()
    cached(BIG, parse)
    cached(BIG + b"y", parse)
    assert parse.calls == 2 and len(list(cache_dir.glob("*.marshal"))) == 2


@pytest.mark.parametrize("damage", [lambda b: b[:-10], lambda b: b[:40] + b"!" + b[41:], lambda b: b"junk"])
def test_a_damaged_entry_is_a_miss_and_is_rewritten(cache_dir: Path, damage):
    parse = Parser()
    cached(BIG, parse)
    (entry,) = cache_dir.glob("*.marshal")
    entry.write_bytes(damage(entry.read_bytes()))
    assert cached(BIG, parse) == Parser()() and parse.calls == 2
    assert cached(BIG, parse) == Parser()() and parse.calls == 2  # rewritten whole


def test_small_documents_and_a_cache_turned_off_are_not_stored(cache_dir: Path, monkeypatch):
    parse = Parser()
    cached(b"small", parse)
    cached(b"small", parse)
    assert parse.calls == 2 and not list(cache_dir.iterdir())
    monkeypatch.setenv("CALLFORGE_PARSE_CACHE", "off")
    cached(BIG, parse)
    cached(BIG, parse)
    assert parse.calls == 4 and not list(cache_dir.iterdir())


def test_failed_parses_are_not_cached(cache_dir: Path):
    bad = b"a: [1, 2\n" + b"#" * parse_cache.MIN_BYTES
    for _ in range(2):
        with pytest.raises(SpecError, match="not valid YAML"):
            parse_text(bad, "bad.yaml")
    assert not list(cache_dir.glob("*.marshal"))


def test_the_oldest_entries_go_beyond_the_limit(cache_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(parse_cache, "MAX_ENTRIES", 2)
    for i in range(4):
        cached(BIG + bytes([i]), Parser())
    assert len(list(cache_dir.glob("*.marshal"))) == 2


def test_an_unwritable_cache_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("CALLFORGE_PARSE_CACHE", str(blocker / "cache"))
    parse = Parser()
    assert cached(BIG, parse) == Parser()() and cached(BIG, parse) == Parser()() and parse.calls == 2


def test_a_yaml_spec_reads_back_the_same_through_parse_text(cache_dir: Path):
    text = "openapi: 3.0.0\npaths: {}\nx-pad: '" + "p" * parse_cache.MIN_BYTES + "'\n200: ok\n"
    first = parse_text(text.encode(), "spec.yaml")
    assert list(cache_dir.glob("*.marshal"))
    assert parse_text(text.encode(), "spec.yaml") == first and first["200"] == "ok"
