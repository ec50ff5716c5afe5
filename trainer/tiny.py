"""A tiny Qwen2-architecture chat model built on the spot, so tests and smoke runs need no model hub.

    path = build_tiny_model(tmp / "tiny", corpus=rendered_training_text)
    model = AutoModelForCausalLM.from_pretrained(path)   # ~0.3 M parameters, loads in well under a second

The tokenizer is a byte-level BPE trained with the ``tokenizers`` library using exactly the Qwen2
normalizer (NFC) and pre-tokenizer (the ``PRETOKENIZE_REGEX`` split, then ByteLevel without its own
regex). transformers 5 rebuilds a ``qwen2`` tokenizer from its vocab and merges on load, so any other
pre-tokenizer would silently change the token ids after a save/reload round trip.

Special tokens follow Qwen2.5-Instruct: ``<|endoftext|>`` (pad), ``<|im_start|>``, ``<|im_end|>`` (eos)
are special; ``<tool_call>`` and ``</tool_call>`` are added but *not* special, as in Qwen2.5, so
``decode(skip_special_tokens=True)`` keeps them for the tool-call parser. The chat template is TRL's
``qwen2_5_training.jinja`` (Qwen2.5's template plus ``{% generation %}`` markers), which renders
``tools`` and ``tool_calls`` and lets SFT train on the assistant's turns only.

The weights are random: a LoRA on top learns nothing useful (use it for plumbing), while a full
fine-tune of a few hundred steps learns to emit a parseable call (measured: 300 steps, ~17 s on 2 cores;
``tests/trainer/test_train_full.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from schemas import atomic

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
# Added but not special in Qwen2.5: skip_special_tokens must leave them in decoded text.
TOOL_TOKENS = ("<tool_call>", "</tool_call>")

# Text the chat template always emits, so its pieces become cheap single tokens.
_TEMPLATE_TEXT = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
    '{"type": "function", "function": {"name": "get_weather", "description": "Current weather", '
    '"parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}\n'
    "</tools>\n\nFor each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n'
    "</tool_call><|im_end|>\n<|im_start|>user\nWhat is the weather in Paris?<|im_end|>\n"
    '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n'
    "</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>\n"
)
_DEFAULT_CORPUS = (
    _TEMPLATE_TEXT,
    '0 1 2 3 4 5 6 7 8 9 10 100 0.5 -1 true false null [] {} [1, 2, 3] {"a": 1, "b": [2, 3]}',
    "Create a node at the origin. Add an element between nodes 1 and 2. Get the list of materials.",
    "the a an of to in for with and or is are be by on at from as this that which",
)


def training_chat_template() -> str:
    """TRL's Qwen2.5 template with ``{% generation %}`` markers, read from the installed trl package."""
    import trl

    path = Path(trl.__file__).parent / "chat_templates" / "qwen2_5_training.jinja"
    return path.read_text(encoding="utf-8")


def _train_tokenizer(corpus: list[str], vocab_size: int):  # -> tokenizers.Tokenizer
    return _train_tokenizer_with(corpus, vocab_size, SPECIAL_TOKENS)


def _train_tokenizer_with(
    corpus: list[str], vocab_size: int, special: tuple[str, ...]
):  # -> tokenizers.Tokenizer
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    tokenizer = Tokenizer(models.BPE(unk_token=None, continuing_subword_prefix="", end_of_word_suffix=""))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte stays encodable
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    return tokenizer


def qwen2_style_tokenizer(
    corpus: Iterable[str] | None = None, *, vocab_size: int = 1024
):  # -> PreTrainedTokenizerFast
    """A byte-level BPE with Qwen2's normalizer, pre-tokenizer, special tokens and (training) chat template,
    trained on the built-in corpus plus ``corpus``. The tiny model's tokenizer, and assembly's stand-in for
    measuring rows when the base model's tokenizer cannot be loaded offline (``trainer.row_lengths``)."""
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast

    texts = [*_DEFAULT_CORPUS, *(corpus or ())]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(texts, vocab_size),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        additional_special_tokens=["<|im_start|>"],
        model_max_length=32768,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in TOOL_TOKENS])
    tokenizer.chat_template = training_chat_template()
    return tokenizer


