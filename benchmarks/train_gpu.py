"""GPU memory and speed of the training recipe: QLoRA beside plain bf16 LoRA and full fine-tuning.

    .venv/bin/python benchmarks/train_gpu.py                                  # random 2048-token rows
    .venv/bin/python benchmarks/train_gpu.py --dataset data/runs/gennx/dataset  # our GEN NX training data
    .venv/bin/python benchmarks/train_gpu.py --smoke                          # tiny model, runs on CPU too

A model with Qwen2.5-1.5B's architecture (the values below, written out: no hub) is built with random
weights and saved once; then each variant trains in its own child process (so one's memory cannot
leak into another's peak) through the real pipeline: ``trainer.plan`` + ``trainer.train._prepare_model``
+ TRL's ``SFTTrainer`` with the default recipe (batch 1 x 8 accumulation, max length 2048, gradient
checkpointing, paged 8-bit AdamW). Variants: ``qlora`` (4-bit NF4, double quantisation, bf16 compute),
``lora`` (bf16 weights, the baseline the ratios are against) and ``full`` (every weight; reported as
OOM if it does not fit). Rows are exactly 2048 tokens: GEN NX records rendered through the chat
template and packed (``--dataset``; tokenised with a tokenizer trained on the spot, so token counts
differ from Qwen's own but every row is full length), or random token ids.

Reported per variant: peak GPU memory (allocated by tensors, and reserved by the caching allocator,
which is what ``nvidia-smi`` shows minus the CUDA context), tokens per second over the optimizer
steps after the first, and model FLOPs utilisation = 6 * N * tokens/s / peak dense bf16 FLOP/s of
the device (N = all parameters; recomputation by checkpointing is not counted, and LoRA skips the
frozen weights' gradients, so MFU by this convention understates LoRA's hardware use). Target for
QLoRA: <= 6 GB. Without CUDA the script says so and exits 0 having measured nothing (``--smoke`` runs
the same code on a tiny model on CPU, to check the script itself; its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Qwen2.5-1.5B(-Instruct)'s config.json, written out so nothing is fetched.
QWEN2_5_1_5B: dict[str, Any] = {
    "hidden_size": 1536,
    "intermediate_size": 8960,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "tie_word_embeddings": True,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0},
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "hidden_act": "silu",
}
SMOKE: dict[str, Any] = {
    **QWEN2_5_1_5B,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "vocab_size": 2048,
}

# Peak dense (no sparsity) bf16 tensor throughput, TFLOP/s, from the vendors' data sheets. fp16 for
# GPUs without bf16 (V100, T4). Matched by substring of torch.cuda.get_device_name(), first match wins.
PEAK_BF16_TFLOPS: list[tuple[str, float]] = [
    ("GB200", 2500.0),
    ("B200", 2250.0),
    ("H200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),  # SXM
    ("H800", 989.0),
    ("GH200", 989.0),
    ("A100", 312.0),
    ("A800", 312.0),
    ("L40S", 362.0),
    ("L40", 181.0),
    ("L4", 121.0),
    ("A10G", 70.0),
    ("A10", 125.0),
    ("A6000", 155.0),
    ("RTX 4090", 165.0),
    ("RTX 3090", 71.0),
    ("V100", 125.0),
    ("T4", 65.0),
]
VARIANTS = ("qlora", "lora", "full")
BASELINE = "lora"


def peak_tflops(device_name: str) -> float | None:
    for key, value in PEAK_BF16_TFLOPS:
        if key in device_name:
            return value
    return None


# ------------------------------------------------------------------------------------------- parent


def build_model(directory: Path, architecture: dict[str, Any], device: str) -> int:
    """Save a random-weight Qwen2 model (bf16 safetensors) with a small tokenizer; return its parameter count."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from trainer.tiny import build_tiny_model

    build_tiny_model(directory / "tokenizer-source")  # only its tokenizer is used (pad/eos ids)
    config = Qwen2Config(**architecture, bos_token_id=None, eos_token_id=2, pad_token_id=0)
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM._from_config(
            config, dtype=torch.bfloat16 if device == "cuda" else torch.float32
        )
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(directory / "model", safe_serialization=True)
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(directory / "tokenizer-source").save_pretrained(directory / "model")
    del model
    return params


