"""What changed since the previous dataset version: tools added / changed / removed, samples per split.

    ids = split_ids(split.splits)                 # written beside the exports as sample_ids.json
    changes = version_changes(diff, ids, previous_dir=versions.path(versions.latest()), previous="v1")
    changes.tool_rows()     # [{"change": "added", "tools": 3, "names": "a, b, c"}, ...]
    changes.split_rows()    # [{"split": "train", "before": 120, "now": 131, "added": 14, "retired": 3}, ...]

Tools come from the store's diff (the catalog against the one the store saw at its last add: the
previous refresh of the same spec). Samples come from ``sample_ids.json`` (sample ids per split) of
this dataset and of the previous version. A sample that moved from one split to another counts as
retired from the first and added to the second. A previous version written before ``sample_ids.json``
existed gives no per-split counts (``None``) rather than a guess. No Prefect here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from schemas.models import Sample
from trainer.dataset.store import StoreDiff

SAMPLE_IDS_FILE = "sample_ids.json"
_NAMED = 10  # tool names listed per kind of change; the rest are counted


def split_ids(splits: Mapping[str, Sequence[Sample]]) -> dict[str, list[str]]:
    """Sample ids per split, sorted (what ``sample_ids.json`` holds)."""
    return {name: sorted(s.id for s in samples) for name, samples in splits.items()}


def read_split_ids(dataset_dir: Path) -> dict[str, list[str]] | None:
    """``sample_ids.json`` of a dataset directory; None when it is missing or not a mapping of lists."""
    try:
        data = json.loads((dataset_dir / SAMPLE_IDS_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        return None
    return {str(k): [str(i) for i in v] for k, v in data.items()}


@dataclass
class SplitChange:
    split: str
    before: int | None  # None: the previous version did not record its ids (or there is none)
    now: int
    added: int | None
    retired: int | None


@dataclass
class VersionChanges:
    """This dataset against the previous version (``previous`` None: the first version)."""

    previous: str | None
    tools_added: list[str] = field(default_factory=list)
    tools_changed: list[str] = field(default_factory=list)
    tools_removed: list[str] = field(default_factory=list)
    splits: list[SplitChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VersionChanges:
        return cls(
            previous=data.get("previous"),
            tools_added=list(data.get("tools_added", [])),
            tools_changed=list(data.get("tools_changed", [])),
            tools_removed=list(data.get("tools_removed", [])),
            splits=[SplitChange(**row) for row in data.get("splits", [])],
        )

    @property
    def samples_changed(self) -> bool:
        return any(row.added or row.retired for row in self.splits)

    def tool_rows(self) -> list[dict[str, Any]]:
        """One row per kind of tool change (added, changed, removed), with up to 10 names."""
        rows = []
        for change, names in (
            ("added", self.tools_added),
            ("changed", self.tools_changed),
            ("removed", self.tools_removed),
        ):
            shown = ", ".join(names[:_NAMED]) + (
                f" and {len(names) - _NAMED} more" if len(names) > _NAMED else ""
            )
            rows.append({"change": change, "tools": len(names), "names": shown or "-"})
        return rows

    def split_rows(self) -> list[dict[str, Any]]:
        """One row per split: samples before, now, added and retired."""
        return [
            {"split": r.split, "before": r.before, "now": r.now, "added": r.added, "retired": r.retired}
            for r in self.splits
        ]

    def rows(self) -> list[dict[str, Any]]:
        """Tool and split changes in one table (the artifact): ``what``, ``change``, ``count``, ``detail``."""
        out: list[dict[str, Any]] = [
            {"what": "tools", "change": r["change"], "count": r["tools"], "detail": r["names"]}
            for r in self.tool_rows()
        ]
        for r in self.split_rows():
            for change in ("added", "retired"):
                out.append(
                    {
                        "what": f"samples in {r['split']}",
                        "change": change,
                        "count": r[change],
                        "detail": f"{r['before'] if r['before'] is not None else '?'} -> {r['now']}",
                    }
                )
        return out


def version_changes(
    diff: StoreDiff | None,
    ids: Mapping[str, Sequence[str]],
    *,
    previous: str | None,
    previous_dir: Path | None,
) -> VersionChanges:
    """Compare this dataset's ``ids`` (per split) and the store ``diff`` with the previous version."""
    before = read_split_ids(previous_dir) if previous_dir is not None else None
    if previous is None:
        before = {}  # a first version: everything is added
    rows = []
    for split in [*ids, *[s for s in (before or {}) if s not in ids]]:
        now = set(ids.get(split, ()))
        if before is None:
            rows.append(SplitChange(split, None, len(now), None, None))
            continue
        old = set(before.get(split, ()))
        rows.append(SplitChange(split, len(old), len(now), len(now - old), len(old - now)))
    return VersionChanges(
        previous=previous,
        tools_added=list(diff.added) if diff else [],
        tools_changed=list(diff.changed) if diff else [],
        tools_removed=list(diff.removed) if diff else [],
        splits=rows,
    )
