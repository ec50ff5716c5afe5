"""Loading models: local directories and hub ids, failing fast and clearly when a model is not there."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from schemas.errors import ConfigError
from trainer.loading import DeviceInfo, detect_device, load_model, load_tokenizer, resolve_source

CPU = DeviceInfo(kind="cpu", name="cpu", bf16=False)


@pytest.fixture(scope="module", autouse=True)
def _imported() -> None:
    """Import transformers before timing anything: the property is a fast lookup, not a fast import."""
    import transformers

    _ = transformers.AutoModelForCausalLM, transformers.AutoTokenizer


def test_missing_hub_model_fails_fast_offline() -> None:
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_model("callforge-tests/no-such-model", device=CPU)
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "'callforge-tests/no-such-model'" in message and "HF_HUB_OFFLINE=1" in message
    assert (
        "huggingface-cli download callforge-tests/no-such-model" in message and "local directory" in message
    )


def test_missing_hub_tokenizer_fails_fast_offline() -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError, match="no-such-model"):
        load_tokenizer("callforge-tests/no-such-model")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("source", ["/no/such/model", "./no-such-dir", "~/no-such-dir", "a/b/c"])
def test_missing_path_is_named(source: str) -> None:
    with pytest.raises(ConfigError, match="no model directory at this path"):
        resolve_source(source)


def test_directory_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not a model directory \(no config.json\)"):
        resolve_source(str(tmp_path))


def test_hub_id_passes_through_unchanged() -> None:
    assert resolve_source("Qwen/Qwen2.5-1.5B-Instruct") == "Qwen/Qwen2.5-1.5B-Instruct"


def test_local_directory_loads(tiny_model: Path) -> None:
    model = load_model(str(tiny_model), device=CPU)
    assert model.config.model_type == "qwen2" and next(model.parameters()).device.type == "cpu"


def test_pickle_only_weights_are_refused(tiny_model: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    shutil.copy(tiny_model / "config.json", tmp_path / "config.json")
    torch.save(load_file(tiny_model / "model.safetensors"), tmp_path / "pytorch_model.bin")
    with pytest.raises(ConfigError, match="no safetensors weights"):
        load_model(str(tmp_path), device=CPU)


def test_cuda_asked_without_cuda_is_a_config_error() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="no CUDA device"):
        detect_device("cuda")


def test_unknown_device_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="device must be"):
        detect_device("tpu")
