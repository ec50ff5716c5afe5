"""Encoders: samples -> the rows of the TRL, xLAM and flat exports, as JSON text, Arrow and polars.

    encoders = Encoders(catalog, options)          # before the splits are known
    encoders.warm(samples)                         # optional: encode ahead while the split runs
    table, lines = encoders.trl.encode(samples)    # Arrow table (HF feature metadata) + JSON lines
    xlam = encoders.xlam.frame(samples)            # polars frame of to_xlam records
    flat = encoders.flat.frame(samples)            # polars frame of to_flat records (single-call)

In: ``Sample``s, the catalog's tools by name and the ``ExportOptions``. Out: for each format, exactly
what ``json.dumps`` of the ``schemas.records`` record (``to_trl``, ``to_xlam``, ``to_flat``) would
give — tests hold every export to those functions. Only the serialisation is specialised, because it
is most of the export's cost at 100,000 samples: each tool's JSON is encoded once per export
(``_ToolTexts``), each call's arguments once for every format (``arguments_json``), and the common TRL
record is written from its parts. A tool offered by a sample but missing from the catalog raises
``RecordError``. Writing the files is ``trainer.dataset.exports``' job.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl
import pyarrow as pa

from schemas.catalog import Catalog
from schemas.errors import RecordError
from schemas.models import Sample, Style, Tool, ToolCall
from schemas.records import reference_json, to_flat, to_trl
from trainer.dataset.config import ExportOptions

_META_SCHEMA = {
    "id": pl.String,
    "style": pl.String,
    "language": pl.String,
    "tier": pl.Int64,
    "reference": pl.String,
}
_XLAM_SCHEMA = {"query": pl.String, "tools": pl.String, "answers": pl.String, **_META_SCHEMA}
_FLAT_SCHEMA = {
    "query": pl.String,
    "tool_name": pl.String,
    "arguments": pl.String,
    "tools": pl.String,
    **_META_SCHEMA,
}


# One encoder for every value: json.dumps with non-default options builds a new encoder per call,
# which is a third of the cost of encoding a small dict.
_dumps = json.JSONEncoder(ensure_ascii=False).encode
_string = json.encoder.encode_basestring  # a str as JSON, unicode kept: what _dumps gives for one
# Style.value through the enum descriptor is a measurable share of 100,000 rows; a dict lookup is not.
_STYLE = {style: style.value for style in Style}


def conversation_features() -> dict[str, Any]:
    """The columns every TRL conversational export shares (single-turn samples and multi-turn
    trajectories): messages and tools as ``List(Json())`` and the row id."""
    from datasets import Json, List, Value

    return {"messages": List(Json()), "tools": List(Json()), "id": Value("string")}


def hf_features():  # -> datasets.Features
    """The Hugging Face features of the TRL export: the conversation columns, then the sample's labels."""
    from datasets import Features, Value

    return Features(
        {
            **conversation_features(),
            "style": Value("string"),
            "language": Value("string"),
            "tier": Value("int64"),
            "reference": Value("string"),
        }
    )


def tool_responses(sample: Sample) -> list[str] | None:
    """The response bodies of every call in order, or ``None`` unless each call has one."""
    if not sample.calls or not sample.execution:
        return None
    by_index = {r.call_index: r for r in sample.execution}
    results = [by_index.get(i) for i in range(len(sample.calls))]
    if any(r is None or r.error for r in results):
        return None
    return [r.response for r in results]  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------- TRL


def _json_list(flat: list[str], offsets: list[int]) -> pa.Array:
    """A ``list<json>`` Arrow array from the JSON texts of all rows and each row's start offset."""
    values = pa.ExtensionArray.from_storage(pa.json_(), pa.array(flat, pa.string()))
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


def _json_text(value: str | int | None) -> str:
    return "null" if value is None else str(value) if isinstance(value, int) else _string(value)


class _ToolTexts:
    """name -> the JSON of ``render(tool)``, encoded on first use; a name not in the catalog is an error."""

    def __init__(
        self, tools: Mapping[str, Tool], render: Callable[[Tool], dict[str, Any]], export: str
    ) -> None:
        self._tools = tools
        self._render = render
        self._export = export
        self._texts: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        text = self._texts.get(name)
        if text is None:
            tool = self._tools.get(name)
            if tool is None:
                raise RecordError(f"{self._export} export: offered tool {name!r} is not in the catalog")
            text = self._texts[name] = _dumps(self._render(tool))
        return text

    def many(self, names: Sequence[str]) -> list[str]:
        """``[self(name) for name in names]``, without a call per name once a tool is encoded."""
        texts = self._texts
        return [texts[name] if name in texts else self(name) for name in names]


