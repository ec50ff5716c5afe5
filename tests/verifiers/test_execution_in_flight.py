"""How many requests the execution verifier keeps in flight: a sandbox on this machine gets about two
per core, the real API (network latency) 16, and a configured number always wins."""

from __future__ import annotations

import pytest

from verifiers.execution import ExecutionVerifier


@pytest.mark.parametrize(("cores", "expected"), [(1, 2), (2, 4), (4, 8), (64, 16), (None, 2)])
def test_a_sandbox_gets_two_requests_per_core_up_to_16(monkeypatch, cores, expected):
    monkeypatch.setattr("verifiers.execution.os.cpu_count", lambda: cores)
    assert ExecutionVerifier(ExecutionVerifier.Options()).in_flight == expected


def test_the_real_api_gets_16_and_a_configured_number_wins(monkeypatch):
    monkeypatch.setattr("verifiers.execution.os.cpu_count", lambda: 2)
    real = ExecutionVerifier.Options(target="real", base_url="https://api.example.com")
    assert ExecutionVerifier(real).in_flight == 16
    assert ExecutionVerifier(ExecutionVerifier.Options(concurrency=7)).in_flight == 7
    assert ExecutionVerifier(real.model_copy(update={"concurrency": 3})).in_flight == 3
