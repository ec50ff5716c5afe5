"""``callforge tiny-model``: build the tiny test model and tokenizer, to try the model side without a hub.

    callforge tiny-model --out data/tiny
    callforge tiny-model --out data/tiny --dataset data/runs/x/dataset   # tokenizer fitted to your records
    callforge train --dataset data/runs/x/dataset --base-model data/tiny --out data/runs/x/tiny-run --set mode=full

A random-weight Qwen2-architecture model (~0.3 M parameters, a byte-level BPE tokenizer, Qwen2.5's chat
template with training markers) built in seconds on a CPU: train -> serve -> evaluate all run on it.
Its answers mean nothing until trained, and LoRA on random weights learns little: use ``mode=full``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tiny-model",
        help="build the tiny test model + tokenizer (what tests and smoke runs use) into a directory",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--out", required=True, type=Path, help="output directory (replaced atomically)")
    parser.add_argument(
        "--dataset",
        type=Path,
        default=None,
        help="assembled dataset: train the tokenizer on its rendered records too (fewer tokens per call)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vocab-size", type=int, default=1024)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from schemas.errors import ConfigError
    from trainer.tiny import build_tiny_model

    if not 300 <= args.vocab_size <= 65536:
        raise ConfigError(
            f"--vocab-size {args.vocab_size}: expected 300-65536 (bytes + special tokens at least)"
        )
    corpus: list[str] = []
    if args.dataset is not None:
        from trainer.trainset import load_training_splits, locate_dataset_dict

        train = load_training_splits(locate_dataset_dict(args.dataset))["train"]
        corpus = [json.dumps(train[i], ensure_ascii=False) for i in range(min(len(train), 2000))]
    out = build_tiny_model(args.out, corpus=corpus, seed=args.seed, vocab_size=args.vocab_size)
    print(f"tiny model: {out}")
    return 0
