"""Tier rules: which tools get many training samples, which get few, read from a YAML file.

A tier says how much a tool matters for training: tier 1 tools (the core of an API) get the most
samples, tier 3 tools (specialised corners) the fewest, and ``quotas`` says how many per endpoint.
The ingester calls :meth:`TierRules.assign` once per operation and stores the result on the ``Tool``.

The YAML format (every level rejects unknown keys)::

    default_tier: 3            # 1, 2, 3, or null: the tier of a tool no rule matches
    quotas:                    # tier -> [min, max] samples per endpoint; min <= max, both >= 0
      1: [15, 20]
      2: [5, 10]
      3: [0, 2]
    rules:                     # tried in order; the FIRST matching rule wins
      - tier: 1                # 1, 2 or 3
        category: modeling     # optional label given to the tools this rule matches
        paths: ["/db/NODE", "/db/S*"]   # fnmatch globs on the path template, case-sensitive
        methods: [POST]        # HTTP methods, case-insensitive
        tags: ["DB_Static*"]   # fnmatch globs, case-sensitive; matches when ANY tag of the tool matches
        tools: [post_db_node]  # exact tool names (as the catalog's naming strategy spells them)

A rule needs at least one matcher (``paths``, ``methods``, ``tags`` or ``tools``). When a rule has
several matchers, ALL of them must match (``paths`` + ``methods`` = "these paths, only for POST");
within one matcher, ANY entry may match.

    >>> rules = TierRules.model_validate(
    ...     {"default_tier": 3, "rules": [{"tier": 1, "category": "modeling", "paths": ["/db/NODE"]}]}
    ... )
    >>> rules.assign(path="/db/NODE", method="post", tags=[], name="post_db_node")
    (1, 'modeling')
    >>> rules.assign(path="/db/MVLD", method="POST", tags=[], name="post_db_mvld")
    (3, None)

Errors from :meth:`TierRules.load` are :class:`~schemas.errors.ConfigError` naming the file and
the key, e.g. ``tiers.yaml: rules[4].tier: tier must be 1, 2 or 3, got 7``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.config_errors import describe_validation_error
from schemas.config_files import load_yaml
from schemas.errors import ConfigError

# The seed project's per-endpoint sample counts (GEN NX analysis): used when a file omits quotas.
DEFAULT_QUOTAS: dict[int, tuple[int, int]] = {1: (15, 20), 2: (5, 10), 3: (0, 2)}


def _check_tier(value: int | None, *, allow_none: bool) -> int | None:
    if value is None and allow_none:
        return None
    if value not in (1, 2, 3):
        expected = "1, 2, 3 or null" if allow_none else "1, 2 or 3"
        raise ValueError(f"tier must be {expected}, got {value!r}")
    return value


class TierRule(BaseModel):
    """One rule: the matchers a tool must satisfy, and the tier and category it then gets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tier: int = Field(description="1 (core), 2 (auxiliary) or 3 (specialised)")
    category: str | None = Field(default=None, description="label given to matching tools")
    paths: tuple[str, ...] | None = Field(default=None, description="fnmatch globs on the path template")
    methods: tuple[str, ...] | None = Field(default=None, description="HTTP methods, any case")
    tags: tuple[str, ...] | None = Field(default=None, description="fnmatch globs; any tag may match")
    tools: tuple[str, ...] | None = Field(default=None, description="exact tool names")

    @field_validator("tier", mode="before")
    @classmethod
    def _tier_range(cls, value: Any) -> Any:
        # bool is an int in Python; `tier: true` is a typo, not tier 1.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"tier must be 1, 2 or 3, got {value!r}")
        return _check_tier(value, allow_none=False)

    @field_validator("methods")
    @classmethod
    def _upper_methods(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if value is None else tuple(m.upper() for m in value)

    @field_validator("paths", "methods", "tags", "tools")
    @classmethod
    def _non_empty(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        # An empty list would match nothing, silently: almost certainly a mistake in the file.
        if value is not None and len(value) == 0:
            raise ValueError("must list at least one entry (omit the key to not filter on it)")
        return value

    @model_validator(mode="after")
    def _has_matcher(self) -> TierRule:
        if self.paths is None and self.methods is None and self.tags is None and self.tools is None:
            raise ValueError("a rule needs at least one matcher: paths, methods, tags or tools")
        return self

    def matches(self, *, path: str, method: str, tags: Sequence[str], name: str) -> bool:
        """True when every matcher this rule has accepts the tool."""
        if self.paths is not None and not any(fnmatchcase(path, glob) for glob in self.paths):
            return False
        if self.methods is not None and method.upper() not in self.methods:
            return False
        if self.tags is not None and not any(fnmatchcase(t, glob) for t in tags for glob in self.tags):
            return False
        return self.tools is None or name in self.tools


class TierRules(BaseModel):
    """An ordered list of tier rules, a default tier and per-tier sample quotas."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_tier: int | None = Field(default=3, description="tier of tools no rule matches (or null)")
    quotas: dict[int, tuple[int, int]] = Field(
        default_factory=lambda: dict(DEFAULT_QUOTAS), description="tier -> (min, max) samples per endpoint"
    )
    rules: tuple[TierRule, ...] = Field(default=(), description="tried in order; the first match wins")

    @field_validator("default_tier", mode="before")
    @classmethod
    def _default_tier_range(cls, value: Any) -> Any:
        if isinstance(value, bool) or not (value is None or isinstance(value, int)):
            raise ValueError(f"tier must be 1, 2, 3 or null, got {value!r}")
        return _check_tier(value, allow_none=True)

    @field_validator("quotas")
    @classmethod
    def _quota_ranges(cls, value: dict[int, tuple[int, int]]) -> dict[int, tuple[int, int]]:
        for tier, (low, high) in value.items():
            _check_tier(tier, allow_none=False)
            if low < 0 or high < 0:
                raise ValueError(f"tier {tier}: quota bounds must be >= 0, got [{low}, {high}]")
            if low > high:
                raise ValueError(f"tier {tier}: quota min must be <= max, got [{low}, {high}]")
        return value

    @classmethod
    def load(cls, path: str | Path) -> TierRules:
        """Read and validate a tier-rules YAML file; raise ConfigError naming the file and the key."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read tier rules: {exc.strerror or exc}") from exc
        try:
            data = load_yaml(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def from_mapping(cls, data: Any, *, source: str = "<tier rules>") -> TierRules:
        """Validate already-parsed rules (a mapping); errors name ``source`` and the key."""
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise ConfigError(f"{source}: {describe_validation_error(exc, TierRules)}") from exc

    def assign(
        self, *, path: str, method: str, tags: Sequence[str], name: str
    ) -> tuple[int | None, str | None]:
        """Return ``(tier, category)`` of the first matching rule, else ``(default_tier, None)``."""
        for rule in self.rules:
            if rule.matches(path=path, method=method, tags=tags, name=name):
                return rule.tier, rule.category
        return self.default_tier, None

    def quota(self, tier: int | None) -> tuple[int, int] | None:
        """The (min, max) samples per endpoint for ``tier``, or None when the file sets none."""
        return None if tier is None else self.quotas.get(tier)
