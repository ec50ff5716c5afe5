"""The content-addressed teacher response cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from generators.cache import REJECTED_KEEP_CHARS, CachedReply, ResponseCache

MESSAGES = [{"role": "user", "content": "절점 1번을 추가해줘"}]
BASE = {"model": "m", "messages": MESSAGES, "params": {"temperature": 0.7, "seed": 1}, "prompt_version": "v1"}


@pytest.mark.parametrize(
    "change",
    [
        {"model": "other"},
        {"messages": [{"role": "user", "content": "x"}]},
        {"params": {"temperature": 0.2, "seed": 1}},
        {"params": {"temperature": 0.7, "seed": 2}},
        {"prompt_version": "v2"},
    ],
)
def test_every_part_of_the_request_changes_the_key(change: dict) -> None:
    assert ResponseCache.key(**BASE) != ResponseCache.key(**(BASE | change))


def test_the_key_ignores_dict_order() -> None:
    reordered = BASE | {"params": {"seed": 1, "temperature": 0.7}}
    assert ResponseCache.key(**BASE) == ResponseCache.key(**reordered)


def test_a_reply_round_trips_into_a_prefix_shard(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    key = cache.key(**BASE)
    path = cache.put(key, CachedReply(text='{"query": "q"}', prompt_tokens=3, completion_tokens=2, model="m"))
    assert path == tmp_path / key[:2] / f"{key}.json"
    got = cache.get(key)
    assert got is not None and (got.text, got.prompt_tokens, got.completion_tokens) == (
        '{"query": "q"}',
        3,
        2,
    )
    assert got.stored_at and len(cache) == 1
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def test_a_missing_entry_is_a_miss(tmp_path: Path) -> None:
    assert ResponseCache(tmp_path).get("ab" + "0" * 62) is None


@pytest.mark.parametrize("content", ["", "{not json", '{"no_text": 1}'])
def test_a_damaged_entry_is_a_miss(tmp_path: Path, content: str) -> None:
    cache = ResponseCache(tmp_path)
    key = cache.key(**BASE)
    cache.path(key).parent.mkdir(parents=True)
    cache.path(key).write_text(content)
    assert cache.get(key) is None


def test_a_rejected_reply_is_kept_apart_and_never_served(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    key = cache.key(**BASE)
    cache.put(key, CachedReply(text="not json", prompt_tokens=3, model="m"))
    path = cache.reject(key, CachedReply(text="not json", prompt_tokens=3, model="m"), reason="malformed_json",
                        message="no JSON object in the reply")  # fmt: skip
    assert cache.get(key) is None and len(cache) == 0
    assert path == tmp_path / "rejected" / key[:2] / f"{key}.json"
    kept = cache.rejected(key)
    assert kept is not None and (kept.text, kept.reason, kept.chars, kept.prompt_tokens) == (
        "not json",
        "malformed_json",
        8,
        3,
    )


def test_a_huge_rejected_reply_keeps_only_its_head(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    key = cache.key(**BASE)
    cache.reject(key, CachedReply(text="x" * 5_000_000), reason="too_large", message="too large")
    kept = cache.rejected(key)
    assert kept is not None and kept.chars == 5_000_000 and len(kept.text) == REJECTED_KEEP_CHARS
    assert cache.rejected_path(key).stat().st_size < 2 * REJECTED_KEEP_CHARS


def test_a_good_reply_after_a_rejected_one_is_served(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    key = cache.key(**BASE)
    cache.reject(key, CachedReply(text="bad"), reason="wrong_shape", message="m")
    cache.put(key, CachedReply(text='{"query": "q"}'))
    got = cache.get(key)
    assert got is not None and got.text == '{"query": "q"}' and len(cache) == 1
