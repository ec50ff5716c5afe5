"""Running a (fine-tuned) model on conversations with tools, and reading the calls it makes.

    model = LocalModel.load("Qwen/Qwen2.5-1.5B-Instruct", adapter=Path("runs/x/model/adapter"))
    replies = model.generate([messages_a, messages_b], [tools_a, tools_b], max_new_tokens=256)
    parsed = [parse_tool_calls(r) for r in replies]          # ParsedReply(calls, content, error)

``messages`` are chat messages (``system`` / ``user`` …, no final assistant turn) and ``tools`` the
OpenAI-format schemas offered, exactly as in the TRL records; the model's own chat template renders
them (from the adapter's tokenizer when it has one: that is the template it was trained with).
Generation is batched with left padding and greedy unless ``temperature > 0``. The decoded text keeps
non-special tokens such as ``<tool_call>`` and drops special ones (``<|im_end|>``, padding).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.errors import ConfigError
from trainer.context import ContextBudget
from trainer.loading import (
    DeviceInfo,
    detect_device,
    load_model,
    load_tokenizer,
    match_vocabulary,
    tokenizer_source,
    torch_dtype,
    training_record,
)
from trainer.replies import ParsedReply, parse_tool_calls

__all__ = ["Generation", "LocalModel", "ParsedReply", "parse_tool_calls"]

PROMPT_FORMATS = ("template", "apigen_text")
Messages = list[dict[str, Any]]
ToolSchemas = list[dict[str, Any]] | None


@dataclass(frozen=True)
class Generation:
    """One reply with its token counts; ``stopped`` is False when ``max_new_tokens`` cut it off."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    stopped: bool


