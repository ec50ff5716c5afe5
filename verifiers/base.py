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

Execution results travel through a side channel, not through verdicts: a verifier that runs calls
stores ``ctx.resources[EXECUTION_RESULTS_KEY][sample.id] = list[ExecutionResult]`` (one per call it
ran). ``verifiers.pipeline.run_verifiers`` copies them onto the samples with
``sample.model_copy(update={"execution": results})`` as soon as that verifier returns, so later
verifiers (e.g. the semantic judge) see ``sample.execution``, and accepted and rejected samples both
carry them.

Errors: a verifier that raises, or returns the wrong number of verdicts or verdicts for other samples,
is a bug in that verifier; the pipeline raises ``VerifierBugError`` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from schemas.catalog import Catalog
from schemas.errors import CallforgeError
from schemas.models import Sample, Verdict

ENTRY_POINT_GROUP = "callforge.verifiers"
# ctx.resources key of the execution side channel: {sample_id: list[ExecutionResult]} (see above).
EXECUTION_RESULTS_KEY = "execution_results"
# ctx.resources key of the teacher client the semantic verifier's judge mode uses.
TEACHER_KEY = "teacher"


class VerifierOptions(BaseModel):
    """Base of every verifier's ``Options``: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")


class VerifierBugError(CallforgeError, RuntimeError):
    """A verifier broke its contract (raised on samples, wrong verdict count or ids). Names the verifier."""

    def __init__(self, verifier: str, message: str) -> None:
        self.verifier = verifier
        super().__init__(f"verifier {verifier!r}: {message}")


class VerifierUnavailable(RuntimeError):
    """A verifier could not reach what it judges with (its sandbox, a server, the judge model).

    Raised for the whole batch instead of verdicts: an outage says nothing about a sample, so nothing
    is recorded and the caller retries the batch (the flows retry the shard). Not a ``CallforgeError``
    on purpose: those are input and configuration errors, which a retry cannot fix.
    """


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

    def __init__(self, options: Any) -> None: ...  # an instance of its ``Options``

    def verify(self, samples: list[Sample], ctx: VerifyContext) -> list[Verdict]: ...


class SampleVerifier:
    """A base for verifiers that judge each sample on its own: implement ``judge``.

    ``verify`` maps ``judge`` over the batch, so "one verdict per sample, in order" holds by
    construction. Subclasses set ``name`` and may set ``requires``, ``cost`` and ``Options``; see the
    example plugin in ``verifiers/WRITING_A_VERIFIER.md``. Batch work (one HTTP client, one model call)
    belongs in a ``verify`` of your own instead.
    """

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    cost: ClassVar[int] = 50
    Options: ClassVar[type[VerifierOptions]] = VerifierOptions

    def __init__(self, options: VerifierOptions | None = None) -> None:
        self.options: Any = options if options is not None else self.Options()

    def verify(self, samples: list[Sample], ctx: VerifyContext) -> list[Verdict]:
        return [self.judge(sample, ctx) for sample in samples]

    def judge(self, sample: Sample, ctx: VerifyContext) -> Verdict:
        raise NotImplementedError(f"{type(self).__name__}.judge")


def contract_problems(verifier: str, batch: list[Sample], verdicts: Any) -> list[str]:
    """What is wrong with ``verdicts`` as a verifier's answer for ``batch`` (empty when nothing).

    The one check of the verdict contract: the pipeline raises ``VerifierBugError`` on the first
    problem, the conformance helper (``verifiers.testing``) lists them all.
    """
    if not isinstance(verdicts, list):
        return [f"returned {type(verdicts).__name__}, expected list[Verdict]"]
    if len(verdicts) != len(batch):
        return [
            f"returned {len(verdicts)} verdict(s) for {len(batch)} sample(s); expected one per sample, in order"
        ]
    problems = []
    for index, (sample, verdict) in enumerate(zip(batch, verdicts, strict=True)):
        if not isinstance(verdict, Verdict):
            problems.append(f"verdict {index} is a {type(verdict).__name__}, not a Verdict")
            continue
        if verdict.sample_id != sample.id:
            problems.append(
                f"verdict {index} is for sample {verdict.sample_id!r} but sample {index} is {sample.id!r} "
                "(same order as the input)"
            )
        if verdict.verifier != verifier:
            problems.append(f"verdict {index} says verifier={verdict.verifier!r}, expected {verifier!r}")
    return problems
