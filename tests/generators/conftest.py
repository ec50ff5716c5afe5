"""Fixtures of the generators' tests: the hand-written GEN NX-like catalog and a loopback teacher."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from schemas.catalog import Catalog
from schemas.models import Tool
from tests.generators.catalog_fixtures import GENNX_SPEC, GENNX_TIERS, fixture_catalog, fixture_tools
from tests.generators.teacher_server import TeacherServer, always


@pytest.fixture(scope="session")
def tools() -> list[Tool]:
    return fixture_tools()


@pytest.fixture(scope="session")
def catalog(tools: list[Tool]) -> Catalog:
    return fixture_catalog()


@pytest.fixture(scope="session")
def gennx_catalog() -> Catalog:
    """The bundled GEN NX spec ingested as ``callforge ingest`` does (snake names, the spec's tiers)."""
    from schemas.openapi import ingest

    return ingest([GENNX_SPEC], naming="snake", tier_rules=GENNX_TIERS).catalog


@pytest.fixture(scope="session")
def teacher_server() -> Iterator[TeacherServer]:
    with TeacherServer() as server:
        yield server


@pytest.fixture
def server(teacher_server: TeacherServer) -> TeacherServer:
    """The loopback teacher, answering correctly, with its log cleared."""
    teacher_server.reset(faults=always("ok"), reject_response_format=False)
    teacher_server.latency_s = 0.0
    return teacher_server
