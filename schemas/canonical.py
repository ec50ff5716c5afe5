"""Canonical JSON and content hashes.

Every identity in callforge (a tool's fingerprint, a sample's id, a cache key) is the sha256 of the
canonical JSON of some content: keys sorted, no insignificant whitespace, UTF-8 kept as is. Two
records that mean the same thing therefore hash the same, whatever produced them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Serialise ``value`` deterministically (sorted keys, compact separators, unicode kept)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def content_hash(value: Any, *, length: int = 64) -> str:
    """sha256 hex digest of the canonical JSON of ``value``, truncated to ``length`` characters."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()[:length]