def arguments_json(calls: Sequence[ToolCall]) -> list[str]:
    """``json.dumps(call.arguments, ensure_ascii=False)`` of each call (shared by every format)."""
    return [_dumps(c.arguments) for c in calls]


def _calls_json(calls: Sequence[ToolCall], wrap: bool, arguments: Sequence[str] | None = None) -> str:
    """``json.dumps`` of the calls as ``{"name", "arguments"}`` dicts, or with ``wrap`` as TRL's
    ``{"type": "function", "function": {...}}`` entries, written from the parts. ``arguments`` are the
    calls' ``arguments_json`` when already encoded."""
    if arguments is None:
        arguments = arguments_json(calls)
    if wrap:
        parts = [
            f'{{"type": "function", "function": {{"name": {_string(c.name)}, "arguments": {a}}}}}'
            for c, a in zip(calls, arguments, strict=True)
        ]
    else:
        parts = [
            f'{{"name": {_string(c.name)}, "arguments": {a}}}' for c, a in zip(calls, arguments, strict=True)
        ]
    return "[" + ", ".join(parts) + "]"


class _Encoder:
    """Per-sample encodings that can be made ahead: ``warm`` (e.g. while the split waits for its
    near-duplicate clusters) computes them, and the export takes each one once."""

    def __init__(self) -> None:
        self._ready: dict[str, tuple[Sample, Any]] = {}

    def _piece(self, sample: Sample, arguments: Sequence[str] | None = None) -> Any:
        """The sample's encoding; ``arguments`` are its calls' ``arguments_json`` when already made."""
        raise NotImplementedError

    def warm(self, samples: Sequence[Sample]) -> None:
        for sample in samples:
            self._ready[sample.id] = (sample, self._piece(sample))

    def warm_one(self, sample: Sample, arguments: Sequence[str]) -> None:
        self._ready[sample.id] = (sample, self._piece(sample, arguments))

    def _take(self, sample: Sample) -> Any:
        ready = self._ready.pop(sample.id, None)
        return ready[1] if ready is not None and ready[0] is sample else self._piece(sample)


class TrlEncoder(_Encoder):
    """Encodes samples as TRL records: JSON lines and an Arrow table, from the same strings.

    The records are ``to_trl``'s, encoded as ``json.dumps`` would encode them. Text that repeats (the
    system turn, each tool's schema) is encoded once; the common record — a query answered by calls,
    without tool turns — is written from its parts instead of building ``to_trl``'s dicts first (a
    test holds the two to the same output); every other record goes through ``to_trl``.
    """

    def __init__(self, tools: Mapping[str, Tool], options: ExportOptions) -> None:
        super().__init__()
        self.tools = tools
        self.options = options
        self._tool = _ToolTexts(tools, Tool.openai_schema, "TRL")
        self._system = {"role": "system", "content": options.system_prompt}
        self._system_json = _dumps(self._system)

    def _message(self, message: dict[str, Any]) -> str:
        if message == self._system:
            return self._system_json
        if (
            len(message) == 2
            and isinstance(message.get("content"), str)
            and isinstance(message.get("role"), str)
        ):
            return f'{{"role": {_string(message["role"])}, "content": {_string(message["content"])}}}'
        return _dumps(message)

    def _messages(self, sample: Sample, arguments: Sequence[str] | None = None) -> list[str]:
        responses = tool_responses(sample) if self.options.include_tool_responses else None
        if sample.calls and responses is None:
            calls = _calls_json(sample.calls, True, arguments)
            return [
                self._system_json,
                f'{{"role": "user", "content": {_string(sample.query)}}}',
                f'{{"role": "assistant", "content": "", "tool_calls": {calls}}}',
            ]
        record = to_trl(
            sample, self.tools, system_prompt=self.options.system_prompt, tool_responses=responses
        )
        return [self._message(m) for m in record["messages"]]

    def _piece(
        self, sample: Sample, arguments: Sequence[str] | None = None
    ) -> tuple[list[str], list[str], str]:
        """(message JSONs, offered tool JSONs, the JSON line): none depends on the split, so all three
        can be made while the split waits for its clusters."""
        encoded, offered = self._messages(sample, arguments), self._tool.many(sample.tools)
        # The _META_SCHEMA fields in order, each as _json_text would write it.
        line = (
            f'{{"messages":[{",".join(encoded)}],"tools":[{",".join(offered)}],"id":{_string(sample.id)},'
            f'"style":{_string(_STYLE[sample.style])},"language":{_string(sample.language)},'
            f'"tier":{_json_text(sample.tier)},"reference":{_string(reference_json(sample))}}}'
        )
        return encoded, offered, line

    def encode(self, samples: Sequence[Sample]) -> tuple[pa.Table, list[str]]:
        """(Arrow table with the HF feature metadata, JSON lines) for ``samples`` in order."""
        messages: list[str] = []
        message_offsets = [0]
        tools: list[str] = []
        tool_offsets = [0]
        meta: dict[str, list[Any]] = {
            "id": [s.id for s in samples],
            "style": [_STYLE[s.style] for s in samples],
            "language": [s.language for s in samples],
            "tier": [s.tier for s in samples],
            "reference": [reference_json(s) for s in samples],
        }
        lines: list[str] = []
        for sample in samples:
            encoded, offered, line = self._take(sample)
            messages += encoded
            message_offsets.append(len(messages))
            tools += offered
            tool_offsets.append(len(tools))
            lines.append(line)
        table = pa.table(
            {
                "messages": _json_list(messages, message_offsets),
                "tools": _json_list(tools, tool_offsets),
                **{key: pa.array(meta[key], pa.string()) for key in ("id", "style", "language")},
                "tier": pa.array(meta["tier"], pa.int64()),
                "reference": pa.array(meta["reference"], pa.string()),
            }
        )
        features = hf_features()
        table = table.replace_schema_metadata(
            {"huggingface": _dumps({"info": {"features": features.to_dict()}})}
        )
        return table, lines


