"""GPU memory and speed of training: the fitted recipe against stock TRL QLoRA and the seed's 6 GB recipe.

    .venv/bin/python benchmarks/train_gpu.py                                  # random 2048-token rows
    .venv/bin/python benchmarks/train_gpu.py --dataset data/runs/gennx/dataset  # our GEN NX training data
    .venv/bin/python benchmarks/train_gpu.py --smoke                          # tiny model, runs on CPU too

A model with Qwen2.5-1.5B's architecture (the values below, written out: no hub) is built with random
weights on the CPU and saved once (the parent process never touches the GPU); then each variant trains
in its own child process, with a timeout (``--child-timeout``), so one's memory cannot leak into
another's peak and a hung run cannot hang the benchmark. Variants, all at the same effective batch of 8
rows and the same rows:

* ``trl_qlora`` — the baseline: stock TRL + PEFT as documented (``SFTConfig`` defaults: batch 8 x 1,
  gradient checkpointing, bf16, fused AdamW; 4-bit NF4 with double quantisation and bf16 compute;
  ``LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear")``);
* ``shipped`` — the seed's 6 GB recipe through our pipeline (``throughput.profile: laptop_6gb``: batch
  1 x 8, checkpointing, paged 8-bit AdamW, 4-bit NF4);
* ``qlora`` — our default: the same QLoRA with the batch fitted to the GPU (``throughput.profile: auto``),
  padding-free rows, SDPA;
* ``lora`` (bf16 weights) and ``full`` (every weight; OOM is reported as such), fitted the same way.

Rows are exactly ``--max-length`` tokens: GEN NX records rendered through the chat template and packed
(``--dataset``; tokenised with a tokenizer trained on the spot, so token counts differ from Qwen's own
but every row is full length), or random token ids. The loss covers every token.

Reported per variant: peak GPU memory allocated by tensors and reserved by the caching allocator, and
the device memory in use (``cudaMemGetInfo``, sampled every 20 ms, minus what was in use before the
model loaded), which also counts the paged optimizer's *managed* memory that the allocator's
statistics miss; tokens per second over the optimizer steps after the first; model FLOPs utilisation
= 6 x N x tokens/s / peak dense bf16 FLOP/s (N = all parameters; recomputation is not counted, and
LoRA skips the frozen weights' gradients, so MFU by this convention understates LoRA's hardware use);
and the ratios against ``trl_qlora`` and ``shipped``. Goals: ``qlora`` >= 4x ``shipped``'s tokens/s;
``shipped`` <= 6 GB. Without CUDA the script says so and exits 0 having measured nothing (``--smoke``
runs the same code on a tiny model on CPU to check the script itself; its numbers mean nothing).
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
VARIANTS = ("trl_qlora", "shipped", "qlora", "lora", "full")
BASELINE = "trl_qlora"  # stock TRL QLoRA
SHIPPED = "shipped"  # the seed's 6 GB recipe
GIB = 1024**3


def peak_tflops(device_name: str) -> float | None:
    for key, value in PEAK_BF16_TFLOPS:
        if key in device_name:
            return value
    return None


# ------------------------------------------------------------------------------------------- parent


def build_model(directory: Path, architecture: dict[str, Any]) -> int:
    """Save a random-weight Qwen2 model (bf16 safetensors) with a small tokenizer; return its parameter count.

    Built on the CPU: the parent holds no GPU memory while the children measure theirs."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from trainer.tiny import build_tiny_model

    build_tiny_model(directory / "tokenizer-source")  # only its tokenizer is used (pad/eos ids)
    config = Qwen2Config(**architecture, bos_token_id=None, eos_token_id=2, pad_token_id=0)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM._from_config(config, dtype=torch.bfloat16)
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(directory / "model", safe_serialization=True)
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
    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=args.child_timeout
        )
    except subprocess.TimeoutExpired:
        return {
            "variant": variant,
            "error": f"timed out after {args.child_timeout:.0f}s",
            "wall_s": args.child_timeout,
        }
    if out.exists():
        return json.loads(out.read_text())
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    oom = "out of memory" in (proc.stderr or "").lower()
    return {
        "variant": variant,
        "error": "OOM" if oom else " | ".join(tail),
        "wall_s": time.monotonic() - started,
    }


def _ratio(value: float, base: dict[str, Any] | None, key: str) -> str:
    return f"{value / base[key]:.2f}x" if base and base.get(key) else "-"


