"""Safety for requests sent to a real server: host allow-list, mutation policy, rate limits, secrets.

In: the execution verifier's options (allowed hosts, whether POST/PUT/PATCH/DELETE may be sent, a
per-host rate, the auth header and the environment variable holding its value). Out:
- ``TargetPolicy.check(method, url)`` -> ``Refusal`` or None, decided BEFORE anything is sent:
  ``host_not_allowed`` for a host outside the allow-list, ``mutation_refused`` for a mutating method
  unless mutations were allowed explicitly. A refused call leaves its sample *undecided*
  (``passed=None``): the sample may be right, it just was not checked.
- ``HostRateLimiter``: a token bucket per host; ``stats()`` is its accounting (requests, how many
  waited, total seconds reserved), which tests assert on instead of wall time.
- ``Redactor``: replaces the secret's value in any text that is logged or recorded (a server may echo
  the key back in an error message), and hides the auth header in logged request headers.

Not covered: secrets in query strings or cookies (only header auth is supported for real targets),
DNS rebinding (the allow-list compares the URL's host name, not the resolved address), and limits
shared between processes (each verifier instance has its own buckets).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from schemas.errors import ConfigError

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REDACTED = "***"


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


def host_of(url: str) -> tuple[str, int | None]:
    """(lower-case host name, explicit port or None) of an absolute URL."""
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.port


class TargetPolicy:
    """Which requests may leave this machine. ``allowed_hosts`` entries are ``host`` or ``host:port``."""

    def __init__(self, allowed_hosts: Iterable[str], *, allow_mutations: bool = False) -> None:
        self.allowed = frozenset(h.strip().lower() for h in allowed_hosts if h.strip())
        self.allow_mutations = allow_mutations

    def check(self, method: str, url: str) -> Refusal | None:
        host, port = host_of(url)
        if not host:
            return Refusal(
                "no_server_url", f"{url!r} is not an absolute URL; set the execution option base_url"
            )
        if host not in self.allowed and (port is None or f"{host}:{port}" not in self.allowed):
            listed = ", ".join(sorted(self.allowed)) or "nothing"
            return Refusal(
                "host_not_allowed", f"host {host!r} is not in allowed_hosts ({listed}); nothing was sent"
            )
        if method.upper() in MUTATING_METHODS and not self.allow_mutations:
            return Refusal(
                "mutation_refused",
                f"{method.upper()} changes the real server's data; set allow_mutations: true to send it",
            )
        return None


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up. ``reserve()`` says how long to wait.

    Reservation is arithmetic on a clock under a thread lock (no awaiting inside), so one bucket can
    serve several event loops in turn — the verifier runs one loop per ``verify`` call.
    """

    def __init__(self, rate: float, burst: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ConfigError(f"rate_per_host must be > 0 requests per second, got {rate}")
        self.rate = rate
        self.burst = max(1.0, burst)
        self.clock = clock
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()
        self.acquired = 0
        self.delayed = 0
        self.waited_s = 0.0

    def reserve(self) -> float:
        """Take one token (possibly in the future); returns the seconds until it is ours."""
        with self._lock:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
            self.acquired += 1
            if wait > 0:
                self.delayed += 1
                self.waited_s += wait
            return wait


class HostRateLimiter:
    """One ``TokenBucket`` per host; no limit when ``rate`` is None."""

    def __init__(
        self, rate: float | None, burst: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, host: str) -> TokenBucket | None:
        if self.rate is None:
            return None
        with self._lock:
            found = self._buckets.get(host)
            if found is None:
                found = self._buckets[host] = TokenBucket(self.rate, self.burst, self.clock)
            return found

    async def acquire(self, url: str) -> float:
        """Wait for ``url``'s host to have a token; returns the seconds waited."""
        bucket = self.bucket(host_of(url)[0])
        if bucket is None:
            return 0.0
        wait = bucket.reserve()
        if wait > 0:
            await asyncio.sleep(wait)
        return wait

    def stats(self) -> dict[str, dict[str, float]]:
        """Per host: requests let through, how many had to wait, seconds of waiting reserved."""
        with self._lock:
            return {
                host: {"acquired": b.acquired, "delayed": b.delayed, "waited_s": round(b.waited_s, 6)}
                for host, b in self._buckets.items()
            }


def secret_from_env(env_name: str) -> str:
    """The value of ``env_name``; a ConfigError (naming the variable, never a value) when unset or empty."""
    value = os.environ.get(env_name, "")
    if not value:
        raise ConfigError(
            f"auth_env {env_name!r} is not set in the environment (or is empty); export it first"
        )
    return value


class Redactor:
    """Hides secret values in text and secret headers in header maps."""

    def __init__(self, secrets: Iterable[str] = (), header_names: Iterable[str] = ()) -> None:
        # longest first, so a secret containing another is replaced whole
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self.header_names = {h.lower() for h in header_names}

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, REDACTED)
        return value

    def headers(self, headers: dict[str, str]) -> dict[str, str]:
        return {k: (REDACTED if k.lower() in self.header_names else self.text(v)) for k, v in headers.items()}
