"""The dataset a training run reads: locating the saved ``DatasetDict`` and recording its version.

    root = locate_dataset_dict(Path("data/runs/gennx/dataset"))   # finds dataset/hf/ or the dir itself
    splits = load_training_splits(root)                            # {"train": Dataset, "validation": …}
    version = dataset_version(Path("data/runs/gennx/dataset"), root)

The assemble stage saves a ``DatasetDict`` (``save_to_disk``) with splits ``train``, ``validation``,
``test_seen``, ``test_unseen`` and TRL columns ``messages`` / ``tools`` stored as ``Json()`` features (so
Arrow does not merge the argument structs of different tools into null-filled ones). Any directory
that ``datasets.load_from_disk`` reads as a ``DatasetDict`` is accepted, as is a directory holding one
in ``hf/``, ``dataset/`` or ``dataset/hf/``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from schemas.errors import ConfigError

DICT_MARKER = "dataset_dict.json"  # written by DatasetDict.save_to_disk
TRAINING_COLUMNS = ("messages", "tools")
_CANDIDATES = (".", "hf", "dataset", "dataset/hf")
_MANIFEST_NAMES = ("manifest.json", "dataset_manifest.json")
_CARD_NAMES = ("README.md", "dataset_card.md", "card.md")


class DatasetVersion(BaseModel):
    """Which data a model was trained on: where it was and a hash of its files."""

    path: str = Field(description="the DatasetDict directory, absolute")
    fingerprint: str = Field(description="sha256 over the relative path and content of every file in it")
    splits: dict[str, int] = Field(default_factory=dict, description="split -> rows")
    manifest: dict[str, Any] | None = Field(default=None, description="the dataset's manifest.json, if any")
    manifest_path: str | None = None
    card_path: str | None = None


def locate_dataset_dict(dataset_dir: Path) -> Path:
    """The directory of the ``DatasetDict`` under ``dataset_dir``; ``ConfigError`` when there is none."""
    base = Path(dataset_dir)
    if not base.is_dir():
        raise ConfigError(
            f"{base}: no such dataset directory (run `callforge assemble`, or pass --dataset DIR)"
        )
    for rel in _CANDIDATES:
        candidate = (base / rel).resolve()
        if (candidate / DICT_MARKER).is_file():
            return candidate
    found = sorted(p.parent for p in base.glob(f"*/*/{DICT_MARKER}"))
    if len(found) == 1:
        return found[0].resolve()
    where = f"; several candidates: {', '.join(map(str, found))}" if found else ""
    raise ConfigError(
        f"{base}: no Hugging Face DatasetDict found (looked for {DICT_MARKER} in "
        f"{', '.join(_CANDIDATES)}{where}); expected the output of `callforge assemble` or DatasetDict.save_to_disk"
    )


def load_training_splits(root: Path) -> dict[str, Any]:
    """``train`` (required, non-empty) and ``validation`` (``None`` when absent or empty), TRL columns only."""
    from datasets import DatasetDict, load_from_disk

    # In memory: otherwise every map() TRL runs writes cache-*.arrow files into the dataset directory.
    loaded = load_from_disk(str(root), keep_in_memory=True)
    if not isinstance(loaded, DatasetDict):
        raise ConfigError(f"{root}: holds a single Dataset, expected a DatasetDict with a 'train' split")
    if "train" not in loaded or len(loaded["train"]) == 0:
        raise ConfigError(f"{root}: split 'train' is missing or empty (splits: {sorted(loaded)})")
    missing = [c for c in TRAINING_COLUMNS if c not in loaded["train"].column_names]
    if missing:
        raise ConfigError(
            f"{root}: split 'train' lacks column(s) {missing} (has {loaded['train'].column_names}); "
            "expected TRL records with 'messages' and 'tools'"
        )
    validation = loaded.get("validation")
    if validation is not None and len(validation) == 0:
        validation = None
    return {
        "train": loaded["train"].select_columns(list(TRAINING_COLUMNS)),
        "validation": validation.select_columns(list(TRAINING_COLUMNS)) if validation is not None else None,
        "rows": {name: len(split) for name, split in loaded.items()},
    }


MULTI_TURN_DIR = "multi_turn/hf"


def add_multi_turn(splits: dict[str, Any], dataset_dir: Path, root: Path) -> dict[str, Any]:
    """``splits`` with the multi-turn rows (``<dataset>/multi_turn/hf``, TRL columns) appended to train and
    validation; ``rows`` gains ``multi_turn/<split>``. A dataset without them is a ``ConfigError``."""
    from datasets import DatasetDict, concatenate_datasets, load_from_disk

    candidates = [dataset_dir / MULTI_TURN_DIR, root.parent / MULTI_TURN_DIR, root / MULTI_TURN_DIR]
    found = next((c for c in candidates if (c / DICT_MARKER).is_file()), None)
    if found is None:
        raise ConfigError(
            f"{dataset_dir}: multi_turn is on but there is no {MULTI_TURN_DIR}/ (written by the refresh's "
            "multi-turn stage, GEN NX by default); turn multi_turn off or refresh with multi_turn.enabled"
        )
    loaded = load_from_disk(str(found), keep_in_memory=True)
    if not isinstance(loaded, DatasetDict):
        raise ConfigError(f"{found}: holds a single Dataset, expected a DatasetDict")
    out = dict(splits)
    out["rows"] = dict(splits["rows"])
    for name in ("train", "validation"):
        extra = loaded.get(name)
        if extra is None or len(extra) == 0:
            continue
        extra = extra.select_columns(list(TRAINING_COLUMNS))
        base = out[name]
        # same List(Json()) features on both sides; the single-turn ones decide the result's
        out[name] = extra if base is None else concatenate_datasets([base, extra.cast(base.features)])
        out["rows"][f"multi_turn/{name}"] = len(extra)
    return out


def _is_content(file: Path) -> bool:
    # state.json holds a random per-save fingerprint and cache-*.arrow are derived: neither is the data.
    return file.is_file() and file.name != "state.json" and not file.name.startswith("cache-")


def _files_fingerprint(root: Path) -> str:
    """sha256 over the relative path and bytes of the data files: equal data saved twice hashes equal."""
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if _is_content(p)):
        digest.update(file.relative_to(root).as_posix().encode("utf-8") + b"\0")
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def _first_existing(dirs: list[Path], names: tuple[str, ...]) -> Path | None:
    for directory in dirs:
        for name in names:
            if (directory / name).is_file():
                return directory / name
    return None


def dataset_version(dataset_dir: Path, root: Path, rows: dict[str, int] | None = None) -> DatasetVersion:
    """Hash the DatasetDict's files and pick up a manifest or card beside it (or one level up)."""
    dirs = list(dict.fromkeys([root, Path(dataset_dir).resolve(), root.parent]))
    manifest_path = _first_existing(dirs, _MANIFEST_NAMES)
    manifest = None
    if manifest_path is not None:
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            manifest = None  # recorded by path only; a bad manifest is the assemble stage's problem
    card = _first_existing(dirs, _CARD_NAMES)
    return DatasetVersion(
        path=str(root),
        fingerprint=_files_fingerprint(root),
        splits=rows or {},
        manifest=manifest if isinstance(manifest, dict) else None,
        manifest_path=str(manifest_path) if manifest_path else None,
        card_path=str(card) if card else None,
    )
