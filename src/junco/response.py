"""Responses: the body, status and headers a handler produces, and their ASGI encoding.

A plain body (str, bytes, JSON) with no custom headers is sent from two
precomputed header pairs; the ``Headers`` mapping is only built when someone
touches ``response.headers``. Streamed bodies (generators, async generators,
file-like objects) are pumped off the event loop when synchronous and stop as
soon as the client disconnects.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import IO, TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from . import _draining
from ._parsing import json_dumps
from .datastructures import HeaderInput, Headers
from .types import Message, Receive, Send

logger = logging.getLogger("junco")

if TYPE_CHECKING:
    from .request import Request

_CT_JSON = b"application/json; charset=UTF-8"  # Microdot's spelling
_SENTINEL: Any = object()
CHUNK_SIZE = 64 * 1024
_LENGTHS = [str(n).encode() for n in range(1024)]


def _content_type_bytes(ct: str) -> bytes:
    if ct.startswith("text/") and "charset" not in ct:
        ct += "; charset=UTF-8"
    return ct.encode("latin-1")


# Apps created without their own default content type follow
# ``Response.default_content_type``, even when it is assigned after they exist
# (every Microdot HTML example does that). Kept off the hot path: the class
# attribute's setter pushes the new value into the apps.
_CT_FOLLOWERS: weakref.WeakSet[Any] = weakref.WeakSet()


class _ResponseType(type):
    def __setattr__(cls, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "default_content_type" and cls.__name__ == "Response":
            for app in list(_CT_FOLLOWERS):
                app._set_default_ct(value)


class Response(metaclass=_ResponseType):
    """An HTTP response.

    Args:
        body: ``str`` or ``bytes``; a ``dict`` or ``list`` (sent as JSON); a
            sync or async iterator/generator of ``str``/``bytes`` (streamed);
            or a file-like object with ``read`` (streamed, then closed).
        status_code: The HTTP status.
        headers: Extra headers (a mapping or ``(name, value)`` pairs).
        reason: Kept for Microdot compatibility; ASGI servers pick the phrase.
    """

    default_content_type: ClassVar[str] = "text/plain"
    #: Return this from a handler that has answered by other means (Microdot's
    #: WebSocket routes do): nothing more is sent.
    already_handled: ClassVar[Response]
    default_send_file_max_age: ClassVar[int | None] = None
    send_file_buffer_size: ClassVar[int] = CHUNK_SIZE
    #: Seconds a streamed body that is busy between chunks when the client
    #: leaves may take to reach its next ``yield`` (see :func:`stream_body`).
    close_grace: ClassVar[float] = 1.0

    # Class-level defaults: a plain 200 text response sets only its body.
    status_code: int = 200
    reason: str | None = None
    body_iter: Any = None
    farewell: bytes | None = None
    """For endless streams (SSE): cut the body short when the server stops, and
    send this as its last chunk. ``None``: the body runs to its end, within the
    server's graceful timeout."""
    _headers: Headers | None = None
    _ctype: bytes | None = None  # None: the app's default content type
    # Header pairs junco's own middleware add already encoded (their names are
    # lower-case, their values checked once): sent as they are, and folded into
    # ``headers`` as soon as anyone looks at it.
    _extra: list[tuple[bytes, bytes]] | None = None

    def __init__(
        self,
        body: Any = "",
        status_code: int = 200,
        headers: HeaderInput | Headers = None,
        reason: str | None = None,
    ) -> None:
        if status_code != 200:
            self.status_code = status_code
        if reason is not None:
            self.reason = reason
        tb = type(body)
        if tb is str:
            self.body: bytes = body.encode()
        elif tb is bytes:
            self.body = body
        elif tb is dict or tb is list:
            self.body = json_dumps(body)
            self._ctype = _CT_JSON
        else:
            self._init_other(body)
        if headers:
            ctype = _only_content_type(headers)  # after the body's: an explicit type wins
            if ctype is None:
                self._headers = Headers(headers)
            else:
                self._ctype = ctype

    def _init_other(self, body: Any) -> None:
        if isinstance(body, (bytes, bytearray, memoryview)):
            self.body = bytes(body)
        elif isinstance(body, str):
            self.body = body.encode()
        elif isinstance(body, (dict, list)):
            self.body = json_dumps(body)
            self._ctype = _CT_JSON
        elif body is None:
            self.body = b""
            if self.status_code == 200:
                self.status_code = 204  # as Microdot: no body, no content
        elif _is_stream(body):
            self.body = b""
            self.body_iter = body
        else:
            raise TypeError(f"cannot use a {type(body).__name__} as a response body")

    @property
    def headers(self) -> Headers:
        """The response headers (case-insensitive, multi-valued)."""
        h = self._headers
        if h is None:
            h = self._headers = Headers()
            if self._ctype is not None:
                h._d = {"content-type": [self._ctype.decode("latin-1")]}
                self._ctype = None
        elif self._ctype is not None:
            h.setdefault("Content-Type", self._ctype.decode("latin-1"))
            self._ctype = None
        extra = self._extra
        if extra is not None:
            self._extra = None
            d = h._data()
            for name, value in extra:
                key, text = name.decode("latin-1"), value.decode("latin-1")
                values = d.get(key)
                if values is None:
                    d[key] = [text]
                else:
                    values.append(text)
        return h

    @headers.setter
    def headers(self, value: HeaderInput | Headers) -> None:
        self._headers = Headers(value)
        self._ctype = None
        self._extra = None

    def _add_raw(self, pairs: tuple[tuple[bytes, bytes], ...] | list[tuple[bytes, bytes]]) -> None:
        """Append encoded header pairs (lower-case names, checked values) for junco's middleware.

        The caller has made sure none of them is already set.
        """
        extra = self._extra
        if extra is None:
            self._extra = list(pairs)
        else:
            extra.extend(pairs)

    def _add_vary(self, field: str) -> None:
        """Merge ``field`` into ``Vary`` (as ``headers.add_vary``), keeping raw pairs raw."""
        if self._headers is not None:
            self.headers.add_vary(field)
            return
        raw = field.encode("latin-1")
        extra = self._extra
        if extra is not None:
            for i, (name, value) in enumerate(extra):
                if name == b"vary":
                    # map over C methods: no Python frame for a comprehension.
                    if raw.lower() not in map(bytes.strip, value.lower().split(b",")):
                        extra[i] = (b"vary", value + b", " + raw)
                    return
        self._add_raw(((b"vary", raw),))

    @property
    def is_streamed(self) -> bool:
        return self.body_iter is not None

    # -- cookies ---------------------------------------------------------------------

    def set_cookie(
        self,
        cookie: str,
        value: str,
        path: str | None = None,
        domain: str | None = None,
        expires: datetime | str | None = None,
        max_age: int | None = None,
        secure: bool = False,
        http_only: bool = False,
        samesite: str | None = None,
        partitioned: bool = False,
    ) -> None:
        """Add a ``Set-Cookie`` header.

        Raises:
            ValueError: a name, value or attribute contains CR, LF, ``;`` or
                another character that would change the header's meaning.
        """
        for label, text in (("name", cookie), ("value", value), ("path", path), ("domain", domain)):
            if text is not None and _bad_cookie_text(text, label == "name"):
                raise ValueError(f"invalid character in cookie {label}: {text!r}")
        if not cookie:
            raise ValueError("cookie name must not be empty")
        parts = [f"{cookie}={value}"]
        if path:
            parts.append(f"Path={path}")
        if domain:
            parts.append(f"Domain={domain}")
        if expires is not None:
            if isinstance(expires, datetime):
                if expires.tzinfo is None:
                    expires = expires.replace(tzinfo=UTC)
                expires = format_datetime(expires.astimezone(UTC), usegmt=True)
            elif _bad_cookie_text(expires, False):
                raise ValueError("invalid character in cookie expires")
            parts.append(f"Expires={expires}")
        if max_age is not None:
            parts.append(f"Max-Age={int(max_age)}")
        if secure or partitioned or (samesite or "").lower() == "none":
            parts.append("Secure")  # browsers reject SameSite=None/Partitioned without it
        if http_only:
            parts.append("HttpOnly")
        if samesite:
            if samesite.lower() not in ("lax", "strict", "none"):
                raise ValueError(f"invalid SameSite value {samesite!r}")
            parts.append(f"SameSite={samesite.capitalize()}")
        if partitioned:
            parts.append("Partitioned")
        self.headers.add("Set-Cookie", "; ".join(parts))

    def delete_cookie(
        self, cookie: str, path: str | None = None, domain: str | None = None, **kwargs: Any
    ) -> None:
        """Tell the client to drop ``cookie`` (empty value, expired).

        Takes :meth:`set_cookie`'s options; ``expires`` and ``max_age`` are
        accepted and ignored, as in Microdot. Pass the ``path`` and ``domain``
        the cookie was set with, or the browser keeps it.
        """
        kwargs.pop("expires", None)
        kwargs.pop("max_age", None)
        self.set_cookie(
            cookie,
            "",
            path=path,
            domain=domain,
            expires="Thu, 01 Jan 1970 00:00:01 GMT",
            max_age=0,
            **kwargs,
        )

    # -- Microdot's low-level API (not used by junco's own path) ---------------------------

    def complete(self) -> None:
        """Add ``Content-Length`` and ``Content-Type`` as Microdot's ``complete()`` does."""
        h = self.headers
        if self.body_iter is None and "content-length" not in h:
            h["Content-Length"] = str(len(self.body))
        if "content-type" not in h:
            h["Content-Type"] = _content_type_bytes(Response.default_content_type).decode()

    async def write(self, stream: Any) -> None:
        """Write the response as HTTP/1.0 to ``stream`` (an object with ``async awrite``).

        Microdot's way of sending a response, kept for tests that drive
        responses by hand; junco itself sends through ASGI (:meth:`send`).
        """
        self.complete()
        reason = self.reason or ("OK" if self.status_code == 200 else "N/A")
        head = f"HTTP/1.0 {self.status_code} {reason}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in self.headers.items_all())
        await stream.awrite((head + "\r\n").encode("latin-1"))
        if self.body_iter is None:
            await stream.awrite(self.body)
            return
        try:
            async for chunk in _aiter_chunks(self.body_iter):
                await stream.awrite(chunk)
        finally:
            await _close_iter(self.body_iter)

    # -- constructors ------------------------------------------------------------------

    @classmethod
    def redirect(cls, location: str, status_code: int = 302) -> Response:
        """A redirect to ``location``.

        Raises:
            ValueError: the location contains CR, LF or NUL (header injection).
        """
        if any(c in location for c in "\r\n\x00"):
            raise ValueError("redirect location contains a control character")
        if not location.isascii():
            location = quote(location, safe="/:?#[]@!$&'()*+,;=%~")
        return cls(status_code=status_code, headers={"Location": location})

    @classmethod
    def send_file(
        cls,
        filename: str | os.PathLike[str],
        status_code: int = 200,
        content_type: str | None = None,
        stream: IO[bytes] | None = None,
        max_age: int | None = None,
        compressed: bool | str = False,
        file_extension: str = "",
        attachment: bool | str = False,
    ) -> Response:
        """A :class:`~junco.files.FileResponse`: streamed off the loop, with ETag, 304 and ranges.

        Args:
            filename: The file to send (its name also picks the content type).
            status_code: The HTTP status.
            content_type: Overrides the type guessed from the name.
            stream: An open binary file to send instead of opening ``filename``.
            max_age: ``Cache-Control: max-age`` seconds (``default_send_file_max_age``
                if None).
            compressed: The file is pre-compressed: ``True`` for gzip, or the
                ``Content-Encoding`` value.
            file_extension: Appended to ``filename`` when opening (``'.gz'``).
            attachment: ``True`` or a file name: ``Content-Disposition: attachment``.

        Raises:
            FileNotFoundError: the file does not exist.
        """
        from .files import send_file as _send_file

        if max_age is None:
            max_age = cls.default_send_file_max_age
        return _send_file(
            filename,
            status_code,
            content_type,
            stream,
            max_age,
            compressed,
            file_extension,
            attachment,
        )

    # -- ASGI ----------------------------------------------------------------------------

    def _raw_headers(
        self, default_ct: bytes | None, length: int | None
    ) -> list[tuple[bytes, bytes]]:
        """The ASGI header list, with Content-Type and Content-Length added when given."""
        h = self._headers
        ctype = self._ctype or default_ct
        extra = self._extra
        if h is None:
            raw = [(b"content-type", ctype)] if ctype is not None else []
            if length is not None:
                raw.append((b"content-length", _length_bytes(length)))
            if extra is not None:
                raw += extra
            return raw
        raw = h.to_asgi()
        d = h._data()
        if ctype is not None and "content-type" not in d:
            raw.append((b"content-type", ctype))
        if length is not None and "content-length" not in d:
            raw.append((b"content-length", _length_bytes(length)))
        if extra is not None:
            raw += extra
        return raw

    async def send(self, request: Request, send: Send) -> None:
        """Write this response to ASGI ``send``; body omitted for HEAD, 204 and 304.

        Subclasses (file responses, for instance) may look at ``request`` to
        answer conditional or range requests.
        """
        status = self.status_code
        default_ct = request.app.default_ct
        if self.body_iter is None:
            body = self.body
            if self._headers is None and status == 200:  # the common case
                start, rest = buffered(
                    request.method, 200, None, body, self._ctype or default_ct, self._extra
                )
            else:
                empty = bodiless(status)
                raw = self._raw_headers(None if empty else default_ct, None if empty else len(body))
                start, rest = buffered(request.method, status, raw, body)
            await send(start)
            await send(rest)
            return
        raw = self._raw_headers(default_ct, None)
        await send({"type": "http.response.start", "status": status, "headers": raw})
        if request.method == "HEAD" or bodiless(status):
            await _close_iter(self.body_iter)
            await send({"type": "http.response.body", "body": b""})
            return
        await stream_body(self.body_iter, send, request.receive, self.farewell)


