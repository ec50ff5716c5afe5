"""What schema-constrained decoding costs, against plain decoding and against a naive token walk.

    .venv/bin/python benchmarks/constrained_decoding.py               # vocabulary 150,000, 24 replies
    .venv/bin/python benchmarks/constrained_decoding.py --vocabulary 50000 --replies 48

1. Token masks inside a JSON string, where nearly the whole vocabulary is allowed: the vocabulary's
   array fast path (``Vocabulary.walk``) against walking the full token trie alongside the grammar
   (the general path), on a synthetic Qwen-sized vocabulary. Both must allow the same tokens.
2. Generation with the tiny local model (built on the spot, CPU, one thread): the logits processor's
   CPU time per batch step (cold caches, then warm), against the time of a plain forward step of the
   same model on the same prompts. The tiny model's forward pass is nearly free, so this ratio is the
   masking overhead at its most visible; with a real model the forward pass dominates.
CPU seconds are printed beside wall seconds: on a shared machine, wall time moves with the load.
"""

from __future__ import annotations

import argparse
import os
import random
import string
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer.evaluation.call_grammar import Grammar  # noqa: E402
from trainer.evaluation.constrained import ConstrainedDecoder, Vocabulary, walk_trie  # noqa: E402

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
            "required": ["city"],
        },
    },
}


def timed(fn):  # -> (result, wall s, cpu s)
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def synthetic_vocabulary(size: int) -> dict[int, str]:
    """Words with and without a leading space, digits, JSON punctuation: the mix of a BPE vocabulary."""
    rng = random.Random(0)
    texts = {i: chr(c) for i, c in enumerate(range(32, 127))}
    seen = set(texts.values())
    punctuation = ['"', '",', '"}', '": ', "{", "}", "[", "]", ", ", "\n", ".", "-", "_"]
    while len(texts) < size:
        word = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(1, 9)))
        roll = rng.random()
        text = " " + word if roll < 0.4 else word + rng.choice(punctuation) if roll < 0.5 else word
        if text not in seen:
            seen.add(text)
            texts[len(texts)] = text
    return texts


def mask_benchmark(size: int) -> None:
    vocabulary, build_s, _ = timed(lambda: Vocabulary(synthetic_vocabulary(size), eos_ids=[size]))
    grammar = Grammar([WEATHER])
    state = grammar.feed(grammar.start(), '<tool_call>\n{"name": "get_weather", "arguments": {"city": "')
    (fast_ids, _), fast_s, fast_cpu = timed(lambda: vocabulary.walk(grammar, state))
    (full_ids, _), full_s, full_cpu = timed(lambda: walk_trie(vocabulary.trie, grammar, state).every())
    assert sorted(fast_ids.tolist()) == sorted(full_ids.tolist()), "fast and full walks disagree"
    print(f"vocabulary:            {size:,} tokens (tries and arrays built in {build_s:.1f} s)")
    print(
        f"mask in a string:      fast {fast_s * 1000:8.1f} ms wall {fast_cpu * 1000:8.1f} ms cpu  "
        f"({len(fast_ids):,} allowed)"
    )
    print(f"baseline (full walk):       {full_s * 1000:8.1f} ms wall {full_cpu * 1000:8.1f} ms cpu")
    print(f"speed-up:              {full_cpu / max(fast_cpu, 1e-9):.0f}x (cpu)")
    parts = vocabulary.options(grammar, state)  # what the processor caches per state
    _, step_s, step_cpu = timed(lambda: [[part.allowed(40) for part in parts] for _ in range(100)])
    print(f"mask, state cached:    {step_s * 10:8.2f} ms wall {step_cpu * 10:8.2f} ms cpu per step")


def generation_benchmark(replies: int, max_new_tokens: int) -> None:
    import torch

    from trainer.evaluation import constrained
    from trainer.inference import LocalModel
    from trainer.tiny import build_tiny_model

    torch.set_num_threads(1)  # the tiny model's matrices gain nothing from more threads
    with tempfile.TemporaryDirectory() as tmp:
        model = LocalModel.load(build_tiny_model(Path(tmp) / "tiny"), device="cpu")
    cities = ["Paris", "Oslo", "Lima", "Seoul", "Quito", "Rome"]
    conversations = [
        [{"role": "user", "content": f"Weather in {cities[i % len(cities)]}?"}] for i in range(replies)
    ]
    batches = [
        (conversations[i : i + 8], [[WEATHER]] * len(conversations[i : i + 8])) for i in range(0, replies, 8)
    ]

    def plain() -> int:  # exactly max_new_tokens steps per batch: the forward pass alone
        steps = 0
        for messages, tools in batches:
            prompts = [model.render(m, t) for m, t in zip(messages, tools, strict=True)]
            encoded = model.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.inference_mode():
                model.model.generate(
                    **encoded,
                    max_new_tokens=max_new_tokens,
                    min_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=model.tokenizer.pad_token_id,
                )
            steps += max_new_tokens
        return steps

    masking = {"s": 0.0, "steps": 0}
    original = constrained.ToolCallLogitsProcessor.__call__

    def timed_call(self, input_ids, scores):  # the processor's own time, step by step
        started = time.process_time()
        try:
            return original(self, input_ids, scores)
        finally:
            masking["s"] += time.process_time() - started
            masking["steps"] += 1

    constrained.ToolCallLogitsProcessor.__call__ = timed_call
    decoder = ConstrainedDecoder(model)

    def run_constrained() -> None:
        for messages, tools in batches:
            decoder.generate(messages, tools, max_new_tokens=max_new_tokens)

    plain_steps, _, plain_cpu = timed(plain)
    _, cold_s, cold_cpu = timed(run_constrained)
    cold = dict(masking)
    masking.update(s=0.0, steps=0)
    _, warm_s, warm_cpu = timed(run_constrained)
    constrained.ToolCallLogitsProcessor.__call__ = original
    step_ms = plain_cpu / plain_steps * 1000
    print(
        f"replies:               {replies} in batches of 8, up to {max_new_tokens} new tokens, tiny model on CPU"
    )
    print(f"forward step (plain):  {step_ms:7.2f} ms cpu per batch step")
    for name, stats, wall, cpu in (("cold", cold, cold_s, cold_cpu), ("warm", masking, warm_s, warm_cpu)):
        mask_ms = stats["s"] / max(stats["steps"], 1) * 1000
        print(
            f"masking, {name}:         {mask_ms:7.2f} ms cpu per batch step ({stats['steps']} steps; "
            f"{wall:.2f} s wall, {cpu:.2f} s cpu in all)"
        )
    warm_ms = masking["s"] / max(masking["steps"], 1) * 1000
    print(
        f"masking / forward:     {warm_ms / step_ms:.2f}x warm (a real model's forward step is 10-100x the tiny one's)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocabulary", type=int, default=150_000, help="synthetic vocabulary size")
    parser.add_argument("--replies", type=int, default=24)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()
    mask_benchmark(args.vocabulary)
    generation_benchmark(args.replies, args.max_new_tokens)


if __name__ == "__main__":
    main()
