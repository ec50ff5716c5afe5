"""The ``multi_turn`` section of the run config: how many trajectories a refresh makes, and how it splits them.

    multi_turn:
      enabled: null          # null: on for the bundled GEN NX spec only (the generator walks /db tables)
      counts: {base: 40, miss_param: 20, miss_func: 20, long_context: 20}
      languages: [en, ko]    # each category's count shared evenly
      variants: 2            # surface variants per blueprint (kept in one split)
      seed: 0
      max_length: 5120       # training length for multi-turn rows, separate from sft.max_length
      split: {seed: 0, unseen_table_fraction: 0.1, unseen_template_fraction: 0.1, fractions: [0.8, 0.1, 0.1]}
      paraphrase: false      # true: the run's teacher (generate.teacher) rewrites the user turns

``max_length`` is its own setting: assembly fits single-turn rows to the training config's
``sft.max_length`` (``flows.config.fill_lengths``), so raising that to fit multi-turn rows would change
which single-turn rows keep their distractors. Multi-turn rows are measured against this one instead
(the stage's manifest reports how many are longer); train them with ``sft.max_length`` set to it.
``paraphrase`` asks the teacher that single-turn LLM generation uses (``generate.teacher``: base URL, model,
key from the environment) to rewrite every drawn trajectory's user turns as a person would write them
(``generators.trajectory_paraphrase``); a rewrite is kept only when it keeps every stated value and name
and the trajectory still verifies, else the template trajectory stays. Off by default: ``make run``
stays offline.
The defaults keep the stage at a few seconds (about 100 trajectories verified at ~25/s on 2 cores).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trainer.dataset.trajectory_splits import TrajectorySplitConfig

# Where the refresh's multi-turn stage leaves its dataset folder inside the run; assembly copies it into
# the dataset as ``multi_turn/`` (trainer.dataset.assembly's ``attachments``).
STAGED_DIR = Path("multi_turn") / "dataset"
ATTACHED_NAME = "multi_turn"


def staged_multi_turn(run_dir: Path) -> dict[str, Path]:
    """``{"multi_turn": folder}`` when the run's multi-turn stage finished its folder, else ``{}``."""
    folder = Path(run_dir) / STAGED_DIR
    return {ATTACHED_NAME: folder} if (folder / "manifest.json").is_file() else {}


Category = Literal["base", "miss_param", "miss_func", "long_context"]
Language = Literal["en", "ko"]
DEFAULT_COUNTS: dict[Category, int] = {"base": 40, "miss_param": 20, "miss_func": 20, "long_context": 20}
LANGUAGES: tuple[Language, ...] = ("en", "ko")
MAX_TOTAL = 200_000


class MultiTurnConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = Field(
        default=None, description="make multi-turn trajectories; none = only for the bundled GEN NX spec"
    )
    counts: dict[Category, int] = Field(
        default_factory=lambda: dict(DEFAULT_COUNTS), description="trajectories drawn per category"
    )
    languages: list[Language] = Field(default_factory=lambda: list(LANGUAGES), min_length=1)
    variants: int = Field(default=2, ge=1, le=4, description="surface variants per blueprint")
    seed: int = 0
    max_length: int = Field(
        default=5120,
        ge=256,
        description="training length multi-turn rows are measured against: GEN NX rows measured p50 1,707 / "
        "p99 4,788 / max 6,809 tokens (stand-in tokenizer, README 3b), so 5,120 fits 99 %",
    )
    split: TrajectorySplitConfig = Field(default_factory=TrajectorySplitConfig)
    paraphrase: bool = Field(
        default=False,
        description="the run's teacher (generate.teacher) rewrites user turns; a rewrite is kept only when "
        "it keeps every stated value and the trajectory still verifies; needs generate.teacher.model",
    )

    @field_validator("counts")
    @classmethod
    def _bounded(cls, value: dict[Category, int]) -> dict[Category, int]:
        if any(n < 0 for n in value.values()):
            raise ValueError("counts: non-negative numbers of trajectories per category")
        if sum(value.values()) > MAX_TOTAL:
            raise ValueError(f"counts: at most {MAX_TOTAL} trajectories in all")
        return value

    def quotas(self) -> dict[tuple[str, str], int]:
        """(category, language) -> trajectories wanted: each count shared evenly, the rest to the first."""
        out: dict[tuple[str, str], int] = {}
        for category, n in self.counts.items():
            share, rest = divmod(n, len(self.languages))
            for i, language in enumerate(self.languages):
                out[(category, language)] = share + (1 if i < rest else 0)
        return out
