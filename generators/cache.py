"""A content-addressed cache of teacher responses on disk.

The key is the sha256 of the canonical JSON of everything that decides an answer: the model, the
messages, the sampling parameters, the requested JSON schema and the prompt version. The same request
therefore always finds the same file, whichever run, process or machine made it, and a rerun or a
resumed run sends no request for what it already asked.

Layout: ``<root>/<key[:2]>/<key>.json`` (sharded by prefix so no directory grows huge), each file
written atomically (temp file + rename). A file holds the reply text, token usage and the time it was stored -- never a key,
header or URL. A file that cannot be read is treated as a miss and overwritten by the next answer.

A reply its reader refused (not JSON, the wrong shape, too deep: see ``generators.llm``) is moved to
``<root>/rejected/<key[:2]>/<key>.json`` with the reason, for diagnosis, and is never served again:
the next request for the same content asks the teacher afresh, so a bad answer cannot poison reruns.

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
REJECTED_DIR = "rejected"
# A rejected reply is kept to show what went wrong, not to be replayed: its head is enough, and a
# hostile 5 MB reply must not be copied in full into every cache it passes through.
REJECTED_KEEP_CHARS = 65_536


class CachedReply(BaseModel):
    """What the cache keeps of one answer."""

    model_config = ConfigDict(extra="ignore")

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    stored_at: str = ""


class RejectedReply(CachedReply):
    """A reply its reader refused: why, and how long the full text was (``text`` may be its head)."""

    reason: str = ""
    message: str = ""
    chars: int = 0


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

    def rejected_path(self, key: str) -> Path:
        return self.root / REJECTED_DIR / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedReply | None:
        return self._read(self.path(key), CachedReply)

    def rejected(self, key: str) -> RejectedReply | None:
        """The refused reply stored under ``key`` (never served by :meth:`get`), or None."""
        reply = self._read(self.rejected_path(key), RejectedReply)
        return reply if isinstance(reply, RejectedReply) else None

    def reject(self, key: str, reply: CachedReply, *, reason: str, message: str) -> Path:
        """Keep ``reply`` apart as refused for ``reason`` and drop it from the served entries."""
        stored = RejectedReply(
            **reply.model_dump(exclude={"text", "stored_at"}),
            text=reply.text[:REJECTED_KEEP_CHARS],
            stored_at=utc_now(),
            reason=reason,
            message=message,
            chars=len(reply.text),
        )
        path = _replace(
            self.rejected_path(key), json.dumps(stored.model_dump(), ensure_ascii=False).encode("utf-8")
        )
        self.path(key).unlink(missing_ok=True)
        return path

    def _read(self, path: Path, model: type[CachedReply]) -> CachedReply | None:
        try:
            raw = path.read_text("utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("teacher cache: cannot read %s (%s); asking the teacher again", path, exc)
            return None
        try:
            return model.model_validate_json(raw)
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