# --------------------------------------------------------------------------------------- xLAM, flat


class XlamEncoder(_Encoder):
    """``to_xlam`` records as a polars frame, with each tool's JSON encoded once.

    ``to_xlam`` encodes the offered tools with ``json.dumps(list)``, i.e. the elements' JSON joined by
    ``", "`` inside brackets; joining cached element strings the same way gives the same text.
    """

    def __init__(self, tools: Mapping[str, Tool]) -> None:
        super().__init__()
        self._tool = _ToolTexts(
            tools,
            lambda t: {"name": t.name, "description": t.description, "parameters": t.parameters},
            "xLAM",
        )

    def _piece(self, sample: Sample, arguments: Sequence[str] | None = None) -> tuple[str, str]:
        return "[" + ", ".join(self._tool.many(sample.tools)) + "]", _calls_json(
            sample.calls, False, arguments
        )

    def frame(self, samples: Sequence[Sample]) -> pl.DataFrame:
        pieces = [self._take(s) for s in samples]
        columns: dict[str, list[Any]] = {
            "query": [s.query for s in samples],
            "tools": [p[0] for p in pieces],
            "answers": [p[1] for p in pieces],
            "id": [s.id for s in samples],
            "style": [_STYLE[s.style] for s in samples],
            "language": [s.language for s in samples],
            "tier": [s.tier for s in samples],
            "reference": [reference_json(s) for s in samples],
        }
        return pl.DataFrame(columns, schema=_XLAM_SCHEMA)


class FlatEncoder(_Encoder):
    """``to_flat`` records of the single-call samples as a polars frame.

    With the call's ``arguments_json`` already made (``warm_one``), the record is written from its
    parts: ``to_flat``'s two ``json.dumps(..., ensure_ascii=False)`` give exactly these strings.
    """

    def _piece(self, sample: Sample, arguments: Sequence[str] | None = None) -> dict[str, Any] | None:
        if len(sample.calls) != 1:
            return None
        if arguments is None:
            return to_flat(sample)
        return {
            "query": sample.query,
            "tool_name": sample.calls[0].name,
            "arguments": arguments[0],
            "tools": "[" + ", ".join([_string(t) for t in sample.tools]) + "]",
            "id": sample.id,
            "style": _STYLE[sample.style],
            "language": sample.language,
            "tier": sample.tier,
            "reference": reference_json(sample),
        }

    def frame(self, samples: Sequence[Sample]) -> pl.DataFrame:
        rows = [row for row in map(self._take, samples) if row is not None]
        return pl.DataFrame({key: [r[key] for r in rows] for key in _FLAT_SCHEMA}, schema=_FLAT_SCHEMA)


class Encoders:
    """One export's encoders, made before the splits are known so ``warm`` can run early."""

    def __init__(self, catalog: Catalog, options: ExportOptions) -> None:
        tools = catalog.by_name
        self.options = options
        self.trl = TrlEncoder(tools, options)
        self.xlam = XlamEncoder(tools)
        self.flat = FlatEncoder()

    def warm(self, samples: Sequence[Sample]) -> None:
        """Encode ``samples`` ahead for every format asked for (each call's arguments encoded once)."""
        encoders = [getattr(self, name) for name in ("trl", "xlam", "flat") if name in self.options.formats]
        if "hf" in self.options.formats:
            hf_features()  # imports datasets (~0.5 s) now rather than during the export
        for sample in samples:
            arguments = arguments_json(sample.calls)
            for encoder in encoders:
                encoder.warm_one(sample, arguments)
