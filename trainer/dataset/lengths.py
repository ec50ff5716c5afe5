"""Training rows that fit: every train / validation row measured in tokens and fitted to ``max_length``.

    splits, report = fit_training_rows(splits, tools, export_options, meter, LengthConfig(), max_length=2048)

TRL cuts a row longer than ``max_length`` at the end -- the assistant turn, i.e. the tool call the row
exists to teach -- and says nothing. Assembly measures each training row as the trainer will see it (the
TRL record, rendered with the base model's chat template and counted by its tokenizer: the ``meter``,
built by ``trainer.row_lengths``; this module only calls it) and applies ``LengthConfig.fit``:

* ``fewer_distractors`` (default): a row over the limit loses distractors, largest tool schema first, one
  at a time until it fits (a ``multiple`` left with only its target becomes ``simple``; an ``irrelevance``
  row keeps one tool); a row that still does not fit (its targets alone are too long) is dropped.
* ``drop``: rows over the limit are dropped.
* ``raise_max_length``: rows stay as they are and the report's ``max_length`` becomes the longest row
  (rounded up to a multiple of 64): train with that ``sft.max_length``.

A row of exactly ``max_length`` tokens fits. ``test_seen`` / ``test_unseen`` are measured for the
distribution but never changed: they are not trained on, and changing them would move the benchmark.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from schemas.models import Sample, Style, Tool
from schemas.records import to_trl
from trainer.dataset.config import ExportOptions, LengthConfig
from trainer.dataset.encoders import tool_responses

Meter = Callable[[Sequence[dict[str, Any]]], list[int]]  # TRL records -> tokens per record
TRAINING_SPLITS = ("train", "validation")
_ROUND = 64


@dataclass
class LengthReport:
    """What fitting did; ``to_dict`` is the manifest's ``lengths`` section."""

    meter: str
    max_length: int
    fit: str
    rows: int = 0  # training rows measured
    distribution: dict[str, int] = field(default_factory=dict)  # p50 / p90 / p99 / max, before fitting
    all_splits: dict[str, int] = field(default_factory=dict)  # the same over every split
    over_before: int = 0  # training rows longer than max_length as assembled
    redrawn: int = 0  # rows that fit after losing distractors
    dropped: int = 0  # rows that could not be made to fit
    over_after: int = 0  # training rows still longer than max_length (0 unless fit is raise_max_length)
    dropped_by_tool: dict[str, int] = field(default_factory=dict)  # first called tool -> rows dropped
    dropped_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("dropped_ids")
        return out


def _distribution(lengths: Sequence[int]) -> dict[str, int]:
    if not lengths:
        return {}
    values = np.asarray(lengths)
    return {
        "p50": int(np.percentile(values, 50)),
        "p90": int(np.percentile(values, 90)),
        "p99": int(np.percentile(values, 99)),
        "max": int(values.max()),
    }


class _Rows:
    """Samples -> the TRL records the trainer reads (the export's records, ``schemas.records.to_trl``)."""

    def __init__(self, tools: Mapping[str, Tool], options: ExportOptions, meter: Meter) -> None:
        self.tools, self.options, self.meter = tools, options, meter
        self.schema_size = {name: len(json.dumps(tool.openai_schema())) for name, tool in tools.items()}

    def measure(self, samples: Sequence[Sample]) -> list[int]:
        responses = self.options.include_tool_responses
        records = [
            to_trl(
                s,
                self.tools,
                system_prompt=self.options.system_prompt,
                tool_responses=tool_responses(s) if responses else None,
            )
            for s in samples
        ]
        return self.meter(records) if records else []

    def lighter(self, sample: Sample) -> Sample | None:
        """``sample`` without its largest distractor, or ``None`` when it has none left to lose."""
        called = {c.name for c in sample.calls}
        spare = [t for t in sample.tools if t not in called]
        if not spare or (not sample.calls and len(spare) == 1):
            return None
        biggest = max(spare, key=lambda t: (self.schema_size.get(t, 0), t))
        tools = [t for t in sample.tools if t != biggest]
        style = sample.style
        if style is Style.MULTIPLE and set(tools) <= called:
            style = Style.SIMPLE
        return Sample.create(
            query=sample.query,
            language=sample.language,
            style=style,
            tools=tools,
            calls=sample.calls,
            tier=sample.tier,
            provenance=sample.provenance,
            execution=sample.execution,
            reference=sample.reference,  # the acceptable values stay with the calls they belong to
        )


def fit_training_rows(
    splits: dict[str, list[Sample]],
    tools: Mapping[str, Tool],
    options: ExportOptions,
    meter: Meter,
    config: LengthConfig,
    *,
    max_length: int,
) -> tuple[dict[str, list[Sample]], LengthReport]:
    """The splits with every training row fitted to ``max_length`` (see the module docstring).

    ``meter.name``, when the meter has one, names what measured in the report (read after measuring:
    a lazy meter knows only then whether it got the model's tokenizer or the stand-in).
    """
    rows = _Rows(tools, options, meter)
    report = LengthReport(meter="", max_length=max_length, fit=config.fit)
    lengths = {name: rows.measure(splits.get(name, [])) for name in splits}
    report.meter = str(getattr(meter, "name", "a custom meter"))
    training = [n for name in TRAINING_SPLITS for n in lengths.get(name, [])]
    report.rows = len(training)
    report.distribution = _distribution(training)
    report.all_splits = _distribution([n for values in lengths.values() for n in values])
    report.over_before = sum(1 for n in training if n > max_length)
    if not report.over_before:
        return splits, report
    if config.fit == "raise_max_length":
        longest = max(training)
        report.max_length = -(-longest // _ROUND) * _ROUND
        return splits, report
    out = dict(splits)
    for name in TRAINING_SPLITS:
        samples, measured = splits.get(name, []), lengths.get(name, [])
        fitted = list(samples)
        over = [i for i, n in enumerate(measured) if n > max_length]
        while over and config.fit == "fewer_distractors":
            lighter = {i: rows.lighter(fitted[i]) for i in over}
            # a row with no distractor left to lose cannot be made to fit
            report.dropped_ids += [samples[i].id for i, s in lighter.items() if s is None]
            trying = {i: s for i, s in lighter.items() if s is not None}
            over = []
            for (i, sample), n in zip(trying.items(), rows.measure(list(trying.values())), strict=True):
                fitted[i] = sample
                if n <= max_length:
                    report.redrawn += 1
                else:
                    over.append(i)  # still over: it loses another distractor next round
        if config.fit == "drop":
            report.dropped_ids += [samples[i].id for i in over]
        dropped = set(report.dropped_ids)
        out[name] = [s for s, original in zip(fitted, samples, strict=True) if original.id not in dropped]
    report.dropped = len(report.dropped_ids)
    dropped = set(report.dropped_ids)
    by_tool = Counter(
        s.calls[0].name if s.calls else "(irrelevance)"
        for name in TRAINING_SPLITS
        for s in splits.get(name, [])
        if s.id in dropped
    )
    # Most first: a tool whose schema alone is longer than max_length loses every row (train it with a
    # larger max_length, fit: raise_max_length).
    report.dropped_by_tool = dict(sorted(by_tool.items(), key=lambda kv: (-kv[1], kv[0])))
    return out, report
