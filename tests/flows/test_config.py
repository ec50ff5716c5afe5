"""RunConfig: defaults, files, overrides, errors that name the key, run names. No Prefect (resume: test_run_ownership)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.config import RunConfig, spec_slug
from schemas.errors import ConfigError


@pytest.mark.parametrize(
    ("spec", "slug"),
    [
        ("specs/gennx/openapi.yaml", "gennx"),
        ("specs/petstore.json", "petstore"),
        ("My API/swagger.yml", "my-api"),
        ("Stripe_API v2.yaml", "stripe-api-v2"),
    ],
)
def test_spec_slug_names_the_api(spec: str, slug: str) -> None:
    assert spec_slug(spec) == slug


def test_file_then_overrides_merge_key_by_key(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("generate:\n  plan: {shard_size: 7, seed: 3}\nlimit: 10\n", "utf-8")
    config = RunConfig.resolve(config_file=path, overrides={"generate": {"plan": {"seed": 9}}, "limit": None})
    assert (config.generate.plan.shard_size, config.generate.plan.seed, config.limit) == (7, 9, 10)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("generate: {plan: {shard_sise: 5}}\n", "generate.plan.shard_sise"),
        ("task_runner: {kind: ray}\n", "task_runner.kind"),
        ("run_name: a/b\n", "run_name"),
        ("- just a list\n", "a mapping"),
        ("train: true\n", "base_model"),
        ("limit: 0\n", "limit"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as info:
        RunConfig.resolve(config_file=path)
    assert str(path) in str(info.value) and needle in str(info.value)


@pytest.mark.parametrize(
    ("text", "key", "suggestion"),
    [
        ("limt: 5\n", "limt", "'limit'"),
        ("generate: {plan: {shard_sise: 5}}\n", "generate.plan.shard_sise", "'shard_size'"),
        ("task_runner: {max_worker: 2}\n", "task_runner.max_worker", "'max_workers'"),
        ("assemble: {split: {unseen_fracton: 0.2}}\n", "assemble.split.unseen_fracton", "'unseen_fraction'"),
        ("assemble: {export: {format: [trl]}}\n", "assemble.export.format", "'formats'"),
        # A key one level too high names the section that has it.
        ("assemble: {seed: 3}\n", "assemble.seed", "'split.seed'"),
        ("train_settings: {lora: {rank: 16}}\n", "train_settings: lora.rank", "'r'"),
        ("train_settings: {mdoe: lora}\n", "train_settings: mdoe", "'mode'"),
        ("evaluate_settings: {max_new_token: 64}\n", "evaluate_settings.max_new_token", "'max_new_tokens'"),
    ],
)
def test_a_typo_in_any_section_fails_at_start_with_the_closest_key(
    tmp_path: Path, text: str, key: str, suggestion: str
) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as caught:
        RunConfig.resolve(config_file=path)
    message = str(caught.value)
    assert str(path) in message and key in message and f"did you mean {suggestion}" in message


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "assemble: {split: {fractions: [0.5, 0.5, 0.5]}}\n",
            "fractions: train/validation/test_seen must sum to 1",
        ),
        ("assemble: {export: {formats: [hf]}}\n", "include 'trl' too"),
        ("train_settings: {mode: qlorra}\n", "train_settings: mode"),
        ("evaluate_settings: {batch_size: 0}\n", "evaluate_settings.batch_size"),
    ],
)
def test_bad_values_in_the_trainer_sections_fail_at_start(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError, match=re.escape(needle)):
        RunConfig.resolve(config_file=path)


def test_train_settings_may_name_the_base_model_in_the_model_section() -> None:
    config = RunConfig.resolve(overrides={"train": True, "train_settings": {"model": {"base_model": "m"}}})
    assert config.train_settings["model"]["base_model"] == "m"


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read run config"):
        RunConfig.resolve(config_file=tmp_path / "absent.yaml")


def test_new_run_name_is_slug_utc_stamp_and_a_short_id(tmp_path: Path) -> None:
    now = datetime(2026, 11, 20, 2, 0, 5, tzinfo=UTC)
    names = {RunConfig(data_root=str(tmp_path)).with_run_name(now=now).run_name for _ in range(20)}
    assert len(names) == 20  # the same second never gives one name twice
    assert all(re.fullmatch(r"gennx-20261120-020005-[0-9a-f]{6}", name or "") for name in names)


def test_teacher_answers_are_cached_under_the_data_root_by_default() -> None:
    assert RunConfig(data_root="/d").generate.teacher.cache_dir == Path("/d/cache/teacher")
    given = RunConfig.resolve(overrides={"generate": {"teacher": {"cache_dir": "/c"}}})
    assert given.generate.teacher.cache_dir == Path("/c")


@pytest.mark.parametrize(
    ("overrides", "rules"),
    [
        ({}, "specs/gennx/tiers.yaml"),
        ({"specs": ["other.yaml"]}, None),
        ({"specs": ["other.yaml"], "tier_rules": "other-tiers.yaml"}, "other-tiers.yaml"),
        ({"tier_rules": ""}, None),
    ],
)
def test_bundled_tier_rules_go_with_the_bundled_spec_only(overrides: dict, rules: str | None) -> None:
    assert RunConfig.resolve(overrides=overrides).tier_rules == rules


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, ("Qwen/Qwen2.5-1.5B-Instruct", 2048)),  # the packaged recipe
        ({"base_model": "m", "train_settings": {"sft": {"max_length": 1024}}}, ("m", 1024)),
        ({"train_settings": {"model": {"base_model": "n"}}}, ("n", 2048)),
        (  # what assemble.lengths names wins over the training config
            {"base_model": "m", "assemble": {"lengths": {"max_length": 4096, "tokenizer": "t"}}},
            ("t", 4096),
        ),
    ],
)
def test_assembly_fits_rows_to_the_training_config(overrides: dict, expected: tuple[str, int]) -> None:
    lengths = RunConfig.resolve(overrides=overrides).assemble_with_lengths().lengths
    assert (lengths.tokenizer, lengths.max_length) == expected
