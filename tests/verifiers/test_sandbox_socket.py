"""The sandbox's connections send without delay (TCP_NODELAY), whichever way its socket was made.

Without it each keep-alive response waits ~40 ms (Nagle holding the body behind the unacknowledged head,
the client delaying its ACK). These tests check the socket option itself, not a latency: timing on a
shared machine is for ``benchmarks/execution_speed.py``.
"""

from __future__ import annotations

import asyncio
import socket

import httpx

from tests.verifiers.execution_fixtures import PET_ORIGIN, SPECS
from verifiers.sandbox import SandboxServer
from verifiers.sandbox.server import listening_socket


def _nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def _accepted_nodelay(listener: socket.socket) -> int:
    """TCP_NODELAY on the connection an asyncio server (uvicorn's loop) accepts from ``listener``."""

    async def main() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.set_result(_nodelay(writer.get_extra_info("socket")))
            writer.close()

        server = await asyncio.start_server(accepted, sock=listener)
        async with server:
            port = listener.getsockname()[1]
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            result = await asyncio.wait_for(seen, 10)
            writer.close()
            return result

    return asyncio.run(main())


def test_the_listening_socket_declares_tcp_and_nodelay():
    with listening_socket(0) as sock:
        # proto 0 (what socket.socket(AF_INET, SOCK_STREAM) gives) makes asyncio skip TCP_NODELAY
        assert sock.proto == socket.IPPROTO_TCP
        assert _nodelay(sock)


def test_connections_accepted_from_it_have_nodelay():
    assert _accepted_nodelay(listening_socket(0))


def test_a_socket_inherited_by_descriptor_keeps_nodelay():
    # The --fd path: the child wraps the parent's descriptor (socket.socket(fileno=...)).
    with listening_socket(0) as original:
        assert _accepted_nodelay(socket.socket(fileno=original.detach()))


def test_a_plain_stream_socket_would_not_get_nodelay():
    # The regression this guards against: a listener made without IPPROTO_TCP (and without the option).
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    plain.bind(("127.0.0.1", 0))
    plain.listen(8)
    assert not _accepted_nodelay(plain)


def test_the_running_sandbox_serves_keep_alive_connections_with_nodelay():
    with SandboxServer(SPECS, mode="thread") as sandbox, httpx.Client(base_url=sandbox.base_url) as client:
        for _ in range(2):  # one connection, kept alive
            response = client.get(
                "/v1/pets?limit=5",
                headers={"X-Callforge-Origin": PET_ORIGIN, "X-Api-Key": "k", "X-Trace-Id": "t"},
            )
            assert response.status_code == 200, response.text
        connections = sandbox._server.server_state.connections
        sockets = [c.transport.get_extra_info("socket") for c in connections]
        assert sockets and all(_nodelay(s) for s in sockets)