_CTYPES: dict[str, bytes] = {}  # checked Content-Type values, encoded; bounded cache


def _only_content_type(headers: Any) -> bytes | None:
    """The encoded value when ``headers`` is a plain dict holding only a Content-Type."""
    if type(headers) is not dict or len(headers) != 1:
        return None
    name, value = next(iter(headers.items()))
    if type(value) is not str or type(name) is not str or name.lower() != "content-type":
        return None
    raw = _CTYPES.get(value)
    if raw is None:
        raw = Headers({name: value})["content-type"].encode("latin-1")  # checks the value
        if len(_CTYPES) < 256:
            _CTYPES[value] = raw
    return raw


class _AlreadyHandled(Response):
    """``Response.already_handled``: sends nothing, and its headers are throwaway."""

    @property
    def headers(self) -> Headers:
        return Headers()  # a shared object: hooks writing here must not leak

    @headers.setter
    def headers(self, value: HeaderInput | Headers) -> None:
        pass

    async def send(self, request: Request, send: Send) -> None:
        return None

    def _add_raw(self, pairs: tuple[tuple[bytes, bytes], ...] | list[tuple[bytes, bytes]]) -> None:
        pass  # shared: middleware's encoded pairs must not pile up here

    def _add_vary(self, field: str) -> None:
        pass


