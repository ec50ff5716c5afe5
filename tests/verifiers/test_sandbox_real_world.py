"""False rejects the real-world specs exposed: RFC 3339 times with offsets, OpenAPI 3.1 multipart file
parts, Swagger 2.0 / OpenAPI 3.0 ``type`` lists. Each case is a valid call the sandbox must pass and an
invalid one it must still refuse (4xx, never a 500)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from schemas.catalog import Catalog
from schemas.models import Sample, ToolCall, Verdict
from schemas.openapi import ingest
from verifiers.base import VerifyContext
from verifiers.execution import ExecutionOptions, ExecutionVerifier
from verifiers.sandbox import SandboxServer
from verifiers.sandbox.validation import is_rfc3339_time

DATA = Path(__file__).resolve().parents[1] / "data" / "sandbox"
REAL_WORLD = DATA / "real_world_31.yaml"
TYPE_LISTS_20 = DATA / "type_lists_swagger2.yaml"
TYPE_LISTS_30 = DATA / "type_lists_30.yaml"


def executed(catalog: Catalog, tool: str, arguments: dict) -> Verdict:
    """The execution verdict of one call of ``tool``, through a sandbox started for the catalog."""
    sample = Sample.create(
        query="q",
        language="en",
        style="simple",
        tools=[tool],
        calls=[ToolCall(name=tool, arguments=arguments)],
    )
    (verdict,) = ExecutionVerifier(ExecutionOptions(sandbox_mode="thread")).verify(
        [sample], VerifyContext(catalog=catalog)
    )
    return verdict


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with SandboxServer([str(REAL_WORLD), str(TYPE_LISTS_20), str(TYPE_LISTS_30)], mode="thread") as sandbox:
        yield sandbox.base_url


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("06:30:00Z", True),
        ("06:30:00z", True),
        ("23:59:60+09:00", True),
        ("06:30:00.123-05:30", True),
        ("06:30:00", False),  # RFC 3339 full-time needs an offset
        ("24:00:00Z", False),
        ("06:30Z", False),
        ("06:30:00+9:00", False),
    ],
)
def test_rfc3339_full_time(value: str, ok: bool) -> None:
    assert is_rfc3339_time(value) is ok


@pytest.mark.parametrize(("value", "status"), [("06:30:00Z", 200), ("18:00:00+02:00", 200), ("6pm", 400)])
def test_time_query_parameter(base: str, value: str, status: int) -> None:
    answer = httpx.get(base + "/v1/alarms", params={"at": value}, timeout=10)
    assert answer.status_code == status, answer.text


@pytest.mark.parametrize(
    ("files", "status"),
    [
        ({"file": ("a.bin", b"\x00\xffdata", "application/octet-stream")}, 200),
        ({"file": ("a.png", b"\x89PNG", "image/png"), "purpose": (None, "fine-tune", "text/plain")}, 200),
        ({"purpose": (None, "fine-tune", "text/plain")}, 422),  # the file part is required
    ],
)
def test_openapi_31_multipart_file_parts(base: str, files: dict, status: int) -> None:
    answer = httpx.post(base + "/v1/files", files=files, timeout=10)
    assert answer.status_code == status, answer.text


@pytest.mark.parametrize(
    ("prefix", "body", "status"),
    [
        ("/s2", {"tags": ["a", "b"], "count": 3}, 200),
        ("/s2", {"tags": "a", "count": None}, 200),
        ("/s2", {"tags": 5}, 422),
        ("/s30", {"tags": ["a"], "count": 1}, 200),
        ("/s30", {"tags": "a", "count": None}, 200),
        ("/s30", {"tags": {"no": 1}}, 422),
    ],
)
def test_type_lists_answer_2xx_or_4xx_never_500(base: str, prefix: str, body: dict, status: int) -> None:
    answer = httpx.post(base + prefix + "/things", json=body, timeout=10)
    assert answer.status_code == status, answer.text


# ----------------------------------------------------------------------- path keys with ? or #

ODD_KEYS = DATA / "path_keys_query_fragment.yaml"


@pytest.fixture(scope="module")
def odd_keys() -> Catalog:
    return ingest([ODD_KEYS], naming="operation_id").catalog


def test_path_keys_with_query_or_fragment_are_warned_and_cleaned() -> None:
    result = ingest([ODD_KEYS], naming="operation_id")
    tools = {t.name: t for t in result.catalog}
    assert {t.binding.path for t in tools.values()} == {"/files", "/contacts"}
    assert tools["listBetaFiles"].parameters["properties"]["beta"] == {"type": "string", "const": "true"}
    assert "beta" in tools["listBetaFiles"].parameters["required"]
    assert "beta" not in tools["listFiles"].parameters["properties"]
    warned = sorted(w.pointer for w in result.report.warnings if w.code == "path_with_query_or_fragment")
    assert warned == ["/paths/~1contacts#add", "/paths/~1contacts#remove", "/paths/~1files?beta=true"]


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("listFiles", {"limit": 3}, (True, "ok")),
        ("listBetaFiles", {"beta": "true", "cursor": "c1"}, (True, "ok")),
        ("listBetaFiles", {"beta": "true"}, (False, "http_400")),  # its own required cursor is missing
        ("addContact", {"email": "a@b.test"}, (True, "ok")),
        ("removeContact", {"id": 7}, (True, "ok")),
        ("removeContact", {"id": "seven"}, (False, "http_422")),
    ],
)
def test_each_odd_path_key_routes_to_its_own_operation(
    odd_keys: Catalog, tool: str, arguments: dict, expected: tuple
) -> None:
    sample = Sample.create(
        query="q",
        language="en",
        style="simple",
        tools=[tool],
        calls=[ToolCall(name=tool, arguments=arguments)],
    )
    (verdict,) = ExecutionVerifier(ExecutionOptions(sandbox_mode="thread")).verify(
        [sample], VerifyContext(catalog=odd_keys)
    )
    assert (verdict.passed, verdict.code) == expected, verdict.message


# --------------------------------------------------- readOnly attributes reused as 3.0 parameters


def test_a_read_only_schema_reused_as_a_parameter_is_accepted(tmp_path: Path) -> None:
    # DigitalOcean: ssh_key_identifier is anyOf [ssh_key_id, ssh_key_fingerprint], both readOnly attributes
    spec = tmp_path / "keys.yaml"
    spec.write_text(
        "openapi: 3.0.0\ninfo: {title: keys, version: '1'}\npaths:\n  /keys/{key}:\n    get:\n"
        "      parameters:\n        - in: path\n          name: key\n          required: true\n"
        "          schema:\n            anyOf:\n              - {type: integer, readOnly: true}\n"
        "              - {type: string, pattern: '^[0-9a-f:]+$', readOnly: true}\n"
        "      responses: {'200': {description: ok}}\n"
        "  /keys:\n    post:\n      requestBody:\n        required: true\n        content:\n"
        "          application/json:\n            schema:\n              type: object\n"
        "              properties:\n                id: {type: integer, readOnly: true}\n"
        "                name: {type: string}\n      responses: {'200': {description: ok}}\n"
    )
    with SandboxServer([str(spec)], mode="thread") as sandbox:
        by_id = httpx.get(sandbox.base_url + "/keys/512189", timeout=10)
        by_print = httpx.get(sandbox.base_url + "/keys/3b:16:bf", timeout=10)
        bad = httpx.get(sandbox.base_url + "/keys/zz-top", timeout=10)
        body_read_only = httpx.post(sandbox.base_url + "/keys", json={"id": 1, "name": "a"}, timeout=10)
    assert (by_id.status_code, by_print.status_code, bad.status_code) == (200, 200, 400)
    assert body_read_only.status_code == 422  # a readOnly *property* in a request body is still refused


# ---------------------------------------------------------------- OpenAI-like 3.1 shapes, end to end

OPENAI_LIKE = DATA / "openai_like_31.yaml"


@pytest.fixture(scope="module")
def openai_like() -> Catalog:
    return ingest([OPENAI_LIKE], naming="operation_id").catalog


def test_a_part_typed_by_a_ref_to_a_string_is_text(openai_like: Catalog) -> None:
    arguments = openai_like.get("createTranscription").binding.arguments
    assert (arguments["response_format"].content_type, arguments["stream"].content_type) == (
        "text/plain",
        "application/json",
    )


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("createCompletion", {"model": "m", "prompt": None, "stop": None}, (True, "ok")),
        ("createCompletion", {"model": "m", "prompt": ["a", "b"]}, (True, "ok")),
        ("createCompletion", {"model": "m", "prompt": 3}, (False, "http_422")),
        ("listChatCompletions", {"limit": 2, "metadata": {"10": "a", "team": "b"}}, (True, "ok")),
        ("createTranscription", {"file": "x", "model": "w", "response_format": "text"}, (True, "ok")),
        ("createTranscription", {"file": "x", "model": "w", "stream": False}, (True, "ok")),
        ("createTranscription", {"file": "x", "model": "w", "stream": None}, (True, "ok")),
        ("createTranscription", {"file": "x", "model": "w", "chunking_strategy": "auto"}, (True, "ok")),
        (
            "createTranscription",
            {"file": "x", "model": "w", "chunking_strategy": {"type": "server_vad"}},
            (True, "ok"),
        ),
        ("createTranscription", {"file": "x", "model": "w", "languages": ["en"]}, (True, "ok")),
        ("createTranscription", {"file": "x", "model": "w", "response_format": "mp3"}, (False, "http_422")),
        ("createTranscription", {"file": "x", "model": "w", "prompt": "hi"}, (True, "ok")),  # a type list
        ("createTranscription", {"file": "x", "model": "w", "prompt": "too long"}, (False, "http_422")),
    ],
)
def test_openai_like_calls(openai_like: Catalog, tool: str, arguments: dict, expected: tuple) -> None:
    sample = Sample.create(
        query="q",
        language="en",
        style="simple",
        tools=[tool],
        calls=[ToolCall(name=tool, arguments=arguments)],
    )
    (verdict,) = ExecutionVerifier(ExecutionOptions(sandbox_mode="thread")).verify(
        [sample], VerifyContext(catalog=openai_like)
    )
    assert (verdict.passed, verdict.code) == expected, verdict.message
