"""The run configuration: everything a refresh needs, in one typed, validated object.

A ``RunConfig`` is built from defaults, then an optional YAML/JSON file, then explicit overrides
(CLI flags or flow parameters), in that order::

    config = RunConfig.resolve(config_file="nightly.yaml", overrides={"limit": 50})
    config.with_run_name().run_dir   # Path("data/runs/gennx-20261120-004000-3fa9c1")

Every section is typed and validated when the config is built, i.e. when a run starts: ``generate`` is
the generators' ``GenerateConfig``, ``assemble`` the dataset's ``AssembleConfig``, ``evaluate_settings``
the evaluation's ``EvaluateConfig``, and ``train_settings`` (keys over the trainer's config file) is
checked against ``TrainerConfig``. None of those classes imports the training stack; only the names of
``sft`` keys, which need ``trl``, are checked when training starts. Each default lives in its class.

Nothing in this module imports Prefect: the CLI, the benchmarks and the tests build configs freely.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from generators.config import GenerateConfig
from schemas.config_errors import describe_validation_error
from schemas.errors import ConfigError
from trainer.config import DEFER_SFT_KEYS, TrainerConfig
from trainer.dataset.config import AssembleConfig
from trainer.dataset.multi_turn_config import MultiTurnConfig
from trainer.evaluation.config import EvaluateConfig

DEFAULT_SPEC = "specs/gennx/openapi.yaml"
DEFAULT_TIER_RULES = "specs/gennx/tiers.yaml"
_SLUG = re.compile(r"[^a-z0-9]+")
# Spec files whose name says nothing about the API: the folder names it instead (specs/gennx/openapi.yaml).
_GENERIC_STEMS = {"openapi", "swagger", "spec", "api", "schema"}


def slugify(text: str) -> str:
    """Lowercase-dash form used in run names, tags and artifact keys (Prefect keys allow [a-z0-9-])."""
    return _SLUG.sub("-", text.lower()).strip("-") or "spec"


def spec_slug(spec: str | os.PathLike[str]) -> str:
    """A short name for a spec: ``specs/gennx/openapi.yaml`` -> ``gennx``, ``petstore.json`` -> ``petstore``."""
    path = Path(spec)
    stem = path.name.split(".")[0]
    if stem.lower() in _GENERIC_STEMS and path.parent.name:
        return slugify(path.parent.name)
    return slugify(stem)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskRunnerConfig(_Section):
    """Where shard tasks run: a bounded thread pool here, or a Dask cluster for scale-out."""

    kind: Literal["threads", "dask"] = Field(
        default="threads",
        description="'threads' (ThreadPoolTaskRunner) or 'dask' (prefect-dask DaskTaskRunner)",
    )
    # Prefect's default thread pool is unbounded. A shard already keeps a core or more busy (the
    # teacher's requests run concurrently, the embedding model is multi-threaded), so one worker per
    # core, at most 4: on 2 cores two verify shards at once beat one after the other by ~9%.
    max_workers: int = Field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)), ge=1, le=256)
    address: str | None = Field(
        default=None, description="Dask scheduler address (tcp://host:8786); none = a temporary local cluster"
    )


class RunConfig(_Section):
    """One refresh: which spec, where the data goes, how each stage is configured."""

    data_root: str = Field(
        default="data",
        description="root of runs/, store/ and datasets/; made absolute (from the cwd) when the config is "
        "built, so every task, on any worker, receives absolute paths",
    )
    run_name: str | None = Field(
        default=None, description="runs/<run_name>; none = resume or <spec>-<timestamp>-<id>"
    )
    specs: list[str] = Field(default_factory=lambda: [DEFAULT_SPEC], min_length=1)
    spec_name: str | None = Field(
        default=None, description="slug in names, tags and keys; none = from specs[0]"
    )
    tier_rules: str | None = Field(
        default=DEFAULT_TIER_RULES,
        description="tier rules YAML; none or '' for none; default: the bundled rules with the bundled spec only",
    )
    naming: Literal["snake", "operation_id", "method_path"] = "snake"
    include_deprecated: bool = True
    generate: GenerateConfig = Field(
        default_factory=GenerateConfig, description="plan + teacher (none = offline)"
    )
    limit: int | None = Field(default=None, ge=1, description="cap on work items (a quick run); none = all")
    verifiers: list[str] | None = Field(
        default=None,
        description="verifier names in the registry; none = the built-in chain (format, execution, semantic, dedup)",
    )
    verifier_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    sandbox: bool = Field(
        default=True, description="start the spec-driven sandbox for the execution verifier"
    )
    assemble: AssembleConfig = Field(
        default_factory=AssembleConfig, description="split, export, dataset name"
    )
    multi_turn: MultiTurnConfig = Field(
        default_factory=MultiTurnConfig,
        description="multi-turn trajectories (counts per category, languages, split); on for GEN NX",
    )
    store_dir: str | None = Field(
        default=None,
        description="incremental sample store; none = <data_root>/store/<spec>. One store per spec: a store "
        "retires every sample whose tools are not in the catalog it is given, so two specs sharing one "
        "would retire each other's samples",
    )
    train: bool = Field(default=False, description="also fine-tune and evaluate after assembling")
    base_model: str | None = None
    train_settings: dict[str, Any] = Field(
        default_factory=dict,
        description="TrainerConfig keys over the trainer's config file, e.g. {sft: {max_steps: 50}}",
    )
    # mypy (no pydantic plugin) reads EvaluateConfig's positional Field(8, ...) defaults as required fields.
    evaluate_settings: EvaluateConfig = Field(default_factory=EvaluateConfig)
    task_runner: TaskRunnerConfig = Field(default_factory=TaskRunnerConfig)
    # Shard-level retries (a crashed worker, a full disk); request-level retries live in the clients.
    shard_retries: int = Field(default=2, ge=0, le=10)
    shard_retry_delays_s: list[float] = Field(
        default_factory=lambda: [10.0, 60.0], description="backoff per retry"
    )
    publish: bool | None = Field(
        default=None,
        description="publish the dataset: a new version under <data_root>/datasets/<name>/ (LATEST moves) "
        "and the callforge.dataset.published event; none = publish unless `limit` is set (a quick run)",
    )

    @field_validator("run_name")
    @classmethod
    def _run_name_safe(cls, value: str | None) -> str | None:
        if value is not None and (not value or "/" in value or value.startswith(".")):
            raise ValueError(f"run_name must be a plain directory name (no '/', not hidden), got {value!r}")
        return value

    @model_validator(mode="after")
    def _tier_rules_follow_the_spec(self) -> RunConfig:
        # The bundled rules describe the bundled spec: another spec gets none unless some are named.
        if self.tier_rules == "" or (
            "tier_rules" not in self.model_fields_set and self.specs != [DEFAULT_SPEC]
        ):
            self.tier_rules = None
        return self

    @model_validator(mode="after")
    def _data_paths_absolute(self) -> RunConfig:
        # Tasks may run in another process or on another machine (Dask) with another working
        # directory: every path they receive is absolute, resolved here in the process that starts the
        # run. Spec paths stay as given: a tool's fingerprint records its spec file's name.
        self.data_root = str(Path(self.data_root).expanduser().resolve())
        if self.store_dir is not None:
            self.store_dir = str(Path(self.store_dir).expanduser().resolve())
        return self

    @model_validator(mode="after")
    def _dataset_named_after_the_spec(self) -> RunConfig:
        # One dataset per spec: a quick run of another spec must not move GEN NX's LATEST.
        updates: dict[str, Any] = {}
        if self.assemble.dataset_name is None:
            updates["dataset_name"] = self.slug[:64].strip("-") or "spec"
        if self.assemble.datasets_root is None:
            updates["datasets_root"] = Path(self.data_root) / "datasets"
        elif not self.assemble.datasets_root.is_absolute():
            updates["datasets_root"] = self.assemble.datasets_root.expanduser().resolve()
        if updates:
            self.assemble = self.assemble.model_copy(update=updates)
        return self

    @model_validator(mode="after")
    def _teacher_cache_in_data_root(self) -> RunConfig:
        # Reruns and resumes should cost no requests: cache teacher answers under the data root unless
        # the config names another directory.
        teacher = self.generate.teacher
        if teacher.cache_dir is None:
            teacher.cache_dir = Path(self.data_root) / "cache" / "teacher"
        return self

    @model_validator(mode="after")
    def _paraphrase_needs_teacher(self) -> RunConfig:
        # checked at start: finding out after generation and verification that no teacher is set would
        # waste the run
        if self.multi_turn.paraphrase and self.makes_multi_turn and not self.generate.teacher.enabled:
            raise ValueError(
                "multi_turn.paraphrase=true needs a teacher: set generate.teacher.model (and base_url for "
                "a local endpoint)"
            )
        return self

    @field_validator("train_settings")
    @classmethod
    def _train_settings_valid(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Checked now against the packaged recipe with these keys on top (what the train stage builds), so
        # a typo fails at start rather than after generation; sft key names wait for trl (train stage).
        merged = deep_merge(TrainerConfig.default().model_dump(mode="json"), value)
        try:
            TrainerConfig.model_validate(merged, context={DEFER_SFT_KEYS: True})
        except ValidationError as exc:
            raise ValueError(f"train_settings: {describe_validation_error(exc, TrainerConfig)}") from None
        return value

    @model_validator(mode="after")
    def _train_needs_model(self) -> RunConfig:
        model_section = self.train_settings.get("model") or {}
        if self.train and not self.base_model and not model_section.get("base_model"):
            raise ValueError("train=true needs base_model (a hub id or a local model directory)")
        return self

    # ------------------------------------------------------------------------------------ derived

    def assemble_with_lengths(self) -> AssembleConfig:
        """``assemble`` with its row-length target filled from this run's training config (``fill_lengths``)."""
        return fill_lengths(self.assemble, self.base_model, self.train_settings)

    @property
    def makes_multi_turn(self) -> bool:
        """``multi_turn.enabled``, or by default: only the bundled GEN NX spec (its /db tables are walked)."""
        if self.multi_turn.enabled is not None:
            return self.multi_turn.enabled
        return self.specs == [DEFAULT_SPEC] and sum(self.multi_turn.counts.values()) > 0

    @property
    def slug(self) -> str:
        return slugify(self.spec_name) if self.spec_name else spec_slug(self.specs[0])

    @property
    def run_dir(self) -> Path:
        if not self.run_name:
            raise ConfigError("run_name is not set yet; call RunConfig.with_run_name() first")
        return Path(self.data_root) / "runs" / self.run_name

    @property
    def store_path(self) -> Path:
        return Path(self.store_dir) if self.store_dir else Path(self.data_root) / "store" / self.slug

    @property
    def publishes(self) -> bool:
        """Whether this run publishes its dataset: ``publish`` when given, else only a full run does."""
        return self.publish if self.publish is not None else self.limit is None

    @property
    def dataset_name(self) -> str:
        return self.assemble.name

    @property
    def datasets_dir(self) -> Path:
        """``<datasets_root>/<dataset name>``: the versions and ``LATEST`` of this spec's dataset."""
        return Path(self.assemble.datasets_root or Path(self.data_root) / "datasets") / self.dataset_name

    def with_run_name(self, *, now: datetime | None = None) -> RunConfig:
        """This config with ``run_name`` filled in: a new ``<slug>-<YYYYmmdd-HHMMSS>-<6 hex>`` when unset.

        A refresh chooses its folder through ``flows.run_ownership.claim`` instead, which also resumes
        an abandoned run with the same parameters; this is for stages run on their own.
        """
        if self.run_name:
            return self
        return self.model_copy(update={"run_name": new_run_name(self.slug, now)})

    # -------------------------------------------------------------------------------- construction

    @classmethod
    def resolve(
        cls, *, config_file: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None
    ) -> RunConfig:
        """Defaults, then ``config_file`` (YAML or JSON), then ``overrides`` (None values are ignored).

        Nested sections merge key by key, so ``{"generate": {"shard_size": 5}}`` keeps the file's other
        generate keys. Errors are :class:`ConfigError` naming the file and the key.
        """
        data: dict[str, Any] = {}
        source = "overrides"
        if config_file is not None:
            data = read_config_file(Path(config_file))
            source = str(config_file)
        merged = deep_merge(data, {k: v for k, v in (overrides or {}).items() if v is not None})
        try:
            return cls.model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(
                f"{source}: invalid run config: {describe_validation_error(exc, cls)}"
            ) from None


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read run config: {exc.strerror}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a run config is a mapping of keys, got {type(data).__name__}")
    return data


