"""A full fine-tune of the tiny model that really learns: afterwards it calls seen tools parseably.

LoRA on a randomly initialised tiny model does not learn (its loss stays near 5), so the test of
learning fine-tunes every weight (``FULL_FINE_TUNE`` in ``tests/trainer/conftest.py``); the run is the
session's ``full_fine_tune``, which the end-to-end evaluation reads too.
"""

from __future__ import annotations

import pytest

from tests.trainer.conftest import FullFineTune
from trainer.inference import LocalModel, parse_tool_calls


@pytest.mark.slow
def test_full_fine_tune_learns_to_call_seen_tools(full_fine_tune: FullFineTune, records_factory) -> None:
    """Reads the session's full fine-tune (~25 s of training, shared with the end-to-end evaluation)."""
    result = full_fine_tune.result
    assert result.model_path is not None and result.train_loss is not None and result.train_loss < 0.5

    model = LocalModel.load(result.model_path, device="cpu")  # the saved model, reloaded
    records = records_factory(full_fine_tune.test_seen)  # 6 new queries of the two trained tools
    replies = model.generate(
        [r["messages"][:2] for r in records], [r["tools"] for r in records], max_new_tokens=48
    )
    parsed = [parse_tool_calls(reply) for reply in replies]
    assert [p.error for p in parsed] == [None] * len(parsed), replies
    expected = [r["messages"][2]["tool_calls"][0]["function"]["name"] for r in records]
    assert len(set(expected)) == 2  # both trained tools are asked for
    assert [[c.name for c in p.calls] for p in parsed] == [[name] for name in expected], replies