@dataclass
class LocalModel:
    """A causal LM and its tokenizer, ready to generate replies to tool-calling conversations."""

    model: Any
    tokenizer: Any
    device: DeviceInfo
    source: str
    # "template": tools through the chat template's ``tools`` (the TRL export); "apigen_text": tools in the
    # system prompt and calls as <tool_call>[...]</tool_call> text (the APIGen export, trainer.dataset.apigen_text).
    prompt_format: str = "template"

    @classmethod
    def load(
        cls,
        path_or_id: str | Path,
        *,
        adapter: Path | None = None,
        device: str = "auto",
        dtype: str = "auto",
        load_in_4bit: bool | None = None,
        trust_remote_code: bool = False,
        attn_implementation: str | None = None,
        prompt_format: str = "template",
    ) -> LocalModel:
        """Load a model (hub id or directory), optionally with a LoRA adapter directory on top.

        ``device``: auto (CUDA when available), cuda or cpu. ``dtype``: auto (bf16/fp16 on CUDA, fp32
        on CPU), bfloat16, float16 or float32. ``load_in_4bit`` loads the base in 4-bit NF4: an 8B model
        then fits a small GPU, at some cost in speed. ``None`` (the default) does what the adapter's
        training did (recorded in its ``callforge_training.json``): a QLoRA adapter is run on the 4-bit
        base it was trained on, not on a full-precision one that differs from it; without an adapter
        or a record, the base loads unquantised.
        """
        if prompt_format not in PROMPT_FORMATS:
            raise ConfigError(f"prompt format {prompt_format!r}: expected one of {list(PROMPT_FORMATS)}")
        info = detect_device(device)
        trained = training_record(adapter)
        if load_in_4bit is None:
            load_in_4bit = bool(trained.get("quantize"))
        quantization = None
        if load_in_4bit:
            from transformers import BitsAndBytesConfig

            quantization = BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type=trained.get("quant_type", "nf4"),
                bnb_4bit_use_double_quant=trained.get("double_quant", True),
                bnb_4bit_compute_dtype=torch_dtype(dtype, info),
            )
        source = str(path_or_id)
        adapter_dir = Path(adapter) if adapter is not None else None
        if adapter_dir is not None and not (adapter_dir / "adapter_config.json").is_file():
            raise ConfigError(f"{adapter_dir}: not a LoRA adapter directory (no adapter_config.json)")
        tokenizer = load_tokenizer(tokenizer_source(source, adapter_dir), trust_remote_code=trust_remote_code)
        model = load_model(
            source,
            device=info,
            dtype=torch_dtype(dtype, info),
            quantization=quantization,
            trust_remote_code=trust_remote_code,
            attn_implementation=attn_implementation,
        )
        if adapter_dir is not None:
            from peft import PeftModel

            match_vocabulary(model, tokenizer)  # tokens added in training (model.add_tokens)
            model = PeftModel.from_pretrained(model, str(adapter_dir))
        model.eval()
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"  # batched generation continues every row from its last real token
        return cls(model=model, tokenizer=tokenizer, device=info, source=source, prompt_format=prompt_format)

    def render(self, messages: Messages, tools: ToolSchemas) -> str:
        """The prompt text for one conversation, ending where the assistant's reply begins."""
        if self.prompt_format == "apigen_text":
            from trainer.dataset.apigen_text import apigen_messages

            messages, tools = apigen_messages(messages, tools), None
        return self.tokenizer.apply_chat_template(
            messages, tools=tools or None, tokenize=False, add_generation_prompt=True
        )

    @property
    def context(self) -> ContextBudget:
        """How many tokens the model's context holds and what a prompt spends of it."""
        return ContextBudget.of(self.model, self.tokenizer)

    def generate(
        self,
        batch_of_messages: Sequence[Messages],
        tools_per_example: Sequence[ToolSchemas],
        *,
        max_new_tokens: int,
        temperature: float = 0.0,
    ) -> list[str]:
        """One reply text per conversation, in order. Greedy when ``temperature`` is 0."""
        generations = self.generate_detailed(
            batch_of_messages, tools_per_example, max_new_tokens=max_new_tokens, temperature=temperature
        )
        return [g.text for g in generations]

    def generate_detailed(
        self,
        batch_of_messages: Sequence[Messages],
        tools_per_example: Sequence[ToolSchemas],
        *,
        max_new_tokens: int,
        temperature: float = 0.0,
    ) -> list[Generation]:
        """Like ``generate``, with token counts and whether each reply ended by itself (one batch)."""
        import torch

        if len(batch_of_messages) != len(tools_per_example):
            raise ValueError(
                f"{len(batch_of_messages)} conversations but {len(tools_per_example)} tool lists; pass one per conversation"
            )
        if not batch_of_messages:
            return []
        prompts = [self.render(m, t) for m, t in zip(batch_of_messages, tools_per_example, strict=True)]
        # The template already wrote any BOS token; adding special tokens again would double it.
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        prompt_tokens = encoded["attention_mask"].sum(dim=1).tolist()
        encoded = {k: v.to(self.model.device) for k, v in encoded.items()}
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            sampling = {"do_sample": True, "temperature": temperature}
        stop_ids = self._stop_ids()
        with torch.inference_mode():
            output = self.model.generate(
                **encoded,
                max_new_tokens=max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=stop_ids,
                **sampling,
            )
        new_tokens = output[:, encoded["input_ids"].shape[1] :].tolist()
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        results = []
        for text, row, prompt in zip(texts, new_tokens, prompt_tokens, strict=True):
            # generate pads finished rows with the pad token (often an eos itself): count up to the first stop.
            end = next((i for i, token in enumerate(row) if token in stop_ids), None)
            used = len(row) if end is None else end + 1
            results.append(Generation(text.strip(), int(prompt), used, end is not None))
        return results

    def _stop_ids(self) -> list[int]:
        """End-of-turn tokens: the tokenizer's eos plus the generation config's (Llama 3 has several)."""
        ids = {self.tokenizer.eos_token_id}
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        if isinstance(configured, int):
            ids.add(configured)
        elif configured:
            ids.update(configured)
        return sorted(i for i in ids if i is not None)

    def reply(self, messages: Messages, tools: ToolSchemas, *, max_new_tokens: int = 256) -> ParsedReply:
        """Generate one reply and parse its calls."""
        return parse_tool_calls(self.generate([messages], [tools], max_new_tokens=max_new_tokens)[0])


def load_tool_schemas(source: Path, names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """OpenAI-format tool schemas from a catalog directory / ``catalog.jsonl``, or a JSON file holding a
    list of tools (OpenAI ``{"type": "function", "function": …}`` or bare ``{name, description, parameters}``).

    ``names`` keeps only those tools, in that order; an unknown name is a ``ConfigError`` listing the known.
    """
    import json

    from schemas.catalog import Catalog

    source = Path(source)
    if source.is_dir() or source.suffix == ".jsonl":
        schemas = [tool.openai_schema() for tool in Catalog.load(source)]
    else:
        try:
            raw = json.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{source}: no such tools file or catalog directory") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not valid JSON: {exc}") from exc
        items = raw.get("tools", raw) if isinstance(raw, dict) else raw
        if not isinstance(items, list):
            raise ConfigError(f"{source}: expected a JSON list of tools (or an object with a 'tools' list)")
        schemas = []
        for i, item in enumerate(items):
            fn = item.get("function", item) if isinstance(item, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise ConfigError(f"{source}: tools[{i}] has no name (expected OpenAI tool format)")
            schemas.append({"type": "function", "function": fn})
    if not names:
        return schemas
    by_name = {s["function"]["name"]: s for s in schemas}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConfigError(f"{source}: no tool named {unknown}; known: {', '.join(sorted(by_name)[:20])}")
    return [by_name[n] for n in names]
