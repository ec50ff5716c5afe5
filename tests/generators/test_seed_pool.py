"""Few-shot examples: the bundled pool, picking by style and API, and feeding accepted samples back."""

from __future__ import annotations

from collections import Counter

import pytest

from generators.seed_pool import SeedPool
from schemas import shards
from schemas.errors import RecordError
from schemas.models import Sample, Style, ToolCall, infer_style
from verifiers.format import sample_issues

LANGUAGES = ("en", "ko")


def test_the_bundled_pool_has_gennx_and_generic_examples_for_every_style_and_language() -> None:
    pool = SeedPool.default()
    cells = Counter((e.style, e.language, e.domain) for e in pool.examples)
    for style in Style:
        for language in LANGUAGES:
            assert cells[style, language, "gennx"] >= 2, (style, language)
            assert cells[style, language, "generic"] >= 2, (style, language)
    assert {e.domain for e in pool.examples} == {"gennx", "generic"}


def test_every_bundled_example_has_the_shape_of_its_style() -> None:
    for example in SeedPool.default().examples:
        assert infer_style(example.tools, example.calls) is example.style, example.query
        assert {c.name for c in example.calls} <= set(example.tools)


def test_the_bundled_gennx_examples_pass_the_format_verifier(gennx_catalog) -> None:
    for example in SeedPool.default().examples:
        if example.domain != "gennx":
            continue
        sample = Sample.create(
            query=example.query, language=example.language, style=example.style,
            tools=example.tools, calls=example.calls,
        )  # fmt: skip
        assert sample_issues(sample, gennx_catalog.by_name) == [], example.query


@pytest.mark.parametrize(("style", "language"), [(s, lang) for s in Style for lang in LANGUAGES])
def test_pick_never_shows_another_style(style: Style, language: str) -> None:
    pool = SeedPool.default()
    for seed in range(10):
        picked = pool.pick(style=style, language=language, k=8, seed=seed)
        assert picked and all(e.style is style for e in picked)


def test_pick_prefers_the_items_api_then_generic_then_other_apis() -> None:
    pool = SeedPool.default()
    gennx = {"post_db_stld", "put_db_node", "post_db_cutl", "post_db_node", "post_doc_anal", "post_db_bodf"}
    picked = pool.pick(style="simple", language="en", k=3, seed=1, catalog=gennx | {"x"})
    assert [e.domain for e in picked[:2]] == ["gennx", "gennx"]
    other = pool.pick(style="simple", language="en", k=3, seed=1, catalog={"list_pets", "add_pet"})
    assert [e.domain for e in other[:2]] == ["generic", "generic"]
    assert [e.language for e in other[:2]] == ["en", "en"]


def test_pick_is_deterministic_for_a_seed_and_varies_across_seeds() -> None:
    pool = SeedPool.default()
    first = [pool.pick(style="simple", language="en", k=3, seed=s)[0].query for s in range(20)]
    again = [pool.pick(style="simple", language="en", k=3, seed=s)[0].query for s in range(20)]
    assert first == again and len(set(first)) > 1


def _accepted() -> Sample:
    return Sample.create(
        query="Create node 9 at X 1, Y 2, Z 3.",
        language="en",
        style="simple",
        tools=["post_db_node"],
        calls=[ToolCall(name="post_db_node", arguments={"Assign": {"9": {"X": 1, "Y": 2, "Z": 3}}})],
    )


def test_accepted_samples_are_added_once_with_their_provenance() -> None:
    pool = SeedPool()
    sample = _accepted()
    assert pool.add([sample, sample], source="run-7") == 1 and len(pool) == 1
    (picked,) = pool.pick(style="simple", language="en", k=1, seed=0)
    assert picked.answer()["query"] == sample.query and picked.source == f"run-7#{sample.id}"


def test_accepted_samples_from_a_shard_rank_before_bundled_examples(tmp_path) -> None:
    path = shards.write_samples(tmp_path / "accepted.parquet", [_accepted()])
    pool = SeedPool.with_accepted([path])
    picked = pool.pick(style="simple", language="en", k=1, seed=4, catalog={"post_db_node"})
    assert picked[0].source.startswith("accepted:accepted.parquet#")
    with pytest.raises(RecordError, match="not found"):
        SeedPool.with_accepted([tmp_path / "missing.parquet"])


@pytest.mark.parametrize(
    ("text", "message"),
    [("{", "not JSON"), ('{"a": 1}', "expected a JSON list"), ('[{"language": "en"}]', r"example \[0\]")],
)
def test_a_bad_pool_file_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        SeedPool.from_json(text, source="pool.json")
