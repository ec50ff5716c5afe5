"""Configuration of the generate stage: the plan, the teacher, and the whole stage.

All models forbid unknown keys, so a typo in a config file is an error naming the key instead of a
setting silently ignored.

    config = GenerateConfig(plan=PlanConfig(seed=7), teacher=TeacherConfig(model="gpt-4o-mini"))
    config.teacher.enabled   # True: the LLM generator runs; False: the offline template generator
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.models import Style
from schemas.tiers import DEFAULT_QUOTAS

# The tier rules' default quotas (samples per tool, by tier; one home: schemas.tiers), keyed by tier
# string as the plan config writes them; a catalog manifest or the config overrides them.
DEFAULT_TIER_QUOTAS: dict[str, tuple[int, int]] = {str(tier): pair for tier, pair in DEFAULT_QUOTAS.items()}

# simple carries most of the signal; irrelevance at ~10% teaches "no call" without drowning the rest.
DEFAULT_STYLE_MIX: dict[str, float] = {
    "simple": 0.40,
    "multiple": 0.25,
    "parallel": 0.10,
    "parallel_multiple": 0.15,
    "irrelevance": 0.10,
}
# GEN NX users write Korean (the seed's samples are all Korean); English keeps the model bilingual.
DEFAULT_LANGUAGE_MIX: dict[str, float] = {"ko": 0.5, "en": 0.5}


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_mix(value: dict[str, float], what: str) -> dict[str, float]:
    if not value:
        raise ValueError(f"{what} is empty; give at least one entry with a positive weight")
    bad = {k: w for k, w in value.items() if w < 0}
    if bad:
        raise ValueError(f"{what} weights must be >= 0, got {bad}")
    if sum(value.values()) <= 0:
        raise ValueError(f"{what} weights sum to 0; give at least one positive weight")
    return value


def _check_range(value: tuple[int, int], what: str) -> tuple[int, int]:
    low, high = value
    if low < 0 or high < low:
        raise ValueError(f"{what} must be (min, max) with 0 <= min <= max, got {value}")
    return value


class PlanConfig(_Config):
    """How many work items, of which styles and languages, in which shards."""

    seed: int = Field(default=0, description="the plan's seed; the same seed and catalog give the same plan")
    styles: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_STYLE_MIX), description="style -> weight (normalised)"
    )
    languages: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_LANGUAGE_MIX), description="language -> weight (normalised)"
    )
    quotas: dict[str, tuple[int, int]] | None = Field(
        default=None,
        description="tier ('1','2','3') -> (min, max) samples per tool; overrides the catalog manifest",
    )
    default_quota: tuple[int, int] = Field(
        default=(5, 10), description="(min, max) samples per tool for tools without a tier"
    )
    fixed_call_simple: int = Field(
        default=4,
        ge=0,
        description=(
            "simple items a tool that takes no values keeps (e.g. GET /db/NODE: the same call every "
            "time); its later simple items offer distractors instead (multiple)"
        ),
    )
    distractors: tuple[int, int] = Field(default=(1, 4), description="(min, max) distractors for 'multiple'")
    parallel_calls: tuple[int, int] = Field(default=(2, 4), description="(min, max) calls for 'parallel'")
    multi_targets: tuple[int, int] = Field(
        default=(2, 3), description="(min, max) distinct tools called in 'parallel_multiple'"
    )
    include_deprecated: bool = Field(default=False, description="plan samples for deprecated operations too")
    top_up_max: int = Field(
        default=20,
        ge=0,
        description=(
            "extra items a tool below its quota may get, over all refreshes of the same tool (recorded in the "
            "store's attempts); bounded because some tools cannot reach their quota (a spec the sandbox "
            "rejects), and those are listed in the dataset card instead"
        ),
    )
    top_up_rounds: int = Field(
        default=3,
        ge=0,
        description="generate + verify rounds a refresh adds for tools still below quota after its plan",
    )
    shard_size: int = Field(default=500, ge=1, description="work items per candidate shard")

    @field_validator("styles")
    @classmethod
    def _styles(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - {s.value for s in Style})
        if unknown:
            raise ValueError(f"unknown style(s) {unknown}; expected some of {[s.value for s in Style]}")
        return _check_mix(value, "plan.styles")

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_mix(value, "plan.languages")

    @field_validator("quotas")
    @classmethod
    def _quotas(cls, value: dict[str, tuple[int, int]] | None) -> dict[str, tuple[int, int]] | None:
        for tier, quota in (value or {}).items():
            if tier not in ("1", "2", "3"):
                raise ValueError(f"plan.quotas key must be a tier '1', '2' or '3', got {tier!r}")
            _check_range(quota, f"plan.quotas[{tier!r}]")
        return value

    @model_validator(mode="after")
    def _ranges(self) -> PlanConfig:
        _check_range(self.default_quota, "plan.default_quota")
        _check_range(self.distractors, "plan.distractors")
        for name in ("parallel_calls", "multi_targets"):
            low, _ = _check_range(getattr(self, name), f"plan.{name}")
            if low < 2:
                raise ValueError(f"plan.{name} needs at least 2 calls, got {getattr(self, name)}")
        return self


class TeacherConfig(_Config):
    """An OpenAI-compatible endpoint. No key here: only the NAME of the variable that holds it."""

    model: str | None = Field(default=None, description="teacher model; None runs the offline generator")
    base_url: str | None = Field(default=None, description="e.g. http://localhost:8000/v1; None = OpenAI")
    api_key_env: str = Field(
        default="CALLFORGE_TEACHER_API_KEY",
        description="environment variable with the key (else OPENAI_API_KEY)",
    )
    http_backend: Literal["auto", "httpx", "aiohttp"] = Field(
        default="auto", description="HTTP transport; auto = aiohttp when installed (less CPU), else httpx"
    )
    concurrency: int = Field(default=16, ge=1, le=4096, description="requests in flight at once per shard")
    # The endpoint's own limits, shared by every shard, run and worker (flows.teacher_limit: Prefect
    # global concurrency limits); None leaves that side unlimited beyond ``concurrency`` per shard.
    shared_concurrency: int | None = Field(
        default=None,
        ge=1,
        le=4096,
        description="requests in flight at once to this endpoint, everything together",
    )
    requests_per_second: float | None = Field(
        default=None, gt=0, description="requests per second to this endpoint, everything together"
    )
    timeout_s: float = Field(default=60.0, gt=0, description="per-request timeout")
    max_retries: int = Field(default=5, ge=0, le=50, description="retries per request on 429/5xx/timeouts")
    backoff_base_s: float = Field(default=0.5, ge=0, description="first backoff ceiling (doubles per retry)")
    backoff_max_s: float = Field(default=30.0, ge=0, description="largest backoff ceiling")
    retry_after_max_s: float = Field(default=60.0, ge=0, description="cap on a server's Retry-After")
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int | None = Field(default=1024, ge=1)
    structured_output: bool = Field(
        default=True, description="ask for json_schema output (falls back to prompting if the server refuses)"
    )
    few_shot: int = Field(default=2, ge=0, le=8, description="seed examples per prompt")
    few_shot_samples: list[Path] = Field(
        default_factory=list,
        description="sample shards (Parquet) of earlier runs' accepted samples, shown as few-shot examples "
        "before the bundled ones",
    )
    cache_dir: Path | None = Field(default=None, description="response cache; None disables caching")
    breaker_failures: int = Field(
        default=8,
        ge=0,
        description="stop after this many connection failures in a row (401/403 stop at once); 0 = never",
    )

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        # Checked here, before any request: a typo would otherwise cost every item its full backoff.
        if value is None:
            return value
        parsed = urlsplit(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("expected an http(s) URL with a host, e.g. http://localhost:8000/v1")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.model)


class OfflineConfig(_Config):
    """The offline template generator's value sampling."""

    optional_p: float = Field(
        default=0.35, ge=0, le=1, description="chance to include each optional argument"
    )
    max_optional: int = Field(default=4, ge=0, description="at most this many optional arguments per object")
    example_p: float = Field(default=0.5, ge=0, le=1, description="chance to use a spec example when valid")
    default_p: float = Field(default=0.3, ge=0, le=1, description="chance to use a schema default")
    map_entries: tuple[int, int] = Field(default=(1, 3), description="(min, max) entries of id-keyed maps")
    array_items: tuple[int, int] = Field(default=(1, 3), description="(min, max) items of unbounded arrays")
    max_ref_depth: int = Field(default=3, ge=0, le=10, description="$refs followed before values shrink")

    @model_validator(mode="after")
    def _ranges(self) -> OfflineConfig:
        _check_range(self.map_entries, "offline.map_entries")
        _check_range(self.array_items, "offline.array_items")
        return self


class GenerateConfig(_Config):
    """The generate stage: a plan, and a teacher (or none, for the offline generator)."""

    plan: PlanConfig = Field(default_factory=PlanConfig)
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    offline: OfflineConfig = Field(default_factory=OfflineConfig)
    max_failure_share: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="the stage fails (non-zero exit) when more than this share of its items failed",
    )
