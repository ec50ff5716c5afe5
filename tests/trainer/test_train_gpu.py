"""QLoRA on CUDA with the tiny model: 4-bit NF4 base, bf16/fp16 compute, paged 8-bit AdamW. Skipped without CUDA."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch sees none)"),
]


def test_qlora_trains_on_cuda(tiny_model: Path, small_dataset: Path, tmp_path: Path, quick_config) -> None:
    from trainer.train import train

    config = quick_config(
        mode="qlora", sft={"max_steps": 2, "optim": "paged_adamw_8bit", "activation_checkpointing": True}
    )
    result = train(small_dataset, str(tiny_model), config, tmp_path / "out")
    assert (result.mode, result.global_step) == ("qlora", 2)
    assert result.device != "cpu" and Path(result.adapter_path, "adapter_model.safetensors").is_file()


def test_qlora_base_layers_are_4bit_on_cuda(tiny_model: Path, quick_config) -> None:
    import bitsandbytes as bnb

    from trainer.loading import detect_device
    from trainer.plan import plan_training
    from trainer.train import _prepare_model

    config = quick_config(mode="qlora")
    plan = plan_training(config, detect_device("cuda"), checkpoint_dir=Path("unused"), has_validation=True)
    model = _prepare_model(str(tiny_model), config, plan)
    layer = model.get_base_model().model.layers[0].mlp.down_proj.base_layer
    assert isinstance(layer, bnb.nn.Linear4bit) and layer.weight.device.type == "cuda"
    assert plan.compute_dtype in ("bfloat16", "float16") and plan.sft["optim"] == "paged_adamw_8bit"


def test_the_batch_is_fitted_to_the_gpu(
    tiny_model: Path, small_dataset: Path, tmp_path: Path, quick_config
) -> None:
    """The default profile on CUDA: the fit runs, keeps the effective batch, and is recorded."""
    import yaml

    from trainer.train import train

    config = quick_config(
        mode="qlora", sft={"max_steps": 2, "per_device_train_batch_size": 1, "gradient_accumulation_steps": 4}
    )
    result = train(small_dataset, str(tiny_model), config, tmp_path / "out")
    fit = yaml.safe_load(Path(result.config_path).read_text())["resolved"]["fit"]
    assert fit["micro_batch"] * fit["accumulation"] == 4 and fit["fits"]
    assert result.batch and "GB of" in result.batch
