"""``callforge tiny-model --out DIR``: the tiny model a newcomer trains, serves and evaluates without a hub."""

from __future__ import annotations

from pathlib import Path


def test_builds_a_loadable_chat_model(tmp_path: Path, capsys) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from flows.cli import main

    assert main(["tiny-model", "--out", str(tmp_path / "tiny"), "--vocab-size", "400"]) == 0
    assert "tiny model:" in capsys.readouterr().out
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "tiny")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "tiny")
    assert model.config.vocab_size == len(tokenizer) and "{% generation %}" in tokenizer.chat_template


def test_rejects_a_vocabulary_too_small_for_the_bytes(tmp_path: Path, capsys) -> None:
    from flows.cli import main

    assert main(["tiny-model", "--out", str(tmp_path / "tiny"), "--vocab-size", "10"]) == 1
    assert "--vocab-size 10: expected 300-65536" in capsys.readouterr().err
    assert not (tmp_path / "tiny").exists()
