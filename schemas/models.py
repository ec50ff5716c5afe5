"""The contracts between stages: Tool, ToolCall, Sample, Verdict.

These pydantic models are the only shapes that cross a stage boundary (see DESIGN.md §3). They
validate on construction, so a malformed record fails where it is read, with the field named,
instead of three stages later.

    >>> call = ToolCall(name="post_db_node", arguments={"Assign": {"1": {"X": 0, "Y": 0, "Z": 0}}})
    >>> s = Sample.create(query="Add node 1 at the origin", language="en", style="simple",
    ...                   tools=["post_db_node"], calls=[call])
    >>> s.id == Sample.create(query=s.query, language="en", style="simple",
    ...                       tools=["post_db_node"], calls=[call]).id
    True
"""

from __future__ import annotations

import json
import re
from collections import Counter
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from schemas.canonical import content_hash

_REASON_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_HTTP_METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE")


# Validation-context key: the tools' fingerprints were computed by callforge and their records are
# checksummed, so validation need not recompute them (70 % of reading a cached GEN NX catalog).
FINGERPRINTS_CHECKED = "callforge.fingerprints_checked"


class Strict(BaseModel):
    """Base for contract models: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


# --------------------------------------------------------------------------------------------- tools


class ParamLocation(StrEnum):
    """Where an argument goes in the HTTP request."""

    PATH = "path"
    QUERY = "query"
    HEADER = "header"
    COOKIE = "cookie"
    BODY = "body"  # the argument *is* the whole request body (non-object bodies, e.g. an array)
    BODY_PROPERTY = "body-property"  # a top-level property of a JSON object body
    FORM = "form"  # a field of an urlencoded or multipart body


class ArgumentBinding(Strict):
    """How one tool argument maps onto the request."""

    location: ParamLocation
    name: str = Field(description="the wire name (parameter or property name as the spec spells it)")
    style: str | None = Field(default=None, description="OpenAPI serialisation style (form, simple, …)")
    explode: bool | None = None
    required: bool = False
    content_type: str | None = Field(default=None, description="per-part media type for multipart")


class HttpBinding(Strict):
    """Everything needed to rebuild the real HTTP request from a ToolCall."""

    method: str
    path: str = Field(description="path template, e.g. /pets/{petId}")
    server_url: str = Field(default="", description="base URL with server variables already applied")
    server_variables: dict[str, Any] = Field(default_factory=dict)
    arguments: dict[str, ArgumentBinding] = Field(default_factory=dict)
    body_media_type: str | None = Field(
        default=None, description="application/json, application/x-www-form-urlencoded or multipart/form-data"
    )
    body_required: bool = False
    security: list[dict[str, list[str]]] = Field(
        default_factory=list, description="security requirements (alternatives), names into security_schemes"
    )
    security_schemes: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("method")
    @classmethod
    def _method_upper(cls, value: str) -> str:
        method = value.upper()
        if method not in _HTTP_METHODS:
            raise ValueError(f"expected an HTTP method ({', '.join(_HTTP_METHODS)}), got {value!r}")
        return method

    @field_validator("path")
    @classmethod
    def _path_absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"path template must start with '/', got {value!r}")
        return value


class ToolSource(Strict):
    """Where a tool came from, for people and for provenance."""

    file: str
    title: str = ""
    version: str = ""
    openapi: str = Field(default="", description="the spec's declared version, e.g. 3.1.0 or 2.0")
    pointer: str = Field(default="", description="JSON pointer of the operation, e.g. /paths/~1pets/get")
    operation_id: str | None = None


class Tool(Strict):
    """One callable operation: a JSON-Schema signature plus its HTTP binding.

    ``fingerprint`` is the sha256 of everything but ``tier`` and is filled in when omitted; a
    fingerprint given explicitly must match the content (a mismatch means an edited record).
    """

    name: str = Field(min_length=1)
    description: str = ""
    parameters: dict[str, Any]
    binding: HttpBinding
    tier: int | None = None
    category: str | None = None
    deprecated: bool = False
    source: ToolSource
    fingerprint: str = ""

    @field_validator("parameters")
    @classmethod
    def _parameters_object(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") != "object":
            raise ValueError(
                f"parameters must be a JSON Schema with type 'object', got type={value.get('type')!r}"
            )
        props = value.get("properties", {})
        if not isinstance(props, dict):
            raise ValueError("parameters.properties must be an object")
        required = value.get("required", [])
        missing = [r for r in required if r not in props]
        if missing:
            raise ValueError(f"parameters.required names properties that do not exist: {missing}")
        return value

    @field_validator("tier")
    @classmethod
    def _tier_range(cls, value: int | None) -> int | None:
        if value is not None and value not in (1, 2, 3):
            raise ValueError(f"tier must be 1, 2, 3 or null, got {value!r}")
        return value

    def compute_fingerprint(self) -> str:
        return content_hash(self.model_dump(mode="json", exclude={"tier", "fingerprint"}))

    @model_validator(mode="after")
    def _fingerprint(self, info: ValidationInfo) -> Tool:
        if self.fingerprint and info.context and info.context.get(FINGERPRINTS_CHECKED):
            return self  # records callforge wrote itself and has checksummed (the ingest cache)
        expected = self.compute_fingerprint()
        if not self.fingerprint:
            self.fingerprint = expected
        elif self.fingerprint != expected:
            raise ValueError(
                f"tool {self.name!r}: fingerprint {self.fingerprint[:12]}… does not match its content "
                f"({expected[:12]}…); the record was edited — drop the fingerprint field to recompute it"
            )
        return self

    def openai_schema(self) -> dict[str, Any]:
        """The tool in OpenAI / TRL ``tools`` format."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


