"""The Redis backends: sessions, rate limits and pub/sub, shared by every worker and machine.

All of them use redis-py's asyncio client; a URL without options shares one
client per event loop between the stores of that URL.

Rate limits
-----------
One atomic Lua script per request does what
:class:`~junco.stores.memory.MemoryRateLimitStore` does (read the module doc
of :mod:`junco.stores.memory` for the counting rule), with Redis's own
clock (``TIME``), so workers on machines whose clocks differ still agree on
the windows. One round trip per request whatever the number of limits; the
script is sent once and then called by its SHA (``EVALSHA``), and sent again
by itself if Redis restarted and forgot it.

Pub/sub: theory of operation
----------------------------
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
import json
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import _redis
from ..exceptions import SessionStoreError
from .memory import Check, Outcome

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..pubsub import Deliver

logger = logging.getLogger("junco")

# -- sessions -------------------------------------------------------------------------


class RedisStore(_redis.RedisClientStore):
    """Sessions kept in Redis, one key per session with a TTL (a ``SessionStore``).

    The client reconnects by itself when Redis restarts; while Redis is
    unreachable, store calls raise :class:`~junco.exceptions.SessionStoreError`
    (requests that need the session get a 503). ``Session(app, store=url)``
    makes one of these.

    Args:
        url_or_client: A ``redis://`` URL, or a ``redis.asyncio.Redis`` client
            (which stays yours: :meth:`close` leaves it open). A URL without
            options shares one client per event loop with the other stores of
            that URL; commands give up after 1 second without an answer.
        prefix: Put before each session id to make the key.
        **options: For a URL, passed to ``Redis.from_url`` (``password``,
            ``socket_timeout``, ...).

    Raises:
        ImportError: redis-py is missing (``pip install "junco[redis]"``).
    """

    def __init__(
        self,
        url_or_client: str | Redis = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "junco:session:",
        **options: Any,
    ) -> None:
        super().__init__(url_or_client, **options)
        self.prefix = prefix
        self._errors = _redis.errors()

    async def load(self, session_id: str) -> dict[str, Any] | None:
        """The record under ``session_id``, or None (missing, expired or unreadable)."""
        try:
            raw = await self.client.get(self.prefix + session_id)
        except self._errors as exc:
            raise SessionStoreError(f"redis: {exc}") from exc
        return _record(raw)

    async def save(self, session_id: str, data: dict[str, Any], ttl: int) -> None:
        """Store ``data`` for ``ttl`` seconds (``SET ... EX``).

        Raises:
            TypeError: a value is not JSON-serialisable.
            SessionStoreError: Redis is unreachable.
        """
        text = json.dumps(data, separators=(",", ":"))
        try:
            await self.client.set(self.prefix + session_id, text, ex=ttl)
        except self._errors as exc:
            raise SessionStoreError(f"redis: {exc}") from exc

    async def swap(self, session_id: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """Replace the record only if there is one, keeping its TTL; return the old record.

        One atomic command (``SET ... XX GET KEEPTTL``, Redis 6.2+), so
        concurrent callers (any worker, any machine) each see a different
        old record. Remember-me tokens use it to be spent exactly once.

        Raises:
            SessionStoreError: Redis is unreachable.
        """
        text = json.dumps(data, separators=(",", ":"))
        try:
            raw = await self.client.set(
                self.prefix + session_id, text, xx=True, get=True, keepttl=True
            )
        except self._errors as exc:
            raise SessionStoreError(f"redis: {exc}") from exc
        return _record(raw)

    async def delete(self, session_id: str) -> None:
        """Remove the record (no error if it is already gone).

        Raises:
            SessionStoreError: Redis is unreachable.
        """
        try:
            await self.client.delete(self.prefix + session_id)
        except self._errors as exc:
            raise SessionStoreError(f"redis: {exc}") from exc


def _record(raw: Any) -> dict[str, Any] | None:
    """The dict stored as JSON in ``raw``, or None (missing or unreadable)."""
    if not isinstance(raw, (str, bytes)):
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# -- rate limits ----------------------------------------------------------------------

# KEYS: one hash per limit. ARGV: limit, window (ms) for each key, in order.
# Each hash holds i (window index), p (previous window's count), c (this one's).
# Returns {allowed, now_ms, p1, c1, p2, c2, ...}.
SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
local idx, prev, cur = {}, {}, {}
local allowed = 1
for k = 1, n do
  local limit = tonumber(ARGV[2 * k - 1])
  local window = tonumber(ARGV[2 * k])
  local i = math.floor(now / window)
  local v = redis.call('HMGET', KEYS[k], 'i', 'p', 'c')
  local last = tonumber(v[1])
  local p, c = 0, 0
  if last == i then
    p, c = tonumber(v[2]) or 0, tonumber(v[3]) or 0
  elseif last == i - 1 then
    p = tonumber(v[3]) or 0
  end
  if p * (window - (now - i * window)) / window + c + 1 > limit then
    allowed = 0
  end
  idx[k], prev[k], cur[k] = i, p, c
end
if allowed == 1 then
  for k = 1, n do
    cur[k] = cur[k] + 1
    redis.call('HSET', KEYS[k], 'i', string.format('%d', idx[k]), 'p', prev[k], 'c', cur[k])
    redis.call('PEXPIRE', KEYS[k], 2 * tonumber(ARGV[2 * k]))
  end
end
local out = {allowed, now}
for k = 1, n do
  out[2 * k + 1] = prev[k]
  out[2 * k + 2] = cur[k]
end
return out
"""

