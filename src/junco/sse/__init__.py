"""Server-Sent Events endpoints: ``with_sse``, ``sse_response`` and the ``SSE`` object.

Theory of operation:

- The handler runs inside the response body, in the task that streams the
  response, and ``sse.send`` hands each encoded event straight to the server's
  ``send``: no queue and no second task between the handler and the socket.
  The server's own flow control is the backpressure: ``sse.send`` waits while
  the client is not reading, so a slow client slows the producer down instead
  of filling memory.
- The body is an async iterator that yields nothing: its first ``__anext__``
  runs the handler to the end. junco's disconnect-aware streaming drives it,
  so when the client goes away that task is cancelled and the handler gets
  ``CancelledError`` where it waits; its ``finally`` blocks run before the
  request ends. If something else iterates the body (a middleware that
  replaced it), the events are queued (``_MAX_PENDING``) and yielded instead.
- Keep-alive: one timer per stream, armed for ``keepalive`` seconds after
  the last write and re-armed only when it fires, so a busy stream pays for
  no timer per event. When it fires on a quiet stream it writes a comment.
- Sends from several tasks are written one at a time, whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, overload

from ..calling import is_async_callable
from ..exceptions import ClientDisconnect, ConfigurationError
from ..request import Request
from ..response import Response
from ..routing import RouteOptions
from ..types import Message, Send
from .wire import encode_comment, encode_event

logger = logging.getLogger("junco")

DEFAULT_KEEPALIVE = 15.0
_MAX_PENDING = 16
_KEEPALIVE = b": keep-alive\n\n"
_FAREWELL = b": server shutting down\n\n"
_BURST = 16  # writes that did not wait before yielding to the loop once

Handler = Callable[..., Awaitable[Any]]

# The last data-only event encoded: a message fanned out to many streams is
# the same str or bytes object for each of them, so it is encoded once.
_memo: tuple[Any, bytes] = (None, b"")


def _encode_data(data: Any) -> bytes:
    global _memo
    memo = _memo
    if memo[0] is data:
        return memo[1]
    chunk = encode_event(data)
    if type(data) is str or type(data) is bytes:  # immutable: safe to reuse
        _memo = (data, chunk)
    return chunk


class SSE:
    """The event stream of one request, passed to a ``with_sse`` handler.

    Attributes:
        request: The request.
        last_event_id: The ``Last-Event-ID`` header a reconnecting client
            sent (the id of the last event it saw), or ``None``.
    """

    def __init__(self, request: Request) -> None:
        self.request = request
        self.last_event_id: str | None = request.headers.get("last-event-id") or None
        self._send: Send | None = None
        self._closed = False
        self._busy = False  # a write is in progress
        self._idle = asyncio.Event()  # set when a write ends (for concurrent senders)
        self._burst = 0
        self._last = 0.0  # loop time of the last write
        self._keepalive: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._pinger: asyncio.Future[None] | None = None

    async def send(
        self,
        data: Any,
        event: str | None = None,
        event_id: str | int | None = None,
        retry: float | None = None,
        comment: bool = False,
    ) -> None:
        """Send an event.

        Args:
            data: ``dict``/``list`` (JSON), ``str``, bytes or anything ``str()``
                accepts. Line breaks (CRLF, CR, LF) become separate ``data:``
                lines, which the client joins with ``\\n``.
            event: The event name, for ``addEventListener(name, ...)``.
            event_id: The id; a reconnecting client sends the last one back
                as ``Last-Event-ID``.
            retry: How long the client waits before reconnecting, in seconds.
            comment: Send ``data`` as a comment instead (Microdot's flag).

        Raises:
            ValueError: ``event`` or ``event_id`` contains CR, LF or NUL.
            ClientDisconnect: The stream has ended.
        """
        if comment:
            await self._put(encode_comment(str(data)))
        elif event is None and event_id is None and retry is None:
            await self._put(_encode_data(data))
        else:
            await self._put(encode_event(data, event, event_id, retry))

    async def comment(self, text: str) -> None:
        """Send a comment line, which clients ignore."""
        await self._put(encode_comment(text))

    async def _put(self, chunk: bytes) -> None:
        while self._busy and not self._closed:  # another task is writing: wait for it
            self._idle.clear()
            await self._idle.wait()
        send = self._send
        if self._closed or send is None:
            raise ClientDisconnect("the event stream has ended")
        self._busy = True
        try:
            self._last = _now()
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except OSError:  # the server noticed the client left before we did
            self._closed = True
            raise ClientDisconnect("the event stream has ended") from None
        finally:
            self._busy = False
            self._idle.set()
        self._burst += 1
        if self._burst >= _BURST:
            # A handler that only sends never waits when the client keeps up:
            # let the loop run (and notice a disconnect) now and then.
            self._burst = 0
            await asyncio.sleep(0)

    # -- the stream's life ------------------------------------------------------------------

    def _open(self, send: Send, keepalive: float | None) -> None:
        self._send = send
        self._keepalive = keepalive
        self._last = _now()
        if keepalive is not None:
            self._timer = asyncio.get_running_loop().call_at(self._last + keepalive, self._tick)

    def _tick(self) -> None:
        """The keep-alive timer: write a comment if the stream was quiet long enough."""
        keepalive = self._keepalive
        if self._closed or keepalive is None:
            return
        loop = asyncio.get_running_loop()
        due = self._last + keepalive
        now = loop.time()
        if now < due:  # written to since the timer was armed
            self._timer = loop.call_at(due, self._tick)
            return
        if not self._busy and (self._pinger is None or self._pinger.done()):
            self._pinger = asyncio.ensure_future(self._ping())
        self._timer = loop.call_at(now + keepalive, self._tick)

    async def _ping(self) -> None:
        # A broken stream is the handler's to notice, at its next send.
        with contextlib.suppress(Exception):
            await self._put(_KEEPALIVE)

    async def _close(self) -> None:
        self._closed = True
        self._idle.set()
        if self._timer is not None:
            self._timer.cancel()
        pinger = self._pinger
        if pinger is not None and not pinger.done():
            pinger.cancel()
            await asyncio.wait({pinger})


def _now() -> float:
    return asyncio.get_running_loop().time()


class _EventStream:
    """The body of an SSE response (see the module docs)."""

    close_grace = 0.0  # the client left: cancel the handler at once (no yield to reach)

    def __init__(
        self, sse: SSE, run: Callable[[], Awaitable[Any]], keepalive: float | None
    ) -> None:
        self.sse = sse
        self.run = run
        self.keepalive = keepalive
        self.send: Send | None = None  # the server's send, when it writes directly
        self.started = False

    async def stream(self, send: Send) -> None:
        """Run the handler, its events written with ``send``."""
        self.started = True
        sse = self.sse
        sse._open(send, self.keepalive)
        try:
            await self.run()
        except ClientDisconnect:
            pass
        except Exception as exc:
            logger.error(
                "unhandled error in the SSE handler for %s", sse.request.path, exc_info=exc
            )
        finally:
            await sse._close()

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self.send is not None:
            return self
        return self._chunks()

    async def __anext__(self) -> bytes:
        if self.send is not None and not self.started:
            await self.stream(self.send)
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Nothing to close: the handler runs inside :meth:`stream`."""

    async def _chunks(self) -> AsyncIterator[bytes]:
        """The events as chunks, for whoever iterates the body itself."""
        queue: asyncio.Queue[bytes] = asyncio.Queue(_MAX_PENDING)

        async def send(message: Message) -> None:
            await queue.put(message["body"])

        task = asyncio.ensure_future(self.stream(send))
        get: asyncio.Future[bytes] | None = None
        try:
            while not task.done():
                get = asyncio.ensure_future(queue.get())
                await asyncio.wait({get, task}, return_when=asyncio.FIRST_COMPLETED)
                if get.done():
                    yield get.result()
                else:
                    get.cancel()  # the handler ended; what it queued is below
            while not queue.empty():
                yield queue.get_nowait()
        finally:
            if get is not None:
                get.cancel()
            if not task.done():
                task.cancel()
                await asyncio.wait({task})


class _SSEResponse(Response):
    """Gives the event stream the server's ``send``, so that events skip a hop."""

    async def send(self, request: Request, send: Send) -> None:
        body = self.body_iter
        if isinstance(body, _EventStream):
            body.send = send
        await super().send(request, send)


def sse_response(
    request: Request,
    event_function: Handler,
    *args: Any,
    keepalive: float | None = DEFAULT_KEEPALIVE,
    **kwargs: Any,
) -> Response:
    """A streaming response that runs ``event_function(request, sse, *args, **kwargs)``.

    Use it from an ordinary handler to check the request first (an
    ``abort(403)`` there is a normal error response); ``with_sse`` is the
    shortcut when there is nothing to check.

    Args:
        request: The request.
        event_function: An async function that sends events with ``sse.send``.
        args: Passed to ``event_function``.
        keepalive: Seconds of silence before a keep-alive comment; ``None``
            for none.
        kwargs: Passed to ``event_function``.
    """
    _check_keepalive(keepalive)
    sse = SSE(request)
    run = functools.partial(event_function, request, sse, *args, **kwargs)
    headers = {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
    }
    response = _SSEResponse(_EventStream(sse, run, keepalive), headers=headers)
    response.farewell = _FAREWELL  # a server shutdown ends the stream at once
    return response


def _check_keepalive(keepalive: float | None) -> None:
    if keepalive is not None and not keepalive > 0:
        raise ConfigurationError("keepalive must be a positive number of seconds, or None")


@overload
def with_sse(f: Handler, /) -> Handler: ...
@overload
def with_sse(*, keepalive: float | None = DEFAULT_KEEPALIVE) -> Callable[[Handler], Handler]: ...


def with_sse(
    f: Handler | None = None, /, *, keepalive: float | None = DEFAULT_KEEPALIVE
) -> Handler | Callable[[Handler], Handler]:
    """Make ``f(request, sse, **url_args)`` a Server-Sent Events endpoint.

    Use it bare (``@with_sse``) or with options, under ``@app.route``. The
    response is ``200 text/event-stream`` and is sent at once; the handler
    starts with the stream and is cancelled if the client goes away.

    Args:
        f: The handler, an ``async`` function.
        keepalive: Seconds of silence before a keep-alive comment (default
            15); ``None`` for none.
    """
    _check_keepalive(keepalive)

    def decorate(fn: Handler) -> Handler:
        RouteOptions.refuse_routed(fn, "@with_sse")
        if not is_async_callable(fn):
            raise ConfigurationError("an SSE handler must be an async function")

        @functools.wraps(fn)
        async def sse_handler(request: Request, *args: Any, **kwargs: Any) -> Response:
            return sse_response(request, fn, *args, keepalive=keepalive, **kwargs)

        return sse_handler

    return decorate if f is None else decorate(f)


__all__ = ["DEFAULT_KEEPALIVE", "SSE", "sse_response", "with_sse"]