# --------------------------------------------------------------------------------------------- calls


class ToolCall(Strict):
    """One call: a tool name and its arguments as a dict (never a JSON string)."""

    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)

    @field_validator("arguments", mode="before")
    @classmethod
    def _arguments_dict(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(
                "arguments must be a dict, got a string; decode JSON strings at the record boundary "
                "(schemas.records does this for TRL and xLAM records)"
            )
        if value is None:
            return {}
        return value

    def canonical(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}


class Style(StrEnum):
    SIMPLE = "simple"
    MULTIPLE = "multiple"
    PARALLEL = "parallel"
    PARALLEL_MULTIPLE = "parallel_multiple"
    IRRELEVANCE = "irrelevance"


def infer_style(tools: list[str], calls: list[ToolCall]) -> Style:
    """The style a (tools offered, calls) pair has, for records that do not carry one."""
    if not calls:
        return Style.IRRELEVANCE
    names = {c.name for c in calls}
    if len(calls) == 1:
        return Style.SIMPLE if len(tools) == 1 else Style.MULTIPLE
    return Style.PARALLEL if len(names) == 1 else Style.PARALLEL_MULTIPLE


class Provenance(Strict):
    """Who made a sample and how; never part of its id."""

    generator: Literal["template", "llm", "seed", "import"] = "template"
    teacher_model: str | None = None
    prompt_version: str | None = None
    seed: int | None = None
    work_item: str | None = Field(default=None, description="id of the plan's work item")
    few_shot: list[str] | None = Field(
        default=None, description="sources of the few-shot examples the teacher was shown (seed pool)"
    )


class ExecutionResult(Strict):
    """What happened when one call was executed."""

    call_index: int
    target: Literal["sandbox", "real"] = "sandbox"
    method: str = ""
    url: str = ""
    status_code: int | None = None
    response: str = Field(default="", description="response body, truncated")
    error: str | None = None
    latency_ms: float | None = None


class CallReference(Strict):
    """How else one call may rightly be written: more acceptable values per argument, and arguments
    that may be left out. It tells evaluation how to score the call, so it is never part of a sample's
    id (``trainer.evaluation.examples.references_for`` reads it)."""

    acceptable: dict[str, list[Any]] = Field(default_factory=dict)
    omittable: list[str] = Field(default_factory=list)


class Sample(Strict):
    """A query and the calls that answer it. ``id`` is a hash of the content, not of provenance."""

    id: str = ""
    query: str = Field(min_length=1)
    language: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Za-z]{2,4})?$")
    style: Style
    tools: list[str] = Field(min_length=1, description="names offered, distractors included")
    calls: list[ToolCall] = Field(default_factory=list)
    tier: int | None = None
    provenance: Provenance = Field(default_factory=Provenance)
    execution: list[ExecutionResult] | None = None
    reference: list[CallReference] | None = Field(
        default=None, description="per call, in order: acceptable alternatives (evaluation only)"
    )

    @field_validator("tools")
    @classmethod
    def _unique_tools(cls, value: list[str]) -> list[str]:
        dupes = sorted(t for t, n in Counter(value).items() if n > 1)
        if dupes:
            raise ValueError(f"tools offered twice: {dupes}")
        return value

    @model_validator(mode="after")
    def _consistency(self) -> Sample:
        if self.style is Style.IRRELEVANCE and self.calls:
            raise ValueError("style 'irrelevance' means no call answers the query, but calls were given")
        if self.style is not Style.IRRELEVANCE and not self.calls:
            raise ValueError(f"style {self.style.value!r} needs at least one call")
        if self.reference is not None and len(self.reference) != len(self.calls):
            raise ValueError(
                f"reference has {len(self.reference)} entries for {len(self.calls)} calls; it needs one per call"
            )
        expected = self.content_id()
        if not self.id:
            self.id = expected
        elif self.id != expected:
            raise ValueError(
                f"sample id {self.id!r} does not match its content ({expected!r}); ids are content hashes — "
                "omit the id to recompute it"
            )
        return self

    def content_id(self) -> str:
        return content_hash(
            {
                "query": self.query,
                "language": self.language,
                "style": self.style.value,
                "tools": self.tools,
                "calls": [c.canonical() for c in self.calls],
            },
            length=24,
        )

    @classmethod
    def create(cls, **fields: Any) -> Sample:
        """Build a sample and compute its id (any ``id`` passed is ignored)."""
        fields.pop("id", None)
        return cls(**fields)


