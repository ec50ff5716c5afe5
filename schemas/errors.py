"""Errors callforge raises for bad input. Each message names the file, field or pointer at fault.

CallforgeError
├── SpecError        a spec that cannot be read (file + JSON pointer)
├── RecordError      a record on disk that does not match its contract (file + line + field)
└── ConfigError      a configuration value that is wrong (key + value + what was expected)
"""

from __future__ import annotations


class CallforgeError(Exception):
    """Base of every error callforge raises on purpose."""


class SpecError(CallforgeError):
    """An OpenAPI document that cannot be ingested."""

    def __init__(self, file: str, pointer: str, message: str) -> None:
        self.file = file
        self.pointer = pointer or "/"
        self.reason = message
        super().__init__(f"{file}#{self.pointer}: {message}")


class RecordError(CallforgeError, ValueError):
    """A record (catalog line, sample, verdict, export row) that violates its contract."""


class ConfigError(CallforgeError, ValueError):
    """A configuration value that is wrong."""