def report(results: list[dict[str, Any]], params: int, peak: float | None) -> None:
    device_name = next((r["device"] for r in results if "device" in r), "unknown")
    print(
        f"\ndevice: {device_name}; model: {params / 1e6:,.1f} M parameters; peak bf16: "
        f"{f'{peak:.0f} TFLOP/s' if peak else 'unknown (pass --peak-tflops)'}"
    )
    print(
        f"{'variant':10} {'batch':>12} {'alloc GB':>8} {'reserved GB':>11} {'used GB':>8} {'tokens/s':>9} "
        f"{'MFU':>6} {'vs TRL':>7} {'vs shipped':>10} {'final loss':>10}"
    )
    ok = {r["variant"]: r for r in results if "error" not in r}
    base, shipped = ok.get(BASELINE), ok.get(SHIPPED)
    for r in results:
        if "error" in r:
            print(f"{r['variant']:10} failed: {r['error']}")
            continue
        mfu = 6 * params * r["tokens_per_s"] / (peak * 1e12) if peak else None
        batch = f"{r['micro_batch']}x{r['accumulation']}{'+ckpt' if r['checkpointing'] else ''}"
        loss = f"{r['final_loss']:.3f}" if r.get("final_loss") is not None else "-"
        print(
            f"{r['variant']:10} {batch:>12} {r['peak_allocated_gb']:8.2f} {r['peak_reserved_gb']:11.2f} "
            f"{r['device_used_gb']:8.2f} {r['tokens_per_s']:9.0f} {f'{mfu:.1%}' if mfu is not None else 'n/a':>6} "
            f"{_ratio(r['tokens_per_s'], base, 'tokens_per_s'):>7} {_ratio(r['tokens_per_s'], shipped, 'tokens_per_s'):>10} "
            f"{loss:>10}"
        )
    if device_name == "cpu":
        return
    if shipped:
        verdict = "meets" if shipped["device_used_gb"] <= 6.0 else "MISSES"
        print(
            f"shipped (laptop_6gb) uses {shipped['device_used_gb']:.2f} GB on the device: {verdict} the 6 GB target"
        )
    if shipped and "qlora" in ok:
        speedup = ok["qlora"]["tokens_per_s"] / shipped["tokens_per_s"]
        print(
            f"qlora (fitted) runs {speedup:.1f}x the shipped recipe's tokens/s: {'meets' if speedup >= 4 else 'MISSES'} the 4x goal"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--dataset", type=Path, default=None, help="dataset dir (DatasetDict inside); default: random ids"
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="optimizer steps per variant (the first is warm-up); 6, smoke 3",
    )
    parser.add_argument("--max-length", type=int, default=None, help="tokens per row; 2048, smoke 128")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {','.join(VARIANTS)}"
    )
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="device peak bf16 TFLOP/s (default: table)"
    )
    parser.add_argument(
        "--child-timeout", type=float, default=None, help="seconds per variant; 1200, smoke 300"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny architecture; allowed on CPU; numbers meaningless"
    )
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.steps = args.steps or (3 if args.smoke else 6)
    args.max_length = args.max_length or (128 if args.smoke else 2048)
    args.child_timeout = args.child_timeout or (300.0 if args.smoke else 1200.0)
    if args.child:
        return child(args)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"--variants: unknown {unknown}; expected a subset of {','.join(VARIANTS)}")

    import torch

    if not torch.cuda.is_available() and not args.smoke:
        print(
            "train_gpu: no CUDA device (torch sees none), so nothing was measured. Run it on a machine with an "
            "NVIDIA GPU and a CUDA build of torch; --smoke checks the script on CPU with a tiny model."
        )
        return 0
    architecture = SMOKE if args.smoke else QWEN2_5_1_5B
    with tempfile.TemporaryDirectory(prefix="callforge-train-gpu-") as tmp:
        workdir = Path(tmp)
        started = time.monotonic()
        params = build_model(workdir, architecture)
        rows = token_rows(args, workdir, architecture["vocab_size"], rows=args.steps * 8)
        (workdir / "rows.json").write_text(json.dumps(rows))
        print(
            f"built a {params / 1e6:,.1f} M-parameter model and {len(rows)} rows of {args.max_length} tokens "
            f"in {time.monotonic() - started:.0f}s (on the CPU)"
        )
        results = []
        for variant in variants:
            result = run_child(variant, args, workdir)
            print(f"  {variant}: {json.dumps(result)}", flush=True)
            results.append(result)
    device_name = next((r["device"] for r in results if "device" in r), "cpu")
    report(results, params, args.peak_tflops or (peak_tflops(device_name) if device_name != "cpu" else None))
    return 0


# -------------------------------------------------------------------------------------------- child


def _peak_rss_gib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


class DeviceMemory:
    """Peak device memory in use (cudaMemGetInfo), sampled on a thread: unlike the caching allocator's
    statistics it sees managed memory (the paged optimizer's state) resident on the GPU."""

    def __init__(self, interval_s: float = 0.02) -> None:
        import threading

        import torch

        self._torch, self.interval_s = torch, interval_s
        free, total = torch.cuda.mem_get_info()
        self.baseline = total - free
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            free, total = self._torch.cuda.mem_get_info()
            self.peak = max(self.peak, total - free)
            self._stop.wait(self.interval_s)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return (self.peak - self.baseline) / GIB


