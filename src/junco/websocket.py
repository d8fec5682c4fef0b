"""WebSocket endpoints: the ``with_websocket`` decorator and the ``WebSocket`` object.

Theory of operation:

- The server parses and frames WebSocket traffic; junco only exchanges ASGI
  ``websocket.*`` events with it.
- Every handshake gets exactly one answer: ``websocket.accept``; an HTTP
  response (when a ``before_request`` hook returns one, an error is raised, or
  the handler refuses) sent as ``websocket.http.response.*`` when the server
  offers that extension; otherwise a ``websocket.close`` before accepting,
  which servers turn into a 403.
- The handler runs in the server's own task, not a child task: with thousands
  of connections open, every task (and its context, coroutine, weak reference)
  is more for the garbage collector to walk on each full collection.
- After the accept, a reader task owns ``receive``. It buffers at most
  ``_INBOX`` messages (so a client cannot fill memory while the handler is
  busy), closes with 1009 on an oversized message, and when the connection
  ends it either wakes a pending ``ws.receive()`` (which raises
  ``WebSocketDisconnect``) or, if nothing is receiving, cancels the server's
  task; the handler's wrapper takes that cancellation back (``uncancel()``),
  telling "the client left" (swallowed) from "the server is cancelling us"
  (propagated). The reader starts after the handler has run up to its first
  ``await``: a client that is already gone cannot cancel a coroutine that never ran.
- Per-connection state is kept lean for the same reason: one waiter slot
  (``junco._waiting``) instead of events, an inbox made by the first message,
  and one module-wide set of open sockets for the server's stop.
- A server that closed the socket on its side before the reader saw the
  disconnect (uvicorn after a ping timeout) refuses further frames with its own
  error; ``send`` turns that into ``WebSocketDisconnect(1006)``.
- When the server starts stopping, an open connection is closed with 1001
  (going away) and the handler ends as if the client had left, instead of
  holding the shutdown for the server's whole graceful timeout.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, overload

from . import _draining
from ._dispatch import enter, error_response, guard, run_after
from ._foreign import call_foreign, replay
from ._waiting import park, wake
from .app import register_scope
from .calling import call_endpoint, is_async_callable
from .coerce import make_response
from .datastructures import HeaderInput, Headers
from .exceptions import ConfigurationError, HTTPException
from .origins import normalize_origin, own_origin, request_origin
from .request import Request, _current
from .routing import RouteOptions

if TYPE_CHECKING:
    from .app import Junco
    from .response import Response
    from .routing import Match
    from .types import Message, Receive, Scope, Send

logger = logging.getLogger("junco")

DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024
_INBOX = 4
_CONNECTING, _OPEN, _CLOSED = 0, 1, 2
_REFUSED = 1008  # policy violation; servers answer a pre-accept close with 403 anyway
_GOING_AWAY = 1001

Handler = Callable[..., Any]  # async, or sync (run in a thread)


class WebSocketError(Exception):
    """Base class of WebSocket errors (Microdot's name)."""


class WebSocketDisconnect(WebSocketError):
    """The connection is over: the client left, or the app closed it.

    Attributes:
        code: The close code (1000 normal, 1001 going away, 1009 too big, ...).
        reason: The close reason, if any.
    """

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


@dataclass(slots=True)
class _Channel:
    scope: Scope
    receive: Receive
    send: Send
    answered: bool = False  # the handshake got its accept or refusal


_channel: ContextVar[_Channel | None] = ContextVar("junco_websocket", default=None)


class WebSocket:
    """One WebSocket connection, passed to a ``with_websocket`` handler.

    Attributes:
        request: The handshake request (headers, cookies, args, ``g``).
        subprotocols: The subprotocols the client offered, best first.
        subprotocol: The subprotocol accepted, or ``None``.
        max_message_size: Largest incoming message in bytes; bigger → close 1009.
        close_code: How the connection ended, once it has.
    """

    #: Microdot's class-wide limit: ``-1`` (the default) means the app's
    #: ``max_body_length``. ``with_websocket(max_message_size=...)`` and
    #: ``app.extensions['websocket_max_message_size']`` win over it.
    max_message_length: ClassVar[int] = -1

    def __init__(self, request: Request, channel: _Channel, max_message_size: int) -> None:
        self.request = request
        self.subprotocols: list[str] = list(channel.scope.get("subprotocols") or ())
        self.subprotocol: str | None = None
        self.max_message_size = max_message_size
        self.close_code: int | None = None
        self.close_reason = ""
        self._channel = channel
        self._state = _CONNECTING
        self._inbox: deque[str | bytes] | None = None  # made by the first message
        self._waiter: asyncio.Future[None] | None = None  # see junco._waiting
        self._receivers = 0
        self._reader: asyncio.Task[None] | None = None
        self._task: asyncio.Task[Any] | None = None  # the server's, while the handler runs
        self._cancelled = False  # we cancelled the handler because the client left
        self._opened = False

    @property
    def accepted(self) -> bool:
        """True once the handshake was accepted (and still after closing)."""
        return self._opened

    @property
    def closed(self) -> bool:
        """True once the connection is closed, by either side."""
        return self._state == _CLOSED

    async def accept(self, subprotocol: str | None = None, headers: HeaderInput = None) -> None:
        """Accept the handshake (done for you unless ``with_websocket(accept=False)``).

        Args:
            subprotocol: One of :attr:`subprotocols` to agree on.
            headers: Extra response headers for the handshake.

        Raises:
            RuntimeError: The handshake was already answered.
            ValueError: The client did not offer ``subprotocol``, or a header
                is invalid.
        """
        if self._state != _CONNECTING or self._channel.answered:
            raise RuntimeError("the WebSocket handshake was already answered")
        if subprotocol is not None and subprotocol not in self.subprotocols:
            raise ValueError(f"the client did not offer the subprotocol {subprotocol!r}")
        message: Message = {"type": "websocket.accept", "subprotocol": subprotocol}
        if headers:
            h = Headers(headers)
            if "sec-websocket-protocol" in h:
                raise ValueError("choose the subprotocol with the subprotocol argument")
            message["headers"] = h.to_asgi()
        self._channel.answered = True
        await self._channel.send(message)
        self._state = _OPEN
        self._opened = True
        self.subprotocol = subprotocol
        if self._task is not None:  # accepted by the running handler (accept=False)
            self._start_reader()

    async def receive(self) -> str | bytes:
        """The next message: ``str`` for text frames, ``bytes`` for binary ones.

        Raises:
            WebSocketDisconnect: The connection is closed.
            RuntimeError: The handshake has not been accepted.
        """
        if self._state == _CONNECTING:
            raise RuntimeError("accept the WebSocket before receiving")
        while not self._inbox:
            if self._state == _CLOSED:
                raise WebSocketDisconnect(self.close_code or 1005, self.close_reason)
            self._receivers += 1
            try:
                await park(self, asyncio.get_running_loop())
            finally:
                self._receivers -= 1
        data = self._inbox.popleft()
        wake(self)  # the reader, if it waits for room
        return data

    async def send(self, data: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message.

        Raises:
            WebSocketDisconnect: The connection is closed.
            RuntimeError: The handshake has not been accepted.
            TypeError: ``data`` is neither ``str`` nor bytes-like.
        """
        if isinstance(data, str):
            message: Message = {"type": "websocket.send", "text": data}
        elif isinstance(data, (bytes, bytearray, memoryview)):
            message = {"type": "websocket.send", "bytes": bytes(data)}
        else:
            raise TypeError(f"cannot send a {type(data).__name__}; send str or bytes")
        if self._state == _CONNECTING:
            raise RuntimeError("accept the WebSocket before sending")
        if self._state == _CLOSED:
            raise WebSocketDisconnect(self.close_code or 1006, self.close_reason)
        try:
            await self._channel.send(message)
        except Exception as exc:
            # The server closed the socket before the reader saw the disconnect (the
            # client left, a ping timed out): uvicorn raises OSError or RuntimeError
            # ("after sending 'websocket.close'"), hypercorn its own error. A
            # well-formed frame on an open socket has no other reason to fail.
            logger.debug("the server refused a WebSocket frame: %r", exc)
            self._mark_closed(self.close_code or 1006, self.close_reason)
            raise WebSocketDisconnect(1006) from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection; before accepting, this refuses the handshake (403).

        Closing twice is harmless.

        Raises:
            ValueError: ``code`` may not be sent, or ``reason`` exceeds 123 bytes.
        """
        _check_close(code, reason)
        if self._state == _CLOSED:
            return
        if self._state == _CONNECTING:
            self._mark_closed(code, reason)
            self._channel.answered = True
            await self._channel.send({"type": "websocket.close", "code": code, "reason": reason})
            return
        self._mark_closed(code, reason)
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
        try:
            await self._channel.send({"type": "websocket.close", "code": code, "reason": reason})
        except Exception as exc:  # the server closed it already (see send)
            logger.debug("the server refused a WebSocket close: %r", exc)

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[str | bytes]:
        while True:
            try:
                data = await self.receive()
            except WebSocketDisconnect:
                return
            yield data

    # -- internals ---------------------------------------------------------------------

    def _mark_closed(self, code: int, reason: str) -> None:
        self._state = _CLOSED
        self.close_code = code
        self.close_reason = reason
        wake(self)

    def _lost(self, code: int, reason: str) -> None:
        """The connection ended under the handler: wake a receiver or cancel it."""
        self._mark_closed(code, reason)
        task = self._task
        if self._receivers == 0 and task is not None and not self._cancelled:
            self._cancelled = True
            task.cancel()

    async def _read(self) -> None:
        receive = self._channel.receive
        loop = asyncio.get_running_loop()
        while self._state == _OPEN:
            inbox = self._inbox
            if inbox is not None and len(inbox) >= _INBOX:
                await park(self, loop)  # woken when the handler takes one
                continue
            message = await receive()
            if self._state != _OPEN:
                return
            if message["type"] == "websocket.receive":
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                if _too_big(data, self.max_message_size):
                    await self.close(1009, "message too big")
                    self._lost(1009, "message too big")
                    return
                if inbox is None:
                    inbox = self._inbox = deque()
                inbox.append(data)
                wake(self)
            elif message["type"] == "websocket.disconnect":
                self._lost(message.get("code") or 1005, message.get("reason") or "")
                return

    def _start_reader(self) -> None:
        if self._reader is None and self._state == _OPEN:
            self._reader = asyncio.ensure_future(self._read())

    def _begin(self) -> None:
        """The handler starts, in the server's own task (one task fewer per connection).

        The reader starts after it: the handler runs up to its first ``await``
        before a client that is already gone can cancel it.
        """
        self._task = asyncio.current_task()
        _open.add(self)
        if _draining.stopping():
            _go_away(self)
        self._start_reader()

    def _end(self) -> bool:
        """The handler is over: True if it was cancelled by us alone (swallow that).

        Our ``cancel()`` is taken back with ``uncancel()``, so the server's task
        keeps no trace of it; a cancellation of the server's own is not ours.
        """
        task, self._task = self._task, None
        if task is None or not self._cancelled:
            return False
        self._cancelled = False
        return task.uncancel() == 0

    def _finish(self) -> None:
        _open.discard(self)
        if self._reader is not None:
            self._reader.cancel()


# The open connections, for the server's stop (one set, not a callback per connection).
_open: set[WebSocket] = set()
_closing: set[asyncio.Future[None]] = set()  # holds the closing tasks until they end


def _go_away(ws: WebSocket) -> None:
    task = asyncio.ensure_future(_going_away(ws))
    _closing.add(task)
    task.add_done_callback(_closing.discard)


async def _going_away(ws: WebSocket) -> None:
    """The server is stopping: close with 1001 and end the handler like a departure."""
    await ws.close(_GOING_AWAY, "server shutting down")
    ws._lost(_GOING_AWAY, "server shutting down")


def _stop_all() -> None:
    for ws in list(_open):
        _go_away(ws)


_draining.on_every_stop(_stop_all)


def _too_big(data: str | bytes, limit: int) -> bool:
    n = len(data)
    if isinstance(data, bytes) or n > limit or n * 4 <= limit:
        return n > limit  # a character is 1 to 4 bytes in UTF-8
    return len(data.encode("utf-8", "surrogatepass")) > limit


def _check_close(code: int, reason: str) -> None:
    # RFC 6455 7.4: 1004-1006 and 1015 are reserved, 1016-2999 unassigned.
    if not (1000 <= code <= 1014 or 3000 <= code <= 4999) or code in (1004, 1005, 1006):
        raise ValueError(f"{code} is not a close code an endpoint may send")
    if len(reason.encode()) > 123:
        raise ValueError("a close reason is at most 123 bytes")


# -- the decorator -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Options:
    accept: bool
    max_message_size: int | None
    subprotocols: tuple[str, ...]
    allowed_origins: tuple[str, ...] | None


@overload
def with_websocket(f: Handler, /) -> Handler: ...
@overload
def with_websocket(
    *,
    accept: bool = True,
    max_message_size: int | None = None,
    subprotocols: Iterable[str] = (),
    allowed_origins: Iterable[str] | None = None,
) -> Callable[[Handler], Handler]: ...


def with_websocket(
    f: Handler | None = None,
    /,
    *,
    accept: bool = True,
    max_message_size: int | None = None,
    subprotocols: Iterable[str] = (),
    allowed_origins: Iterable[str] | None = None,
) -> Handler | Callable[[Handler], Handler]:
    """Make ``f(request, ws, **url_args)`` a WebSocket endpoint.

    Use it bare (``@with_websocket``) or with options, under ``@app.route``.

    Args:
        f: The handler. An ``async`` function, or a plain one, which runs in
            a worker thread (as sync HTTP handlers do) and gets a
            :class:`BlockingWebSocket` whose methods block.
        accept: Accept the handshake before calling the handler. With
            ``False`` the handler must call ``await ws.accept(...)`` itself, or
            refuse: ``await ws.close()``, ``abort(status)`` or return a response.
        max_message_size: Largest incoming message in bytes (close 1009
            above); default ``app.extensions['websocket_max_message_size']``
            or 1 MiB.
        subprotocols: Subprotocols this endpoint speaks, preferred first; with
            ``accept=True`` the first one the client offered is agreed on.
        allowed_origins: Browser origins (``"https://example.com"``) allowed
            besides the endpoint's own; ``"*"`` allows any. Default
            ``app.extensions['websocket_allowed_origins']`` or none. A request
            with another ``Origin`` header is refused with 403.
    """
    if max_message_size is not None and max_message_size < 1:
        raise ConfigurationError("max_message_size must be positive")
    if isinstance(subprotocols, str) or isinstance(allowed_origins, str):
        raise ConfigurationError("subprotocols and allowed_origins are lists of strings")
    options = _Options(
        accept,
        max_message_size,
        tuple(subprotocols),
        None if allowed_origins is None else _normalize_origins(allowed_origins),
    )

    def decorate(fn: Handler) -> Handler:
        RouteOptions.refuse_routed(fn, "@with_websocket")
        if not is_async_callable(fn):
            fn = _in_thread(fn)

        @functools.wraps(fn)
        async def websocket_handler(request: Request, **url_args: Any) -> Any:
            # The handler runs right here, in the server's task: no task of its own.
            ws = _connect(request, options)
            if options.accept:
                offered = ws.subprotocols
                await ws.accept(next((p for p in options.subprotocols if p in offered), None))
            ws._begin()
            ours = False
            try:
                try:
                    rv = await fn(request, ws, **url_args)
                finally:
                    ours = ws._end()
                if ws._state == _CONNECTING and not ws._channel.answered:
                    return rv  # the handler refused by returning a response (or nothing)
                ours = False
                await ws.close(1000)
            except WebSocketDisconnect:
                pass
            except asyncio.CancelledError:
                if not ours:
                    raise  # the server's, not ours: propagate
            except Exception:
                if ws._state == _CONNECTING and not ws._channel.answered:
                    raise  # refused by raising: answered with an HTTP error
                logger.exception("unhandled error in the WebSocket handler for %s", request.path)
                await ws.close(1011)
            finally:
                ws._finish()
            return None

        RouteOptions("websocket").attach(websocket_handler)
        return websocket_handler

    return decorate if f is None else decorate(f)


def _connect(request: Request, options: _Options) -> WebSocket:
    """The handshake's checks, then its WebSocket (not yet accepted)."""
    channel = _channel.get()
    if channel is None or request.asgi_scope.get("type") != "websocket":
        raise HTTPException(400, "this endpoint expects a WebSocket handshake")
    if not _origin_allowed(request, options.allowed_origins):
        raise HTTPException(403, "cross-origin WebSocket refused")
    return WebSocket(request, channel, _max_size(request, options.max_message_size))


def _max_size(request: Request, size: int | None) -> int:
    if size is not None:
        return size
    for app in (request.route.app if request.route else None, request.app):
        if app is not None and "websocket_max_message_size" in app.extensions:
            return int(app.extensions["websocket_max_message_size"])
    if WebSocket.max_message_length != -1:
        return WebSocket.max_message_length
    return int(getattr(request.app, "max_body_length", DEFAULT_MAX_MESSAGE_SIZE))


class BlockingWebSocket:
    """The :class:`WebSocket` of a sync handler: the same methods, blocking.

    The handler runs in a worker thread; each call runs the coroutine on the
    event loop and waits for it. Other attributes are the WebSocket's own.
    """

    def __init__(self, ws: WebSocket, loop: asyncio.AbstractEventLoop) -> None:
        self.ws = ws
        self._loop = loop

    def _wait(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()  # type: ignore[arg-type]

    def receive(self) -> str | bytes:
        return self._wait(self.ws.receive())  # type: ignore[no-any-return]

    def send(self, data: str | bytes) -> None:
        self._wait(self.ws.send(data))

    def accept(self, subprotocol: str | None = None, headers: HeaderInput = None) -> None:
        self._wait(self.ws.accept(subprotocol, headers))

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._wait(self.ws.close(code, reason))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ws, name)


def _in_thread(fn: Callable[..., Any]) -> Handler:
    async def run(request: Request, ws: WebSocket, **args: Any) -> Any:
        blocking = BlockingWebSocket(ws, asyncio.get_running_loop())
        return await call_endpoint(fn, False, request, blocking, **args)  # in a thread

    return functools.wraps(fn)(run)


def _normalize_origins(origins: Iterable[str]) -> tuple[str, ...]:
    """Canonical origins (``"*"`` kept); a malformed one is a ``ConfigurationError``."""
    out = []
    for origin in origins:
        text = origin.strip() if isinstance(origin, str) else origin
        try:
            out.append("*" if text == "*" else normalize_origin(text))
        except ValueError as exc:
            raise ConfigurationError(f"allowed_origins: {exc}") from None
    return tuple(out)


def _origin_allowed(request: Request, allowed: tuple[str, ...] | None) -> bool:
    """Same origin (scheme included), listed, or no ``Origin`` at all (not a browser)."""
    origin = request_origin(request)
    if origin is None:
        return True
    if not origin:  # sent twice: refused, as CSRF and CORS do
        return False
    if allowed is None:
        configured = request.app.extensions.get("websocket_allowed_origins")
        if isinstance(configured, str):
            configured = (configured,)
        allowed = None if configured is None else _normalize_origins(configured)
    if allowed is not None and ("*" in allowed or origin in allowed):
        return True
    return origin == own_origin(request)


# -- dispatch ----------------------------------------------------------------------------


async def handle_websocket(app: Junco, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one WebSocket connection (called by the app for ``websocket`` scopes)."""
    request = Request(app, scope, receive)
    match = app.router.match_protocol("websocket", request.path)
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    channel = _Channel(scope, receive, send)
    token = _current.set(request)
    channel_token = _channel.set(channel)
    try:
        # A foreign app passes the same guard (route None: hooks only) first.
        response = await _respond(app, request, match, channel)
        passed = match.foreign is not None and response is None and not channel.answered
        if not passed and not channel.answered:
            await _refuse(request, response, channel)
    finally:
        request.finished = True  # current_request() refuses it from now on
        _channel.reset(channel_token)
        _current.reset(token)
    if passed:
        mount, prefix = match.foreign  # type: ignore[misc]
        await call_foreign(mount, prefix, scope, replay(message, receive), send)


async def _respond(
    app: Junco, request: Request, match: Match, channel: _Channel
) -> Response | None:
    """The HTTP cycle's own steps; a response (or None) to refuse with if nobody answered."""
    route = request.route = match.route
    plan = enter(app, request, match, app.root_plan())
    refusal = await guard(app, plan, request)
    if refusal is not None or route is None:
        return refusal
    try:
        if route.is_async:  # with_websocket's handler: two coroutines fewer per connection
            rv = await route.handler(request, **request.url_args)
        else:
            rv = await app.call_handler(route, request, request.url_args)
        if channel.answered or rv is None:
            return None
        return await run_after(plan, request, make_response(rv))
    except Exception as exc:
        if channel.answered:
            logger.exception("error after the WebSocket handshake on %s", request.path)
            return None
        return await error_response(app, plan, request, exc)


async def _refuse(request: Request, response: Response | None, channel: _Channel) -> None:
    """Answer the handshake with ``response``, or a bare close (the server sends 403)."""
    channel.answered = True
    extensions = channel.scope.get("extensions") or {}
    if response is None or "websocket.http.response" not in extensions:
        await channel.send({"type": "websocket.close", "code": _REFUSED, "reason": ""})
        return

    async def send_http(message: Message) -> None:
        out = dict(message)
        out["type"] = "websocket." + message["type"]
        await channel.send(out)

    async def receive_http() -> Message:
        message = await channel.receive()
        if message["type"] == "websocket.disconnect":
            return {"type": "http.disconnect"}
        return message

    request.receive = receive_http
    try:
        await response.send(request, send_http)
    except Exception:
        logger.exception("error while refusing the WebSocket handshake on %s", request.path)


register_scope("websocket", handle_websocket)

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "BlockingWebSocket",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketError",
    "with_websocket",
]
