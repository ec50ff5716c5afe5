"""train() on CPU with the tiny model: LoRA plumbing, outputs on disk, early stopping, 4-bit, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from schemas.errors import ConfigError
from trainer.config import TrainerConfig
from trainer.train import TrainResult, train


def _adapter_tensors(adapter: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(adapter / "adapter_model.safetensors")


def test_lora_steps_change_the_adapter(lora_run: TrainResult) -> None:
    tensors = _adapter_tensors(Path(lora_run.adapter_path))
    lora_b = {k: v for k, v in tensors.items() if "lora_B" in k}
    # PEFT starts every B matrix at zero, so any non-zero B was written by the optimizer.
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b.values())
    assert lora_run.global_step == 3


def test_lora_leaves_the_base_weights_unchanged(lora_run: TrainResult, tiny_model: Path) -> None:
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    original = load_file(tiny_model / "model.safetensors")
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), lora_run.adapter_path)
    base = model.get_base_model().state_dict()
    q_proj = base["model.layers.0.self_attn.q_proj.base_layer.weight"]
    assert q_proj.equal(original["model.layers.0.self_attn.q_proj.weight"])
    assert base["model.embed_tokens.weight"].equal(original["model.embed_tokens.weight"])
    assert all("lora_" in k for k in _adapter_tensors(Path(lora_run.adapter_path)))


def test_adapter_dir_carries_tokenizer_and_training_template(lora_run: TrainResult) -> None:
    adapter = Path(lora_run.adapter_path)
    assert {"adapter_config.json", "tokenizer.json", "tokenizer_config.json"} <= {
        p.name for p in adapter.iterdir()
    }
    assert "{% generation %}" in (adapter / "chat_template.jinja").read_text(encoding="utf-8").replace(
        "-", ""
    )


def test_metrics_hold_train_and_validation_curves(lora_run: TrainResult) -> None:
    curves = json.loads(Path(lora_run.metrics_path).read_text(encoding="utf-8"))
    assert [p["step"] for p in curves["train"]] == [1, 2, 3]
    assert [p["step"] for p in curves["eval"]] == [1, 2, 3]
    assert (
        lora_run.train_loss == curves["train"][-1]["loss"]
        and lora_run.eval_loss == curves["eval"][-1]["eval_loss"]
    )
    assert Path(lora_run.plot_path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resolved_config_records_what_ran(lora_run: TrainResult, quick_config) -> None:
    import yaml

    saved = yaml.safe_load(Path(lora_run.config_path).read_text(encoding="utf-8"))
    assert TrainerConfig.model_validate(saved["config"]) == quick_config()
    assert saved["resolved"]["device"]["kind"] == "cpu" and saved["resolved"]["sft"]["use_cpu"] is True


def test_dataset_version_is_recorded(lora_run: TrainResult, small_dataset: Path) -> None:
    from trainer.trainset import dataset_version

    recorded = json.loads((Path(lora_run.out_dir) / "dataset.json").read_text(encoding="utf-8"))
    again = dataset_version(small_dataset, small_dataset / "hf")
    assert recorded["fingerprint"] == again.fingerprint == lora_run.dataset.fingerprint
    assert recorded["splits"] == {"train": 24, "validation": 6, "test_seen": 3, "test_unseen": 0}


def test_result_json_matches_the_returned_result(lora_run: TrainResult) -> None:
    saved = TrainResult.model_validate_json(
        (Path(lora_run.out_dir) / "result.json").read_text(encoding="utf-8")
    )
    assert saved == lora_run and not (Path(lora_run.out_dir) / "checkpoints").exists()


def test_training_leaves_the_dataset_directory_untouched(lora_run: TrainResult, small_dataset: Path) -> None:
    assert not list((small_dataset / "hf").rglob("cache-*.arrow"))


def test_early_stopping_ends_a_run_that_stops_improving(
    tiny_model: Path, small_dataset: Path, tmp_path: Path, quick_config
) -> None:
    # A zero learning rate never improves the validation loss: the first evaluation sets the best,
    # the next `patience` ones do not beat it, and training stops there.
    config = quick_config(early_stopping_patience=2, sft={"max_steps": 20, "learning_rate": 0.0})
    result = train(small_dataset, str(tiny_model), config, tmp_path / "out")
    assert (result.global_step, result.stopped_early, result.best_step) == (3, True, 1)


def test_four_bit_qlora_loads_and_steps_on_cpu(
    tiny_model: Path, small_dataset: Path, tmp_path: Path, quick_config
) -> None:
    config = quick_config(
        mode="qlora", quantization={"on_cpu": True}, sft={"max_steps": 2, "eval_strategy": "no"}
    )
    result = train(small_dataset, str(tiny_model), config, tmp_path / "out")
    assert result.mode == "qlora" and result.global_step == 2
    assert all(
        v.abs().sum() > 0 for k, v in _adapter_tensors(Path(result.adapter_path)).items() if "lora_B" in k
    )


def test_four_bit_model_really_is_quantised(tiny_model: Path, quick_config) -> None:
    import bitsandbytes as bnb

    from trainer.loading import detect_device
    from trainer.plan import plan_training
    from trainer.train import _prepare_model

    config = quick_config(mode="qlora", quantization={"on_cpu": True})
    plan = plan_training(config, detect_device("cpu"), checkpoint_dir=Path("unused"), has_validation=True)
    model = _prepare_model(str(tiny_model), config, plan)
    layer = model.get_base_model().model.layers[0].self_attn.q_proj.base_layer
    assert isinstance(layer, bnb.nn.Linear4bit) and layer.weight.quant_type == "nf4"


def test_bad_sft_value_is_a_config_error(
    tiny_model: Path, small_dataset: Path, tmp_path: Path, quick_config
) -> None:
    config = quick_config(sft={"lr_scheduler_type": "zigzag"})
    with pytest.raises(ConfigError, match=r"sft: trl\.SFTConfig rejected the settings: .*zigzag"):
        train(small_dataset, str(tiny_model), config, tmp_path / "out")
    assert not (tmp_path / "out" / "adapter").exists()


def test_missing_base_model_is_a_config_error(small_dataset: Path, tmp_path: Path, quick_config) -> None:
    with pytest.raises(ConfigError, match="callforge-tests/absent"):
        train(small_dataset, "callforge-tests/absent", quick_config(), tmp_path / "out")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_cuda_without_it_fails_before_loading_anything(
    small_dataset: Path, tmp_path: Path, quick_config
) -> None:
    # The model does not exist: reaching the loader would raise another error.
    with pytest.raises(ConfigError, match="device 'cuda' was asked for"):
        train(small_dataset, "callforge-tests/absent", quick_config(device="cuda"), tmp_path / "out")


def test_missing_dataset_is_a_config_error(tiny_model: Path, tmp_path: Path, quick_config) -> None:
    with pytest.raises(ConfigError, match="no Hugging Face DatasetDict found"):
        train(tmp_path, str(tiny_model), quick_config(), tmp_path / "out")


def test_records_longer_than_max_length_are_counted(tiny_model: Path, small_dataset: Path, caplog) -> None:
    from transformers import AutoTokenizer

    from trainer.train import count_truncated
    from trainer.trainset import load_training_splits

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    records = load_training_splits(small_dataset / "hf")["train"]
    lengths = sorted(
        len(tokenizer.apply_chat_template(r["messages"], tools=r["tools"], tokenize=True)["input_ids"])
        for r in records
    )
    limit = lengths[len(lengths) // 2]
    expected = sum(1 for n in lengths if n > limit)
    assert 0 < expected < len(lengths)
    assert count_truncated(tokenizer, records, limit) == expected
    assert f"{expected} of 24 training records are longer than sft.max_length={limit}" in caplog.text


def test_records_within_max_length_are_not_counted(lora_run: TrainResult) -> None:
    assert lora_run.truncated_examples == 0
