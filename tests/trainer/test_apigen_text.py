"""The APIGen text export (<tool_call>[...]</tool_call>), prompting with it, and adding the tags as tokens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.catalog import Catalog
from schemas.models import Sample
from schemas.records import to_trl
from trainer.dataset.apigen_text import apigen_messages, apigen_system_prompt, apigen_text_record
from trainer.dataset.config import DEFAULT_FORMATS, ExportOptions
from trainer.replies import parse_tool_calls


def _parallel(samples_factory) -> Sample:
    one, two = samples_factory(2, seed=9)
    return Sample.create(
        query=f"{one.query} {two.query}",
        language="en",
        style="parallel_multiple",
        tools=one.tools,
        calls=[*one.calls, *two.calls],
    )


def test_a_record_offers_the_tools_in_the_system_prompt_and_answers_with_a_call_list(
    tools, samples_factory
) -> None:
    sample = _parallel(samples_factory)
    record = apigen_text_record(sample, tools)
    system, user, answer = (m["content"] for m in record["messages"])
    listed = json.loads(system.split("<tools>", 1)[1].split("</tools>", 1)[0])
    assert [t["name"] for t in listed] == sample.tools and user == sample.query
    assert answer.startswith("<tool_call>[") and answer.endswith("]</tool_call>")
    parsed = parse_tool_calls(answer)
    assert parsed.error is None and parsed.calls == sample.calls
    trl = to_trl(sample, tools)
    assert record["tools"] == [] and {k: record[k] for k in ("id", "style", "tier")} == {
        k: trl[k] for k in ("id", "style", "tier")
    }


def test_an_irrelevant_request_answers_in_words_without_a_call(tools) -> None:
    sample = Sample.create(
        query="Sing me a song.", language="en", style="irrelevance", tools=["get_weather"], calls=[]
    )
    answer = apigen_text_record(sample, tools)["messages"][-1]["content"]
    assert "<tool_call>" not in answer and parse_tool_calls(answer).calls == []


def test_prompting_rewrites_a_conversation_the_way_the_records_look(tools, samples_factory) -> None:
    sample = _parallel(samples_factory)
    record = apigen_text_record(sample, tools)
    trl = to_trl(sample, tools)
    assert apigen_messages(trl["messages"][:2], trl["tools"]) == record["messages"][:2]
    # Earlier calls in the history become the same text the model was trained to write.
    assert apigen_messages(trl["messages"], trl["tools"])[-1] == record["messages"][-1]


def test_the_export_is_opt_in_and_writes_a_dataset_training_reads(
    tools, samples_factory, tmp_path: Path
) -> None:
    from trainer.dataset.exports import write_exports
    from trainer.trainset import load_training_splits, locate_dataset_dict

    assert "apigen_text" not in DEFAULT_FORMATS and "apigen_text" not in ExportOptions().formats
    samples = samples_factory(6, seed=2)
    catalog = Catalog(list(tools.values()))
    rows = write_exports(
        tmp_path, {"train": samples, "validation": []}, catalog, ExportOptions(formats=("apigen_text",))
    )
    assert rows == {"apigen_text/train": 6, "apigen_text/validation": 0}
    lines = (tmp_path / "apigen_text" / "train.jsonl").read_text().splitlines()
    assert json.loads(lines[0]) == apigen_text_record(samples[0], tools)
    splits = load_training_splits(locate_dataset_dict(tmp_path / "apigen_text"))
    assert len(splits["train"]) == 6 and splits["validation"] is None
    assert splits["train"][0]["messages"][-1]["content"].startswith("<tool_call>[")


def test_the_system_prompt_accepts_openai_or_bare_tool_schemas(tools) -> None:
    schema = tools["get_weather"].openai_schema()
    assert apigen_system_prompt([schema]) == apigen_system_prompt([schema["function"]])


@pytest.mark.slow
def test_llama_learns_the_tags_as_new_tokens_and_serves_with_them(
    tmp_path_factory, corpus, tools, samples_factory, quick_config
) -> None:
    """Train a LoRA on the APIGen export with <tool_call> added to a tiny Llama, then load and merge it."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from trainer.dataset.exports import write_exports
    from trainer.inference import LocalModel
    from trainer.merge import merge_adapter
    from trainer.tiny import build_tiny_llama
    from trainer.train import train

    root = tmp_path_factory.mktemp("apigen")
    base = build_tiny_llama(root / "llama", corpus=corpus)
    assert len(AutoTokenizer.from_pretrained(base).tokenize("<tool_call>")) > 1  # Llama lacks it
    write_exports(
        root / "data",
        {"train": samples_factory(8, seed=3), "validation": samples_factory(2, seed=4)},
        Catalog(list(tools.values())),
        ExportOptions(formats=("apigen_text",)),
    )
    config = quick_config(
        model={"add_tokens": ["<tool_call>", "</tool_call>"]}, sft={"max_steps": 2, "max_length": 2048}
    )
    result = train(root / "data" / "apigen_text", str(base), config, root / "out")
    tokenizer = AutoTokenizer.from_pretrained(result.adapter_path)
    assert tokenizer.tokenize("<tool_call>[]</tool_call>")[0] == "<tool_call>"
    new_id = tokenizer.convert_tokens_to_ids("<tool_call>")
    saved = load_file(Path(result.adapter_path) / "adapter_model.safetensors")
    assert any("embed_tokens" in k for k in saved)  # the trained embeddings travel with the adapter

    local = LocalModel.load(
        base, adapter=Path(result.adapter_path), device="cpu", prompt_format="apigen_text"
    )
    assert local.model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    prompt = local.render(
        [{"role": "user", "content": "Weather in Oslo?"}], [tools["get_weather"].openai_schema()]
    )
    assert (
        "<tools>[" in prompt
        and len(local.generate([[{"role": "user", "content": "Hi"}]], [None], max_new_tokens=3)) == 1
    )

    merged = merge_adapter(str(base), Path(result.adapter_path), root / "merged", device="cpu")
    reloaded = LocalModel.load(merged, device="cpu")
    row = reloaded.model.get_input_embeddings().weight[new_id]
    peft_row = local.model.get_input_embeddings()(torch.tensor([new_id]))[0]
    torch.testing.assert_close(row, peft_row, atol=1e-5, rtol=1e-5)
