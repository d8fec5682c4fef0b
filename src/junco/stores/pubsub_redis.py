"""The Redis pub/sub backend (``Broadcast("redis://...")``), shared by every process.

Theory of operation:

- ``PUBLISH`` goes through an ordinary client (retried on a fresh connection
  after a drop, like the other Redis stores).
- Subscriptions share **one** PubSub connection per ``Broadcast``, read by one
  task, which hands every message to ``Broadcast`` for local fan-out. That
  connection makes no retries of its own: any error (Redis restarted, no
  answer to a PING within ``ping_interval``) makes the reader throw the
  connection away, wait (50 ms, doubling up to ``max_reconnect_delay``), open
  a fresh one and subscribe to every channel that still has local
  subscribers. Messages published meanwhile are lost: Redis pub/sub keeps
  nothing for absent subscribers.
- ``subscribe`` and ``unsubscribe`` send their command on that connection
  under a lock that the reader also takes while reconnecting, so a channel is
  never left out of a fresh connection. ``subscribe`` waits for Redis to
  confirm (at most ``confirm_timeout``), so a message published after it
  returns is delivered; while Redis is down it returns at once and the
  channel is restored on reconnection.
- The connection always listens to a private control channel as well, so it
  exists (and notices a Redis restart) even while nobody subscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import TYPE_CHECKING, Any

from .. import _redis

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..pubsub import Deliver

logger = logging.getLogger("junco")

_FIRST_DELAY = 0.05


class RedisBackend:
    """Fan-out through Redis ``PUBLISH``/``SUBSCRIBE``.

    Args:
        url_or_client: ``redis://host:port/db``, ``rediss://`` or ``unix://``;
            or a ``redis.asyncio.Redis`` client of yours (a Sentinel master,
            say), used for publishing and for the subscription connection,
            and left open by :meth:`disconnect`. A URL without options
            publishes through the client the other stores of that URL share.
        ping_interval: Seconds of silence before the reader PINGs Redis; no
            answer within as long again means the connection is dead.
        max_reconnect_delay: Longest wait between reconnection attempts.
        confirm_timeout: Longest wait for Redis to confirm a subscription.
        **options: Passed to ``Redis.from_url`` (``password``, ...).

    Raises:
        ImportError: redis-py is missing (``pip install "junco[redis]"``).
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        *,
        ping_interval: float = 15.0,
        max_reconnect_delay: float = 2.0,
        confirm_timeout: float = 5.0,
        **options: Any,
    ) -> None:
        if ping_interval <= 0 or max_reconnect_delay <= 0 or confirm_timeout <= 0:
            raise ValueError("ping_interval, max_reconnect_delay and confirm_timeout must be > 0")
        if options:
            options["decode_responses"] = False  # payloads are bytes (the default)
        self._connector = _redis.Connector(url_or_client, **options)
        self.url = self._connector.url
        self.options = options
        self.ping_interval = ping_interval
        self.max_reconnect_delay = max_reconnect_delay
        self.confirm_timeout = confirm_timeout
        self.client: Redis | None = None  # the publishing client, while connected
        self._listener: Redis | None = None
        self._pubsub: Any = None
        self._deliver: Deliver | None = None
        self._channels: set[str] = set()
        self._confirm: dict[str, asyncio.Future[None]] = {}
        self._lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self._control = "junco:broadcast:" + os.urandom(8).hex()
        self._errors = _redis.errors()

    @property
    def listening(self) -> bool:
        """True while the subscription connection is open."""
        return self._pubsub is not None

    async def connect(self, deliver: Deliver) -> None:
        """Open the clients and start the reader (one first attempt is made here)."""
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._deliver = deliver
        self._lock = asyncio.Lock()  # bound to the running loop
        self.client = self._connector.client()
        if self.url is None:
            self._listener = self.client
        else:
            # Its own connection, without retries: the reader does the reconnecting.
            listener_options = dict(self.options, retry=Retry(NoBackoff(), 0))
            self._listener = _redis.connect(self.url, **listener_options)
        try:
            await self._open()
        except Exception as exc:
            logger.warning("pub/sub: Redis unreachable (%s); retrying in the background", exc)
        self._reader = asyncio.create_task(self._run(), name="junco-pubsub-reader")

    async def disconnect(self) -> None:
        """Stop the reader and close both clients."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        async with self._lock:
            await self._close_pubsub()
            self._channels.clear()
        listener = self._listener
        if listener is not None and self.url is not None:
            with contextlib.suppress(*self._errors):
                await listener.aclose()
        if self.client is not None:
            await self._connector.aclose()
        self.client = self._listener = None

    async def ping(self) -> None:
        """Check that Redis answers (run at the app's start-up, before :meth:`connect`).

        Raises:
            redis.exceptions.RedisError: it does not (``OSError`` too).
        """
        await self._connector.client().ping()

    async def publish(self, channel: str, payload: bytes) -> None:
        """``PUBLISH`` the payload.

        Raises:
            BroadcastUnavailable: Redis is unreachable.
        """
        from ..pubsub import BroadcastUnavailable

        if self.client is None:
            raise BroadcastUnavailable("the broadcast is not connected")
        try:
            await self.client.publish(channel, payload)
        except self._errors as exc:
            raise BroadcastUnavailable(f"redis: {exc}") from exc

    async def subscribe(self, channel: str) -> None:
        """Subscribe the shared connection; wait for Redis to confirm (bounded)."""
        async with self._lock:
            self._channels.add(channel)
            pubsub = self._pubsub
            if pubsub is None:
                return  # down: the reader subscribes it when Redis is back
            waiter = self._confirm.get(channel)
            if waiter is None or waiter.done():
                waiter = self._confirm[channel] = asyncio.get_running_loop().create_future()
            try:
                await pubsub.subscribe(channel)
            except Exception:
                return  # the reader sees the broken connection and restores every channel
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiter), self.confirm_timeout)

    async def unsubscribe(self, channel: str) -> None:
        """Unsubscribe the shared connection (errors ignored: a new connection forgets it)."""
        async with self._lock:
            self._channels.discard(channel)
            self._confirm.pop(channel, None)
            if self._pubsub is not None:
                with contextlib.suppress(Exception):
                    await self._pubsub.unsubscribe(channel)

    # -- the reader ----------------------------------------------------------------------

    async def _open(self) -> None:
        if self._listener is None:
            raise RuntimeError("not connected")
        async with self._lock:
            pubsub: Any = self._listener.pubsub()
            try:
                await pubsub.subscribe(self._control, *sorted(self._channels))
            except BaseException:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                raise
            self._pubsub = pubsub

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _run(self) -> None:
        delay = _FIRST_DELAY
        outage = False
        while True:
            if self._pubsub is None:
                try:
                    await self._open()
                except Exception as exc:
                    if not outage:
                        logger.warning("pub/sub: cannot reach Redis (%s); retrying", exc)
                    outage = True
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.max_reconnect_delay)
                    continue
                if outage:
                    logger.warning("pub/sub: reconnected to Redis; channels restored")
                outage, delay = False, _FIRST_DELAY
            try:
                await self._read(self._pubsub)
            except Exception as exc:
                logger.warning("pub/sub: lost the Redis connection (%s); reconnecting", exc)
                outage = True
                async with self._lock:
                    await self._close_pubsub()

    async def _read(self, pubsub: Any) -> None:
        awaiting_pong = False
        while True:
            message = await pubsub.get_message(timeout=self.ping_interval)
            if message is None:
                if awaiting_pong:
                    raise ConnectionError(f"no answer to PING in {self.ping_interval} s")
                await pubsub.ping()
                awaiting_pong = True
                continue
            awaiting_pong = False
            kind = message["type"]
            channel = message.get("channel")
            if isinstance(channel, bytes):
                channel = channel.decode("utf-8", "replace")
            if kind == "message" and self._deliver is not None:
                data = message["data"]
                self._deliver(channel, data if isinstance(data, bytes) else str(data).encode())
            elif kind == "subscribe":
                waiter = self._confirm.pop(channel, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