Response.already_handled = _AlreadyHandled()


def _length_bytes(n: int) -> bytes:
    return _LENGTHS[n] if n < 1024 else str(n).encode()


def bodiless(status: int) -> bool:
    """Statuses whose responses never carry a body (nor a Content-Length)."""
    return status == 204 or status == 304 or status < 200


def buffered(
    method: str,
    status: int,
    headers: list[tuple[bytes, bytes]] | None,
    body: bytes,
    ctype: bytes = b"",
    extra: list[tuple[bytes, bytes]] | None = None,
) -> tuple[Message, Message]:
    """The two ASGI messages of a buffered response: the one place that writes them.

    Args:
        method: The request's method: HEAD gets no body.
        status: The status; bodiless ones (1xx, 204, 304) get no body.
        headers: The headers, Content-Length included (``Response._raw_headers``);
            ``None`` for a plain 200 with none of its own, which gets
            ``ctype`` and the body's length.
        body: The whole body.
        ctype: The Content-Type when ``headers`` is ``None``.
        extra: Pre-encoded pairs (junco's middleware) added when ``headers``
            is ``None``.

    :meth:`Response.send` and everything that sends a buffered response ends
    here; the dispatcher inlines the ``headers is None`` branch for the plain
    path (a call there costs 4% of it). A plain function, not a coroutine:
    the caller awaits ``send`` itself.
    """
    if headers is None:  # the plain path: no further calls in here
        n = len(body)
        headers = [
            (b"content-type", ctype),
            (b"content-length", _LENGTHS[n] if n < 1024 else str(n).encode()),
        ]
        if extra is not None:
            headers += extra
        if method == "HEAD":
            body = b""
    elif method == "HEAD" or bodiless(status):
        body = b""
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    )


