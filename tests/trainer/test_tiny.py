"""The tiny local model: a real Qwen2 model and tokenizer that survive a save/reload unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
CONVERSATION = [
    {"role": "system", "content": "Call the tool that answers the request."},
    {"role": "user", "content": "What is the weather in Oslo?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}
        ],
    },
]


@pytest.fixture(scope="module")
def tokenizer(tiny_model: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def test_reloads_as_qwen2_with_auto_classes(tiny_model: Path, tokenizer) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert model.config.model_type == "qwen2"
    assert type(tokenizer).__name__ == "Qwen2Tokenizer"
    assert model.config.vocab_size == len(tokenizer)
    assert (tiny_model / "model.safetensors").is_file()


@pytest.mark.parametrize(
    "text",
    [
        "Create node 3 at x=1, y=2.",
        "절점 1번을 원점에 추가해줘",
        '<tool_call>\n{"name": "x"}\n</tool_call>',
        "a  b\n\n\tc",
    ],
)
def test_reloaded_tokenizer_keeps_the_trained_token_ids(tiny_model: Path, tokenizer, text: str) -> None:
    from tokenizers import Tokenizer

    trained = Tokenizer.from_file(str(tiny_model / "tokenizer.json"))
    assert (
        tokenizer(text, add_special_tokens=False)["input_ids"]
        == trained.encode(text, add_special_tokens=False).ids
    )
    assert tokenizer.decode(trained.encode(text).ids) == text


def test_tool_call_tags_are_single_tokens_kept_by_decode(tokenizer) -> None:
    ids = tokenizer("<tool_call>x</tool_call><|im_end|>", add_special_tokens=False)["input_ids"]
    assert tokenizer.convert_ids_to_tokens([ids[0], ids[-2], ids[-1]]) == [
        "<tool_call>",
        "</tool_call>",
        "<|im_end|>",
    ]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "<tool_call>x</tool_call>"


def test_chat_template_renders_tools_and_calls(tokenizer) -> None:
    text = tokenizer.apply_chat_template(CONVERSATION, tools=TOOLS, tokenize=False)
    assert json.dumps(TOOLS[0]) in text
    assert (
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>' in text
    )


def test_assistant_mask_covers_exactly_the_call(tokenizer) -> None:
    out = tokenizer.apply_chat_template(
        CONVERSATION, tools=TOOLS, return_dict=True, return_assistant_tokens_mask=True
    )
    masked = [t for t, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m]
    assert tokenizer.decode(masked) == (
        '\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>\n'
    )


def test_same_corpus_and_seed_give_the_same_model(
    tiny_model: Path, corpus: list[str], tmp_path: Path
) -> None:
    from trainer.tiny import build_tiny_model

    again = build_tiny_model(tmp_path / "again", corpus=corpus)
    for name in ("model.safetensors", "tokenizer.json"):
        assert (again / name).read_bytes() == (tiny_model / name).read_bytes(), name


def test_another_seed_gives_other_weights(tiny_model: Path, corpus: list[str], tmp_path: Path) -> None:
    from trainer.tiny import build_tiny_model

    other = build_tiny_model(tmp_path / "other", corpus=corpus, seed=1)
    assert (other / "model.safetensors").read_bytes() != (tiny_model / "model.safetensors").read_bytes()
