"""The LLM generator end to end: plan -> prompts -> real openai client -> loopback teacher -> samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from generators.config import GenerateConfig, PlanConfig, TeacherConfig
from generators.llm import AnswerError, sample_from_answer
from generators.pipeline import GenerationResult, generate
from generators.plan import WorkItem, build_plan
from generators.prompts import PROMPT_VERSION
from schemas.catalog import Catalog
from schemas.models import Provenance, Style
from tests.generators.teacher_server import TeacherServer, always, every_nth, first_attempts


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLFORGE_TEACHER_API_KEY", "sk-test")


@pytest.fixture(scope="module")
def items(catalog: Catalog) -> list[WorkItem]:
    plan = build_plan(catalog, PlanConfig(seed=21))
    by_style = {style: [i for i in plan if i.style is style][:3] for style in Style}
    return [i for group in by_style.values() for i in group]


def llm_config(server: TeacherServer, cache_dir: Path | None = None, **teacher: Any) -> GenerateConfig:
    base = {
        "model": "loopback-teacher",
        "base_url": server.base_url,
        "backoff_base_s": 0.01,
        "cache_dir": cache_dir,
    }
    return GenerateConfig(teacher=TeacherConfig(**(base | teacher)))


def assert_accounted(result: GenerationResult, items: list[WorkItem]) -> None:
    """Every item is exactly one sample or one failure."""
    produced = [s.provenance.work_item for s in result.samples] + [f["item_id"] for f in result.failures]
    assert sorted(produced) == sorted(i.id for i in items)


FAULTS = {
    "ok": (always("ok"), {}, None),
    "429 then ok": (first_attempts("429", retry_after="0"), {}, None),
    "dropped then ok": (first_attempts("drop"), {}, None),
    "slow then ok": (first_attempts("slow", delay_s=1.0), {"timeout_s": 0.3}, None),
    "429 always": (always("429", retry_after="0"), {"max_retries": 1}, "teacher_error_rate_limited"),
    "500 always": (always("500"), {"max_retries": 1}, "teacher_http_500"),
    "dropped always": (always("drop"), {"max_retries": 1}, "teacher_error_connection"),
    "slow always": (
        always("slow", delay_s=1.0),
        {"timeout_s": 0.2, "max_retries": 0},
        "teacher_error_timeout",
    ),
    "bad body": (always("bad_body"), {"max_retries": 0}, "teacher_error_bad_response"),
    "malformed json": (always("malformed_json"), {}, "malformed_json"),
    "wrong shape": (always("wrong_shape"), {}, "wrong_shape"),
    "400": (always("400"), {}, "teacher_http_400"),
    "401": (always("401"), {}, "teacher_http_401"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_item_is_a_sample_or_a_failure_with_its_reason(
    server: TeacherServer, catalog: Catalog, items: list[WorkItem], fault: str
) -> None:
    plan, teacher, code = FAULTS[fault]
    server.reset(faults=plan)
    result = generate(items, catalog, llm_config(server, **teacher))
    assert_accounted(result, items)
    if code is None:
        assert len(result.samples) == len(items) and result.failures == []
    else:
        assert result.samples == [] and {f["code"] for f in result.failures} == {code}
        assert all(f["message"] and f["details"]["subject"] for f in result.failures)


def test_a_mix_of_faults_splits_items_between_samples_and_failures(
    server: TeacherServer, catalog: Catalog, items: list[WorkItem]
) -> None:
    server.reset(faults=every_nth("500", 3))
    result = generate(items, catalog, llm_config(server, max_retries=0, concurrency=1))
    assert_accounted(result, items)
    assert len(result.failures) == len(items) // 3 and result.stats["failures_by_code"] == {
        "teacher_http_500": 5
    }


def test_a_second_run_is_served_from_the_cache(
    server: TeacherServer, catalog: Catalog, items: list[WorkItem], tmp_path: Path
) -> None:
    first = generate(items, catalog, llm_config(server, tmp_path))
    sent = server.log.chat_requests
    second = generate(items, catalog, llm_config(server, tmp_path))
    assert sent == len(items) and server.log.chat_requests == sent
    assert [s.id for s in second.samples] == [s.id for s in first.samples]
    assert second.stats["teacher"]["cache_hits"] == len(items) and second.stats["teacher"]["requests"] == 0


def test_samples_carry_llm_provenance(server: TeacherServer, catalog: Catalog, items: list[WorkItem]) -> None:
    result = generate(items, catalog, llm_config(server))
    by_id = {i.id: i for i in items}
    for sample in result.samples:
        item = by_id[sample.provenance.work_item or ""]
        assert sample.provenance == Provenance(
            generator="llm",
            teacher_model="loopback-teacher",
            prompt_version=PROMPT_VERSION,
            seed=item.seed,
            work_item=item.id,
            few_shot=sample.provenance.few_shot,
        )
        shown = sample.provenance.few_shot or []
        assert len(shown) == 2 and all(s.startswith("bundled#") for s in shown)  # few_shot=2 by default
        assert (sample.style, sample.language, sample.tools, sample.tier) == (
            item.style,
            item.language,
            item.offered,
            item.tier,
        )


def test_the_prompt_gives_schemas_style_language_targets_and_examples(
    server: TeacherServer, catalog: Catalog, items: list[WorkItem]
) -> None:
    item = next(i for i in items if i.style is Style.MULTIPLE)
    generate([item], catalog, llm_config(server))
    prompt = server.log.bodies[0]["messages"][1]["content"]
    tools = json.loads(prompt.split("<tools>")[1].split("</tools>")[0])
    assert [t["function"]["name"] for t in tools] == item.offered
    assert tools[0]["function"]["parameters"] == catalog[item.offered[0]].parameters
    assert f"Style: {item.style.value}." in prompt and f"Language: {item.language}" in prompt
    assert f"Target calls in order: {json.dumps(item.targets)}" in prompt
    assert prompt.count("Example ") == 2


def test_an_irrelevance_prompt_describes_the_unoffered_subject(
    server: TeacherServer, catalog: Catalog, items: list[WorkItem]
) -> None:
    item = next(i for i in items if i.style is Style.IRRELEVANCE)
    result = generate([item], catalog, llm_config(server))
    prompt = server.log.bodies[0]["messages"][1]["content"]
    assert catalog[item.subject].description in prompt and "Target calls in order: []" in prompt
    assert result.samples[0].calls == []


def _item(
    style: str = "simple", targets: tuple[str, ...] = ("post_db_node",), language: str = "en"
) -> WorkItem:
    offered = sorted(set(targets)) or ["get_db_node"]
    return WorkItem(
        style=style, language=language, subject=(targets or ("post_db_node",))[0], targets=list(targets),
        offered=offered, n_calls=len(targets), seed=5, index=0,
    )  # fmt: skip


CALL = {"name": "post_db_node", "arguments": {"Assign": {"1": {"X": 0, "Y": 0, "Z": 0}}}}


@pytest.mark.parametrize(
    ("answer", "item", "code"),
    [
        ({"calls": [CALL]}, _item(), "wrong_shape"),
        ({"query": "  ", "calls": [CALL]}, _item(), "wrong_shape"),
        ({"query": "q"}, _item(), "wrong_shape"),
        ({"query": "q", "calls": "post_db_node"}, _item(), "wrong_shape"),
        ({"query": "q", "calls": [{"arguments": {}}]}, _item(), "wrong_shape"),
        ({"query": "q", "calls": [{"name": "post_db_node", "arguments": "{oops"}]}, _item(), "wrong_shape"),
        ({"query": "q", "calls": [{"name": "post_db_node", "arguments": [1]}]}, _item(), "wrong_shape"),
        # the values under the schema's word: refused, never read as a call with no arguments
        (
            {"query": "q", "calls": [{"name": "post_db_node", "parameters": CALL["arguments"]}]},
            _item(),
            "wrong_shape",
        ),
        (
            {"query": "q", "calls": [{"function": {"name": "post_db_node", "parameters": {}}}]},
            _item(),
            "wrong_shape",
        ),
        ({"query": "q", "calls": [{**CALL, "name": "put_db_node"}]}, _item(), "wrong_calls"),
        ({"query": "q", "calls": []}, _item(), "wrong_calls"),
        ({"query": "q", "calls": [CALL]}, _item("irrelevance", ()), "wrong_calls"),
        ({"query": "q", "calls": [CALL]}, _item(language="english"), "invalid_sample"),
    ],
)
def test_answers_that_cannot_be_samples_say_why(answer: dict, item: WorkItem, code: str) -> None:
    with pytest.raises(AnswerError) as caught:
        sample_from_answer(answer, item, provenance=Provenance(generator="llm"))
    assert caught.value.code == code


@pytest.mark.parametrize(
    "call",
    [
        {"name": "post_db_node", "arguments": json.dumps(CALL["arguments"])},
        {
            "type": "function",
            "function": {"name": "post_db_node", "arguments": json.dumps(CALL["arguments"])},
        },
    ],
)
def test_json_encoded_arguments_are_decoded(call: dict) -> None:
    sample = sample_from_answer(
        {"query": "q", "calls": [call]}, _item(), provenance=Provenance(generator="llm")
    )
    assert sample.calls[0].arguments == CALL["arguments"]


@pytest.mark.parametrize(
    ("call", "arguments"),
    [
        ({"name": "get_db_node", "arguments": None}, {}),
        ({"name": "get_db_node"}, {}),
        ({"name": "get_db_node", "arguments": ""}, {}),
        ({"name": "get_db_node", "arguments": "null"}, {}),
        ({"name": "get_db_node", "arguments": "[]"}, None),  # a list is no object, encoded or not
        ({"name": "get_db_node", "arguments": {"a": 1}, "parameters": {"b": 2}}, {"a": 1}),
    ],
    ids=["null", "absent", "empty-string", "encoded-null", "encoded-list", "arguments-win-over-parameters"],
)
def test_null_or_absent_arguments_are_an_empty_call(call: dict, arguments: dict | None) -> None:
    item = _item(targets=("get_db_node",))
    answer = {"query": "List every node", "calls": [call]}
    if arguments is None:
        with pytest.raises(AnswerError, match="must be an object"):
            sample_from_answer(answer, item, provenance=Provenance(generator="llm"))
        return
    sample = sample_from_answer(answer, item, provenance=Provenance(generator="llm"))
    assert sample.calls[0].arguments == arguments
