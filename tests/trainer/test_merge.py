"""Merging a trained adapter into the base: same outputs as base + adapter, saved as safetensors."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import ConfigError
from trainer.merge import adapter_base_model, merge_adapter
from trainer.train import TrainResult


@pytest.fixture(scope="module")
def merged(lora_run: TrainResult, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return merge_adapter(
        str(tiny_model), Path(lora_run.adapter_path), tmp_path_factory.mktemp("merged") / "m"
    )


def _logits(model, ids):
    import torch

    with torch.inference_mode():
        return model(input_ids=ids).logits


def test_merged_model_computes_what_base_plus_adapter_does(
    merged: Path, lora_run: TrainResult, tiny_model: Path
) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ids = torch.randint(3, 200, (2, 24), generator=torch.Generator().manual_seed(0))
    with_adapter = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model), lora_run.adapter_path
    )
    folded = AutoModelForCausalLM.from_pretrained(merged)
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert torch.allclose(_logits(folded, ids), _logits(with_adapter.eval(), ids), atol=1e-4)
    assert not torch.allclose(_logits(folded, ids), _logits(base, ids), atol=1e-4)


def test_merged_directory_is_safetensors_with_tokenizer(merged: Path) -> None:
    names = {p.name for p in merged.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "chat_template.jinja"} <= names
    assert not any(n.endswith(".bin") or n.startswith("adapter_") for n in names)


def test_base_model_defaults_to_the_one_the_adapter_records(
    lora_run: TrainResult, tiny_model: Path, tmp_path: Path
) -> None:
    assert adapter_base_model(Path(lora_run.adapter_path)) == str(tiny_model)
    out = merge_adapter(None, Path(lora_run.adapter_path), tmp_path / "m")
    assert (out / "model.safetensors").is_file()


def test_not_an_adapter_is_a_config_error(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a LoRA adapter directory"):
        merge_adapter(str(tiny_model), tmp_path, tmp_path / "m")


def test_merge_command(lora_run: TrainResult, tiny_model: Path, tmp_path: Path, capsys) -> None:
    from flows.cli import main

    code = main(
        [
            "merge",
            "--base-model",
            str(tiny_model),
            "--adapter",
            lora_run.adapter_path,
            "--out",
            str(tmp_path / "m"),
        ]
    )
    assert code == 0 and (tmp_path / "m" / "model.safetensors").is_file()
    assert f"merged model: {tmp_path / 'm'}" in capsys.readouterr().out
