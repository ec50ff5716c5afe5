"""Llama 3.2 (the APIGen-FC seed's base): its training template and a real run on a tiny Llama built here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainer.chat_templates import _trl_original, has_generation_markers, packaged_template, training_template
from trainer.config import CONFIGS_DIR, TrainerConfig
from trainer.replies import parse_tool_calls

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def _conversation(*cities: str) -> list[dict]:
    calls = [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": c}}} for c in cities
    ]
    return [
        {"role": "system", "content": "Use the tools."},
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "", "tool_calls": calls},
    ]


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory, corpus: list[str], tools) -> Path:
    from trainer.tiny import build_tiny_llama

    # Llama renders tools as JSON indented by 4: teach the tokenizer that layout too, to keep rows short.
    indented = [json.dumps(t.openai_schema(), indent=4) for t in tools.values()]
    return build_tiny_llama(tmp_path_factory.mktemp("llama") / "model", corpus=[*corpus, *indented * 3])


@pytest.fixture(scope="module")
def tokenizer(tiny_llama: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_llama)


def test_the_tiny_llama_ships_llama_3_2s_own_template(tokenizer) -> None:
    assert tokenizer.chat_template == _trl_original("llama3_2.jinja") and not has_generation_markers(
        tokenizer.chat_template
    )
    assert "<tool_call>" not in tokenizer.get_vocab()  # as in Llama: the APIGen format needs them added


def test_llama3_2_gets_our_training_variant(tokenizer) -> None:
    chosen = training_template(tokenizer)
    assert chosen == packaged_template("llama3_2_training.jinja") and has_generation_markers(chosen)


def test_the_variant_renders_one_call_exactly_as_the_original(tokenizer) -> None:
    variant = packaged_template("llama3_2_training.jinja")
    kwargs = {"tools": TOOLS, "tokenize": False, "date_string": "01 Dec 2026"}
    original = tokenizer.apply_chat_template(_conversation("Oslo"), **kwargs)
    assert tokenizer.apply_chat_template(_conversation("Oslo"), chat_template=variant, **kwargs) == original
    prompt = tokenizer.apply_chat_template(_conversation("Oslo")[:2], add_generation_prompt=True, **kwargs)
    assert (
        tokenizer.apply_chat_template(
            _conversation("Oslo")[:2], chat_template=variant, add_generation_prompt=True, **kwargs
        )
        == prompt
    )


def test_parallel_calls_render_one_per_line_where_the_original_raises(tokenizer) -> None:
    from jinja2.exceptions import TemplateError

    with pytest.raises(TemplateError, match="single tool-calls"):
        tokenizer.apply_chat_template(_conversation("Oslo", "Lima"), tools=TOOLS, tokenize=False)
    text = tokenizer.apply_chat_template(
        _conversation("Oslo", "Lima"), tools=TOOLS, tokenize=False, chat_template=training_template(tokenizer)
    )
    reply = text.rsplit("<|end_header_id|>\n\n", 1)[1].removesuffix("<|eot_id|>")
    assert [c.arguments["city"] for c in parse_tool_calls(reply).calls] == ["Oslo", "Lima"]


def test_the_assistant_mask_covers_the_call_and_the_end_of_turn(tokenizer) -> None:
    encoded = tokenizer.apply_chat_template(
        _conversation("Oslo"),
        tools=TOOLS,
        chat_template=training_template(tokenizer),
        return_dict=True,
        return_assistant_tokens_mask=True,
    )
    learned = [t for t, keep in zip(encoded["input_ids"], encoded["assistant_masks"], strict=True) if keep]
    assert tokenizer.decode(learned) == '{"name": "get_weather", "parameters": {"city": "Oslo"}}<|eot_id|>'


def test_trl_accepts_the_variant_under_assistant_only_loss(
    tiny_llama: Path, tokenizer, tmp_path: Path
) -> None:
    """TRL's own pipeline (not ours): it must tokenise with masks and take a step without complaint."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    tokenizer.chat_template = training_template(tokenizer)
    data = Dataset.from_list([{"messages": _conversation(c), "tools": TOOLS} for c in ("Oslo", "Lima")])
    args = SFTConfig(
        output_dir=str(tmp_path),
        assistant_only_loss=True,
        max_steps=1,
        per_device_train_batch_size=2,
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
    )
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_llama),
        args=args,
        train_dataset=data,
        processing_class=tokenizer,
    )
    labels = trainer.train_dataset[0]["labels"]
    assert tokenizer.decode([t for t in labels if t != -100]).startswith('{"name": "get_weather"')
    assert trainer.train().global_step == 1


def test_the_packaged_llama3_2_config_trains_a_tiny_llama(
    tiny_llama: Path, small_dataset: Path, tmp_path: Path
) -> None:
    from trainer.train import train

    raw = TrainerConfig.load(CONFIGS_DIR / "llama3_2_1b_qlora.yaml").model_dump(mode="json")
    raw["sft"].update(
        max_steps=2, per_device_train_batch_size=4, gradient_accumulation_steps=1, max_length=1024
    )
    raw["sft"].update(activation_checkpointing=False, eval_steps=1, save_steps=1, disable_tqdm=True)
    raw["mode"] = "lora"
    result = train(small_dataset, str(tiny_llama), TrainerConfig.from_dict(raw), tmp_path / "out")
    assert (result.mode, result.global_step, result.truncated_examples) == ("lora", 2, 0)
    saved = json.loads((Path(result.adapter_path) / "tokenizer_config.json").read_text())
    assert saved.get("pad_token") == "<|finetune_right_pad_id|>"
    assert has_generation_markers((Path(result.adapter_path) / "chat_template.jinja").read_text())
