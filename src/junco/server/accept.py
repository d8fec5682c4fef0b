"""The event loop junco's uvicorn servers run on: uvloop, accepting connections in batches.

Why: libuv (under uvloop) accepts **one** connection per event-loop iteration
since libuv 1.45 (libuv pull request 3696), relying on the listening socket
staying readable for the next one. Each iteration also serves every connection
with a request ready, so when many clients connect at once (a load balancer
opening its pool, a burst after a restart, wrk's 256 connections) the n-th
connection waits for n iterations that grow longer as more connections are
served: about ``n² / 2`` request-times. With ``secure_stack()`` on a busy
machine that reached 2-5 s in the accept queue — latency no watchdog inside
the process sees, because the loop never blocks (issue 8 §7).

asyncio's own loop accepts up to ``backlog`` connections per readiness; this
loop does the same on top of uvloop: each TCP listening socket also gets a
reader (on a duplicate of its descriptor) that accepts every pending
connection at once and hands each to the same protocol factory through
``connect_accepted_socket``. Requests are still served by uvloop's transports.
The duplicate is closed when the server closes, so a stopping server refuses
new connections as before. Unix-socket servers keep libuv's accept. With several
workers on one socket, the worker that wakes first takes the whole queue, as
with asyncio's loop (libuv's single accept spread a burst across workers).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from collections.abc import Callable
from functools import lru_cache
from typing import Any

logger = logging.getLogger("junco")

#: Seconds to stop accepting after running out of descriptors or memory,
#: as asyncio does, instead of spinning on a listening socket that stays readable.
RETRY_DELAY = 1.0
_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvicorn's ``loop=`` hook (an import string naming a loop factory, uvicorn >= 0.36)."""
    loop: asyncio.AbstractEventLoop = _loop_class()()
    return loop


@lru_cache(maxsize=1)
def _loop_class() -> type[asyncio.AbstractEventLoop]:
    import uvloop

    class Loop(uvloop.Loop):
        """uvloop whose TCP servers accept every pending connection per iteration."""

        async def create_server(
            self, protocol_factory: Callable[[], asyncio.BaseProtocol], *args: Any, **kwargs: Any
        ) -> Any:
            server: Any = await super().create_server(protocol_factory, *args, **kwargs)
            if not kwargs.get("start_serving", True):
                return server
            ssl = kwargs.get("ssl")
            backlog = int(kwargs.get("backlog", 100))
            acceptors = [
                Acceptor(self, sock, protocol_factory, ssl, backlog) for sock in server.sockets
            ]
            return _Server(server, acceptors)

    return Loop


class Acceptor:
    """Accepts every pending connection of one listening socket when it is readable.

    Args:
        loop: The running loop (serves the accepted sockets).
        listener: The listening socket (its descriptor is duplicated).
        protocol_factory: Builds the protocol of each connection.
        ssl: The server's SSL context, if any.
        batch: Most connections accepted per readiness (the listen backlog).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        listener: Any,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        ssl: Any,
        batch: int,
    ) -> None:
        self._loop = loop
        self._factory = protocol_factory
        self._ssl = ssl
        self._batch = max(1, batch)
        self._sock = socket.socket(fileno=os.dup(listener.fileno()))
        self._sock.setblocking(False)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._retry: asyncio.TimerHandle | None = None
        self._loop.add_reader(self._sock.fileno(), self._accept)

    def close(self) -> None:
        """Stop accepting (idempotent); connections already accepted are unaffected."""
        if self._sock.fileno() < 0:
            return
        if self._retry is not None:
            self._retry.cancel()
        else:
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()

    def _accept(self) -> None:
        for _ in range(self._batch):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # the queue is empty (or the loop's own accept took the last one)
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno not in _RESOURCE_ERRORS:
                    raise
                logger.warning("accepting connections paused for %gs: %s", RETRY_DELAY, exc)
                self._loop.remove_reader(self._sock.fileno())
                self._retry = self._loop.call_later(RETRY_DELAY, self._resume)
                return
            conn.setblocking(False)
            task = self._loop.create_task(self._serve(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _resume(self) -> None:
        self._retry = None
        self._loop.add_reader(self._sock.fileno(), self._accept)

    async def _serve(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, conn, ssl=self._ssl)
        except Exception as exc:  # a TLS handshake that fails, a client that reset at once
            # The transport owns the socket from its creation on and has closed it;
            # closing it here too could close a descriptor reused meanwhile.
            logger.debug("a connection ended before it was served: %r", exc)


class _Server:
    """The loop's server, closing the acceptors with it (everything else delegated)."""

    def __init__(self, server: Any, acceptors: list[Acceptor]) -> None:
        self._server = server
        self._acceptors = acceptors

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)

    def close(self) -> None:
        for acceptor in self._acceptors:
            acceptor.close()
        self._server.close()

    async def __aenter__(self) -> _Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await self._server.wait_closed()
