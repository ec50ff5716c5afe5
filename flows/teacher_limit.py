"""One teacher limit for everything: every shard, run and worker sending to one endpoint shares it.

    gate = teacher_gate(config.generate.teacher)     # None when the config sets no shared limit
    pipeline.generate_shard(items, catalog, gen, run_dir, index, gate=gate)

The per-shard ``teacher.concurrency`` semaphore bounds one shard; the endpoint's real limits are
global. They are Prefect global concurrency limits (they live on the Prefect server, so every worker
on every machine sees the same count), created or updated from the config when a generate flow starts
(``ensure_limits``), one pair per endpoint:

- ``callforge-teacher-<endpoint>-inflight``: ``teacher.shared_concurrency`` slots, one held per request
  in flight (leased: a crashed holder's slot comes back when its lease runs out);
- ``callforge-teacher-<endpoint>-rate``: ``teacher.requests_per_second`` as the slot decay of a limit
  whose size is the burst allowed (``ceil(rps)``), taken once per request (Prefect's rate limits).

A 429 is shared too: the teacher reports its back-off (the server's ``Retry-After``, else its own) to
``hold_off``, which writes "send nothing before T" to a file next to the teacher cache (under the data
root every worker shares); every request reads it before taking a slot. A hold-off only ever moves
later. Each acquisition is one call to the Prefect API: worth it for teacher requests (hundreds of ms
each); a SQLite-backed server (the ephemeral one) answers them slowly under load, so the limits are
off unless configured, and meant for a PostgreSQL-backed server (README, "Scale-out").
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

from flows.config import slugify
from generators.config import TeacherConfig
from schemas import atomic

LEASE_S = 120.0  # a slot of a crashed worker is free again after this long
HOLD_OFF_FILE = ".hold-off-{endpoint}"


def endpoint_slug(config: TeacherConfig) -> str:
    """``http://10.0.0.5:8000/v1`` -> ``10-0-0-5-8000-v1``; the OpenAI API when no base URL is set."""
    if not config.base_url:
        return "api-openai-com"
    parts = urlsplit(config.base_url)
    return slugify(f"{parts.hostname}-{parts.port or ''}-{parts.path}")


def limit_names(config: TeacherConfig) -> tuple[str, str]:
    """(in-flight limit, rate limit) names of ``config``'s endpoint."""
    base = f"callforge-teacher-{endpoint_slug(config)}"
    return f"{base}-inflight", f"{base}-rate"


def ensure_limits(config: TeacherConfig) -> None:
    """Create or update the endpoint's global limits from ``config`` (a no-op when none is set)."""
    if not config.enabled or (config.shared_concurrency is None and config.requests_per_second is None):
        return
    from prefect.client.orchestration import get_client

    inflight, rate = limit_names(config)
    with get_client(sync_client=True) as client:
        if config.shared_concurrency is not None:
            client.upsert_global_concurrency_limit_by_name(inflight, config.shared_concurrency)
        if config.requests_per_second is not None:
            burst = max(1, math.ceil(config.requests_per_second))
            client.upsert_global_concurrency_limit_by_name(
                rate, burst, slot_decay_per_second=config.requests_per_second
            )


class HoldOff:
    """The shared "send nothing before T" of one endpoint, in a file (stdlib only, testable alone)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def until(self) -> float:
        try:
            return float(self.path.read_text("utf-8").strip() or 0)
        except (OSError, ValueError):
            return 0.0

    def extend(self, seconds: float, *, now: float | None = None) -> float:
        """Move the hold-off to ``now + seconds`` unless it already ends later; returns its end."""
        end = (time.time() if now is None else now) + max(0.0, seconds)
        if end > self.until():
            atomic.write_text(self.path, f"{end:.3f}\n")
        return max(end, self.until())

    async def wait(self) -> None:
        while (left := self.until() - time.time()) > 0:
            await asyncio.sleep(min(left, 5.0))  # re-read: another sender may have extended it


class PrefectTeacherGate:
    """``generators.teacher.RequestGate`` over Prefect global concurrency limits and a shared hold-off."""

    def __init__(self, config: TeacherConfig, hold_off: HoldOff) -> None:
        self.inflight, self.rate = limit_names(config)
        self.concurrent = config.shared_concurrency is not None
        self.rated = config.requests_per_second is not None
        self.hold = hold_off

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        from prefect.concurrency.asyncio import concurrency, rate_limit

        await self.hold.wait()
        if self.rated:
            await rate_limit(self.rate, strict=True)
        if self.concurrent:
            async with concurrency(self.inflight, strict=True, lease_duration=LEASE_S):
                yield
        else:
            yield

    async def hold_off(self, seconds: float) -> None:
        self.hold.extend(seconds)


def teacher_gate(config: TeacherConfig) -> PrefectTeacherGate | None:
    """The shared gate for ``config``'s endpoint, or None when no shared limit is configured."""
    if not config.enabled or (config.shared_concurrency is None and config.requests_per_second is None):
        return None
    directory = Path(config.cache_dir) if config.cache_dir else Path(".")
    return PrefectTeacherGate(
        config, HoldOff(directory / HOLD_OFF_FILE.format(endpoint=endpoint_slug(config)))
    )
