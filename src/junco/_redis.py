"""Lazy access to redis-py's asyncio client, shared by the Redis-backed stores.

redis-py is an optional extra: nothing here imports it until a Redis store is
built, and a missing install raises an error naming the extra to install.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis

INSTALL_HINT = 'Redis support needs redis-py: pip install "junco[redis]"'


def import_redis() -> Any:
    """Import and return ``redis.asyncio``.

    Raises:
        ImportError: redis-py is not installed (the message names the extra).
    """
    try:
        import redis.asyncio as aioredis
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return aioredis


def connect(url: str, **options: Any) -> Redis:
    """A ``redis.asyncio.Redis`` client for ``url`` (no connection is made yet).

    Connections are opened on first use. A command that meets a dropped
    connection (Redis restarted, a proxy closed an idle socket) is retried
    twice on a fresh one after a short backoff; redis-py alone would raise on
    the first command after a restart. Timeouts are not retried, and connect
    attempts give up after 2 seconds, so a dead Redis fails requests quickly
    instead of holding them. Pass ``retry=`` or ``socket_connect_timeout=``
    to choose otherwise.

    Args:
        url: ``redis://host:port/db``, ``rediss://`` for TLS, ``unix://`` paths.
        **options: Passed to ``Redis.from_url`` (``password``, ``socket_timeout``, ...).
    """
    aioredis = import_redis()
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialWithJitterBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    options.setdefault("socket_connect_timeout", 2.0)
    if "retry" not in options:
        backoff = ExponentialWithJitterBackoff(base=0.02, cap=0.25)
        options["retry"] = Retry(backoff, 2, supported_errors=(RedisConnectionError,))
    client: Redis = aioredis.Redis.from_url(url, **options)
    return client


#: Read timeout of the clients made from a URL: a store waiting on a stuck
#: Redis would hold every request, so it gives up after this many seconds.
SOCKET_TIMEOUT = 1.0

# One client per (event loop, URL) for the stores given a URL and no options:
# redis-py's connections belong to the loop that opened them, and within one
# loop sessions, rate limits and publishing share one pool. Entries leave at
# the app's shutdown (Connector.aclose) or when their loop is found closed.
_shared: dict[tuple[asyncio.AbstractEventLoop, str], Redis] = {}
# Bumped whenever a client leaves a table, so that each connector's cached
# (loop, client) pair, its fast path, is trusted only while nothing was closed.
_generation = [0]


class Connector:
    """Where a Redis store gets its client: a URL, or the caller's own client.

    A URL gives one client per event loop, made on first use. Without
    options, that client is shared by every store of the same URL in the
    loop; with options, this connector has its own. Either way
    :meth:`aclose` closes it at the app's shutdown. A client passed in is
    used as it is and stays the caller's (:meth:`aclose` leaves it open).

    Raises:
        TypeError: options given with a ready client (configure the client instead).
        ImportError: redis-py is missing (``pip install "junco[redis]"``).
    """

    def __init__(self, url_or_client: str | Redis, **options: Any) -> None:
        import_redis()
        self.url: str | None = None
        self._given: Redis | None = None
        if isinstance(url_or_client, str):
            self.url = url_or_client
        elif options:
            raise TypeError("options are only for a URL; configure your client instead")
        else:
            self._given = url_or_client
        self._options = options
        self._own: dict[tuple[asyncio.AbstractEventLoop, str], Redis] = {}
        self._last: tuple[asyncio.AbstractEventLoop, int, Redis] | None = None

    @property
    def owned(self) -> bool:
        """True when the clients are made (and closed) here, from a URL."""
        return self._given is None

    def client(self) -> Redis:
        """The client to use in the running event loop.

        Raises:
            RuntimeError: called outside an event loop with a URL.
        """
        if self._given is not None:
            return self._given
        loop = asyncio.get_running_loop()
        last = self._last
        if last is not None and last[0] is loop and last[1] == _generation[0]:
            return last[2]
        assert self.url is not None
        key = (loop, self.url)
        table = self._own if self._options else _shared
        client = table.get(key)
        if client is None:
            stale = [k for k in table if k[0].is_closed()]
            for k in stale:
                del table[k]
            _generation[0] += bool(stale)
            options = {"socket_timeout": SOCKET_TIMEOUT, **self._options}
            client = table[key] = connect(self.url, **options)
        self._last = (loop, _generation[0], client)
        return client

    async def aclose(self) -> None:
        """Close the running loop's client, if it was made from the URL."""
        if self._given is not None or self.url is None:
            return
        key = (asyncio.get_running_loop(), self.url)
        client = (self._own if self._options else _shared).pop(key, None)
        self._last = None
        if client is not None:
            _generation[0] += 1
            with contextlib.suppress(*errors()):
                await client.aclose()


class RedisClientStore:
    """What the Redis stores share: their client source, a ping and a close.

    Args:
        url_or_client: A Redis URL or your own ``redis.asyncio.Redis`` client
            (see :class:`Connector`).
        **options: For a URL, passed to ``Redis.from_url``.
    """

    def __init__(self, url_or_client: str | Redis, **options: Any) -> None:
        self._connector = Connector(url_or_client, **options)
        #: The URL the store was given (None for a client of yours).
        self.url = self._connector.url

    @property
    def client(self) -> Redis:
        """The ``redis.asyncio.Redis`` client of the running event loop."""
        return self._connector.client()

    async def ping(self) -> None:
        """Check that Redis answers (run at the app's start-up).

        Raises:
            redis.exceptions.RedisError: it does not (``OSError`` too).
        """
        await self.client.ping()

    async def close(self) -> None:
        """Close the connections, if this store opened them (run at app shutdown)."""
        await self._connector.aclose()


def errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "Redis is unreachable or failed" (not a bug of ours)."""
    import redis.exceptions

    return (redis.exceptions.RedisError, OSError)
