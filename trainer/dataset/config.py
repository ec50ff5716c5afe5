"""What assembly can be told: the export options (and, composed from it, the assembly config).

Kept apart from the modules that do the work so the run config can validate an ``assemble`` section
at flow start without importing the writers, and so ``encoders`` and ``exports`` share one definition.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.errors import ConfigError
from schemas.records import DEFAULT_SYSTEM_PROMPT

FORMATS = ("hf", "trl", "xlam", "flat")


@dataclass(frozen=True)
class ExportOptions:
    """What to export and how."""

    # Append one ``tool`` turn per call with the execution's response body (only for samples whose every
    # call has a recorded response). Samples carry no final answer text, so none is added after them.
    include_tool_responses: bool = False
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    formats: tuple[str, ...] = FORMATS

    def __post_init__(self) -> None:
        unknown = sorted(set(self.formats) - set(FORMATS))
        if unknown:
            raise ConfigError(f"formats: unknown {unknown}; expected a subset of {list(FORMATS)}")
        if "hf" in self.formats and "trl" not in self.formats:
            raise ConfigError("formats: 'hf' is built from the TRL records; include 'trl' too")
