"""Config files: YAML 1.2 booleans, JSON by suffix, errors naming the option and the file."""

from __future__ import annotations

import pytest

from schemas.config_files import load_yaml, read_mapping
from schemas.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "value"), [("a: no", "no"), ("a: NO", "NO"), ("a: on", "on"), ("a: true", True)]
)
def test_only_true_and_false_are_booleans(text, value):
    assert load_yaml(text)["a"] == value


def test_json_by_suffix(tmp_path):
    path = tmp_path / "o.json"
    path.write_text('{"format": {}}')
    assert read_mapping(path, what="--options") == {"format": {}}


def test_empty_file_is_an_empty_mapping(tmp_path):
    path = tmp_path / "o.yaml"
    path.write_text("")
    assert read_mapping(path, what="--options") == {}


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("o.yaml", "a: [1, 2", r"--options .*o\.yaml: not valid YAML"),
        ("o.json", "{", r"--options .*o\.json: not valid JSON"),
        ("o.yaml", "- a\n- b", r"expected a mapping at the top level, got list"),
    ],
)
def test_errors_name_the_option_and_file(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        read_mapping(path, what="--options")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"--config .*missing\.yaml: cannot read it"):
        read_mapping(tmp_path / "missing.yaml", what="--config")
