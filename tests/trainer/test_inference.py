"""LocalModel: loading with an adapter, batched left-padded generation, and the chat command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.errors import ConfigError
from trainer.inference import LocalModel, load_tool_schemas
from trainer.train import TrainResult


@pytest.fixture(scope="module")
def model(tiny_model: Path, lora_run: TrainResult) -> LocalModel:
    return LocalModel.load(tiny_model, adapter=Path(lora_run.adapter_path), device="cpu")


@pytest.fixture(scope="module")
def conversations(samples_factory, records_factory) -> tuple[list, list]:
    records = records_factory(samples_factory(3, seed=5))
    # Different query lengths, so the batch really needs padding.
    records[1]["messages"][1]["content"] += " Please answer quickly, it is for a report due today."
    return [r["messages"][:2] for r in records], [r["tools"] for r in records]


def test_adapter_is_applied(model: LocalModel) -> None:
    from peft import PeftModel

    assert isinstance(model.model, PeftModel) and model.tokenizer.padding_side == "left"


def test_batched_generation_equals_one_by_one(model: LocalModel, conversations: tuple[list, list]) -> None:
    messages, tools = conversations
    batched = model.generate(messages, tools, max_new_tokens=12)
    single = [model.generate([m], [t], max_new_tokens=12)[0] for m, t in zip(messages, tools, strict=True)]
    assert len(batched) == 3 and batched == single


def test_prompt_ends_with_the_assistant_turn_and_offers_the_tools(
    model: LocalModel, conversations: tuple[list, list]
) -> None:
    messages, tools = conversations
    prompt = model.render(messages[0], tools[0])
    assert prompt.endswith("<|im_start|>assistant\n") and json.dumps(tools[0][0]) in prompt


def test_one_tool_list_per_conversation(model: LocalModel, conversations: tuple[list, list]) -> None:
    messages, tools = conversations
    with pytest.raises(ValueError, match="3 conversations but 1 tool lists"):
        model.generate(messages, tools[:1], max_new_tokens=4)


def test_adapter_directory_must_be_an_adapter(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a LoRA adapter directory"):
        LocalModel.load(tiny_model, adapter=tmp_path, device="cpu")


def test_tools_from_a_json_file_filtered_by_name(tools, tmp_path: Path) -> None:
    path = tmp_path / "tools.json"
    path.write_text(json.dumps([t.openai_schema() for t in tools.values()]), encoding="utf-8")
    picked = load_tool_schemas(path, ["list_materials", "get_weather"])
    assert [s["function"]["name"] for s in picked] == ["list_materials", "get_weather"]


def test_tools_from_a_catalog_directory(tools, tmp_path: Path) -> None:
    from schemas.catalog import Catalog

    Catalog(tools.values()).save(tmp_path / "catalog")
    assert load_tool_schemas(tmp_path / "catalog") == [t.openai_schema() for t in tools.values()]


def test_unknown_tool_name_lists_the_known(tools, tmp_path: Path) -> None:
    path = tmp_path / "tools.json"
    path.write_text(json.dumps([t.openai_schema() for t in tools.values()]), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"no tool named \['nope'\]; known: create_node, get_weather"):
        load_tool_schemas(path, ["nope"])


def test_chat_command_prints_reply_and_parsed_calls(
    tiny_model: Path, lora_run: TrainResult, tools, tmp_path: Path, capsys
) -> None:
    from flows.cli import main

    path = tmp_path / "tools.json"
    path.write_text(json.dumps([t.openai_schema() for t in tools.values()]), encoding="utf-8")
    argv = ["chat", "--model", str(tiny_model), "--adapter", lora_run.adapter_path, "--tools", str(path)]
    code = main(
        [*argv, "--tool", "get_weather", "--max-new-tokens", "8", "--device", "cpu", "Weather in Oslo?"]
    )
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("reply: ")
    parsed = json.loads(out.split("\n", 1)[1])
    assert set(parsed) == {"calls", "content", "error"}


def test_four_bit_load_generates_like_the_full_precision_api(
    tiny_model: Path, lora_run: TrainResult, conversations: tuple[list, list]
) -> None:
    import bitsandbytes as bnb

    quantised = LocalModel.load(
        tiny_model, adapter=Path(lora_run.adapter_path), device="cpu", load_in_4bit=True
    )
    layer = quantised.model.get_base_model().model.layers[0].self_attn.q_proj.base_layer
    messages, tools = conversations
    replies = quantised.generate(messages[:2], tools[:2], max_new_tokens=6)
    assert (
        isinstance(layer, bnb.nn.Linear4bit)
        and len(replies) == 2
        and all(isinstance(r, str) for r in replies)
    )


def test_chat_refuses_tools_that_overflow_the_context(
    tiny_model: Path, tools, tmp_path: Path, capsys
) -> None:
    from flows.cli import main

    schema = next(iter(tools.values())).openai_schema()
    many = [{**schema, "function": {**schema["function"], "name": f"tool_{i}"}} for i in range(400)]
    path = tmp_path / "many.json"
    path.write_text(json.dumps(many), encoding="utf-8")
    code = main(
        ["chat", "--model", str(tiny_model), "--tools", str(path), "--device", "cpu", "Weather in Oslo?"]
    )
    err = capsys.readouterr().err
    assert code == 1 and "for the 400 offered tools" in err and "context holds 4,096" in err


def test_generation_details_count_tokens_and_say_when_cut(model: LocalModel, conversations) -> None:
    messages, tools = conversations
    cut = model.generate_detailed(messages[:1], tools[:1], max_new_tokens=3)[0]
    prompt = len(model.tokenizer(model.render(messages[0], tools[0]), add_special_tokens=False)["input_ids"])
    assert cut.prompt_tokens == prompt and cut.completion_tokens <= 3
    assert cut.stopped or cut.completion_tokens == 3  # cut off means the whole budget was spent


def test_an_adapter_runs_on_the_base_it_was_trained_on(
    tiny_model: Path, lora_run: TrainResult, tmp_path: Path
) -> None:
    """Training records how the base was loaded; a QLoRA adapter then gets a 4-bit base without being asked
    (so `callforge evaluate` scores it on the base it was trained on), a LoRA adapter a full-precision one."""
    import shutil

    import bitsandbytes as bnb

    from trainer.loading import TRAINING_RECORD

    record = json.loads((Path(lora_run.adapter_path) / TRAINING_RECORD).read_text())
    assert (record["mode"], record["quantize"]) == ("lora", False)
    plain = LocalModel.load(tiny_model, adapter=Path(lora_run.adapter_path), device="cpu")
    layer = plain.model.get_base_model().model.layers[0].self_attn.q_proj.base_layer
    assert not isinstance(layer, bnb.nn.Linear4bit)

    qlora = tmp_path / "adapter"
    shutil.copytree(lora_run.adapter_path, qlora)
    (qlora / TRAINING_RECORD).write_text(json.dumps({**record, "mode": "qlora", "quantize": True}))
    quantised = LocalModel.load(tiny_model, adapter=qlora, device="cpu")
    layer = quantised.model.get_base_model().model.layers[0].self_attn.q_proj.base_layer
    assert isinstance(layer, bnb.nn.Linear4bit) and layer.weight.quant_type == record["quant_type"]
    forced = LocalModel.load(tiny_model, adapter=qlora, device="cpu", load_in_4bit=False)
    assert not isinstance(
        forced.model.get_base_model().model.layers[0].self_attn.q_proj.base_layer, bnb.nn.Linear4bit
    )
