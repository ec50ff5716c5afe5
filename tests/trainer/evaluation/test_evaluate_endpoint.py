"""Evaluating an OpenAI-compatible endpoint over a real loopback HTTP server.

The server answers weather queries with native ``tool_calls``, node queries with plain text, and
material queries with HTTP 500; the evaluation must score each and survive the failures.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.trainer.evaluation.evaluation_fixtures import (
    ChatServer,
    completion,
    error_answer,
    export_dataset,
    last_user_text,
    tool_calls_answer,
)
from trainer.evaluation.backends import ModelSpec
from trainer.evaluation.config import EvaluateConfig
from trainer.evaluation.evaluate import evaluate

SECRET = "sk-loopback-test-0123456789"


def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    query = last_user_text(body)
    if city := re.search(r"weather in (\w+)", query):
        return tool_calls_answer([("get_weather", {"city": city.group(1)})])
    if "materials" in query:
        return error_answer(500)
    # Prose cut at max_tokens: the server says so with finish_reason "length".
    return 200, completion({"content": "I would rather not create nodes today, because"}, "length")


@pytest.fixture(scope="module")
def endpoint_run(tmp_path_factory: pytest.TempPathFactory, tools, samples_factory):
    root = tmp_path_factory.mktemp("endpoint")
    samples = samples_factory(6, seed=4)  # two of each tool: weather, node, materials
    dataset = export_dataset(root / "dataset", {"test_seen": samples[:3], "test_unseen": samples[3:]}, tools)
    with pytest.MonkeyPatch.context() as env, ChatServer(answer) as server:
        env.setenv("CALLFORGE_TEST_ENDPOINT_KEY", SECRET)
        spec = ModelSpec(
            label="api",
            kind="endpoint",
            model="loopback-model",
            base_url=server.base_url,
            api_key_env="CALLFORGE_TEST_ENDPOINT_KEY",
        )
        result = evaluate(dataset, [spec], EvaluateConfig(max_new_tokens=64), root / "out")
    predictions = [
        json.loads(line) for line in (root / "out" / "predictions-api.jsonl").read_text("utf-8").splitlines()
    ]
    return result, server.seen, {p["expected"][0]["name"]: p for p in predictions}, samples


def test_native_tool_calls_are_scored_as_calls(endpoint_run) -> None:
    _, _, predictions, _ = endpoint_run
    weather = predictions["get_weather"]
    assert weather["ast"] is True and weather["reply"].startswith("<tool_call>")


def test_plain_text_where_a_call_was_due_is_a_reply_without_a_call(endpoint_run) -> None:
    _, _, predictions, _ = endpoint_run
    node = predictions["create_node"]
    assert node["ast"] is False and node["reasons"] == ["no_call"]


def test_a_reply_stopped_at_max_tokens_counts_as_hitting_the_budget(endpoint_run) -> None:
    result, _, _, _ = endpoint_run
    for split in ("test_seen", "test_unseen"):
        hits = result.metrics["models"]["api"]["splits"][split]["overall"]["hit_token_budget"]
        assert hits["n"] == 3 and hits["value"] == pytest.approx(1 / 3)  # the node query only


def test_server_error_becomes_an_unparseable_reply(endpoint_run) -> None:
    _, _, predictions, _ = endpoint_run
    materials = predictions["list_materials"]
    assert materials["reasons"][:1] == ["unparseable"] and "request_failed" in materials["reasons"]


def test_each_split_counts_failure_and_prose_against_parse_validity(endpoint_run) -> None:
    # A call was due in all three examples; only the one answered with a call holds a readable call.
    result, _, _, _ = endpoint_run
    for split in ("test_seen", "test_unseen"):
        overall = result.metrics["models"]["api"]["splits"][split]["overall"]
        assert overall["parse_validity"]["n"] == 3 and overall["parse_validity"]["value"] == pytest.approx(
            1 / 3
        )
        assert overall["call_rate"]["value"] == pytest.approx(1 / 3)
        assert overall["ast_match"]["value"] == pytest.approx(1 / 3)


def test_requests_carry_native_tools_at_temperature_zero(endpoint_run) -> None:
    _, seen, _, samples = endpoint_run
    weather = next(b for b in seen.bodies if "weather" in last_user_text(b))
    assert (
        weather["temperature"] == 0 and weather["max_tokens"] == 64 and weather["model"] == "loopback-model"
    )
    offered = next(s for s in samples if s.query == last_user_text(weather)).tools
    assert [t["function"]["name"] for t in weather["tools"]] == offered


def test_failed_request_is_retried_by_the_client(endpoint_run) -> None:
    _, seen, _, samples = endpoint_run
    failing = [s.query for s in samples if "materials" in s.query]
    attempts = [last_user_text(b) for b in seen.bodies if last_user_text(b) in failing]
    assert len(attempts) == 3 * len(failing)  # the first try and the openai client's two retries


def test_key_comes_from_the_environment_and_stays_out_of_the_outputs(endpoint_run) -> None:
    result, seen, _, _ = endpoint_run
    assert set(seen.authorization) == {f"Bearer {SECRET}"}
    written = "".join(p.read_text("utf-8", errors="replace") for p in Path(result.out_dir).iterdir())
    assert SECRET not in written
