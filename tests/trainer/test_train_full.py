"""A full fine-tune of the tiny model that really learns: afterwards it calls seen tools parseably.

LoRA on a randomly initialised tiny model does not learn (its loss stays near 5), so the test of
learning fine-tunes every weight; ~300 steps of batch 4 took ~25 s on a shared 2-core runner.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.config import TrainerConfig
from trainer.inference import LocalModel, parse_tool_calls
from trainer.train import train

FULL = {
    "mode": "full",
    "early_stopping_patience": None,
    "sft": {
        "max_steps": 300,
        "learning_rate": 3e-3,
        "warmup_steps": 0.05,
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 1,
        "activation_checkpointing": False,
        "optim": "adamw_torch",
        "save_strategy": "no",
        "logging_steps": 25,
        "max_length": 512,
        "disable_tqdm": True,
    },
}


@pytest.mark.slow
def test_full_fine_tune_learns_to_call_seen_tools(
    tiny_model: Path, samples_factory, records_factory, dataset_saver, tmp_path: Path
) -> None:
    """~300 full fine-tune steps (~25 s): the fewest measured after which the tiny model calls the seen
    tools parseably (see the module docstring)."""
    # 42 training samples over three tools, each offering only the tool it calls (short prompts);
    # 8 held-out queries (new cities, node ids, kinds) of the same tools.
    samples = samples_factory(50, seed=2, offer_all=False)
    dataset = dataset_saver(
        tmp_path / "data",
        {"train": samples[:42], "validation": [], "test_seen": samples[42:], "test_unseen": []},
    )
    result = train(dataset, str(tiny_model), TrainerConfig.model_validate(FULL), tmp_path / "out")
    assert result.model_path is not None and result.train_loss is not None and result.train_loss < 0.5

    model = LocalModel.load(result.model_path, device="cpu")  # the saved model, reloaded
    records = records_factory(samples[42:])
    replies = model.generate(
        [r["messages"][:2] for r in records], [r["tools"] for r in records], max_new_tokens=48
    )
    parsed = [parse_tool_calls(reply) for reply in replies]
    assert [p.error for p in parsed] == [None] * len(parsed), replies
    expected = [r["messages"][2]["tool_calls"][0]["function"]["name"] for r in records]
    assert [[c.name for c in p.calls] for p in parsed] == [[name] for name in expected], replies