def _stock_trl(model_dir: str, args: argparse.Namespace, cuda: bool) -> tuple[Any, Any, Any]:
    """Stock TRL QLoRA as its docs show it: the model, SFTConfig defaults, and a LoraConfig for SFTTrainer."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig
    from trl import SFTConfig

    compute = torch.bfloat16 if cuda else torch.float32
    quantization = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute,
    )
    model = AutoModelForCausalLM.from_pretrained(
        model_dir,
        quantization_config=quantization,
        dtype=compute,
        device_map={"": 0} if cuda else {"": "cpu"},
    )
    peft = LoraConfig(
        r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    extra = {} if cuda else {"use_cpu": True, "bf16": False}
    config = SFTConfig(
        output_dir=str(args.workdir / "ckpt-trl"),
        max_steps=args.steps,
        max_length=args.max_length,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        **extra,
    )
    return model, config, peft


def _ours(
    variant: str, model_dir: str, args: argparse.Namespace, device: Any, rows: list[list[int]]
) -> tuple[Any, Any, Any, Any]:
    """Our pipeline: plan, fit to the device, the model as train() prepares it, TRL's config as train() builds it."""
    from transformers import AutoConfig

    from trainer.config import TrainerConfig
    from trainer.fitting import ModelShape
    from trainer.plan import fit_plan, plan_training
    from trainer.train import _prepare_model, _sft_config

    config = TrainerConfig.model_validate(
        {
            "mode": "qlora" if variant == SHIPPED else variant,
            "early_stopping_patience": None,
            "quantization": {"on_cpu": args.smoke},
            "throughput": {"profile": "laptop_6gb" if variant == SHIPPED else "auto"},
            "sft": {
                "max_steps": args.steps,
                "max_length": args.max_length,
                "assistant_only_loss": False,  # rows are token ids; the loss covers every token
                "save_strategy": "no",
                "eval_strategy": "no",
                "logging_steps": 1,
                "disable_tqdm": True,
                "dataloader_num_workers": 0,
            },
        }
    )
    plan = plan_training(
        config, device, checkpoint_dir=args.workdir / f"ckpt-{variant}", has_validation=False
    )
    free = None
    if device.kind == "cuda":
        import torch

        free = torch.cuda.mem_get_info()[0]
    shape = ModelShape.from_config(AutoConfig.from_pretrained(model_dir))
    fit_plan(plan, config, shape, [len(r) for r in rows], free_bytes=free)
    return _prepare_model(model_dir, config, plan), _sft_config(plan), None, plan


def child(args: argparse.Namespace) -> int:
    """Train one variant for ``args.steps`` optimizer steps and write its measurements as JSON."""
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from trl import SFTTrainer

    from trainer.loading import detect_device

    workdir: Path = args.workdir
    rows = json.loads((workdir / "rows.json").read_text())
    device = detect_device()
    cuda = device.kind == "cuda"
    meter = DeviceMemory() if cuda else None
    model_dir = str(workdir / "model")
    if args.child == BASELINE:
        model, sft_config, peft = _stock_trl(model_dir, args, cuda)
        dataset = Dataset.from_dict({"input_ids": rows})
    else:
        model, sft_config, peft, _ = _ours(args.child, model_dir, args, device, rows)
        dataset = Dataset.from_dict({"input_ids": rows, "labels": rows})
    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.start = 0.0

        def _sync(self) -> None:
            if cuda:
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
        args=sft_config,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[timer],
        peft_config=peft,
    )
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    micro, accumulation = sft_config.per_device_train_batch_size, sft_config.gradient_accumulation_steps
    tokens_per_step = micro * accumulation * args.max_length
    timed = timer.times[1:] or timer.times  # the first step pays for allocation and kernel selection
    result = {
        "variant": args.child,
        "device": device.name,
        "micro_batch": micro,
        "accumulation": accumulation,
        "checkpointing": bool(
            getattr(sft_config, "activation_checkpointing", sft_config.gradient_checkpointing)
        ),
        "steps": len(timer.times),
        "tokens_per_step": tokens_per_step,
        "tokens_per_s": tokens_per_step * len(timed) / sum(timed),
        "step_s": sum(timed) / len(timed),
        # On CPU (--smoke) the three memory columns hold the child's peak resident set instead.
        "peak_allocated_gb": torch.cuda.max_memory_allocated() / GIB if cuda else _peak_rss_gib(),
        "peak_reserved_gb": torch.cuda.max_memory_reserved() / GIB if cuda else _peak_rss_gib(),
        "device_used_gb": meter.stop() if meter else _peak_rss_gib(),
        "host_rss_gb": _peak_rss_gib(),
        "trainable_params": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        "final_loss": next((e["loss"] for e in reversed(trainer.state.log_history) if "loss" in e), None),
    }
    (workdir / f"{args.child}.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
