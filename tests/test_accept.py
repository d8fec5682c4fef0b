"""junco.server.accept: the uvloop that accepts every pending connection per iteration."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn

from junco import Junco
from junco.server import runner as srv
from tests.test_server import make_cert

pytest.importorskip("uvloop")
from junco.server.accept import Acceptor, new_event_loop

T = TypeVar("T")
BURST = 64


def on_junco_loop(main: Callable[[], Awaitable[T]]) -> T:
    loop = new_event_loop()
    try:
        return loop.run_until_complete(asyncio.wait_for(main(), 30))
    finally:
        loop.close()


class Recorder(asyncio.Protocol):
    """Answers each connection's first bytes with the same bytes, then closes."""

    made: list[Recorder] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport
        Recorder.made.append(self)

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)
        self.transport.close()


async def iterations_until(done: Callable[[], bool]) -> int:
    """Event-loop iterations that pass until ``done()`` (one callback per iteration)."""
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[int] = loop.create_future()
    count = [0]

    def tick() -> None:
        count[0] += 1
        if done():
            finished.set_result(count[0])
        else:
            loop.call_soon(tick)

    loop.call_soon(tick)
    return await finished


def test_a_burst_of_connections_is_accepted_in_a_few_iterations_not_one_per_iteration() -> None:
    """libuv accepts one connection per iteration; the n-th of a burst waited n iterations.

    All connections are complete in the kernel's accept queue before the loop
    runs again, so the count of iterations does not depend on the machine's speed.
    """
    Recorder.made = []

    async def main() -> int:
        server = await asyncio.get_running_loop().create_server(
            Recorder, "127.0.0.1", 0, backlog=BURST
        )
        port = server.sockets[0].getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(BURST)]
        try:
            needed = await iterations_until(lambda: len(Recorder.made) == BURST)
            for i, client in enumerate(clients):
                client.sendall(b"%d" % i)
            for i, client in enumerate(clients):
                client.settimeout(30)
                assert await asyncio.to_thread(client.recv, 16) == b"%d" % i
            return needed
        finally:
            for client in clients:
                client.close()
            server.close()
            await server.wait_closed()

    needed = on_junco_loop(main)
    assert needed < BURST // 4, f"{BURST} queued connections took {needed} iterations"


def test_a_closed_server_refuses_connections() -> None:
    """The acceptor's duplicate descriptor is closed with the server: nothing listens after."""

    async def main() -> int:
        server = await asyncio.get_running_loop().create_server(Recorder, "127.0.0.1", 0)
        port: int = server.sockets[0].getsockname()[1]
        server.close()
        server.close()  # idempotent
        await server.wait_closed()
        return port

    port = on_junco_loop(main)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=30).close()


def test_tls_connections_accepted_in_a_burst_complete_their_handshakes(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))
    Recorder.made = []

    async def main() -> list[bytes]:
        server = await asyncio.get_running_loop().create_server(
            Recorder, "127.0.0.1", 0, ssl=server_context, backlog=BURST
        )
        port = server.sockets[0].getsockname()[1]

        def fetch(i: int) -> bytes:
            raw = socket.create_connection(("127.0.0.1", port), timeout=30)
            with client_context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"%d" % i)
                return tls.recv(16)

        try:
            return await asyncio.gather(*(asyncio.to_thread(fetch, i) for i in range(8)))
        finally:
            server.close()
            await server.wait_closed()

    assert on_junco_loop(main) == [b"%d" % i for i in range(8)]


def test_a_connection_that_fails_before_it_is_served_is_closed(tmp_path: Path) -> None:
    """A client that leaves during the TLS handshake costs the acceptor nothing but its socket."""
    cert, key = make_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def main() -> tuple[bytes, int]:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Recorder, "127.0.0.1", 0, ssl=context)
        port = server.sockets[0].getsockname()[1]
        acceptors: list[Acceptor] = server._acceptors  # type: ignore[attr-defined]
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.sendall(b"not a TLS hello\r\n\r\n")
            client.settimeout(30)
            answer = await asyncio.to_thread(client.recv, 1024)  # the server gives up on it
        pending = [task for acceptor in acceptors for task in acceptor._tasks]
        await asyncio.gather(*pending)  # _serve swallowed the failure: nothing raises
        server.close()
        await server.wait_closed()
        return answer, sum(len(acceptor._tasks) for acceptor in acceptors)

    answer, left = on_junco_loop(main)
    assert not answer.startswith(b"not a TLS")  # refused (an alert, or just closed)
    assert left == 0


def test_start_serving_false_is_left_to_the_loop() -> None:
    async def main() -> bool:
        server = await asyncio.get_running_loop().create_server(
            Recorder, "127.0.0.1", 0, start_serving=False
        )
        wrapped = hasattr(server, "_acceptors")
        server.close()
        await server.wait_closed()
        return wrapped

    assert on_junco_loop(main) is False


def test_the_server_as_an_async_context_manager_closes_its_acceptor() -> None:
    async def main() -> int:
        server = await asyncio.get_running_loop().create_server(Recorder, "127.0.0.1", 0)
        async with server:
            port = int(server.sockets[0].getsockname()[1])
        return port

    port = on_junco_loop(main)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=30).close()


# -- wiring into junco.server.runner ------------------------------------------------------------


def test_junco_run_serves_on_the_batch_accepting_loop() -> None:
    options = srv.uvicorn_options("127.0.0.1", 0, None)
    assert options["loop"] == "junco.server.accept:new_event_loop"
    config = uvicorn.Config(Junco(), **options)
    assert config.get_loop_factory() is new_event_loop


@pytest.mark.parametrize(
    ("loop", "expected"),
    [
        ("auto", "junco.server.accept:new_event_loop"),
        ("uvloop", "junco.server.accept:new_event_loop"),
        ("asyncio", "asyncio"),
        ("my.module:factory", "my.module:factory"),
    ],
)
def test_loop_names_map_to_the_batch_accepting_loop(loop: str, expected: str) -> None:
    assert srv._uvicorn_parser({"loop": loop})["loop"] == expected