def fill_lengths(
    assemble: AssembleConfig, base_model: str | None, train_settings: dict[str, Any]
) -> AssembleConfig:
    """``assemble`` with ``lengths.max_length`` and ``lengths.tokenizer`` taken from the training config
    (the packaged recipe with ``train_settings`` on top, ``base_model`` first) where they are unset, so
    assembly fits rows to what the trainer will read."""
    lengths = assemble.lengths
    if not lengths.check or (lengths.max_length and lengths.tokenizer):
        return assemble
    merged = deep_merge(TrainerConfig.default().model_dump(mode="json"), train_settings)
    trainer = TrainerConfig.model_validate(merged, context={DEFER_SFT_KEYS: True})
    max_length = lengths.max_length or trainer.resolved_sft().get("max_length")
    update = {
        "max_length": max_length,
        "tokenizer": lengths.tokenizer or base_model or trainer.model.base_model,
    }
    return assemble.model_copy(update={"lengths": lengths.model_copy(update=update)})


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``; mappings merge recursively, everything else is replaced."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def new_run_name(slug: str, now: datetime | None = None) -> str:
    """``gennx-20261120-020005-3fa9c1``: spec, UTC second and a short random id (two runs started in
    the same second never share a folder)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{slug}-{stamp}-{uuid.uuid4().hex[:6]}"
