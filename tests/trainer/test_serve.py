"""``callforge serve``: the real openai client against the server on loopback, with the tiny model."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from trainer.inference import LocalModel
from trainer.serving.server import ChatServer, ChatService, ServeOptions, make_server

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
NODE = {
    "type": "function",
    "function": {
        "name": "create_node",
        "description": "Create a node at coordinates",
        "parameters": {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "x": {"type": "number"}},
            "required": ["id", "x"],
        },
    },
}
ASK = [{"role": "user", "content": "What is the weather in Oslo?"}]


@pytest.fixture(scope="module")
def local(tiny_model: Path) -> LocalModel:
    return LocalModel.load(tiny_model, device="cpu")


def _start(service: ChatService) -> ChatServer:
    server = make_server(service, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def server(local: LocalModel) -> Iterator[ChatServer]:
    # A wide batching window, so requests sent together are seen to share a batch.
    server = _start(
        ChatService(local, ServeOptions(served_name="tiny", constrained=True, batch_window_s=0.3))
    )
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def client(server: ChatServer):
    from openai import OpenAI

    return OpenAI(base_url=server.url, api_key="unused", max_retries=0, timeout=120)


def test_a_tools_request_gets_a_parseable_tool_call(client) -> None:
    response = client.chat.completions.create(
        model="tiny", messages=ASK, tools=[WEATHER, NODE], max_tokens=48
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    call = choice.message.tool_calls[0]
    arguments = json.loads(call.function.arguments)  # a JSON string, as OpenAI sends it
    assert call.function.name in ("get_weather", "create_node") and isinstance(arguments, dict)
    required = {"get_weather": {"city"}, "create_node": {"id", "x"}}[call.function.name]
    assert required <= set(arguments)
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0


def test_named_tool_choice_offers_only_that_tool(client) -> None:
    response = client.chat.completions.create(
        model="tiny",
        messages=ASK,
        tools=[WEATHER, NODE],
        tool_choice={"type": "function", "function": {"name": "create_node"}},
        max_tokens=48,
    )
    assert [c.function.name for c in response.choices[0].message.tool_calls] == ["create_node"]


def test_models_lists_the_served_name(client) -> None:
    assert [m.id for m in client.models.list().data] == ["tiny"]


def test_an_unknown_model_name_is_a_404_naming_the_served_one(client) -> None:
    import openai

    with pytest.raises(openai.NotFoundError, match="serves 'tiny'"):
        client.chat.completions.create(model="gpt-4o", messages=ASK, max_tokens=4)


def test_streaming_is_refused_with_a_reason(server: ChatServer) -> None:
    import httpx

    body = {"model": "tiny", "messages": ASK, "stream": True}
    reply = httpx.post(f"{server.url}/chat/completions", json=body, timeout=30)
    assert reply.status_code == 400 and "streaming is not supported" in reply.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (json.dumps({"model": "tiny", "messages": []}).encode(), "messages"),
        (
            json.dumps({"model": "tiny", "messages": ASK, "tools": [{"type": "retrieval"}]}).encode(),
            "tools[0]",
        ),
        (
            json.dumps({"model": "tiny", "messages": [{"role": "robot", "content": "x"}]}).encode(),
            "unknown role",
        ),
        (
            json.dumps({"model": "tiny", "messages": ASK, "max_tokens": 10**6}).encode(),
            "above this server's limit",
        ),
    ],
)
def test_malformed_requests_are_400s_naming_the_problem(server: ChatServer, body: bytes, needle: str) -> None:
    import httpx

    reply = httpx.post(
        f"{server.url}/chat/completions",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert reply.status_code == 400 and needle in reply.json()["error"]["message"]


def test_tools_that_overflow_the_context_are_refused_before_generating(client, local: LocalModel) -> None:
    import openai

    many = [
        {"type": "function", "function": {**WEATHER["function"], "name": f"get_weather_{i}"}}
        for i in range(400)
    ]
    with pytest.raises(openai.BadRequestError, match=r"400 offered tools.*context holds 4,096") as caught:
        client.chat.completions.create(model="tiny", messages=ASK, tools=many, max_tokens=8)
    assert caught.value.code == "context_length_exceeded"


def test_requests_sent_together_share_a_batch(server: ChatServer, client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    before = len(server.service.batcher.batch_sizes)
    questions = [f"What is the weather in {city}?" for city in ("Oslo", "Lima", "Rome", "Quito")]
    with ThreadPoolExecutor(4) as pool:
        replies = list(
            pool.map(
                lambda q: client.chat.completions.create(
                    model="tiny", messages=[{"role": "user", "content": q}], tools=[WEATHER], max_tokens=32
                ),
                questions,
            )
        )
    assert all(r.choices[0].message.tool_calls for r in replies)
    sizes = server.service.batcher.batch_sizes[before:]
    assert sum(sizes) == 4 and max(sizes) > 1  # not one by one


def test_unconstrained_reply_without_a_call_is_content_with_a_finish_reason(local: LocalModel) -> None:
    from openai import OpenAI

    server = _start(ChatService(local, ServeOptions(served_name="plain")))
    try:
        client = OpenAI(base_url=server.url, api_key="unused", max_retries=0, timeout=120)
        response = client.chat.completions.create(model="plain", messages=ASK, max_tokens=6)
        choice = response.choices[0]
        # The random tiny model babbles: no call, text as content, cut at 6 tokens or stopped.
        assert choice.finish_reason in ("length", "stop") and not choice.message.tool_calls
        assert response.usage.completion_tokens <= 6
    finally:
        server.shutdown()
        server.server_close()


def test_the_evaluation_endpoint_backend_scores_the_served_model(client, server: ChatServer) -> None:
    from trainer.evaluation.backends import EndpointBackend, ModelSpec
    from trainer.replies import parse_tool_calls

    backend = EndpointBackend(ModelSpec(label="served", kind="endpoint", model="tiny", base_url=server.url))
    replies = backend.generate([ASK, ASK], [[WEATHER], [NODE]], max_new_tokens=48)
    names = [[c.name for c in parse_tool_calls(r).calls] for r in replies]
    assert names == [["get_weather"], ["create_node"]]


@pytest.mark.slow
def test_the_serve_command_answers_over_loopback(tiny_model: Path) -> None:
    """`callforge serve --model M --port P` exactly as documented, as a process, stopped by its pid."""
    import os
    import re
    import signal
    import subprocess
    import sys

    from openai import OpenAI

    command = [sys.executable, "-m", "flows.cli", "serve", "--model", str(tiny_model), "--port", "0"]
    command += ["--device", "cpu", "--constrained", "--served-name", "tiny"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        url = None
        for line in proc.stdout:  # the first line that names the address
            found = re.search(r"on (http://127\.0\.0\.1:\d+/v1)", line)
            if found:
                url = found.group(1)
                break
        assert url, "the server printed no address"
        client = OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=120)
        reply = client.chat.completions.create(model="tiny", messages=ASK, tools=[WEATHER], max_tokens=32)
        call = reply.choices[0].message.tool_calls[0]
        assert call.function.name == "get_weather" and "city" in json.loads(call.function.arguments)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
