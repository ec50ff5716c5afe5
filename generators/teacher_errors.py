"""Teacher failures: one exception type with a stable reason code, and how client errors map to it.

TeacherError(code, message, status=None, retryable=False, retry_after_s=None)

code                          retried   from
teacher_error_rate_limited    yes       HTTP 429 (Retry-After honoured)
teacher_http_5NN              yes       HTTP 5xx
teacher_http_408 / _409       yes       request timeout / conflict
teacher_http_4NN              no        400, 401, 403, 404, 422 and other client errors
teacher_error_timeout         yes       no answer within the timeout
teacher_error_connection      yes       connection refused, reset or closed without an answer
teacher_error_bad_response    yes       a 200 whose body is not a chat completion
teacher_error_empty           no        a completion without message content
teacher_error_client          no        anything else the client raised
teacher_circuit_open          no        not sent: the circuit breaker had stopped the client

``unreachable`` marks the failures that say nothing answered at all (connection refused or dropped, a
connect timeout): the circuit breaker counts those in a row.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from typing import Any

import httpx2
import openai

from schemas.errors import CallforgeError

_NO_RETRY_STATUSES = frozenset({400, 401, 403, 404, 422})
_RETRY_STATUSES = frozenset({408, 409, 429})


class TeacherError(Exception):
    """A request the teacher did not answer. ``code`` is stable snake_case; ``retryable`` says why."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
        unreachable: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.unreachable = unreachable

    def details(self) -> dict[str, Any]:
        return {"status": self.status, "retryable": self.retryable}


class GenerationFailed(CallforgeError):
    """A generate run that must not pass as a success: the teacher is unusable, or too many items
    failed. The message says what happened, what was kept, and what to do."""


def parse_retry_after(
    headers: httpx2.Headers | dict[str, str] | None, *, now: datetime | None = None
) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date); None if absent."""
    if not headers:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def classify(exc: BaseException) -> TeacherError:
    """Map an exception from the openai client to a :class:`TeacherError`."""
    if isinstance(exc, TeacherError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry_after = parse_retry_after(exc.response.headers)
        code = "teacher_error_rate_limited" if status == 429 else f"teacher_http_{status}"
        retryable = status >= 500 or status in _RETRY_STATUSES
        if status in _NO_RETRY_STATUSES:
            retryable = False
        return TeacherError(code, _short(exc), status=status, retryable=retryable, retry_after_s=retry_after)
    unreachable = _unreachable(exc)
    if isinstance(exc, openai.APITimeoutError) and not _disconnected(exc):
        message = "connecting timed out" if unreachable else "the request timed out"
        return TeacherError("teacher_error_timeout", message, retryable=True, unreachable=unreachable)
    if isinstance(exc, openai.APIConnectionError):
        return TeacherError(
            "teacher_error_connection",
            f"connection failed: {_what_failed(exc)}",
            retryable=True,
            unreachable=unreachable,
        )
    if isinstance(exc, openai.APIResponseValidationError | ValueError | RecursionError):
        # A 200 whose body is not a chat completion: a proxy or server glitch, worth another try.
        return TeacherError(
            "teacher_error_bad_response", f"unreadable response body: {_short(exc)}", retryable=True
        )
    return TeacherError("teacher_error_client", f"{type(exc).__name__}: {_short(exc)}")


# Exception class names meaning "the server closed the connection": the aiohttp transport reports a
# disconnect as a ConnectTimeout, so the cause chain, not the outer type, says what happened.
_DISCONNECTS = {"ServerDisconnectedError", "RemoteProtocolError", "ClientOSError"}


# Causes that mean no server could be reached at all (refused, no such host, no answer to connect),
# as httpx, aiohttp and the OS name them. A server that accepted the connection and then dropped it
# is reachable (it may recover), so those (_DISCONNECTS) do not count.
_UNREACHABLE = {
    "ConnectError",
    "ClientConnectorError",
    "ClientConnectorDNSError",
    "ConnectionRefusedError",
    "gaierror",
    "ConnectionTimeoutError",
}


def _unreachable(exc: BaseException) -> bool:
    if _caused_by(exc, _UNREACHABLE):
        return True
    # httpx's ConnectTimeout is a real connect timeout; aiohttp's transport also reports a dropped
    # connection as one, with the disconnect in its cause chain.
    return _caused_by(exc, {"ConnectTimeout"}) and not _disconnected(exc)


def _what_failed(exc: BaseException) -> str:
    """The cause worth naming: the innermost OS error or disconnect (``ConnectionRefusedError``,
    ``gaierror``, ``ServerDisconnectedError``) says more than the transport's wrapper around it."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for link in reversed(chain):
        if isinstance(link, OSError) or type(link).__name__ in _DISCONNECTS:
            return type(link).__name__
    return type(exc.__cause__ or exc).__name__


def _caused_by(exc: BaseException, names: set[str]) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if type(seen).__name__ in names:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _disconnected(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if type(seen).__name__ in _DISCONNECTS or isinstance(seen, ConnectionError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "…"
