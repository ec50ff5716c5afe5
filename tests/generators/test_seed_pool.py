"""Few-shot examples: the bundled GEN NX pool, picking, and feeding verified samples back."""

from __future__ import annotations

import pytest

from generators.seed_pool import SeedPool
from schemas.errors import RecordError
from schemas.models import Sample, Style, ToolCall


def test_the_bundled_pool_covers_every_style_in_both_languages() -> None:
    pool = SeedPool.default()
    assert len(pool) >= 8
    assert {e.style for e in pool.examples} == set(Style)
    assert {e.language for e in pool.examples} == {"en", "ko"}
    for example in pool.examples:
        assert example.style is Style.IRRELEVANCE or example.calls
        assert {c.name for c in example.calls} <= set(example.tools)


@pytest.mark.parametrize(("style", "language"), [(s, lang) for s in Style for lang in ("en", "ko")])
def test_pick_prefers_the_same_style(style: Style, language: str) -> None:
    picked = SeedPool.default().pick(style=style, language=language, k=2, seed=3)
    assert len(picked) == 2 and picked[0].style is style


def test_pick_is_deterministic_for_a_seed_and_varies_across_seeds() -> None:
    pool = SeedPool.default()
    first = [pool.pick(style="simple", language="en", k=3, seed=s)[1].query for s in range(20)]
    again = [pool.pick(style="simple", language="en", k=3, seed=s)[1].query for s in range(20)]
    assert first == again and len(set(first)) > 1


def test_verified_samples_are_added_once() -> None:
    pool = SeedPool()
    sample = Sample.create(
        query="Create node 9 at X 1, Y 2, Z 3.",
        language="en",
        style="simple",
        tools=["post_db_node"],
        calls=[ToolCall(name="post_db_node", arguments={"Assign": {"9": {"X": 1, "Y": 2, "Z": 3}}})],
    )
    assert pool.add([sample, sample]) == 1 and len(pool) == 1
    assert pool.pick(style="simple", language="en", k=1, seed=0)[0].answer()["query"] == sample.query


@pytest.mark.parametrize(
    ("text", "message"),
    [("{", "not JSON"), ('{"a": 1}', "expected a JSON list"), ('[{"language": "en"}]', r"example \[0\]")],
)
def test_a_bad_pool_file_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        SeedPool.from_json(text, source="pool.json")
