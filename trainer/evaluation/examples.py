"""The evaluation's inputs and one model's run over them: ``EvalExample`` rows read from a dataset.

    examples = load_examples(Path("data/runs/x/dataset"), ["test_seen", "test_unseen"], limit=100)

Each example is a held-out conversation cut before its first assistant turn, its offered tools, the
calls it should make and their references (acceptable values, omittable arguments; see
``trainer.evaluation.scoring.ReferenceCall``). Kept apart from ``evaluate`` so the execution check and
the reports can name these types without importing the stage.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.catalog import Catalog
from schemas.errors import ConfigError
from schemas.models import HttpBinding, Tool, ToolCall, ToolSource
from schemas.records import from_trl
from trainer.evaluation.metrics import ExampleScore
from trainer.evaluation.scoring import ReferenceCall


@dataclass
class EvalExample:
    """One held-out conversation: the prompt the model sees and the calls it should make."""

    id: str
    split: str
    tier: int | None
    style: str
    language: str
    prompt: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    expected: list[ToolCall]
    query: str
    references: list[ReferenceCall] = field(default_factory=list)

    @property
    def arguments_stratum(self) -> str:
        """``zero`` when every reference call takes no argument (a stratum a name alone gets right)."""
        if not self.expected:
            return "no_call"
        return "zero" if all(not c.arguments for c in self.expected) else "some"


def references_for(
    calls: Sequence[ToolCall], tools: Sequence[dict[str, Any]], recorded: Any = None, where: str = "record"
) -> list[ReferenceCall]:
    """Each call's reference: its values, what its tool's schema makes acceptable (defaults), and what
    the record's ``reference`` field adds — a list aligned with the calls of
    ``{"acceptable": {argument: [values…]}, "omittable": [arguments…]}`` (a JSON string or a list)."""
    if isinstance(recorded, str):
        try:
            recorded = json.loads(recorded) if recorded.strip() else None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: 'reference' is not JSON ({exc})") from None
    if recorded is not None and (not isinstance(recorded, list) or len(recorded) != len(calls)):
        raise ConfigError(f"{where}: 'reference' must be a list with one entry per call ({len(calls)})")
    schemas = {t.get("function", t)["name"]: t.get("function", t).get("parameters") for t in tools}
    references = []
    for i, call in enumerate(calls):
        base = ReferenceCall.from_schema(call.name, call.arguments, schemas.get(call.name))
        extra = (recorded or [None] * len(calls))[i] or {}
        if not isinstance(extra, dict):
            raise ConfigError(f"{where}: reference[{i}] must be an object with 'acceptable' and 'omittable'")
        acceptable = extra.get("acceptable") or {}
        omittable = extra.get("omittable") or []
        if not isinstance(acceptable, dict) or not isinstance(omittable, list):
            raise ConfigError(f"{where}: reference[{i}] needs 'acceptable' (object) and 'omittable' (list)")
        values = {k: list(v) for k, v in base.values.items()}
        for key, options in acceptable.items():
            values.setdefault(key, [])
            values[key] += [
                o for o in (options if isinstance(options, list) else [options]) if o not in values[key]
            ]
        for key in omittable:
            values.setdefault(key, [])
        references.append(ReferenceCall(call.name, values, base.omittable | frozenset(omittable)))
    return references


def find_dataset_dict(dataset_dir: Path) -> Path:
    """The ``save_to_disk`` folder inside an assembled dataset (``hf/``), or the folder itself."""
    if not dataset_dir.is_dir():
        raise ConfigError(
            f"{dataset_dir}: no such dataset directory; point --dataset at what `callforge assemble` wrote"
        )
    for candidate in (dataset_dir / "hf", dataset_dir):
        if (candidate / "dataset_dict.json").is_file():
            return candidate
    raise ConfigError(
        f"{dataset_dir}: no Hugging Face DatasetDict here (expected hf/dataset_dict.json); "
        "point --dataset at the folder `callforge assemble` wrote"
    )


def load_examples(dataset_dir: Path, splits: Sequence[str], limit: int | None = None) -> list[EvalExample]:
    from datasets import load_from_disk

    dataset = load_from_disk(str(find_dataset_dict(dataset_dir)))
    missing = [s for s in splits if s not in dataset]
    if missing:
        raise ConfigError(
            f"{dataset_dir}: split(s) {missing} not in the dataset (it has {sorted(dataset)}); choose with --splits"
        )
    examples: list[EvalExample] = []
    for split in splits:
        rows = dataset[split]
        for i, row in enumerate(rows):
            if limit is not None and i >= limit:
                break
            sample = from_trl(row)
            first_assistant = next(
                (k for k, m in enumerate(row["messages"]) if m.get("role") == "assistant"),
                len(row["messages"]),
            )
            examples.append(
                EvalExample(
                    id=row.get("id") or sample.id,
                    split=split,
                    tier=row.get("tier"),
                    style=sample.style.value,
                    language=sample.language,
                    prompt=row["messages"][:first_assistant],
                    tools=list(row["tools"]),
                    expected=sample.calls,
                    query=sample.query,
                    references=references_for(
                        sample.calls, list(row["tools"]), row.get("reference"), f"{split} row {i}"
                    ),
                )
            )
    return examples


def tools_from_schemas(examples: Sequence[EvalExample], catalog: Catalog | None) -> dict[str, Tool]:
    """Tools to score against: the catalog's when given, else rebuilt from the offered schemas (those
    carry no HTTP binding, so they serve schema checks only)."""
    tools: dict[str, Tool] = dict(catalog.by_name) if catalog is not None else {}
    for example in examples:
        for schema in example.tools:
            fn = schema.get("function", schema)
            if fn["name"] not in tools:
                tools[fn["name"]] = Tool(
                    name=fn["name"],
                    description=fn.get("description", ""),
                    parameters=fn.get("parameters") or {"type": "object", "properties": {}},
                    binding=HttpBinding(method="POST", path="/"),
                    source=ToolSource(file="dataset"),
                )
    return tools


@dataclass
class ModelRun:
    label: str
    scores: list[ExampleScore]
    replies: list[str]
    seconds: float

    @property
    def examples_per_second(self) -> float:
        return len(self.replies) / self.seconds if self.seconds else 0.0
