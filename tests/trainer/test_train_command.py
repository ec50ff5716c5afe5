"""``callforge train``: the config file, --set overrides and clear failures, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.cli import main
from flows.commands.train import apply_overrides
from schemas.errors import ConfigError


def test_overrides_set_nested_keys_as_yaml_values() -> None:
    raw = apply_overrides(
        {"lora": {"r": 8}},
        ["lora.r=16", "sft.max_steps=5", "mode=lora", "sft.report_to=[]", "sft.bf16=false"],
    )
    assert raw == {"lora": {"r": 16}, "sft": {"max_steps": 5, "report_to": [], "bf16": False}, "mode": "lora"}


def test_no_stays_a_string_as_in_yaml_1_2() -> None:
    assert apply_overrides({}, ["sft.eval_strategy=no"]) == {"sft": {"eval_strategy": "no"}}


def test_override_without_equals_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides({}, ["sft.max_steps"])


def test_train_command_writes_the_run(tiny_model: Path, small_dataset: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    argv = ["train", "--dataset", str(small_dataset), "--base-model", str(tiny_model), "--out", str(out)]
    sets = [
        "sft.max_steps=1",
        "sft.eval_strategy=no",
        "sft.activation_checkpointing=false",
        "sft.disable_tqdm=true",
    ]
    code = main([*argv, *[a for s in sets for a in ("--set", s)]])
    captured = capsys.readouterr()
    printed = captured.out
    assert code == 0, captured.err[-2000:]
    assert f"weights: {out / 'adapter'}" in printed
    assert json.loads((out / "result.json").read_text(encoding="utf-8"))["global_step"] == 1
    # The default config asks for 4-bit; on CPU it trains fp32 LoRA and says so where the user looks.
    assert "note: no CUDA: training the LoRA in fp32 on CPU (set quantization.on_cpu: true" in printed
    assert "batch: micro-batch 1 x 8 accumulation, as configured" in printed


def test_bad_config_key_fails_with_its_name(
    tiny_model: Path, small_dataset: Path, tmp_path: Path, capsys
) -> None:
    config = tmp_path / "trainer.yaml"
    config.write_text("sft:\n  learning_rat: 0.001\n", encoding="utf-8")
    argv = [
        "train",
        "--dataset",
        str(small_dataset),
        "--base-model",
        str(tiny_model),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main([*argv, "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert (
        "trainer.yaml: sft.learning_rat is not a field of trl.SFTConfig; did you mean 'learning_rate'?" in err
    )
