"""Fixtures for the trainer tests: three hand-made tools, samples over them, a TRL DatasetDict on disk
and a tiny local Qwen2 model built once per session (no model hub anywhere)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from schemas.models import ArgumentBinding, HttpBinding, Sample, Tool, ToolCall, ToolSource
from schemas.records import to_trl

CITIES = ["Paris", "Seoul", "Lima", "Oslo", "Cairo", "Tokyo", "Quito", "Rome", "Dakar", "Hanoi"]
MATERIALS = ["steel", "concrete", "timber", "aluminium"]


def _tool(name: str, description: str, method: str, path: str, properties: dict[str, Any]) -> Tool:
    return Tool(
        name=name,
        description=description,
        parameters={"type": "object", "properties": properties, "required": list(properties)},
        binding=HttpBinding(
            method=method,
            path=path,
            server_url="http://127.0.0.1:9/api",
            arguments={
                k: ArgumentBinding(location="body-property", name=k, required=True) for k in properties
            },
            body_media_type="application/json",
        ),
        source=ToolSource(file="tests.yaml", title="trainer tests", version="1"),
    )


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        _tool("get_weather", "Current weather in a city", "POST", "/weather", {"city": {"type": "string"}}),
        _tool(
            "create_node",
            "Create a node at coordinates",
            "POST",
            "/db/node",
            {"id": {"type": "integer"}, "x": {"type": "number"}, "y": {"type": "number"}},
        ),
        _tool("list_materials", "List materials of a kind", "POST", "/db/matl", {"kind": {"type": "string"}}),
    )
}


def make_samples(count: int, *, seed: int = 0, offer_all: bool = True) -> list[Sample]:
    """``count`` single-call samples cycling over the three tools; each offers all three tools (shuffled,
    style ``multiple``) or, with ``offer_all=False``, only the one called (style ``simple``: shorter prompts)."""
    rng = random.Random(seed)
    samples = []
    names = list(TOOLS)
    for i in range(count):
        name = names[i % len(names)]
        if name == "get_weather":
            city = rng.choice(CITIES)
            query, call = f"What is the weather in {city}?", ToolCall(name=name, arguments={"city": city})
        elif name == "create_node":
            node, x, y = rng.randint(1, 99), rng.randint(0, 9), rng.randint(0, 9)
            query = f"Create node {node} at x={x}, y={y}."
            call = ToolCall(name=name, arguments={"id": node, "x": x, "y": y})
        else:
            kind = rng.choice(MATERIALS)
            query, call = f"List the {kind} materials.", ToolCall(name=name, arguments={"kind": kind})
        offered = names[:] if offer_all else [name]
        rng.shuffle(offered)
        style = "multiple" if offer_all else "simple"
        samples.append(Sample.create(query=query, language="en", style=style, tools=offered, calls=[call]))
    return samples


SHORT_SYSTEM_PROMPT = "Call the tool that answers the request."


def trl_records(samples: list[Sample], system_prompt: str = SHORT_SYSTEM_PROMPT) -> list[dict[str, Any]]:
    """TRL records; a short system prompt by default keeps sequences (and CPU steps) short."""
    return [to_trl(s, TOOLS, system_prompt=system_prompt) for s in samples]


def save_dataset(directory: Path, splits: dict[str, list[Sample]]) -> Path:
    """Save the splits as the assemble stage does: a DatasetDict in ``directory/hf`` with Json() columns."""
    from datasets import Dataset, DatasetDict

    from trainer.dataset.encoders import hf_features

    features = hf_features()  # the assemble stage's own schema: Json() messages and tools
    dataset = DatasetDict(
        {
            name: Dataset.from_list(trl_records(samples), features=features)
            if samples
            else Dataset.from_dict({k: [] for k in features}, features=features)
            for name, samples in splits.items()
        }
    )
    # An empty split saved with the default 0 shards cannot be loaded back (datasets 5.2).
    dataset.save_to_disk(str(directory / "hf"), num_shards={n: 1 for n, s in splits.items() if not s})
    return directory


def build_corpus() -> list[str]:
    return rendered_corpus(make_samples(60)) + rendered_corpus(make_samples(60, seed=2, offer_all=False))


def rendered_corpus(samples: list[Sample]) -> list[str]:
    """The pieces the chat template renders for ``samples`` (tools, queries, calls), for the tiny tokenizer."""
    texts = []
    for record in trl_records(samples):
        texts.extend(json.dumps(tool, ensure_ascii=False) for tool in record["tools"])
        texts.extend(m["content"] for m in record["messages"] if m["content"])
        for call in record["messages"][-1].get("tool_calls", []):
            fn = call["function"]
            texts.append(
                f'<tool_call>\n{{"name": "{fn["name"]}", "arguments": {json.dumps(fn["arguments"])}}}\n</tool_call>'
            )
    return texts


@pytest.fixture(scope="session")
def tools() -> dict[str, Tool]:
    return TOOLS


@pytest.fixture(scope="session")
def samples_factory() -> Callable[..., list[Sample]]:
    return make_samples


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2 chat model whose tokenizer was trained on the rendered test records."""
    import torch

    from trainer.tiny import build_tiny_model

    # Matrices this small gain nothing from a second thread, and on a shared 2-core runner two threads
    # per process thrash: a step measured 4-11 s with two threads against 0.6 s with one.
    torch.set_num_threads(1)

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", corpus=build_corpus())


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 train / 6 validation / 3 test samples saved as a DatasetDict under ``<dir>/hf``."""
    samples = make_samples(33, seed=1)
    return save_dataset(
        tmp_path_factory.mktemp("dataset"),
        {"train": samples[:24], "validation": samples[24:30], "test_seen": samples[30:], "test_unseen": []},
    )


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    return build_corpus()


@pytest.fixture(scope="session")
def dataset_saver() -> Callable[[Path, dict[str, list[Sample]]], Path]:
    return save_dataset


@pytest.fixture(scope="session")
def records_factory() -> Callable[..., list[dict[str, Any]]]:
    return trl_records


# A few short steps: enough to move the adapter, small enough for a shared 2-core runner.
QUICK_LORA = {
    "mode": "lora",
    "sft": {
        "max_steps": 3,
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 1,
        "activation_checkpointing": False,
        "max_length": 512,
        "eval_steps": 1,
        "save_steps": 1,
        "logging_steps": 1,
        "learning_rate": 1e-2,
        "disable_tqdm": True,
    },
}


@pytest.fixture(scope="session")
def quick_config() -> Callable[..., Any]:
    """``quick_config(**overrides)``: QUICK_LORA with top-level overrides; ``sft`` merges key by key."""
    from trainer.config import TrainerConfig

    def make(**overrides: Any) -> TrainerConfig:
        sft = {**QUICK_LORA["sft"], **overrides.pop("sft", {})}
        return TrainerConfig.model_validate({**QUICK_LORA, **overrides, "sft": sft})

    return make


@pytest.fixture(scope="session")
def lora_run(tiny_model: Path, small_dataset: Path, quick_config, tmp_path_factory: pytest.TempPathFactory):
    """One quick CPU LoRA run on the tiny model, shared by the train, merge and inference tests."""
    from trainer.train import train

    return train(small_dataset, str(tiny_model), quick_config(), tmp_path_factory.mktemp("lora") / "out")


# A full fine-tune (every weight): a LoRA on a randomly initialised tiny model does not learn (its loss
# stays near 5). ~300 steps of batch 4 are the fewest measured after which the tiny model calls the
# seen tools parseably.
FULL_FINE_TUNE = {
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


class FullFineTune(NamedTuple):
    dataset: Path
    result: Any  # trainer.train.TrainResult (imported lazily: torch)
    test_seen: list[Sample]


@pytest.fixture(scope="session")
def full_fine_tune(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> FullFineTune:
    """The dataset, TrainResult and held-out seen samples of one full fine-tune of the tiny model, shared by the test that
    it learns (``test_train_full.py``) and the end-to-end evaluation (``evaluation/test_evaluate_e2e.py``):
    ~25 s of training once a session instead of twice. Tests only read it.

    It trains on two tools (``get_weather``, ``create_node``; one offered tool per sample: short prompts);
    ``test_seen`` holds 6 new queries of those tools and ``test_unseen`` 4 of the third, ``list_materials``.
    """
    from trainer.config import TrainerConfig
    from trainer.train import train

    root = tmp_path_factory.mktemp("full-fine-tune")
    samples = make_samples(54, seed=2, offer_all=False)
    seen = [s for s in samples if s.calls[0].name != "list_materials"]
    unseen = [s for s in samples if s.calls[0].name == "list_materials"]
    dataset = save_dataset(
        root / "dataset",
        {"train": seen[:30], "validation": [], "test_seen": seen[30:36], "test_unseen": unseen[:4]},
    )
    config = TrainerConfig.model_validate(FULL_FINE_TUNE)
    return FullFineTune(dataset, train(dataset, str(tiny_model), config, root / "train"), seen[30:36])
