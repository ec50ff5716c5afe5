"""TrainerConfig: the packaged recipes load, and every kind of bad config fails naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import ConfigError
from trainer.config import CONFIGS_DIR, DEFAULT_SFT, TrainerConfig


@pytest.mark.parametrize("name", ["qwen2_5_1_5b_qlora.yaml", "llama3_1_8b_qlora.yaml"])
def test_packaged_configs_load(name: str) -> None:
    config = TrainerConfig.load(CONFIGS_DIR / name)
    assert config.mode == "qlora" and config.quantization.quant_type == "nf4"


def test_default_follows_the_seed_recipe() -> None:
    config = TrainerConfig.default()
    sft = config.resolved_sft()
    assert config.model.base_model == "Qwen/Qwen2.5-1.5B-Instruct"
    assert (config.lora.r, config.lora.alpha, config.lora.target_modules) == (8, 16, "all-linear")
    assert (sft["learning_rate"], sft["per_device_train_batch_size"], sft["gradient_accumulation_steps"]) == (
        2e-4,
        1,
        8,
    )
    assert (sft["max_length"], sft["optim"], sft["lr_scheduler_type"]) == (2048, "paged_adamw_8bit", "cosine")
    assert sft["activation_checkpointing"] and sft["assistant_only_loss"] and sft["load_best_model_at_end"]
    assert config.early_stopping_patience == 3


def test_llama_recipe_is_the_larger_adapter() -> None:
    config = TrainerConfig.load(CONFIGS_DIR / "llama3_1_8b_qlora.yaml")
    assert (config.lora.r, config.lora.alpha, config.lora.dropout) == (32, 64, 0.1)


def test_sft_section_overrides_defaults_key_by_key() -> None:
    sft = TrainerConfig.from_dict({"sft": {"max_steps": 5}}).resolved_sft()
    assert sft["max_steps"] == 5 and sft["learning_rate"] == DEFAULT_SFT["learning_rate"]


BAD = [
    ("unknown top-level key", {"epochs": 3}, "epochs: unknown key"),
    ("unknown section key", {"lora": {"rank": 8}}, "lora.rank: unknown key (did you mean 'r'?"),
    ("zero rank", {"lora": {"r": 0}}, "lora.r: Input should be greater than or equal to 1"),
    ("bad mode", {"mode": "qlora4"}, "mode: Input should be 'qlora', 'lora' or 'full'"),
    ("dropout of one", {"lora": {"dropout": 1.0}}, "lora.dropout"),
    (
        "bad sft key",
        {"sft": {"learning_rat": 1e-4}},
        "sft.learning_rat is not a field of trl.SFTConfig; did you mean 'learning_rate'?",
    ),
    ("reserved sft key", {"sft": {"output_dir": "x"}}, "sft.output_dir is set by the trainer"),
    ("empty target modules", {"lora": {"target_modules": []}}, "lora.target_modules"),
    ("bad quant type", {"quantization": {"quant_type": "int4"}}, "quantization.quant_type"),
]


@pytest.mark.parametrize(("raw", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_config_names_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        TrainerConfig.from_dict(raw, source="trainer.yaml")
    assert message in str(info.value)
    assert str(info.value).startswith("trainer.yaml: ")


def test_bad_yaml_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("lora:\n  r: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml: lora\.r"):
        TrainerConfig.load(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such trainer config file"):
        TrainerConfig.load(tmp_path / "absent.yaml")


def test_yaml_round_trip_keeps_the_config(tmp_path: Path) -> None:
    config = TrainerConfig.from_dict({"mode": "lora", "lora": {"r": 4}, "sft": {"max_steps": 7}})
    path = tmp_path / "c.yaml"
    path.write_text(config.to_yaml(), encoding="utf-8")
    assert TrainerConfig.load(path) == config


def test_old_checkpointing_name_still_turns_it_off() -> None:
    sft = TrainerConfig.from_dict({"sft": {"gradient_checkpointing": False}}).resolved_sft()
    assert sft["activation_checkpointing"] is False and "gradient_checkpointing" not in sft


def test_yaml_no_is_the_string_no(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sft:\n  eval_strategy: no\n  load_best_model_at_end: false\n", encoding="utf-8")
    assert TrainerConfig.load(path).sft == {"eval_strategy": "no", "load_best_model_at_end": False}
