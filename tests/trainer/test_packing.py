"""Padding-free packing: assistant-only labels, and rows that never see each other inside a packed batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.packing import IGNORE, tokenize_record, tokenize_records


@pytest.fixture(scope="module")
def tokenizer(tiny_model: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture(scope="module")
def records(samples_factory, records_factory) -> list[dict]:
    # Different lengths (one offers a single tool), so packing and padding really differ.
    return records_factory(samples_factory(2, seed=3)) + records_factory(
        samples_factory(1, seed=4, offer_all=False)
    )


def test_only_the_assistant_turn_carries_loss(tokenizer, records: list[dict]) -> None:
    ids, labels = tokenize_record(tokenizer, records[0], assistant_only=True)
    learned = tokenizer.decode([t for t in labels if t != IGNORE])
    user = records[0]["messages"][1]["content"]
    call = records[0]["messages"][-1]["tool_calls"][0]["function"]["name"]
    assert learned.strip().startswith("<tool_call>") and call in learned and "<|im_end|>" in learned
    assert user not in learned and "<tools>" not in learned
    assert len(ids) == len(labels) and 0 < sum(t != IGNORE for t in labels) < len(ids) // 2


def test_without_assistant_only_every_token_is_a_label(tokenizer, records: list[dict]) -> None:
    ids, labels = tokenize_record(tokenizer, records[0], assistant_only=False)
    assert labels == ids


def test_truncation_when_asked_is_counted_and_rows_cut_before_the_answer_are_dropped(
    tokenizer, records: list[dict]
) -> None:
    lengths = [len(tokenize_record(tokenizer, r, assistant_only=True)[0]) for r in records]
    limit = sorted(lengths)[0] - 2  # every row is cut; the shortest keeps part of its answer
    full = tokenize_records(tokenizer, records, max_length=None, assistant_only=True)
    cut = tokenize_records(tokenizer, records, max_length=limit, assistant_only=True, long_rows="truncate")
    assert full.truncated == 0 and full.lengths == lengths
    assert cut.truncated == 3 and all(n == limit for n in cut.lengths)
    tiny = tokenize_records(
        tokenizer, records, max_length=sorted(lengths)[-1] - 30, assistant_only=True, long_rows="truncate"
    )
    assert len(tiny.lengths) < 3 or all(n <= sorted(lengths)[-1] - 30 for n in tiny.lengths)


def test_a_row_longer_than_max_length_is_refused_by_default(tokenizer, records: list[dict]) -> None:
    from schemas.errors import ConfigError

    longest = max(len(tokenize_record(tokenizer, r, assistant_only=True)[0]) for r in records)
    with pytest.raises(ConfigError, match=rf"1 of 3 training records .* longest has {longest}.*long_rows"):
        tokenize_records(tokenizer, records, max_length=longest - 1, assistant_only=True)


def test_a_row_exactly_at_max_length_fits_whole(tokenizer, records: list[dict]) -> None:
    lengths = [len(tokenize_record(tokenizer, r, assistant_only=True)[0]) for r in records]
    rows = tokenize_records(tokenizer, records, max_length=max(lengths), assistant_only=True)
    assert (rows.truncated, rows.lengths) == (0, lengths)


def test_long_rows_drop_leaves_them_out_uncut(tokenizer, records: list[dict]) -> None:
    lengths = [len(tokenize_record(tokenizer, r, assistant_only=True)[0]) for r in records]
    rows = tokenize_records(
        tokenizer, records, max_length=sorted(lengths)[-1] - 1, assistant_only=True, long_rows="drop"
    )
    assert rows.truncated == lengths.count(max(lengths))
    assert sorted(rows.lengths) == sorted(n for n in lengths if n < max(lengths))


def _packed_and_single(tiny_model: Path, tokenizer, records: list[dict], attention: str):
    import torch
    from transformers import AutoModelForCausalLM
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation=attention).eval()
    rows = tokenize_records(tokenizer, records, max_length=None, assistant_only=True)
    examples = [rows.dataset[i] for i in range(len(rows.dataset))]
    packed = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id, padding_free=True)(examples)
    padded = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id)(examples)
    assert "attention_mask" not in packed and packed["input_ids"].shape == (1, sum(rows.lengths))
    # use_cache=False as in training (TRL's compute_loss): with a cache, transformers reads no boundaries.
    with torch.no_grad():
        packed_out = model(
            input_ids=packed["input_ids"],
            position_ids=packed["position_ids"],
            labels=packed["labels"],
            use_cache=False,
        )
        padded_out = model(**padded)
        singles = [model(input_ids=torch.tensor([e["input_ids"]])).logits[0] for e in examples]
    return rows, packed, packed_out, padded_out, singles


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_a_packed_row_sees_only_itself(
    tiny_model: Path, tokenizer, records: list[dict], attention: str
) -> None:
    import torch

    rows, _, packed_out, _, singles = _packed_and_single(tiny_model, tokenizer, records, attention)
    start = 0
    for n, single in zip(rows.lengths, singles, strict=True):
        torch.testing.assert_close(packed_out.logits[0, start : start + n], single, atol=1e-4, rtol=1e-4)
        start += n


def test_packing_without_boundaries_would_leak_between_rows(
    tiny_model: Path, tokenizer, records: list[dict]
) -> None:
    """The check above can fail: the same tokens with positions running on do see the previous row."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    rows, packed, _, _, singles = _packed_and_single(tiny_model, tokenizer, records, "sdpa")
    with torch.no_grad():
        naive = model(input_ids=packed["input_ids"], use_cache=False).logits[0]
    second = slice(rows.lengths[0], rows.lengths[0] + rows.lengths[1])
    assert not torch.allclose(naive[second], singles[1], atol=1e-3)