def build_tiny_model(
    out_dir: Path,
    *,
    corpus: Iterable[str] | None = None,
    seed: int = 0,
    vocab_size: int = 1024,
    hidden_size: int = 64,
    num_hidden_layers: int = 2,
) -> Path:
    """Build a random-weight Qwen2 model and its tokenizer into ``out_dir`` and return ``out_dir``.

    ``corpus`` is text the tokenizer's BPE is trained on, added to a built-in corpus of chat-template
    boilerplate and JSON; pass rendered training records so tool names and argument keys become
    few tokens. The same ``corpus`` and ``seed`` give the same tokenizer and weights. ``out_dir`` is
    replaced atomically: a failed build leaves what was there.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = qwen2_style_tokenizer(corpus, vocab_size=vocab_size)

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
        tie_word_embeddings=True,  # as Qwen2.5-1.5B; halves the tiny model's parameters
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=False
    )
    with atomic.directory(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        _force_qwen2_tokenizer_class(tmp)
    return Path(out_dir)


def _force_qwen2_tokenizer_class(directory: Path) -> None:
    """Declare the tokenizer as Qwen2's, so Auto classes rebuild it as a real Qwen2 tokenizer does."""
    _set_tokenizer_class(directory, "Qwen2Tokenizer")


def _set_tokenizer_class(directory: Path, name: str) -> None:
    path = directory / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = name
    atomic.write_text(path, json.dumps(config, indent=2, ensure_ascii=False) + "\n")


# Llama 3's special tokens (the ones its chat template and padding use); no <tool_call> tokens, as in Llama.
LLAMA_SPECIAL_TOKENS = (
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|python_tag|>",
    "<|finetune_right_pad_id|>",
)


def build_tiny_llama(
    out_dir: Path, *, corpus: Iterable[str] | None = None, seed: int = 0, vocab_size: int = 1024
) -> Path:
    """A random-weight Llama-architecture model with Llama 3.2 Instruct's chat template and special tokens.

    What a Llama 3.2 1B fine-tune looks like, in miniature: the template is the one Meta ships (TRL's
    ``llama3_2.jinja``, *without* ``{% generation %}`` markers, so training must swap in
    ``trainer/templates/llama3_2_training.jinja``), BOS ``<|begin_of_text|>``, end of turn ``<|eot_id|>``,
    pad ``<|finetune_right_pad_id|>``, and no ``<tool_call>`` tokens. The tokenizer is saved as a plain
    ``PreTrainedTokenizerFast``, as Llama 3's is, so it reloads with the same ids.
    """
    import torch
    import trl
    from tokenizers import processors
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    llama_text = (
        "<|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge Date: December 2023\n"
        "Today Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nGiven the following "
        "functions, please respond with a JSON for a function call with its proper arguments that best answers "
        'the given prompt.\n\nRespond in the format {"name": function name, "parameters": dictionary of argument '
        "name and its value}.Do not use variables.\n\n<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    raw = _train_tokenizer_with(
        [llama_text, *_DEFAULT_CORPUS[1:], *(corpus or ())], vocab_size, LLAMA_SPECIAL_TOKENS
    )
    bos = raw.token_to_id("<|begin_of_text|>")
    # Llama 3 tokenizers prepend BOS when encoding plain text; the chat template writes it itself.
    raw.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A",
        pair="<|begin_of_text|> $A <|begin_of_text|> $B",
        special_tokens=[("<|begin_of_text|>", bos)],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|finetune_right_pad_id|>",
        model_max_length=131072,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = (Path(trl.__file__).parent / "chat_templates" / "llama3_2.jinja").read_text(
        encoding="utf-8"
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,  # as Llama 3.2 1B
        bos_token_id=bos,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=bos,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )
    with atomic.directory(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        _set_tokenizer_class(tmp, "PreTrainedTokenizerFast")
    return Path(out_dir)
