"""The memory-fitting plan: micro-batch, accumulation and checkpointing from memory and the data's lengths."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.config import TrainerConfig
from trainer.fitting import (
    GB,
    ModelShape,
    activation_bytes,
    fit_batch,
    laptop_fit,
    static_bytes,
    worst_tokens,
)
from trainer.loading import DeviceInfo
from trainer.plan import fit_plan, plan_training

# Qwen2.5-1.5B's config.json values.
QWEN_1_5B = ModelShape(
    hidden=1536, intermediate=8960, layers=28, vocab=151936, heads=12, kv_heads=2, tied_embeddings=True
)
ROWS_2048 = [2048] * 64
H200 = DeviceInfo(kind="cuda", name="NVIDIA H200", bf16=True)
CPU = DeviceInfo(kind="cpu", name="cpu", bf16=False)


def fit(budget_gb: float, lengths=ROWS_2048, *, effective: int = 8, padding_free: bool = True):
    return fit_batch(
        QWEN_1_5B,
        "qlora",
        lengths,
        effective_batch=effective,
        budget_bytes=int(budget_gb * GB),
        padding_free=padding_free,
    )


@pytest.mark.parametrize(
    ("micro", "checkpointing", "measured_gb"),
    [(1, True, 2.62), (8, True, 9.39), (8, False, 82.1)],  # H200, README: the shipped recipe and its variants
)
def test_the_estimate_is_within_a_quarter_of_the_measured_peaks(
    micro: int, checkpointing: bool, measured_gb: float
):
    estimate = static_bytes(QWEN_1_5B, "qlora") + activation_bytes(
        QWEN_1_5B, micro * 2048, checkpointing=checkpointing
    )
    assert abs(estimate / GB - measured_gb) / measured_gb < 0.25


def test_a_large_gpu_gets_the_whole_batch_at_once_without_checkpointing() -> None:
    chosen = fit(128)
    assert (chosen.micro_batch, chosen.accumulation, chosen.checkpointing, chosen.fits) == (8, 1, False, True)


def test_a_mid_size_gpu_keeps_the_batch_by_checkpointing() -> None:
    chosen = fit(22)
    assert (chosen.micro_batch, chosen.accumulation, chosen.checkpointing) == (8, 1, True)


def test_a_small_gpu_falls_back_to_the_seed_recipe() -> None:
    chosen = fit(3.2)
    assert (chosen.micro_batch, chosen.accumulation, chosen.checkpointing, chosen.fits) == (1, 8, True, True)


@pytest.mark.parametrize("budget_gb", [2.6, 3.2, 5, 8, 12, 22, 40, 128])
@pytest.mark.parametrize("effective", [1, 6, 8, 16])
def test_the_effective_batch_is_always_the_configured_one(budget_gb: float, effective: int) -> None:
    chosen = fit(budget_gb, effective=effective)
    assert chosen.micro_batch * chosen.accumulation == effective
    assert chosen.estimate_bytes <= chosen.budget_bytes or not chosen.fits


def test_shorter_rows_allow_a_larger_micro_batch_in_the_same_memory() -> None:
    assert fit(5, [256] * 64).micro_batch > fit(5, ROWS_2048).micro_batch


def test_the_worst_batch_is_sized_by_the_longest_rows_not_the_mean() -> None:
    lengths = [2048] + [200] * 99  # mean ~218 tokens, but one batch will hold the long row
    assert worst_tokens(lengths, 8, padding_free=True) == 2048 + 7 * 200
    assert worst_tokens(lengths, 8, padding_free=False) == 8 * 2048  # padded to the longest
    # A budget that 8 mean-length rows fit but 8 rows with the long one do not.
    mean_fits = static_bytes(QWEN_1_5B, "qlora") + activation_bytes(QWEN_1_5B, 8 * 218, checkpointing=False)
    chosen = fit((mean_fits + 1) / GB, lengths)
    assert chosen.worst_tokens <= 2048 + 7 * 200 and chosen.estimate_bytes <= mean_fits + 1
    assert (chosen.micro_batch, chosen.checkpointing) != (8, False)


def test_padding_free_fits_more_than_padding() -> None:
    lengths = [2048] + [300] * 63
    assert fit(8, lengths).micro_batch > fit(8, lengths, padding_free=False).micro_batch


def test_when_nothing_fits_it_says_so_and_what_to_change() -> None:
    chosen = fit(1.0)
    assert (chosen.fits, chosen.micro_batch, chosen.checkpointing) == (False, 1, True)
    assert "lower sft.max_length" in chosen.reason


def test_the_laptop_profile_is_the_seed_recipe_within_6_gb() -> None:
    chosen = laptop_fit(QWEN_1_5B, "qlora", ROWS_2048, effective_batch=8)
    assert (chosen.micro_batch, chosen.accumulation, chosen.checkpointing, chosen.fits) == (1, 8, True, True)
    assert chosen.estimate_bytes < 6 * GB


def test_full_fine_tuning_needs_more_than_qlora() -> None:
    assert static_bytes(QWEN_1_5B, "full", optimizer_bytes=8) > 4 * static_bytes(QWEN_1_5B, "qlora")


# ---------------------------------------------------------------------------- fit_plan on a TrainingPlan


def planned(config: TrainerConfig, device: DeviceInfo, *, free_gb: float | None):
    plan = plan_training(config, device, checkpoint_dir=Path("/tmp/ckpt"), has_validation=True)
    free = int(free_gb * GB) if free_gb is not None else None
    return fit_plan(plan, config, QWEN_1_5B, ROWS_2048, free_bytes=free)


def test_auto_on_a_big_gpu_rewrites_the_batch_keeping_its_size() -> None:
    plan = planned(TrainerConfig.default(), H200, free_gb=140)
    sft = plan.sft
    assert (sft["per_device_train_batch_size"], sft["gradient_accumulation_steps"]) == (8, 1)
    assert sft["activation_checkpointing"] is False and sft["per_device_eval_batch_size"] == 8
    assert plan.as_dict()["fit"]["micro_batch"] == 8


def test_a_memory_budget_overrides_the_free_memory() -> None:
    config = TrainerConfig.from_dict({"throughput": {"memory_budget_gb": 3.2}})
    sft = planned(config, H200, free_gb=140).sft
    assert (sft["per_device_train_batch_size"], sft["gradient_accumulation_steps"]) == (1, 8)


def test_auto_on_cpu_leaves_the_batch_as_configured() -> None:
    plan = planned(TrainerConfig.default(), CPU, free_gb=None)
    assert (plan.sft["per_device_train_batch_size"], plan.sft["gradient_accumulation_steps"], plan.fit) == (
        1,
        8,
        None,
    )


def test_laptop_profile_applies_even_on_a_big_gpu() -> None:
    config = TrainerConfig.from_dict({"throughput": {"profile": "laptop_6gb"}})
    sft = planned(config, H200, free_gb=140).sft
    assert (
        sft["per_device_train_batch_size"],
        sft["gradient_accumulation_steps"],
        sft["activation_checkpointing"],
    ) == (
        1,
        8,
        True,
    )


def test_as_configured_changes_nothing() -> None:
    config = TrainerConfig.from_dict(
        {
            "throughput": {"profile": "as_configured"},
            "sft": {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 3},
        }
    )
    plan = plan_training(config, H200, checkpoint_dir=Path("/tmp/ckpt"), has_validation=True)
    before = dict(plan.sft)
    assert fit_plan(plan, config, None, ROWS_2048, free_bytes=140 * GB).sft == before


def test_an_old_checkpointing_name_cannot_contradict_the_fit() -> None:
    config = TrainerConfig.from_dict({"sft": {"gradient_checkpointing": True}})
    sft = planned(config, H200, free_gb=140).sft
    assert sft["activation_checkpointing"] is False and "gradient_checkpointing" not in sft


def test_a_fit_that_cannot_fit_is_a_note() -> None:
    plan = planned(TrainerConfig.default(), H200, free_gb=1.5)
    assert any("lower sft.max_length" in note for note in plan.notes)


def test_attention_is_sdpa_unless_named() -> None:
    assert (
        plan_training(
            TrainerConfig.default(), CPU, checkpoint_dir=Path("x"), has_validation=True
        ).attn_implementation
        == "sdpa"
    )
    named = TrainerConfig.from_dict({"model": {"attn_implementation": "eager"}})
    assert (
        plan_training(named, CPU, checkpoint_dir=Path("x"), has_validation=True).attn_implementation
        == "eager"
    )


def test_liger_on_cpu_is_a_note_not_a_crash() -> None:
    config = TrainerConfig.from_dict({"throughput": {"liger": True}})
    plan = plan_training(config, CPU, checkpoint_dir=Path("x"), has_validation=True)
    assert "use_liger_kernel" not in plan.sft and any("Liger" in n for n in plan.notes)