def token_rows(args: argparse.Namespace, directory: Path, vocab_size: int, rows: int) -> list[list[int]]:
    """``rows`` sequences of exactly ``args.max_length`` tokens: packed dataset records, or random ids."""
    import random

    length = args.max_length
    if args.dataset is None:
        rng = random.Random(0)
        return [[rng.randrange(3, vocab_size) for _ in range(length)] for _ in range(rows)]
    from transformers import AutoTokenizer

    from trainer.tiny import build_tiny_model
    from trainer.trainset import load_training_splits, locate_dataset_dict

    train = load_training_splits(locate_dataset_dict(args.dataset))["train"]
    records = [train[i] for i in range(min(len(train), 5000))]
    corpus = [json.dumps(r, ensure_ascii=False) for r in records[:2000]]
    tokenizer = AutoTokenizer.from_pretrained(
        build_tiny_model(directory / "data-tokenizer", corpus=corpus, vocab_size=min(8192, vocab_size))
    )
    stream: list[int] = []
    for record in records:
        ids = tokenizer.apply_chat_template(record["messages"], tools=record["tools"] or None, tokenize=True)
        stream.extend(ids["input_ids"] if hasattr(ids, "keys") else ids)
        if len(stream) >= rows * length:
            break
    while len(stream) < rows * length:  # a small dataset is cycled
        stream.extend(stream[: rows * length - len(stream)])
    return [stream[i * length : (i + 1) * length] for i in range(rows)]


def run_child(variant: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    out = workdir / f"{variant}.json"
    command = [
        sys.executable,
        __file__,
        "--child",
        variant,
        "--workdir",
        str(workdir),
        "--steps",
        str(args.steps),
    ]
    command += ["--max-length", str(args.max_length)] + (["--smoke"] if args.smoke else [])
    started = time.monotonic()
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.exists():
        return json.loads(out.read_text())
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    oom = "out of memory" in (proc.stderr or "").lower()
    return {
        "variant": variant,
        "error": "OOM" if oom else " | ".join(tail),
        "wall_s": time.monotonic() - started,
    }


def report(results: list[dict[str, Any]], params: int, device_name: str, peak: float | None) -> None:
    print(
        f"\ndevice: {device_name}; model: {params / 1e6:,.1f} M parameters; peak bf16: "
        f"{f'{peak:.0f} TFLOP/s' if peak else 'unknown (pass --peak-tflops)'}"
    )
    print(
        f"{'variant':8} {'peak alloc GB':>13} {'peak reserved GB':>16} {'tokens/s':>10} {'MFU':>7} "
        f"{'tok/s vs lora':>13} {'mem vs lora':>11}"
    )
    base = next((r for r in results if r["variant"] == BASELINE and "error" not in r), None)
    for r in results:
        if "error" in r:
            print(f"{r['variant']:8} {'-':>13} {'-':>16} {'-':>10} {'-':>7}  failed: {r['error']}")
            continue
        mfu = 6 * params * r["tokens_per_s"] / (peak * 1e12) if peak else None
        speed = f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}x" if base else "-"
        memory = (
            f"{r['peak_reserved_gb'] / base['peak_reserved_gb']:.2f}x"
            if base and base["peak_reserved_gb"]
            else "-"
        )
        print(
            f"{r['variant']:8} {r['peak_allocated_gb']:13.2f} {r['peak_reserved_gb']:16.2f} "
            f"{r['tokens_per_s']:10.0f} {f'{mfu:.1%}' if mfu is not None else 'n/a':>7} {speed:>13} {memory:>11}"
        )
    qlora = next((r for r in results if r["variant"] == "qlora" and "error" not in r), None)
    if qlora and device_name != "cpu":
        verdict = "meets" if qlora["peak_reserved_gb"] <= 6.0 else "MISSES"
        print(
            f"QLoRA peak reserved {qlora['peak_reserved_gb']:.2f} GB {verdict} the 6 GB target "
            f"(+ ~0.5 GB CUDA context in nvidia-smi)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--dataset", type=Path, default=None, help="dataset dir (DatasetDict inside); default: random ids"
    )
    parser.add_argument(
        "--steps", type=int, default=6, help="optimizer steps per variant (the first is warm-up)"
    )
    parser.add_argument("--max-length", type=int, default=2048)
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated subset of qlora,lora,full"
    )
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="device peak bf16 TFLOP/s (default: table)"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny architecture; allowed on CPU; numbers meaningless"
    )
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    import torch

    if not torch.cuda.is_available() and not args.smoke:
        print(
            "train_gpu: no CUDA device (torch sees none), so nothing was measured. Run it on a machine with an "
            "NVIDIA GPU and a CUDA build of torch; --smoke checks the script on CPU with a tiny model."
        )
        return 0
    device = "cuda" if torch.cuda.is_available() else "cpu"
    device_name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    architecture = SMOKE if args.smoke else QWEN2_5_1_5B
    with tempfile.TemporaryDirectory(prefix="callforge-train-gpu-") as tmp:
        workdir = Path(tmp)
        started = time.monotonic()
        params = build_model(workdir, architecture, device)
        rows = token_rows(args, workdir, architecture["vocab_size"], rows=args.steps * 8)
        (workdir / "rows.json").write_text(json.dumps(rows))
        print(
            f"built a {params / 1e6:,.1f} M-parameter model and {len(rows)} rows of {args.max_length} tokens "
            f"in {time.monotonic() - started:.0f}s"
        )
        results = []
        for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
            result = run_child(variant, args, workdir)
            print(f"  {variant}: {json.dumps(result)}", flush=True)
            results.append(result)
    report(
        results,
        params,
        device_name,
        args.peak_tflops or (peak_tflops(device_name) if device == "cuda" else None),
    )
    return 0


