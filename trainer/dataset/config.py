"""What assembly can be told: ``AssembleConfig``, composed of ``SplitConfig`` and ``ExportOptions``.

    config = AssembleConfig.model_validate({"split": {"seed": 7}, "export": {"formats": ["hf", "trl"]}})
    config.split.unseen_fraction     # 0.1

Pydantic models with ``extra="forbid"`` and one home per default, importable without the writers (only
pydantic and ``schemas``), so a run config validates its ``assemble`` section the moment a refresh
starts. ``from_dict`` raises ``ConfigError`` naming the key (and, for a typo, the closest valid one);
the constructors raise pydantic's ``ValidationError``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.config_errors import describe_validation_error
from schemas.errors import ConfigError
from schemas.records import DEFAULT_SYSTEM_PROMPT

DEFAULT_FORMATS = ("hf", "trl", "xlam", "flat")
# Opt-in: apigen_text (tools in the system prompt, <tool_call>[...]</tool_call> answers; trainer/dataset/apigen_text.py).
FORMATS = (*DEFAULT_FORMATS, "apigen_text")
# The packaged training recipe's sft.max_length (trainer/configs/qwen2_5_1_5b_qlora.yaml): what a training row
# must fit when neither the run nor assemble.lengths names another.
DEFAULT_MAX_LENGTH = 2048
DEFAULT_DATASET_NAME = "callforge"
_DATASET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class _Section(BaseModel):
    """Frozen and strict about keys. ``from_dict`` turns bad values into a ``ConfigError`` naming the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "assemble") -> Self:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"{source}: {describe_validation_error(exc, cls)}") from None


class SplitConfig(_Section):
    """How to split. Each field's description says why its default is what it is."""

    seed: int = 0
    unseen_fraction: float = Field(
        default=0.1,
        ge=0.0,
        lt=1.0,
        description="share of each tier's tools held out for test_unseen: every tier is measured on tools "
        "the model never saw, while ~90% of the catalog is left to learn from",
    )
    unseen_tools: tuple[str, ...] | None = Field(
        default=None, description="hold out exactly these tools (catalog names) instead of a fraction"
    )
    fractions: tuple[float, float, float] = Field(
        default=(0.8, 0.1, 0.1), description="train / validation / test_seen shares of the seen samples"
    )
    near_duplicate_threshold: float = Field(
        default=0.9, gt=0.0, le=1.0, description="similarity at which two queries are near-duplicates"
    )

    @field_validator("fractions")
    @classmethod
    def _shares(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(f < 0 for f in value):
            raise ValueError(f"fractions: expected three non-negative shares, got {value!r}")
        if abs(sum(value) - 1.0) > 1e-6:
            raise ValueError(f"fractions: train/validation/test_seen must sum to 1, got {value!r}")
        if value[0] <= 0:
            raise ValueError(f"fractions: the train share must be positive, got {value!r}")
        return value


class ExportOptions(_Section):
    """What to export and how."""

    include_tool_responses: bool = Field(
        default=False,
        description="append one tool turn per call with the execution's response body; off because it "
        "lengthens every sample and the model is not trained on it",
    )
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    formats: tuple[str, ...] = Field(default=DEFAULT_FORMATS, description=f"a subset of {list(FORMATS)}")

    @model_validator(mode="after")
    def _known_formats(self) -> ExportOptions:
        unknown = sorted(set(self.formats) - set(FORMATS))
        if unknown:
            raise ValueError(f"formats: unknown {unknown}; expected a subset of {list(FORMATS)}")
        if "hf" in self.formats and "trl" not in self.formats:
            raise ValueError("formats: 'hf' is built from the TRL records; include 'trl' too")
        return self


class LengthConfig(_Section):
    """How training rows are fitted to the trainer's ``max_length`` (``trainer.dataset.lengths``)."""

    check: bool = Field(
        default=True, description="measure every row; off: no measurement, no fitting, nothing in the card"
    )
    max_length: int | None = Field(
        default=None,
        ge=16,
        description="tokens a training row may have; none = the training config's sft.max_length (2048 in the "
        "packaged recipe), so assembly and the trainer agree",
    )
    tokenizer: str | None = Field(
        default=None,
        description="hub id or local directory whose tokenizer and chat template measure rows; none = the "
        "training config's base model. Not available offline -> a stated stand-in (see the card)",
    )
    fit: Literal["fewer_distractors", "drop", "raise_max_length"] = Field(
        default="fewer_distractors",
        description="a training row over max_length: lose distractors (largest first) until it fits, else "
        "drop it; or drop it; or keep every row and report the max_length that fits them all",
    )


class AssembleConfig(_Section):
    """Everything ``assemble`` can be told."""

    split: SplitConfig = Field(default_factory=SplitConfig)
    export: ExportOptions = Field(default_factory=ExportOptions)
    lengths: LengthConfig = Field(default_factory=LengthConfig)
    dataset_name: str | None = Field(
        default=None,
        description="versions go to <datasets_root>/<dataset_name>/; none = the spec's name in a refresh "
        f"(gennx for specs/gennx/openapi.yaml), {DEFAULT_DATASET_NAME!r} for `callforge assemble`",
    )
    datasets_root: Path | None = Field(default=None, description="none = <store>/../datasets")

    @field_validator("dataset_name")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        # It becomes a directory name and the key of the dataset's artifacts and event resource.
        if value is not None and not _DATASET_NAME.fullmatch(value):
            raise ValueError(
                f"dataset_name: expected lowercase letters, digits and dashes (e.g. 'gennx'), got {value!r}"
            )
        return value

    @property
    def name(self) -> str:
        """The dataset's name: ``dataset_name``, else the default."""
        return self.dataset_name or DEFAULT_DATASET_NAME

    def options(self) -> dict[str, Any]:
        """The settings recorded in the dataset manifest."""
        return json.loads(self.model_dump_json(exclude={"datasets_root"}))