def _bad_cookie_text(text: str, is_name: bool) -> bool:
    bad = "\r\n\x00;" + ("=,\t " if is_name else "")
    return any(c in text for c in bad) or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _is_stream(body: Any) -> bool:
    # Iterators only: a range, set or other container is almost always a
    # mistake (bytes(range(3)) would be NUL bytes), so it is a TypeError.
    return (
        hasattr(body, "__anext__")
        or hasattr(body, "__next__")
        or hasattr(body, "__aiter__")
        or hasattr(body, "read")
    )


def _to_bytes(chunk: Any) -> bytes:
    if isinstance(chunk, str):
        return chunk.encode()
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    # Headers are out by now: this aborts the stream (the server drops the
    # connection) instead of sending bytes(5) as five NUL bytes.
    raise TypeError(f"a streamed body yielded a {type(chunk).__name__}; yield str or bytes")


async def _aiter_chunks(body: Any) -> AsyncIterator[bytes]:
    """Adapt any supported body to an async iterator; blocking reads go to a thread."""
    if hasattr(body, "__aiter__"):
        async for chunk in body:
            yield _to_bytes(chunk)
        return
    if hasattr(body, "read"):
        size = Response.send_file_buffer_size
        read = body.read
        is_async = inspect.iscoroutinefunction(read)
        while True:
            chunk = await read(size) if is_async else await asyncio.to_thread(read, size)
            if inspect.isawaitable(chunk):  # a sync read() handing back a coroutine
                chunk = await chunk
            if not chunk:
                return
            yield _to_bytes(chunk)
    it: Iterator[Any] = iter(body)
    while True:
        fut = asyncio.ensure_future(asyncio.to_thread(next, it, _SENTINEL))
        try:
            chunk = await asyncio.shield(fut)
        except asyncio.CancelledError:
            # The worker thread is still inside next(): the generator cannot be
            # closed now, so close it (in a thread) as soon as next() returns.
            fut.add_done_callback(lambda _: _close_soon(body))
            raise
        if chunk is _SENTINEL:
            return
        yield _to_bytes(chunk)


