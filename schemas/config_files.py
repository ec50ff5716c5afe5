"""Reading configuration files (YAML or JSON) the same way everywhere.

YAML is read with YAML 1.2 booleans: only ``true`` / ``false`` are booleans, so ``eval_strategy: no``
or a country code ``NO`` stays a string instead of silently becoming ``False`` (YAML 1.1's rule).

    options = read_mapping(Path("verify.yaml"), what="--options")   # {} for an empty file
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from schemas.errors import ConfigError


class _Yaml12Loader(yaml.SafeLoader):
    """A SafeLoader (no arbitrary objects) whose only booleans are true/false."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text: str) -> Any:
    """Parse YAML text with YAML 1.2 booleans."""
    return yaml.load(text, Loader=_Yaml12Loader)


def read_mapping(path: str | Path, *, what: str, expected: str = "a mapping") -> dict[str, Any]:
    """The mapping in a ``.json`` or YAML file; ``{}`` for an empty file.

    Errors are ``ConfigError``s that start with ``what`` (the option or purpose, e.g. ``--options``)
    and the path, and say what was expected.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{what} {file}: cannot read it: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text) if file.suffix.lower() == ".json" else load_yaml(text)
    except (ValueError, yaml.YAMLError) as exc:  # JSONDecodeError is a ValueError
        raise ConfigError(
            f"{what} {file}: not valid {'JSON' if file.suffix.lower() == '.json' else 'YAML'}: {exc}"
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {file}: expected {expected} at the top level, got {type(data).__name__}")
    return data
