"""``mltrail serve --workers N``: the connections its workers accept have Nagle's algorithm off.

The workers share one listening socket bound by the parent process. asyncio sets TCP_NODELAY
only on the connections of sockets that say they are TCP; with Nagle on, each answer's body
waited for the client's delayed ACK of its header (about 40 ms a request).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import uvicorn

from mltrail.server import serve


def test_the_workers_connections_are_sent_without_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[socket.socket] = []

    class Workers:  # stands in for uvicorn's supervisor: keeps the socket the workers get
        def __init__(self, config: Any, sockets: list[socket.socket]) -> None:
            self.sockets = sockets

        def run(self) -> None:  # the server closes its own copy when this returns
            given.extend(s.dup() for s in self.sockets)

    monkeypatch.setattr("uvicorn.supervisors.Multiprocess", Workers)
    config = uvicorn.Config(serve.APP, host="127.0.0.1", port=0, workers=2)
    serve._run_workers(config)
    [listening] = given
    try:
        assert listening.proto == socket.IPPROTO_TCP
        assert asyncio.run(_accepted_nodelay(listening)) != 0
    finally:
        listening.close()


async def _accepted_nodelay(listening: socket.socket) -> int:
    """TCP_NODELAY of a connection accepted by an asyncio server on ``listening``, as a worker
    accepts them."""
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Protocol(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            sock = transport.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    listening.listen()
    server = await asyncio.get_running_loop().create_server(Protocol, sock=listening)
    try:
        _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
        value = await asyncio.wait_for(seen, 10)
        writer.close()
        return value
    finally:
        server.close()
