"""The httpx client the execution verifier sends with: no cookie jar, no proxies from the environment,
and a connection pool that checks idle connections cheaply.

In: concurrency and timeout. Out: an ``httpx.AsyncClient`` (use it as ``async with``).

Why not a plain ``httpx.AsyncClient()``:
- cookies: a ``Set-Cookie`` answered to one sample must not ride along on another sample's calls, and
  parsing every response for cookies costs CPU;
- ``trust_env=False``: sandbox and real-server traffic must never go through a proxy configured in the
  environment (the secret header would reach it);
- httpcore asks every pooled connection "has the server closed you?" before each request, and its
  anyio stream answers by rebuilding a dict of socket attributes each time; with a pool of N
  connections that was ~25% of the client's CPU here. ``_CachedSocketStream`` keeps the raw socket and
  answers the same question with one ``poll`` — same behaviour, less work.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
from httpcore._utils import is_socket_readable


class _CachedSocketStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._sock = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _CachedSocketStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "socket":
            return self._sock
        if info == "is_readable" and self._sock is not None:
            return is_socket_readable(self._sock)
        return self._inner.get_extra_info(info)


class _CachedSocketBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _CachedSocketStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _CachedSocketStream(
            await self._inner.connect_unix_socket(path, timeout=timeout, socket_options=socket_options)
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Transport(httpx.AsyncHTTPTransport):
    """httpx's transport, with its httpcore pool built on ``_CachedSocketBackend``."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_CachedSocketBackend(),
        )


class _NoCookieJar(httpx.Cookies):
    """A cookie jar that keeps nothing (and skips httpx's per-response cookie parsing)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


def execution_client(concurrency: int, timeout_s: float) -> httpx.AsyncClient:
    """An AsyncClient for one verify call: ``concurrency`` pooled connections, no redirects followed."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    client = httpx.AsyncClient(
        transport=_Transport(limits),
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,
    )
    client._cookies = _NoCookieJar()  # the public setter would wrap it back into a plain jar
    return client