def test_the_packed_loss_is_the_padded_loss(tiny_model: Path, tokenizer, records: list[dict]) -> None:
    import torch

    _, packed, packed_out, padded_out, _ = _packed_and_single(tiny_model, tokenizer, records, "sdpa")
    torch.testing.assert_close(packed_out.loss, padded_out.loss, atol=1e-5, rtol=1e-5)
    # No row's first token is a target: the previous row's last token must not learn to predict it.
    starts = (packed["position_ids"][0] == 0).nonzero().flatten().tolist()
    assert len(starts) == 3 and all(packed["labels"][0, s].item() == IGNORE for s in starts)


def test_training_hands_trl_tokenised_padding_free_rows(quick_config) -> None:
    from trainer.loading import DeviceInfo
    from trainer.plan import plan_training
    from trainer.train import _sft_config

    config = quick_config(throughput={"padding_free": True})
    plan = plan_training(
        config, DeviceInfo(kind="cpu", name="cpu", bf16=False), checkpoint_dir=Path("x"), has_validation=True
    )
    args = _sft_config(plan)
    # Labels already carry the assistant mask and truncation: TRL must not redo (or undo) either.
    assert (args.padding_free, args.assistant_only_loss, args.max_length) == (True, False, None)
    assert plan.sft["max_length"] == 512 and plan.sft["assistant_only_loss"] is True


@pytest.mark.parametrize(
    ("attention", "expected"), [("sdpa", False), ("eager", False), ("flash_attention_2", True)]
)
def test_auto_packs_where_the_kernel_reads_boundaries_natively(
    quick_config, attention: str, expected: bool
) -> None:
    from trainer.loading import DeviceInfo
    from trainer.plan import plan_training

    config = quick_config(model={"attn_implementation": attention})
    gpu = DeviceInfo(kind="cuda", name="NVIDIA H200", bf16=True)
    assert plan_training(config, gpu, checkpoint_dir=Path("x"), has_validation=True).padding_free is expected


def test_a_padding_free_run_trains_end_to_end(
    tiny_model: Path, small_dataset: Path, tmp_path: Path, quick_config
) -> None:
    import math

    from trainer.train import train

    config = quick_config(throughput={"padding_free": True}, sft={"max_steps": 2, "eval_steps": 1})
    result = train(small_dataset, str(tiny_model), config, tmp_path / "out")
    assert result.global_step == 2 and math.isfinite(result.train_loss) and math.isfinite(result.eval_loss)


def test_the_rows_dataset_is_what_from_dict_builds_and_prints_nothing(
    tokenizer, records: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``train`` logs prints: datasets' own fingerprinting (dill) would print bytecode into its log."""
    import builtins

    from datasets import Dataset

    printed: list[tuple] = []
    monkeypatch.setattr(builtins, "print", lambda *a, **k: printed.append(a))
    rows = tokenize_records(tokenizer, records, max_length=None, assistant_only=True)
    monkeypatch.undo()
    assert printed == []
    reference = Dataset.from_dict({"input_ids": rows.dataset["input_ids"], "labels": rows.dataset["labels"]})
    assert rows.dataset.features == reference.features
    assert rows.dataset.to_dict() == reference.to_dict() and rows.dataset.num_rows == len(records)
    again = tokenize_records(tokenizer, records, max_length=None, assistant_only=True)
    assert again.dataset._fingerprint == rows.dataset._fingerprint  # the same rows, the same fingerprint