def _close_soon(body: Any) -> None:
    if hasattr(body, "close"):
        asyncio.get_running_loop().run_in_executor(None, body.close)


async def _close_iter(body: Any) -> None:
    """Close a generator or file so its ``finally`` blocks run."""
    if getattr(body, "gi_running", False):
        return  # busy in a worker thread; _close_soon closes it when it returns
    try:
        if hasattr(body, "aclose"):
            await body.aclose()
        elif hasattr(body, "close"):
            result = body.close()
            if asyncio.iscoroutine(result):  # pragma: no cover - async file wrappers
                await result
    except Exception:  # pragma: no cover - a failing close must not mask the response
        logger.warning("closing a response body failed", exc_info=True)


async def stream_body(
    body: Any, send: Send, receive: Receive, farewell: bytes | None = None
) -> None:
    """Send ``body`` chunk by chunk; stop and close it if the client disconnects.

    On a disconnect the body is closed (``aclose()``/``close()``) where it
    stands at a ``yield``, so cleanup written as ``except GeneratorExit`` runs,
    as under Microdot. A generator busy between two chunks gets up to
    ``Response.close_grace`` seconds to reach its next ``yield``; after that
    it is cancelled (its ``finally`` blocks still run).

    With a ``farewell``, the body is also cut short as soon as the server
    starts stopping: it is closed, ``farewell`` is sent as the last chunk and
    the response ends, so an endless stream does not hold the shutdown.
    """
    disconnected = asyncio.Event()
    stopped = asyncio.Event()
    inside = [False]  # the pump is waiting on the body (not on send)
    chunks = _aiter_chunks(body)

    async def watch() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()
                return

    async def pump() -> None:
        inside[0] = True
        async for chunk in chunks:
            inside[0] = False
            if disconnected.is_set():
                return  # the body waits at its yield: closed below
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            inside[0] = True
        inside[0] = False
        await send({"type": "http.response.body", "body": b""})

    watcher = asyncio.ensure_future(watch())
    pumper = asyncio.ensure_future(pump())
    waiting: set[asyncio.Future[Any]] = {watcher, pumper}
    if farewell is not None:
        waiting.add(asyncio.ensure_future(stopped.wait()))
    try:
        with _draining.on_stop(stopped.set) if farewell is not None else nullcontext():
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if not pumper.done() and inside[0] and disconnected.is_set():
            # (a body that runs a handler rather than yielding asks for no grace)
            grace = getattr(body, "close_grace", Response.close_grace)
            await asyncio.wait({pumper}, timeout=grace)
        if not pumper.done():
            pumper.cancel()
        try:
            await pumper
        except asyncio.CancelledError:
            if not (disconnected.is_set() or stopped.is_set()):
                raise
            if stopped.is_set() and not disconnected.is_set():
                await send({"type": "http.response.body", "body": farewell or b""})
        except OSError:
            pass  # the server refused to send: the client is gone
    finally:
        for task in waiting:
            if task is not pumper:
                task.cancel()
        if not pumper.done():
            # Cancelled from outside: let the pump leave the body before closing
            # it (closing a generator that is still running raises).
            pumper.cancel()
            await asyncio.wait({pumper})
        if chunks is not body:
            await _close_iter(chunks)
        await _close_iter(body)


def redirect(location: str, status_code: int = 302) -> Response:
    """Shortcut for :meth:`Response.redirect`."""
    return Response.redirect(location, status_code)


def send_file(filename: str | os.PathLike[str], **kwargs: Any) -> Response:
    """Shortcut for :meth:`Response.send_file` (see :mod:`junco.files`)."""
    return Response.send_file(filename, **kwargs)