# KEYS: the hashes a hit counted in. ARGV: the hit's now (ms), then each key's window.
# Takes one count back, as ``refunded`` in the memory store does: from c if the
# hash is still in the hit's window, from p if it has moved on by one.
REFUND_SCRIPT = """
local now = tonumber(ARGV[1])
for k = 1, #KEYS do
  local window = tonumber(ARGV[k + 1])
  local i = math.floor(now / window)
  local v = redis.call('HMGET', KEYS[k], 'i', 'p', 'c')
  local last = tonumber(v[1])
  if last == i then
    local c = tonumber(v[3]) or 0
    if c > 0 then redis.call('HSET', KEYS[k], 'c', c - 1) end
  elseif last == i + 1 then
    local p = tonumber(v[2]) or 0
    if p > 0 then redis.call('HSET', KEYS[k], 'p', p - 1) end
  end
end
return 0
"""


class RedisRateLimitStore(_redis.RedisClientStore):
    """Counters in Redis (a :class:`~junco.stores.memory.RateLimitStore`).

    Every worker and machine pointed at the same Redis shares the counters,
    so a limit holds for the whole deployment. Keys expire two windows after
    their last count. Keys passed to one :meth:`hit` share a hash tag (the
    limiter puts the client's digest in braces), so the script also runs on
    Redis Cluster.

    Args:
        url_or_client: A ``redis://`` URL, or a ``redis.asyncio.Redis`` client
            (which stays yours: :meth:`close` leaves it open). A URL without
            options shares one client per event loop with the other stores of
            that URL (``RateLimit(app, store=url)`` makes this store).
        **options: For a URL, passed to ``Redis.from_url``. Unless given,
            ``socket_timeout`` is 1 second: a limiter waiting on a stuck Redis
            would hold every request.

    Raises:
        ImportError: redis-py is missing (``pip install "junco[redis]"``).
    """

    def __init__(self, url_or_client: str | Redis = "redis://127.0.0.1:6379/0", **options: Any):
        super().__init__(url_or_client, **options)
        self._script: Any = None  # registered on first use, with that loop's client
        self._refund_script: Any = None
        #: What a failing Redis raises; the limiter catches these.
        self.errors: tuple[type[BaseException], ...] = _redis.errors()

    async def hit(self, checks: Sequence[Check]) -> Outcome:
        """Check and count atomically in one ``EVALSHA``.

        Raises:
            redis.exceptions.RedisError: Redis is unreachable or failed
                (``OSError`` too); see :attr:`errors`.
        """
        args: list[int] = []
        for _, limit, window in checks:
            args += (limit, window)
        client = self.client
        if self._script is None:
            self._script = client.register_script(SCRIPT)
        keys = [key for key, _, _ in checks]
        reply = await self._script(keys=keys, args=args, client=client)
        counts = [(int(reply[i]), int(reply[i + 1])) for i in range(2, len(reply), 2)]
        return Outcome(bool(reply[0]), int(reply[1]), counts)

    async def refund(self, checks: Sequence[Check], now: int) -> None:
        """Give back one count per check, atomically in one ``EVALSHA``.

        ``now`` is the ``Outcome.now`` of the hit that counted (Redis's clock).

        Raises:
            redis.exceptions.RedisError: as :meth:`hit`.
        """
        client = self.client
        if self._refund_script is None:
            self._refund_script = client.register_script(REFUND_SCRIPT)
        keys = [key for key, _, _ in checks]
        args = [now, *(window for _, _, window in checks)]
        await self._refund_script(keys=keys, args=args, client=client)


# -- pub/sub --------------------------------------------------------------------------

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
        from ..exceptions import BroadcastUnavailable

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


__all__ = ["REFUND_SCRIPT", "SCRIPT", "RedisBackend", "RedisRateLimitStore", "RedisStore"]