# ------------------------------------------------------------------------------------------ verdicts


class Verdict(Strict):
    """One verifier's judgement of one sample. ``passed=None`` means undecided.

        Verdict.ok(sample.id, "query_length", length=42)
        Verdict.fail(sample.id, "query_length", "query_too_short", "query has 3 characters", length=3)
        Verdict.undecided(sample.id, "execution", "transport_error", "connection refused")

    The three constructors put keyword arguments into ``details`` (JSON-serialisable). They are not
    called ``passed`` / ``failed``: a class attribute named ``passed`` would shadow the field.
    """

    sample_id: str
    verifier: str
    passed: bool | None
    code: str = "ok"
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("code")
    @classmethod
    def _snake(cls, value: str) -> str:
        if not _REASON_CODE.match(value):
            raise ValueError(f"reason code must be snake_case (e.g. 'unknown_tool'), got {value!r}")
        return value

    @classmethod
    def ok(cls, sample_id: str, verifier: str, **details: Any) -> Verdict:
        """A pass (code ``ok``)."""
        return cls(sample_id=sample_id, verifier=verifier, passed=True, details=details)

    @classmethod
    def fail(cls, sample_id: str, verifier: str, code: str, message: str = "", **details: Any) -> Verdict:
        """A rejection with its snake_case reason code and a message for people."""
        return cls(
            sample_id=sample_id, verifier=verifier, passed=False, code=code, message=message, details=details
        )

    @classmethod
    def undecided(
        cls, sample_id: str, verifier: str, code: str, message: str = "", **details: Any
    ) -> Verdict:
        """Could not judge (a service unreachable, an unparseable judgement): neither pass nor fail."""
        return cls(
            sample_id=sample_id, verifier=verifier, passed=None, code=code, message=message, details=details
        )

    @model_validator(mode="after")
    def _details_json(self) -> Verdict:
        try:
            json.dumps(self.details)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"verdict details must be JSON-serialisable: {exc}") from exc
        return self
