"""Server-Sent Events endpoints: ``with_sse``, ``sse_response`` and the ``SSE`` object.

The handler runs in its own task, started when the response body starts
streaming, and hands encoded events to the response through a small bounded
buffer (a slow client makes ``sse.send`` wait instead of growing memory).
The response body is an async generator, so junco's disconnect-aware
streaming drives it: when the client goes away the generator is closed, and
closing it cancels the handler task and waits for it, so the handler's
``finally`` blocks run before the request ends. While the handler is quiet, a
comment is sent every ``keepalive`` seconds so proxies keep the connection
open and servers that only notice a gone client on write notice it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, overload

from . import _hooks
from ._sse import encode_comment, encode_event
from .exceptions import ClientDisconnect, ConfigurationError
from .request import Request
from .response import Response

logger = logging.getLogger("junco")

DEFAULT_KEEPALIVE = 15.0
_MAX_PENDING = 16
_KEEPALIVE = b": keep-alive\n\n"
_FAREWELL = b": server shutting down\n\n"

Handler = Callable[..., Awaitable[Any]]


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
        self._pending: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self._space = asyncio.Event()
        self._closed = False

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
        else:
            await self._put(encode_event(data, event, event_id, retry))

    async def comment(self, text: str) -> None:
        """Send a comment line, which clients ignore."""
        await self._put(encode_comment(text))

    async def _put(self, chunk: bytes) -> None:
        while len(self._pending) >= _MAX_PENDING and not self._closed:
            self._space.clear()
            await self._space.wait()
        if self._closed:
            raise ClientDisconnect("the event stream has ended")
        self._pending.append(chunk)
        self._ready.set()


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
    body = _stream(sse, functools.partial(event_function, request, sse, *args, **kwargs), keepalive)
    headers = {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
    }
    response = Response(body, headers=headers)
    response.farewell = _FAREWELL  # a server shutdown ends the stream at once
    return response


async def _stream(
    sse: SSE, run: Callable[[], Awaitable[Any]], keepalive: float | None
) -> AsyncIterator[bytes]:
    task = asyncio.ensure_future(run())
    task.add_done_callback(lambda _: sse._ready.set())
    try:
        while True:
            if sse._pending:
                chunk = sse._pending.popleft()
                sse._space.set()
                yield chunk
            elif task.done():
                break
            else:
                sse._ready.clear()
                if not await _wait(sse._ready, keepalive):
                    yield _KEEPALIVE
    finally:
        sse._closed = True
        sse._space.set()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
        _report(task, sse.request)


async def _wait(event: asyncio.Event, seconds: float | None) -> bool:
    """Wait for ``event``; False if ``seconds`` pass first."""
    if seconds is None:
        await event.wait()
        return True
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


def _report(task: asyncio.Future[Any], request: Request) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None and not isinstance(exc, ClientDisconnect):
        logger.error("unhandled error in the SSE handler for %s", request.path, exc_info=exc)


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
        _hooks.check_not_routed(fn, "@with_sse")
        if not _hooks.is_async_callable(fn):
            raise ConfigurationError("an SSE handler must be an async function")

        @functools.wraps(fn)
        async def sse_handler(request: Request, *args: Any, **kwargs: Any) -> Response:
            return sse_response(request, fn, *args, keepalive=keepalive, **kwargs)

        return sse_handler

    return decorate if f is None else decorate(f)


__all__ = ["DEFAULT_KEEPALIVE", "SSE", "sse_response", "with_sse"]
