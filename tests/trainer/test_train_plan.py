"""plan_training: what one config becomes on a CPU, on a bf16 GPU and on an fp16-only GPU."""

from __future__ import annotations

from pathlib import Path

from trainer.config import TrainerConfig
from trainer.loading import DeviceInfo
from trainer.plan import plan_training

CPU = DeviceInfo(kind="cpu", name="cpu", bf16=False)
AMPERE = DeviceInfo(kind="cuda", name="NVIDIA A100", bf16=True)
TURING = DeviceInfo(kind="cuda", name="NVIDIA T4", bf16=False)
CKPT = Path("/tmp/out/checkpoints")


def plan(config: TrainerConfig, device: DeviceInfo, *, has_validation: bool = True):
    return plan_training(config, device, checkpoint_dir=CKPT, has_validation=has_validation)


def test_default_on_cuda_is_4bit_qlora_in_bf16_with_paged_optimizer() -> None:
    p = plan(TrainerConfig.default(), AMPERE)
    assert (p.mode, p.quantize, p.compute_dtype, p.model_dtype) == ("qlora", True, "bfloat16", "bfloat16")
    assert p.sft["bf16"] is True and p.sft["fp16"] is False and p.sft["optim"] == "paged_adamw_8bit"
    assert p.early_stopping_patience == 3 and p.notes == []


def test_gpu_without_bf16_computes_in_fp16() -> None:
    p = plan(TrainerConfig.default(), TURING)
    assert (p.compute_dtype, p.sft["fp16"], p.sft["bf16"]) == ("float16", True, False)


def test_full_fine_tune_on_fp16_gpu_keeps_fp32_master_weights() -> None:
    p = plan(TrainerConfig.from_dict({"mode": "full"}), TURING)
    assert (p.model_dtype, p.sft["fp16"]) == ("float32", True)


def test_cpu_trains_lora_in_fp32_without_cuda_only_optimizer() -> None:
    p = plan(TrainerConfig.default(), CPU)
    assert (p.mode, p.quantize, p.model_dtype) == ("lora", False, "float32")
    assert (p.sft["bf16"], p.sft["fp16"], p.sft["use_cpu"], p.sft["optim"]) == (
        False,
        False,
        True,
        "adamw_torch",
    )
    assert any("no CUDA" in n for n in p.notes) and any("paged_adamw_8bit" in n for n in p.notes)


def test_cpu_keeps_4bit_when_asked() -> None:
    p = plan(TrainerConfig.from_dict({"quantization": {"on_cpu": True}}), CPU)
    assert (p.mode, p.quantize, p.compute_dtype) == ("qlora", True, "float32")


def test_qlora_without_4bit_is_plain_lora() -> None:
    p = plan(TrainerConfig.from_dict({"quantization": {"load_in_4bit": False}}), AMPERE)
    assert (p.mode, p.quantize) == ("lora", False)


def test_no_validation_split_turns_off_evaluation_and_early_stopping() -> None:
    p = plan(TrainerConfig.default(), AMPERE, has_validation=False)
    assert (p.sft["eval_strategy"], p.sft["load_best_model_at_end"], p.early_stopping_patience) == (
        "no",
        False,
        None,
    )


def test_checkpoints_go_under_the_output_directory() -> None:
    assert plan(TrainerConfig.default(), CPU).sft["output_dir"] == str(CKPT)


def test_explicit_precision_on_gpu_is_respected() -> None:
    p = plan(TrainerConfig.from_dict({"sft": {"bf16": False, "fp16": False}}), AMPERE)
    assert (p.sft["bf16"], p.sft["fp16"]) == (False, False)


def test_evaluation_off_turns_off_best_model_selection_with_a_note() -> None:
    p = plan(
        TrainerConfig.from_dict({"sft": {"eval_strategy": "no", "load_best_model_at_end": True}}), AMPERE
    )
    assert (p.sft["load_best_model_at_end"], p.early_stopping_patience) == (False, None)
    assert any("load_best_model_at_end needs evaluation" in n for n in p.notes)
