"""Fitting the batch to the GPU: micro-batch, accumulation and checkpointing from memory and data.

    shape = ModelShape.from_config(AutoConfig.from_pretrained(base))
    fit = fit_batch(shape, "qlora", lengths, effective_batch=8, budget_bytes=free * 0.92, padding_free=True)
    fit.micro_batch, fit.accumulation, fit.checkpointing, fit.estimate_bytes, fit.reason

The effective batch (micro-batch x accumulation) is the config's and never changes, so the optimisation
is the same and the loss curve with it; only how many records go through the GPU at once does. Every
micro-batch that divides the effective batch is tried with and without gradient checkpointing, kept if
its *worst* batch fits (the micro-batch's longest records together, from the data's real lengths), and
the one with the highest expected throughput wins: more tokens per step up to where the GPU is busy
(``SATURATION_TOKENS``), and checkpointing (~30 % slower: every layer runs forward twice) only when
needed.

The memory model, calibrated on the measurements of the shipped recipe (Qwen2.5-1.5B QLoRA, rows of
2,048 tokens, H200, README): weights (4-bit linear layers with their constants, 16-bit embeddings),
the adapter's fp32 weights, gradients and AdamW state (or the whole model's for a full fine-tune), and
per token: ``(20 h + 6 i) x 2`` bytes of saved activations per layer (the attention's and the MLP's
inputs and intermediates; with checkpointing only one layer's plus ``2 h`` per layer), plus 16-bit
logits (``2 V``). It predicts 2.3 GB / 9.8 GB / 78 GB for the measured 2.6 GB / 9.4 GB / 82 GB.
It is an estimate: the budget keeps a margin, and the chosen plan is written to config.yaml.

Profiles (``throughput.profile``): ``auto`` fits as above on CUDA; ``laptop_6gb`` is the GEN NX seed's
recipe (micro-batch 1, accumulation = the effective batch, checkpointing) checked against 6 GB;
``as_configured`` leaves ``sft`` exactly as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

GB = 1024**3
LAPTOP_BUDGET = 6 * GB
SATURATION_TOKENS = 16_384  # tokens per micro-batch beyond which a large GPU gains little (measured 8 x 2048)
CHECKPOINTING_SLOWDOWN = 1.3  # recomputing each layer's forward in the backward pass
FREE_MEMORY_SHARE = 0.92  # of the free memory at start: the allocator's fragmentation and the CUDA workspace
FIXED_RESERVE = int(0.75 * GB)  # kernels, cuBLAS workspace, the loss's temporaries


@dataclass(frozen=True)
class ModelShape:
    """What the memory model needs of an architecture (a transformers config)."""

    hidden: int
    intermediate: int
    layers: int
    vocab: int
    heads: int
    kv_heads: int
    tied_embeddings: bool

    @classmethod
    def from_config(cls, config: Any) -> ModelShape:
        text = config.get_text_config() if hasattr(config, "get_text_config") else config
        heads = int(text.num_attention_heads)
        return cls(
            hidden=int(text.hidden_size),
            intermediate=int(getattr(text, "intermediate_size", 4 * text.hidden_size)),
            layers=int(text.num_hidden_layers),
            vocab=int(text.vocab_size),
            heads=heads,
            kv_heads=int(getattr(text, "num_key_value_heads", None) or heads),
            tied_embeddings=bool(getattr(text, "tie_word_embeddings", False)),
        )

    @property
    def linear_params(self) -> int:
        h, kv = self.hidden, self.hidden * self.kv_heads // self.heads
        return self.layers * (2 * h * h + 2 * h * kv + 3 * h * self.intermediate)

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    def lora_params(self, rank: int) -> int:
        """Adapter parameters with LoRA on every linear layer of the blocks (``all-linear``)."""
        h, i, kv = self.hidden, self.intermediate, self.hidden * self.kv_heads // self.heads
        per_layer = rank * ((h + h) * 2 + (h + kv) * 2 + (h + i) * 3)
        return self.layers * per_layer


@dataclass(frozen=True)
class BatchFit:
    micro_batch: int
    accumulation: int
    checkpointing: bool
    estimate_bytes: int
    budget_bytes: int
    worst_tokens: int  # tokens in the largest micro-batch the data can form
    fits: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["estimate_gb"] = round(self.estimate_bytes / GB, 2)
        out["budget_gb"] = round(self.budget_bytes / GB, 2)
        return out


def static_bytes(shape: ModelShape, mode: str, *, lora_rank: int = 8, optimizer_bytes: int = 2) -> int:
    """Weights plus what training keeps per trainable parameter (gradient and optimizer state)."""
    embeddings = shape.embedding_params * 2  # 16-bit, never quantised
    if mode == "qlora":
        weights = int(shape.linear_params * 0.5 * 1.07) + embeddings  # NF4 + (double-quantised) constants
    else:
        weights = shape.linear_params * 2 + embeddings
    if mode == "full":
        trainable = shape.linear_params + shape.embedding_params
        return weights + trainable * (2 + optimizer_bytes)  # 16-bit gradients + optimizer state
    return weights + shape.lora_params(lora_rank) * 16  # fp32 weight, gradient, two AdamW moments


def activation_bytes(shape: ModelShape, tokens: int, *, checkpointing: bool) -> int:
    per_layer = (20 * shape.hidden + 6 * shape.intermediate) * 2
    logits = 2 * shape.vocab
    if checkpointing:
        per_token = shape.layers * 2 * shape.hidden + per_layer + logits
    else:
        per_token = shape.layers * per_layer + logits
    return tokens * per_token


def worst_tokens(lengths: Sequence[int], micro_batch: int, *, padding_free: bool) -> int:
    """Tokens of the largest micro-batch: the longest rows together, or padded to the longest."""
    ordered = sorted(lengths, reverse=True)
    if padding_free:
        return sum(ordered[:micro_batch])
    return micro_batch * (ordered[0] if ordered else 0)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def fit_batch(
    shape: ModelShape,
    mode: str,
    lengths: Sequence[int],
    *,
    effective_batch: int,
    budget_bytes: int,
    padding_free: bool,
    lora_rank: int = 8,
    optimizer_bytes: int = 2,
) -> BatchFit:
    """The fastest (micro-batch, checkpointing) whose worst batch fits ``budget_bytes``; see the module doc."""
    if not lengths:
        raise ValueError("fit_batch needs the token length of at least one training row")
    base = static_bytes(shape, mode, lora_rank=lora_rank, optimizer_bytes=optimizer_bytes)
    mean = sum(lengths) / len(lengths)
    best: tuple[float, int, BatchFit] | None = None
    for micro in _divisors(effective_batch):
        for checkpointing in (False, True):
            tokens = worst_tokens(lengths, micro, padding_free=padding_free)
            estimate = base + activation_bytes(shape, tokens, checkpointing=checkpointing)
            if estimate > budget_bytes:
                continue
            speed = min(micro * mean, SATURATION_TOKENS) / (CHECKPOINTING_SLOWDOWN if checkpointing else 1.0)
            fit = BatchFit(
                micro,
                effective_batch // micro,
                checkpointing,
                estimate,
                budget_bytes,
                tokens,
                True,
                f"micro-batch {micro} x {effective_batch // micro} accumulation"
                f"{' with' if checkpointing else ' without'} gradient checkpointing: worst batch "
                f"{tokens:,} tokens, ~{estimate / GB:.1f} GB of {budget_bytes / GB:.1f} GB",
            )
            # Faster first; at equal speed the one that leaves more memory free.
            if best is None or (speed, -estimate) > (best[0], best[1]):
                best = (speed, -estimate, fit)
    if best is not None:
        return best[2]
    tokens = worst_tokens(lengths, 1, padding_free=padding_free)
    estimate = base + activation_bytes(shape, tokens, checkpointing=True)
    return BatchFit(
        1,
        effective_batch,
        True,
        estimate,
        budget_bytes,
        tokens,
        False,
        f"even micro-batch 1 with checkpointing needs ~{estimate / GB:.1f} GB for its longest row "
        f"({tokens:,} tokens) of {budget_bytes / GB:.1f} GB: lower sft.max_length, use mode qlora, "
        "or a smaller model",
    )


def laptop_fit(
    shape: ModelShape,
    mode: str,
    lengths: Sequence[int],
    *,
    effective_batch: int,
    lora_rank: int = 8,
    optimizer_bytes: int = 2,
) -> BatchFit:
    """The seed's 6 GB recipe: one record at a time, checkpointing, accumulation = the effective batch."""
    tokens = max(lengths) if lengths else 0
    estimate = static_bytes(shape, mode, lora_rank=lora_rank, optimizer_bytes=optimizer_bytes)
    estimate += activation_bytes(shape, tokens, checkpointing=True)
    fits = estimate <= LAPTOP_BUDGET
    reason = (
        f"laptop_6gb: micro-batch 1 x {effective_batch} accumulation with gradient checkpointing, "
        f"~{estimate / GB:.1f} GB for the longest row ({tokens:,} tokens)"
    )
    if not fits:
        reason += " — over 6 GB: lower sft.max_length or offer fewer tools per sample"
    return BatchFit(1, effective_batch, True, estimate, LAPTOP_BUDGET, tokens, fits, reason)


def budget_from_free(free_bytes: int) -> int:
    return max(int(free_bytes * FREE_MEMORY_SHARE) - FIXED_RESERVE, 0)
