"""Which chat template training uses: the model's own, ours for Llama 3.1, TRL's for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import ConfigError
from trainer.chat_templates import _trl_original, has_generation_markers, packaged_template, training_template
from trainer.inference import parse_tool_calls

TOOLS = [{"type": "function", "function": {"name": "f", "description": "", "parameters": {"type": "object"}}}]


def _call(name: str, **arguments) -> dict:
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


def conversation(*calls: dict) -> list[dict]:
    return [
        {"role": "system", "content": "Use the tools."},
        {"role": "user", "content": "Do it."},
        {"role": "assistant", "content": "", "tool_calls": list(calls)},
    ]


@pytest.fixture
def tokenizer(tiny_model: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def test_template_with_markers_is_kept(tokenizer) -> None:
    assert training_template(tokenizer) == tokenizer.chat_template


def test_qwen2_5_gets_trls_training_variant(tokenizer) -> None:
    tokenizer.chat_template = _trl_original("qwen2_5.jinja")
    assert training_template(tokenizer) == _trl_original("qwen2_5_training.jinja")


def test_llama3_1_gets_our_variant(tokenizer) -> None:
    tokenizer.chat_template = _trl_original("llama3_1.jinja")
    chosen = training_template(tokenizer)
    assert chosen == packaged_template("llama3_1_training.jinja") and has_generation_markers(chosen)


def test_llama3_1_variant_renders_one_call_as_the_original(tokenizer) -> None:
    messages = conversation(_call("f", a=1, b="x"))
    original = tokenizer.apply_chat_template(
        messages, tools=TOOLS, tokenize=False, chat_template=_trl_original("llama3_1.jinja")
    )
    ours = tokenizer.apply_chat_template(
        messages, tools=TOOLS, tokenize=False, chat_template=packaged_template("llama3_1_training.jinja")
    )
    assert ours == original


def test_llama3_1_variant_renders_parallel_calls_the_parser_reads(tokenizer) -> None:
    template = packaged_template("llama3_1_training.jinja")
    out = tokenizer.apply_chat_template(
        conversation(_call("f", a=1), _call("g", b=[2])),
        tools=TOOLS,
        chat_template=template,
        return_dict=True,
        return_assistant_tokens_mask=True,
    )
    masked = tokenizer.decode([t for t, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m])
    assert (
        masked == '{"name": "f", "parameters": {"a": 1}}\n{"name": "g", "parameters": {"b": [2]}}<|eot_id|>'
    )
    reply = parse_tool_calls(masked.removesuffix("<|eot_id|>"))
    assert [c.canonical() for c in reply.calls] == [
        {"name": "f", "arguments": {"a": 1}},
        {"name": "g", "arguments": {"b": [2]}},
    ]


def test_unknown_template_without_markers_says_what_to_do(tokenizer) -> None:
    tokenizer.chat_template = "{% for m in messages %}{{ m.content }}{% endfor %}"
    with pytest.raises(ConfigError, match=r"sft\.assistant_only_loss: false"):
        training_template(tokenizer)


def test_no_template_is_a_config_error(tokenizer) -> None:
    tokenizer.chat_template = None
    with pytest.raises(ConfigError, match="no chat template"):
        training_template(tokenizer)
