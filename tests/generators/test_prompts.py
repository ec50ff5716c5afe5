"""What the teacher is shown: the tools to call in full, the spec's example and allowed values, texts that
agree with the API, examples of the item's own style, and a bounded size (issue 21)."""

from __future__ import annotations

import json
import re

import pytest

from generators.config import PlanConfig
from generators.llm import LLMGenerator
from generators.plan import WorkItem, build_plan
from generators.prompt_tools import spec_example
from generators.prompts import MAX_PROMPT_CHARS, clears_whole_table
from schemas.catalog import Catalog
from schemas.models import Style

TOOLS_BLOCK = re.compile(r"<tools>\n(.*?)\n</tools>", re.S)


@pytest.fixture(scope="module")
def generator(gennx_catalog: Catalog) -> LLMGenerator:
    return LLMGenerator(None, gennx_catalog, teacher_model="prompt-test")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def plan(gennx_catalog: Catalog) -> list[WorkItem]:
    return build_plan(gennx_catalog, PlanConfig(seed=5, quotas={"1": (2, 2), "2": (2, 2), "3": (1, 1)}))


def user(generator: LLMGenerator, item: WorkItem) -> str:
    return generator.messages(item)[1]["content"]


def item(style: str, targets: list[str], offered: list[str] | None = None, language: str = "en") -> WorkItem:
    return WorkItem(
        style=style, language=language, subject=targets[0] if targets else (offered or ["x"])[0],
        targets=targets, offered=offered or sorted(set(targets)), n_calls=len(targets), seed=11, index=0,
    )  # fmt: skip


def shown_tools(text: str) -> dict[str, dict]:
    return {t["function"]["name"]: t["function"] for t in json.loads(TOOLS_BLOCK.search(text).group(1))}


def test_every_gennx_prompt_is_within_the_bound_and_shows_its_targets_spec_example(
    generator: LLMGenerator, gennx_catalog: Catalog, plan: list[WorkItem]
) -> None:
    with_example = 0
    for work in plan:
        text = user(generator, work)
        assert len(text) <= MAX_PROMPT_CHARS, (work.subject, work.style, len(text))
        for name in set(work.targets):
            example = spec_example(gennx_catalog[name])
            if example is not None:
                with_example += 1
                assert json.dumps(example, ensure_ascii=False, separators=(",", ":")) in text, name
    assert with_example > 100  # the plan does reach the ~200 tools with examples


def test_the_allowed_values_and_example_codes_of_a_target_are_listed(generator: LLMGenerator) -> None:
    text = user(generator, item("simple", ["post_db_cutl"]))
    assert "- Assign.*.DIR: one of: NORMAL, DIR" in text
    assert '"DIR":"NORMAL"' in text  # the spec's example request
    sect = user(generator, item("simple", ["post_db_sect"]))
    assert re.search(r"SECT_I\.DB_NAME: codes the spec's example uses.*KS21", sect)


def test_only_targets_show_parameters(generator: LLMGenerator) -> None:
    text = user(generator, item("multiple", ["post_db_node"], ["post_db_node", "put_db_node", "get_db_elem"]))
    tools = shown_tools(text)
    assert "parameters" in tools["post_db_node"]
    assert "parameters" not in tools["put_db_node"] and tools["put_db_node"]["description"]
    irrelevant = shown_tools(user(generator, item("irrelevance", [], ["post_db_node", "get_db_elem"])))
    assert all("parameters" not in t for t in irrelevant.values())


def test_a_many_variant_target_shows_a_few_variants_and_names_the_rest(
    generator: LLMGenerator, gennx_catalog: Catalog
) -> None:
    text = user(generator, item("simple", ["post_db_sect"]))
    parameters = shown_tools(text)["post_db_sect"]["parameters"]
    variants = parameters["$defs"]["SECT_Item"]["anyOf"]
    assert len(variants) == 3 < len(gennx_catalog["post_db_sect"].parameters["$defs"]["SECT_Item"]["anyOf"])
    assert "more row kinds than shown" in text
    assert all(v["$ref"].rsplit("/", 1)[-1] in parameters["$defs"] for v in variants)  # no dangling $ref


def test_a_whole_table_delete_is_asked_for_as_a_clear(
    generator: LLMGenerator, gennx_catalog: Catalog
) -> None:
    assert clears_whole_table(gennx_catalog["delete_db_stld"])
    assert not clears_whole_table(gennx_catalog["post_db_stld"])
    assert "clears the WHOLE table" in user(generator, item("simple", ["delete_db_stld"]))
    assert "WHOLE table" not in user(generator, item("simple", ["post_db_stld"]))


def test_parallel_asks_for_independent_requests_and_says_rows_of_one_request_share_a_call(
    generator: LLMGenerator,
) -> None:
    text = user(generator, item("parallel", ["post_db_node", "post_db_node"]))
    assert "2 independent requests" in text and "writes the rows of ONE request together" in text


@pytest.mark.parametrize("style", list(Style))
def test_examples_shown_are_of_the_items_own_style(
    generator: LLMGenerator, plan: list[WorkItem], style
) -> None:
    items = [w for w in plan if w.style is style][:20]
    assert items
    for work in items:
        shown = re.findall(r"^Example \d+ \((\w+),", user(generator, work), re.M)
        assert shown and set(shown) == {style.value}