# -------------------------------------------------------------------------------------------- child


def _peak_rss_gib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def child(args: argparse.Namespace) -> int:
    """Train one variant for ``args.steps`` optimizer steps and write its measurements as JSON."""
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from trainer.config import TrainerConfig
    from trainer.loading import detect_device
    from trainer.plan import plan_training
    from trainer.train import _prepare_model

    workdir: Path = args.workdir
    rows = json.loads((workdir / "rows.json").read_text())
    sft = {
        "max_steps": args.steps,
        "max_length": args.max_length,
        "assistant_only_loss": False,  # rows are pre-tokenised ids; the loss covers every token
        "save_strategy": "no",
        "eval_strategy": "no",
        "logging_steps": 1,
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
    }
    config = TrainerConfig.model_validate(
        {
            "mode": args.child,
            "early_stopping_patience": None,
            "quantization": {"on_cpu": args.smoke},
            "sft": sft,
        }
    )
    device = detect_device()
    plan = plan_training(config, device, checkpoint_dir=workdir / f"ckpt-{args.child}", has_validation=False)
    model_dir = str(workdir / "model")
    model = _prepare_model(model_dir, config, plan)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.start = 0.0

        def _sync(self) -> None:
            if device.kind == "cuda":
                torch.cuda.synchronize()

        def on_step_begin(self, *a: Any, **k: Any) -> None:
            self._sync()
            self.start = time.perf_counter()

        def on_step_end(self, *a: Any, **k: Any) -> None:
            self._sync()
            self.times.append(time.perf_counter() - self.start)

    timer = StepTimer()
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(**plan.sft),
        train_dataset=Dataset.from_dict({"input_ids": rows}),
        processing_class=tokenizer,
        callbacks=[timer],
    )
    if device.kind == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    tokens_per_step = (
        plan.sft["per_device_train_batch_size"] * plan.sft["gradient_accumulation_steps"] * args.max_length
    )
    timed = timer.times[1:] or timer.times  # the first step pays for allocation and kernel selection
    gib = 1024**3
    result = {
        "variant": args.child,
        "mode": plan.mode,
        "quantize": plan.quantize,
        "steps": len(timer.times),
        "tokens_per_step": tokens_per_step,
        "tokens_per_s": tokens_per_step * len(timed) / sum(timed),
        "step_s": sum(timed) / len(timed),
        # On CPU (--smoke) both columns hold the child's peak resident set instead.
        "peak_allocated_gb": torch.cuda.max_memory_allocated() / gib
        if device.kind == "cuda"
        else _peak_rss_gib(),
        "peak_reserved_gb": torch.cuda.max_memory_reserved() / gib
        if device.kind == "cuda"
        else _peak_rss_gib(),
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "final_loss": next((e["loss"] for e in reversed(trainer.state.log_history) if "loss" in e), None),
    }
    (workdir / f"{args.child}.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
