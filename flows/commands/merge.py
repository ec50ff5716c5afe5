"""``callforge merge``: fold a LoRA adapter into its base model and save the merged model.

callforge merge --base-model Qwen/Qwen2.5-1.5B-Instruct --adapter data/runs/gennx/model/adapter --out merged/
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "merge",
        help="merge a LoRA adapter into its base model (safetensors + tokenizer)",
        description="Load BASE unquantised, apply ADAPTER, merge_and_unload, and save the result to OUT.",
    )
    parser.add_argument(
        "--base-model", default=None, help="hub id or local directory (default: the base the adapter records)"
    )
    parser.add_argument("--adapter", required=True, type=Path, help="adapter directory (train's OUT/adapter)")
    parser.add_argument("--out", required=True, type=Path, help="output directory (replaced atomically)")
    parser.add_argument(
        "--dtype",
        default="auto",
        choices=["auto", "bfloat16", "float16", "float32"],
        help="merged weights' dtype",
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--trust-remote-code", action="store_true", help="run code shipped with the model")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trainer.merge import merge_adapter

    out = merge_adapter(
        args.base_model,
        args.adapter,
        args.out,
        dtype=args.dtype,
        device=args.device,
        trust_remote_code=args.trust_remote_code,
    )
    print(f"merged model: {out}")
    return 0
