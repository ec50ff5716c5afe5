"""The sandbox on every spec of the shared corpus (../shared/specs): it loads, and it routes every
tool ingestion makes to that tool's own operation.

A tool the sandbox cannot route is a request the execution verifier would see refused (404/405)
however right the call: a false reject for every sample of that tool. Skipped without the corpus,
like ``tests/schemas/test_openapi_corpus.py``.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from schemas.models import Tool
from schemas.openapi import ingest
from tests.schemas.test_openapi_corpus import CORPUS, SHARED_SPECS, needs_corpus
from verifiers.sandbox.routing import LoadedSpec, Match


@cache
def _loaded(name: str) -> LoadedSpec:
    file = (SHARED_SPECS / name).resolve()
    return LoadedSpec(str(file), file, allowed_root=SHARED_SPECS)  # petstore-separate reaches ../common


def _request_of(tool: Tool) -> tuple[str, str]:
    """(origin, raw path) of a request for ``tool``, every path variable set to ``7``."""
    server = urlsplit(tool.binding.server_url)
    origin = f"{server.scheme}://{server.netloc}" if server.scheme else ""
    return origin, server.path.rstrip("/") + re.sub(r"\{[^}/]+\}", "7", tool.binding.path)


@needs_corpus
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_tool_is_routed_to_its_own_operation(name: str) -> None:
    spec = _loaded(name)
    misrouted = {}
    for tool in ingest([SHARED_SPECS / name], include_deprecated=True, allowed_root=SHARED_SPECS).catalog:
        origin, raw_path = _request_of(tool)
        found = spec.match(origin, raw_path, tool.binding.method.lower())
        if not (
            isinstance(found, Match)
            and (found.operation.template, found.operation.method)
            == (tool.binding.path, tool.binding.method.lower())
        ):
            misrouted[tool.name] = found
    assert misrouted == {}
    assert len(spec.operations()) >= CORPUS[name]


def test_a_variable_named_twice_in_a_path_takes_one_value(tmp_path: Path) -> None:
    file = tmp_path / "twice.json"
    file.write_text(
        '{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/a/{id}/{action}/{id}": '
        '{"get": {"parameters": [{"in": "path", "name": "id", "required": true, "schema": {"type": "integer"}}, '
        '{"in": "path", "name": "action", "required": true, "schema": {"type": "string"}}], '
        '"responses": {"200": {"description": "ok"}}}}}}'
    )
    spec = LoadedSpec(str(file), file)
    same = spec.match("", "/a/3/run/3", "get")
    assert isinstance(same, Match) and same.variables == {"id": "3", "action": "run"}
    assert not isinstance(spec.match("", "/a/3/run/4", "get"), Match)


def test_a_discriminator_mapping_may_name_schemas_bare(tmp_path: Path) -> None:
    import httpx

    from verifiers.sandbox import SandboxServer

    option = {"type": "object", "properties": {"kind": {"type": "string"}, "size": {"type": "integer"}}}
    spec = tmp_path / "bare.json"
    spec.write_text(
        json.dumps(
            {
                "openapi": "3.0.3",
                "info": {"title": "t", "version": "1"},
                "paths": {
                    "/shapes": {
                        "post": {
                            "requestBody": {
                                "required": True,
                                "content": {
                                    "application/json": {
                                        "schema": {
                                            "oneOf": [
                                                {"$ref": "#/components/schemas/Small"},
                                                {"$ref": "#/components/schemas/Large"},
                                            ],
                                            # OpenAPI allows a bare schema name as a mapping value.
                                            "discriminator": {
                                                "propertyName": "kind",
                                                "mapping": {"small": "Small", "large": "Large"},
                                            },
                                        }
                                    }
                                },
                            },
                            "responses": {"200": {"description": "ok"}},
                        }
                    }
                },
                "components": {"schemas": {"Small": option, "Large": option}},
            }
        )
    )
    with SandboxServer([str(spec)], mode="thread") as server:
        good = httpx.post(f"{server.base_url}/shapes", json={"kind": "small", "size": 1}, timeout=10)
        bad = httpx.post(f"{server.base_url}/shapes", json={"kind": "small", "size": "x"}, timeout=10)
    assert (good.status_code, bad.status_code) == (200, 422), good.text
