"""Publish/subscribe fan-out for SSE and WebSocket handlers, in one process or across many.

``Broadcast("memory")`` delivers within the process; ``Broadcast("redis://...")``
delivers to every process and machine that uses the same Redis.

Theory of operation:

- Each ``subscribe()`` gets a :class:`Subscription` with its own bounded queue
  (``max_queue`` messages). Publishing never waits for subscribers: a
  subscriber whose queue is full when a message arrives is *dropped* (its
  queue is freed, its iterator raises :class:`SubscriberDropped`, and
  ``broadcast.dropped`` counts it), so one slow client can neither grow
  memory nor hold up the others.
- Messages travel as bytes: a NUL, a tag (``s`` text, ``b`` bytes, ``j``
  JSON), then the payload. Text and bytes are decoded once per message and
  the same immutable object reaches every subscriber; JSON is decoded by
  each subscriber into its own copy, so two handlers never share one mutable
  ``dict``. A message without one of these tags came from another publisher
  (``redis-cli PUBLISH``): it is delivered as ``str`` when it is UTF-8, else
  as ``bytes``.
- A backend only learns which channels have at least one local subscriber;
  the Redis backend keeps one PubSub connection per ``Broadcast`` for all of
  them and restores them after Redis comes back.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from ._parsing import json_dumps, json_loads
from ._waiting import park, wake
from .exceptions import BroadcastUnavailable, ConfigurationError, HTTPException, PubSubError
from .stores.resolve import resolve_store, startup_check

if TYPE_CHECKING:
    from .app import Junco
    from .request import Request

logger = logging.getLogger("junco")

DEFAULT_MAX_QUEUE = 100
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024
MAX_CHANNEL_LENGTH = 256
_TEXT, _BYTES, _JSON = b"\x00s", b"\x00b", b"\x00j"
_JSON_DEPTH = 64


class SubscriberDropped(PubSubError):
    """This subscriber fell ``max_queue`` messages behind and was dropped.

    Messages were lost; resubscribe and resynchronise (an SSE client
    reconnects by itself when the stream ends).
    """


class InvalidChannel(PubSubError, ValueError):
    """A channel name is empty, too long, or contains control characters (400 in a handler)."""


class MessageTooLarge(PubSubError, ValueError):
    """A message exceeds ``max_message_size`` once encoded (413 in a handler)."""


class Backend(Protocol):
    """What a transport does; :class:`Broadcast` does the rest.

    An async ``ping()``, if the backend has one, is awaited at the app's start-up
    (with :meth:`Broadcast.init_app`): if it raises, the start-up fails.
    """

    async def connect(self, deliver: Deliver) -> None: ...
    async def disconnect(self) -> None: ...
    async def subscribe(self, channel: str) -> None: ...
    async def unsubscribe(self, channel: str) -> None: ...
    async def publish(self, channel: str, payload: bytes) -> None: ...


class Deliver(Protocol):
    def __call__(self, channel: str, payload: bytes) -> None: ...


# -- wire format ---------------------------------------------------------------------------


def encode(message: Any) -> bytes:
    """Encode a message: ``str``, bytes-like, or anything JSON can represent.

    Raises:
        TypeError: the value cannot be encoded as JSON.
    """
    if isinstance(message, str):
        return _TEXT + message.encode("utf-8", "surrogatepass")
    if isinstance(message, (bytes, bytearray, memoryview)):
        return _BYTES + bytes(message)
    return _JSON + json_dumps(message)


def decode(payload: bytes) -> Any:
    """Decode what :func:`encode` made (or a foreign message: see the module docs).

    Raises:
        ValueError: a junco message whose payload is malformed.
    """
    tag, body = payload[:2], payload[2:]
    if tag == _TEXT:
        return body.decode("utf-8", "surrogatepass")
    if tag == _BYTES:
        return body
    if tag == _JSON:
        try:
            return json_loads(body, _JSON_DEPTH)
        except HTTPException as exc:
            raise ValueError(exc.reason) from None
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload


class _Json:
    """A JSON payload, decoded by each subscriber into its own (mutable) copy."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload


def _shared(payload: bytes) -> Any:
    """What ``_deliver`` queues for every subscriber: the message when immutable.

    Raises:
        ValueError: a junco text message that is not UTF-8.
    """
    if payload[:2] == _JSON:
        return _Json(payload[2:])
    return decode(payload)


def check_channel(channel: Any) -> str:
    """Return ``channel`` if it is a usable name.

    Raises:
        InvalidChannel: not a ``str``, empty, longer than ``MAX_CHANNEL_LENGTH``
            characters, not encodable as UTF-8, or containing control characters.
    """
    if not isinstance(channel, str) or not channel or len(channel) > MAX_CHANNEL_LENGTH:
        raise InvalidChannel("a channel is a non-empty str of at most 256 characters")
    if not channel.isprintable():
        raise InvalidChannel("a channel name cannot contain control characters")
    try:
        channel.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidChannel("a channel name must be valid Unicode") from None
    return channel


# -- subscriptions -------------------------------------------------------------------------


class Subscription:
    """One subscriber's view of a channel: ``async for message in subscription``.

    ``broadcast.subscribe(channel)`` returns it; ``async with`` makes it active.
    The iteration ends when the broadcast disconnects or the ``async with``
    block is left, and raises :class:`SubscriberDropped` if this subscriber
    fell too far behind.

    Attributes:
        channel: The channel name.
        dropped: True once dropped for being slow.
    """

    # Thousands of these live at once and every full garbage collection walks
    # them: no instance dict, one waiter slot (see junco._waiting), no helpers.
    __slots__ = (
        "_broadcast",
        "_closed",
        "_entered",
        "_loop",
        "_max_queue",
        "_queue",
        "_waiter",
        "channel",
        "dropped",
    )

    def __init__(self, broadcast: Broadcast, channel: str, max_queue: int) -> None:
        self.channel = channel
        self.dropped = False
        self._broadcast = broadcast
        self._max_queue = max_queue
        self._queue: deque[Any] = deque()  # decoded messages, or _Json payloads
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._entered = False

    @property
    def pending(self) -> int:
        """Messages received but not yet read (never more than ``max_queue``)."""
        return len(self._queue)

    async def __aenter__(self) -> Subscription:
        if self._entered:
            raise RuntimeError("a subscription is entered once; call subscribe() again")
        self._entered = True
        self._loop = asyncio.get_running_loop()
        await self._broadcast._join(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._close()
        await self._broadcast._leave(self)

    def _offer(self, message: Any) -> bool:
        """Queue a message; False if the queue is full (the caller drops us)."""
        if self._closed:
            return True
        queue = self._queue
        if len(queue) >= self._max_queue:
            return False
        queue.append(message)
        waiter = self._waiter  # inlined wake(): this runs once per subscriber
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        return True

    def _drop(self) -> None:
        self.dropped = True
        self._close()

    def _close(self) -> None:
        self._closed = True
        self._queue.clear()
        wake(self)

    async def get(self) -> Any:
        """The next message, waiting for one.

        Raises:
            SubscriberDropped: this subscriber was dropped.
            StopAsyncIteration: the subscription has ended.
        """
        queue = self._queue
        while True:
            while not queue:
                if self.dropped:
                    raise SubscriberDropped(f"subscriber of {self.channel!r} fell behind")
                if self._closed or self._loop is None:
                    raise StopAsyncIteration
                await park(self, self._loop)
            message = queue.popleft()
            if type(message) is not _Json:
                return message
            try:
                return json_loads(message.payload, _JSON_DEPTH)  # this subscriber's own copy
            except HTTPException:
                logger.warning("skipped a malformed message on channel %r", self.channel)

    def __aiter__(self) -> Subscription:
        return self

    __anext__ = get  # one coroutine per message, not two


# -- the broadcast -------------------------------------------------------------------------


class Broadcast:
    """Publish to channels and subscribe to them, through a memory or Redis backend.

    Args:
        store: ``"memory"`` (one process; ``"memory://"`` too), a Redis URL
            (``redis://host:port/db``, ``rediss://``, ``unix://``) to share
            messages between processes, or a backend object
            (:class:`~junco.stores.redis.RedisBackend` made from your
            own client, say). ``url=`` is accepted as its older name. With
            :meth:`init_app`, a Redis that does not answer fails the app's start-up.
        max_queue: Messages a subscriber may fall behind before it is dropped.
        max_message_size: Largest encoded message published or accepted, in
            bytes; larger incoming ones are skipped (``broadcast.rejected``).
        **options: For Redis, passed to ``Redis.from_url`` (``password``, ...).

    Raises:
        ValueError: a string that is neither ``"memory"`` nor a Redis URL, or a
            non-positive limit.
        TypeError: a ``store`` that is not a backend; options for anything but
            a Redis URL.
        ImportError: a Redis URL without redis-py (``pip install "junco[redis]"``).
    """

    def __init__(
        self,
        store: str | Backend = "memory://",
        *,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        **options: Any,
    ) -> None:
        if max_queue < 1 or max_message_size < 1:
            raise ConfigurationError("max_queue and max_message_size must be positive")
        if "url" in options:  # the parameter's first name
            store = options.pop("url")
        self.url: str | None = store.strip() if isinstance(store, str) else None
        self.max_queue = max_queue
        self.max_message_size = max_message_size
        self.dropped = 0
        self.rejected = 0
        self.backend: Backend = _backend(store, options)
        self._channels: dict[str, set[Subscription]] = {}
        self._subscribing: dict[str, asyncio.Event] = {}
        self._connected = False

    @property
    def connected(self) -> bool:
        """True between :meth:`connect` and :meth:`disconnect`."""
        return self._connected

    async def connect(self) -> None:
        """Start the backend (idempotent)."""
        if not self._connected:
            await self.backend.connect(self._deliver)
            self._connected = True

    async def disconnect(self) -> None:
        """End every subscription and stop the backend (idempotent)."""
        if not self._connected:
            return
        self._connected = False
        for subscribers in self._channels.values():
            for sub in subscribers:
                sub._close()
        self._channels.clear()
        await self.backend.disconnect()

    async def __aenter__(self) -> Broadcast:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    def init_app(self, app: Junco) -> None:
        """Connect when ``app`` starts and disconnect when it stops.

        Also answers :class:`InvalidChannel` with 400, :class:`MessageTooLarge`
        with 413 and :class:`BroadcastUnavailable` with 503 in ``app``'s
        handlers, unless the app already has handlers for them.
        """
        check = startup_check(self.backend, "Broadcast")
        if check is not None:
            app.on_startup(check)
        app.on_startup(self.connect)
        app.on_shutdown(self.disconnect)
        app.extensions.setdefault("broadcast", self)
        for exc, status in (
            (InvalidChannel, 400),
            (MessageTooLarge, 413),
            (BroadcastUnavailable, 503),
        ):
            if exc not in app.error_handlers:
                app.errorhandler(exc)(_error_page(status))

    async def publish(self, channel: str, message: Any) -> None:
        """Send ``message`` to every subscriber of ``channel``.

        ``str`` arrives as ``str``, bytes as ``bytes``, anything else is sent
        as JSON (``dict``, ``list``, numbers, ``True``/``False``/``None``).

        Raises:
            InvalidChannel: see :func:`check_channel`.
            MessageTooLarge: the encoded message exceeds ``max_message_size``.
            TypeError: ``message`` cannot be encoded.
            BroadcastUnavailable: not connected, or the backend is unreachable.
        """
        check_channel(channel)
        payload = encode(message)
        if len(payload) > self.max_message_size:
            raise MessageTooLarge(
                f"message of {len(payload)} bytes; the limit is {self.max_message_size}"
            )
        if not self._connected:
            raise BroadcastUnavailable("call connect() before publishing")
        await self.backend.publish(channel, payload)

    def subscribe(self, channel: str) -> Subscription:
        """Receive ``channel``'s messages inside an ``async with`` block.

        ``async with broadcast.subscribe(channel) as messages:`` — the
        subscription is active when the block starts: anything published
        afterwards reaches it (with Redis: unless Redis is down at that moment).

        Raises:
            InvalidChannel: see :func:`check_channel` (when the block starts).
            BroadcastUnavailable: the broadcast is not connected (when the block starts).
        """
        return Subscription(self, channel, self.max_queue)

    async def _join(self, sub: Subscription) -> None:
        """Make ``sub`` active (its ``async with`` starts)."""
        channel = check_channel(sub.channel)
        if not self._connected:
            raise BroadcastUnavailable("call connect() before subscribing")
        subscribers = self._channels.get(channel)
        first = subscribers is None
        if subscribers is None:
            subscribers = self._channels[channel] = set()
        subscribers.add(sub)
        try:
            if first:
                ready = self._subscribing[channel] = asyncio.Event()
                try:
                    await self.backend.subscribe(channel)
                finally:
                    del self._subscribing[channel]
                    ready.set()
            else:
                pending = self._subscribing.get(channel)
                if pending is not None:  # another subscriber is setting the channel up
                    await pending.wait()
        except BaseException:
            sub._close()
            await self._leave(sub)
            raise

    def subscriber_count(self, channel: str) -> int:
        """How many subscribers of ``channel`` this process has."""
        return len(self._channels.get(channel, ()))

    async def _leave(self, sub: Subscription) -> None:
        subscribers = self._channels.get(sub.channel)
        if subscribers is None:
            return
        subscribers.discard(sub)
        if not subscribers:
            del self._channels[sub.channel]
            if self._connected:
                await self.backend.unsubscribe(sub.channel)

    def _deliver(self, channel: str, payload: bytes) -> None:
        """Fan a message out to local subscribers (called by the backend)."""
        subscribers = self._channels.get(channel)
        if not subscribers:
            return
        if len(payload) > self.max_message_size:
            self.rejected += 1
            logger.warning("skipped a message of %d bytes on %r", len(payload), channel)
            return
        try:
            message = _shared(payload)
        except ValueError:
            logger.warning("skipped a malformed message on channel %r", channel)
            return
        slow = [sub for sub in subscribers if not sub._offer(message)]
        for sub in slow:
            subscribers.discard(sub)  # the subscriber's block still unsubscribes at its end
            sub._drop()
            self.dropped += 1
            logger.warning(
                "dropped a subscriber of %r: %d messages behind", channel, sub._max_queue
            )


def _error_page(status: int) -> Any:
    def page(request: Request, exc: Exception) -> NoReturn:
        raise HTTPException(status, str(exc))  # rendered by junco's error renderer

    return page


def _backend(spec: str | Backend, options: dict[str, Any]) -> Backend:
    """The backend that ``Broadcast(spec)`` names (see :mod:`junco.stores.resolve`)."""

    def memory() -> Backend:
        if options:
            raise ConfigurationError("the memory backend takes no options")
        from .stores.memory import MemoryBackend

        return MemoryBackend()

    def redis(url: str) -> Backend:
        from .stores.redis import RedisBackend

        return RedisBackend(url, **options)

    methods = ("connect", "disconnect", "subscribe", "unsubscribe", "publish")
    backend: Backend = resolve_store(spec, "Broadcast", memory=memory, redis=redis, methods=methods)
    if options and not isinstance(spec, str):
        raise ConfigurationError("options are only for a Redis URL; configure your backend instead")
    return backend


__all__ = [
    "Backend",
    "Broadcast",
    "BroadcastUnavailable",
    "InvalidChannel",
    "MessageTooLarge",
    "PubSubError",
    "SubscriberDropped",
    "Subscription",
    "check_channel",
    "decode",
    "encode",
]
