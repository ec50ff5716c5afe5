"""Requests that arrive together are generated together: a queue drained by one worker thread.

    batcher = Batcher(run_batch, max_batch=8, window_s=0.01)
    future = batcher.submit(key, job)        # from any request thread
    result = future.result(timeout=300)

The worker takes the oldest job, waits up to ``window_s`` for more, and runs every queued job with the
same ``key`` (up to ``max_batch``) as one batch: jobs can only share a batch when they share generation
settings (temperature, token limit, constrained or not). The model runs on this one thread, so
requests never compete for it; jobs with another key wait for the next round, oldest first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)  # identity: two jobs with equal payloads are still two jobs
class _Job:
    key: Hashable
    payload: Any
    future: Future = field(default_factory=Future)


class Batcher:
    """One worker thread running ``run_batch(key, payloads) -> results`` (one result per payload)."""

    def __init__(
        self,
        run_batch: Callable[[Hashable, Sequence[Any]], Sequence[Any]],
        *,
        max_batch: int = 8,
        window_s: float = 0.01,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._run_batch, self.max_batch, self.window_s = run_batch, max_batch, window_s
        self._queue: list[_Job] = []
        self._ready = threading.Condition()
        self._stopped = False
        self.batch_sizes: list[int] = []  # what ran together, for logs and tests
        self._thread = threading.Thread(target=self._work, name="callforge-generate", daemon=True)
        self._thread.start()

    def submit(self, key: Hashable, payload: Any) -> Future:
        job = _Job(key, payload)
        with self._ready:
            if self._stopped:
                raise RuntimeError("the batcher is stopped")
            self._queue.append(job)
            self._ready.notify()
        return job.future

    def stop(self) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify()
        self._thread.join(timeout=30)

    def _take(self) -> list[_Job] | None:
        with self._ready:
            while not self._queue and not self._stopped:
                self._ready.wait()
            if self._stopped:
                for job in self._queue:
                    job.future.set_exception(RuntimeError("the server is shutting down"))
                self._queue.clear()
                return None
            deadline = time.monotonic() + self.window_s
            key = self._queue[0].key
            # Let requests sent at the same moment join the batch, but no longer than the window.
            while sum(j.key == key for j in self._queue) < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._ready.wait(left)
            batch = [j for j in self._queue if j.key == key][: self.max_batch]
            self._queue = [j for j in self._queue if j not in batch]
            return batch

    def _work(self) -> None:
        while (batch := self._take()) is not None:
            self.batch_sizes.append(len(batch))
            try:
                results = self._run_batch(batch[0].key, [j.payload for j in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"run_batch returned {len(results)} results for {len(batch)} jobs")
            except Exception as exc:  # a failed batch fails its requests, not the server
                for job in batch:
                    job.future.set_exception(exc)
                continue
            for job, result in zip(batch, results, strict=True):
                job.future.set_result(result)
