"""``refresh(train=True)``: the train and evaluate flows run as subflows on a tiny local model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows.refresh import refresh

pytestmark = pytest.mark.slow

# A few CPU steps of LoRA: the plumbing, not a model that learned anything.
QUICK_LORA = {
    "mode": "lora",
    "sft": {
        "max_steps": 2,
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 1,
        # the tiny tokenizer (1,024 tokens) renders the mini rows in up to ~1,300 tokens: all must fit, or
        # assembly drops them (and the trainer refuses rows that do not fit)
        "max_length": 2048,
        "eval_steps": 1,
        "save_steps": 1,
        "logging_steps": 1,
        "disable_tqdm": True,
    },
}


@pytest.fixture(scope="module")
def trained(
    prefect_server: None, mini_kwargs: dict, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A refresh with ``train=True``: builds the tiny model and runs the train and evaluate subflows on
    it (~20 s), once for the module."""
    from trainer.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("train")
    model = build_tiny_model(root / "tiny")
    settings = {
        **mini_kwargs["settings"],
        "train_settings": QUICK_LORA,
        "evaluate_settings": {"limit": 2, "max_new_tokens": 8, "batch_size": 2},
        # every mini tier is one endpoint family, which a fraction never holds out whole: name one
        "assemble": {"split": {"unseen_tools": ["get_db_matl"]}},
    }
    return refresh(
        **{**mini_kwargs, "data_root": str(root / "data"), "settings": settings},
        train=True,
        base_model=str(model),
    )


def test_train_writes_an_adapter_beside_the_dataset(trained: dict[str, Any]) -> None:
    adapter = Path(trained["train"]["adapter_path"])
    assert adapter.parent == Path(trained["dataset_dir"]).parent / "model"
    assert (adapter / "adapter_model.safetensors").exists()


def test_evaluate_scores_base_and_fine_tuned(trained: dict[str, Any]) -> None:
    assert set(trained["evaluate"]["metrics"]["models"]) == {"fine-tuned", "base"}


def test_training_and_evaluation_tables_are_published(trained: dict[str, Any]) -> None:
    async def read() -> dict[str, Any]:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=["mini-training", "mini-evaluation"])
                )
            )
        return {a.key: json.loads(a.data) for a in sorted(found, key=lambda a: a.created)}

    tables = asyncio.run(read())
    assert tables["mini-training"][0]["steps"] == 2
    assert {row["model"] for row in tables["mini-evaluation"]} == {"fine-tuned", "base"}
