"""Pydantic validation errors as one line a user can act on: the key, what is wrong, the fix.

    try:
        RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"nightly.yaml: {describe_validation_error(exc, RunConfig)}") from None
    # -> "nightly.yaml: assemble.split.unseen_fracton: unknown key (did you mean 'unseen_fraction'? ...)"

Every config of the project (run, tier rules, trainer, evaluation, assembly) reports through this one
function, so a typo reads the same wherever it is made. An unknown key names the closest valid key of
its section, or the section below it that has the key (``assemble.seed`` -> ``split.seed``).
"""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel, ValidationError


def closest(key: str, valid: list[str]) -> str | None:
    """The valid key most like ``key``: by similarity, else one that ``key`` starts with (``rank`` -> ``r``)."""
    close = difflib.get_close_matches(key, valid, n=1)
    if close:
        return close[0]
    prefixes = sorted((v for v in valid if key.startswith(v) or v.startswith(key)), key=len, reverse=True)
    return prefixes[0] if prefixes else None


def describe_validation_error(exc: ValidationError, model: type[BaseModel]) -> str:
    """One clause per problem, joined by ``; ``: the dotted key, what is wrong, valid keys for unknown ones."""
    parts = []
    for error in exc.errors(include_url=False):
        loc = _location(error["loc"])
        if error["type"] == "extra_forbidden":
            section = _model_at(model, error["loc"][:-1])
            valid = list(section.model_fields) if section is not None else []
            key = str(error["loc"][-1])
            hint = _hint(key, section, valid)
            listed = f"valid keys: {', '.join(valid)}" if valid else "no keys are allowed here"
            parts.append(f"{loc}: unknown key ({hint}{listed})")
        elif error["type"] == "value_error":  # our validators' messages may already name the key
            message = error["msg"].removeprefix("Value error, ")
            parts.append(message if message.startswith(loc) else f"{loc}: {message}")
        else:
            parts.append(f"{loc}: {error['msg']} (got {_short(error.get('input'))})")
    return "; ".join(parts)


def _hint(key: str, section: type[BaseModel] | None, valid: list[str]) -> str:
    if (close := closest(key, valid)) is not None:
        return f"did you mean {close!r}? "
    if section is not None:  # a key that belongs one level down: assemble.seed -> assemble.split.seed
        for name, field in section.model_fields.items():
            nested = _model_of(field.annotation)
            if nested is not None and key in nested.model_fields:
                return f"did you mean '{name}.{key}'? "
    return ""


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for item in loc:
        if item == "[key]":  # pydantic's marker for "the key itself is bad"
            out += " (key)"
        elif isinstance(item, int) and out:
            out += f"[{item}]"
        else:
            out += f".{item}" if out else str(item)
    return out or "(top level)"


def _model_at(model: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that holds the keys at ``path``; list indexes and mapping keys are stepped over."""
    current: type[BaseModel] | None = model
    for part in path:
        if current is None:
            return None
        field = current.model_fields.get(str(part)) if not isinstance(part, int) else None
        if field is not None:
            current = _model_of(field.annotation)
        # else: an index into a list, or a key of a mapping of models: the item model holds the keys
    return current


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation holds: itself, ``X | None``, ``list[X]`` or ``dict[str, X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
