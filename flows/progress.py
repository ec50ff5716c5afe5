"""Shard progress for the terminal: flows report, listeners (a rich progress bar) display.

Flows call :func:`report` as shards finish; whoever wants to show progress subscribes a listener for
the length of a run. The CLI subscribes :class:`TerminalProgress`; tests and deployments subscribe
nothing and the calls cost a list lookup. Nothing here imports Prefect (the Prefect progress
artifact is updated by ``flows.monitoring`` next to the call to :func:`report`).

    with TerminalProgress():
        refresh(...)          # draws "generate ━━━━━━━━━━  12/12 shards"
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class ProgressListener(Protocol):
    def update(self, stage: str, done: int, total: int, unit: str) -> None:
        """``done`` of ``total`` units of ``stage`` are finished (called at 0 when a stage starts)."""


_listeners: list[ProgressListener] = []
_lock = threading.Lock()


def report(stage: str, done: int, total: int, unit: str = "shards") -> None:
    """Tell every subscribed listener how far ``stage`` is."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener.update(stage, done, total, unit)


@contextmanager
def subscribed(listener: ProgressListener) -> Iterator[ProgressListener]:
    with _lock:
        _listeners.append(listener)
    try:
        yield listener
    finally:
        with _lock:
            _listeners.remove(listener)


class TerminalProgress:
    """One rich progress bar per stage, on stderr; a no-op display when stderr is not a terminal."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._subscription = subscribed(self)

    def update(self, stage: str, done: int, total: int, unit: str) -> None:
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(stage, total=max(total, 0), unit=unit)
        self._progress.update(self._tasks[stage], completed=done, total=max(total, 0), unit=unit)

    def __enter__(self) -> TerminalProgress:
        self._progress.start()
        self._subscription.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._subscription.__exit__(exc_type, exc, tb)
        self._progress.stop()
