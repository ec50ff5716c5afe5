"""What an evaluation can be told (``EvaluateConfig``), importable without the evaluation stack.

The run config validates its ``evaluate_settings`` section with this class when a refresh starts, so
a typo fails in the first second instead of after training.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SPLITS = ("test_seen", "test_unseen")


class EvaluateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    splits: list[str] = Field(default_factory=lambda: list(SPLITS))
    batch_size: int = Field(default=8, ge=1, description="conversations generated together (local models)")
    max_new_tokens: int = Field(default=256, ge=1, description="long enough for the largest call in the data")
    limit: int | None = Field(
        default=None, ge=1, description="at most this many examples per split (smoke runs)"
    )
    execution: bool = Field(
        default=False, description="also execute parsed calls in the sandbox (needs catalog)"
    )
    max_steps: int = Field(
        default=20,
        ge=1,
        le=200,
        description="multi-turn: replies with calls per user turn before it is cut off",
    )
    multi_turn: str | None = Field(
        default=None,
        description="a multi-turn trajectory file to roll out; default: the dataset's multi_turn/<split>.jsonl",
    )
    execution_options: dict[str, Any] = Field(
        default_factory=dict,
        description="options of the execution verifier (verifiers.execution.ExecutionOptions), e.g. base_url",
    )
