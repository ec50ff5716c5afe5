"""The verifier extension point.

A verifier judges a *batch* of samples and returns exactly one ``Verdict`` per sample, in order::

    class MyVerifier:
        name = "my_check"
        requires = ("format",)          # run only on samples that passed these
        cost = 50                       # lower runs first (format 10, dedup 20, execution 100, …)

        class Options(VerifierOptions):  # extra="forbid": a typo in a config key is an error
            threshold: float = 0.5

        def __init__(self, options: Options) -> None: ...
        def verify(self, samples: list[Sample], ctx: VerifyContext) -> list[Verdict]: ...

Rules: raise on bad *configuration* (in ``__init__``), never on a bad *sample* — a sample that cannot
be judged gets ``passed=None`` with a reason code. Verifiers are found through the entry-point group
``callforge.verifiers`` (the built-ins are registered there too, see pyproject.toml).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from schemas.catalog import Catalog
from schemas.models import Sample, Verdict

ENTRY_POINT_GROUP = "callforge.verifiers"


class VerifierOptions(BaseModel):
    """Base of every verifier's ``Options``: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class VerifyContext:
    """What a verifier may need besides the samples. Built once per run (or shard)."""

    catalog: Catalog
    # Free-form, stage-level resources a verifier may look up by key (e.g. "sandbox_url", "teacher").
    resources: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Verifier(Protocol):
    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]]
    cost: ClassVar[int]
    Options: ClassVar[type[VerifierOptions]]

    def verify(self, samples: list[Sample], ctx: VerifyContext) -> list[Verdict]: ...
