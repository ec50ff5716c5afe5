"""Hand-labelled samples: reading the sets that measure the verifiers on material nobody generated.

A labelled set is a JSON Lines file; each line is a sample in the repo's ``Sample`` JSON shape (``query``,
``language``, ``tools``, ``calls``; ``style`` and ``id`` may be left out and are then derived) plus:

* ``case`` — a stable name for the line (``d001``), unique in the file;
* ``label`` — ``"correct"`` or ``"wrong"``;
* ``defect`` — for a wrong sample, its defect class (one of ``DEFECT_LEVEL``), ``null`` otherwise;
* ``note`` — optional, for people.

    >>> rows = read_labelled(Path("tests/data/labelled/gennx_dev.jsonl"))
    >>> rows[0].case, rows[0].correct, rows[0].sample.calls[0].name
    ('d001', True, 'post_db_node')

The GEN NX sets under ``tests/data/labelled/`` were written by hand (see the README there); the
benchmark ``benchmarks/verifier_quality.py --labelled`` reports precision and recall on them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schemas.errors import ConfigError
from schemas.models import Sample, ToolCall, infer_style

# defect class -> the verifier expected to catch it ("format" covers hygiene too).
DEFECT_LEVEL: dict[str, str] = {
    # schema- and hygiene-level: the format verifier's job (and execution's, for row fields)
    "row_field": "format",
    "missing_required": "format",
    "type_error": "format",
    "pattern_violation": "format",
    "unknown_tool": "format",
    "control_chars": "format",
    "bidi_override": "format",
    # meaning-level: the semantic verifier's job
    "ungrounded_value": "semantic",
    "wrong_unit": "semantic",
    "wrong_sign": "semantic",
    "wrong_code": "semantic",
    "wrong_range": "semantic",
    "wrong_tool": "semantic",
    "question_as_call": "semantic",
    "value_not_wanted": "semantic",
    "dropped_call": "semantic",
    "wrong_filename": "semantic",
    "swapped_values": "semantic",
}
MAX_FILE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class LabelledSample:
    """One line of a labelled set."""

    case: str
    sample: Sample
    defect: str | None  # None: the sample is correct

    @property
    def correct(self) -> bool:
        return self.defect is None

    @property
    def level(self) -> str | None:
        """The verifier expected to catch the defect (``None`` for a correct sample)."""
        return DEFECT_LEVEL[self.defect] if self.defect else None


def _row(raw: Any, where: str) -> LabelledSample:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    fields = dict(raw)
    case, label, defect = fields.pop("case", None), fields.pop("label", None), fields.pop("defect", None)
    fields.pop("note", None)
    if not isinstance(case, str) or not case:
        raise ConfigError(f"{where}: 'case' must be a non-empty string")
    if label not in ("correct", "wrong"):
        raise ConfigError(f"{where} ({case}): 'label' must be 'correct' or 'wrong', got {label!r}")
    if (label == "wrong") != (defect is not None):
        raise ConfigError(
            f"{where} ({case}): a wrong sample needs a 'defect', a correct one must not have one"
        )
    if defect is not None and defect not in DEFECT_LEVEL:
        raise ConfigError(
            f"{where} ({case}): unknown defect {defect!r}; expected one of {sorted(DEFECT_LEVEL)}"
        )
    fields.pop("id", None)
    try:
        calls = [ToolCall.model_validate(c) for c in fields.get("calls", [])]
        fields.setdefault("style", infer_style(list(fields.get("tools", [])), calls))
        sample = Sample.create(**fields)
    except (ValidationError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where} ({case}): not a valid sample: {exc}") from None
    return LabelledSample(case=case, sample=sample, defect=defect)


def read_labelled(path: Path) -> list[LabelledSample]:
    """Every line of a labelled JSON Lines file; raises ``ConfigError`` naming the line on bad input."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES} bytes; a labelled set is hand-written")
    rows: list[LabelledSample] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not JSON ({exc.msg})") from None
        row = _row(raw, where)
        if row.case in seen:
            raise ConfigError(f"{where}: case {row.case!r} appears twice")
        seen.add(row.case)
        rows.append(row)
    return rows
