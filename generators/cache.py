"""A content-addressed cache of teacher responses on disk.

The key is the sha256 of the canonical JSON of everything that decides an answer: the model, the
messages, the sampling parameters, the requested JSON schema and the prompt version. The same request
therefore always finds the same file, whichever run, process or machine made it, and a rerun or a
resumed run sends no request for what it already asked.

Layout: ``<root>/<key[:2]>/<key>.json`` (sharded by prefix so no directory grows huge), each file
written atomically (temp file + rename). A file holds the reply text, token usage and the time it was stored -- never a key,
header or URL. A file that cannot be read is treated as a miss and overwritten by the next answer.

    cache = ResponseCache(Path("data/cache/teacher"))
    key = cache.key(model="m", messages=[...], params={"temperature": 0.7, "seed": 1}, prompt_version="v1")
    cache.put(key, CachedReply(text="{...}", prompt_tokens=10, completion_tokens=5))
    cache.get(key).text
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from schemas.canonical import content_hash
from schemas.manifest import utc_now

log = logging.getLogger(__name__)

CACHE_FORMAT = 1


class CachedReply(BaseModel):
    """What the cache keeps of one answer."""

    model_config = ConfigDict(extra="ignore")

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    stored_at: str = ""


class ResponseCache:
    """Teacher answers by request content. Safe for concurrent writers (atomic renames)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @staticmethod
    def key(
        *, model: str, messages: list[dict[str, Any]], params: dict[str, Any], prompt_version: str
    ) -> str:
        """sha256 of the canonical JSON of the request's content."""
        return content_hash(
            {
                "format": CACHE_FORMAT,
                "model": model,
                "messages": messages,
                "params": params,
                "prompt_version": prompt_version,
            }
        )

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedReply | None:
        path = self.path(key)
        try:
            raw = path.read_text("utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("teacher cache: cannot read %s (%s); asking the teacher again", path, exc)
            return None
        try:
            return CachedReply.model_validate_json(raw)
        except ValidationError:
            log.warning("teacher cache: %s is not a cached reply; asking the teacher again", path)
            return None

    def put(self, key: str, reply: CachedReply) -> Path:
        stored = reply.model_copy(update={"stored_at": reply.stored_at or utc_now()})
        return _replace(self.path(key), json.dumps(stored.model_dump(), ensure_ascii=False).encode("utf-8"))

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("*/*.json")) if self.root.exists() else 0


def _replace(target: Path, data: bytes) -> Path:
    """Write to a temporary sibling and rename it over ``target``.

    Unlike ``schemas.atomic`` this does not fsync: the write sits on the event loop's path, an entry
    lost to a power cut costs one request, and a torn file reads as a miss.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target
