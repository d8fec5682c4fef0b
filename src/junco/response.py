"""Responses: the body, status and headers a handler produces, and their ASGI encoding.

A plain body (str, bytes, JSON) with no custom headers is sent from two
precomputed header pairs; the ``Headers`` mapping is only built when someone
touches ``response.headers``. Streamed bodies (generators, async generators,
file-like objects) are pumped off the event loop when synchronous and stop as
soon as the client disconnects.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import IO, TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from . import _draining
from ._parsing import json_dumps
from .datastructures import HeaderInput, Headers
from .types import Receive, Send

logger = logging.getLogger("junco")

if TYPE_CHECKING:
    from .request import Request

_CT_JSON = b"application/json"
_SENTINEL: Any = object()
CHUNK_SIZE = 64 * 1024
_LENGTHS = [str(n).encode() for n in range(1024)]


def _content_type_bytes(ct: str) -> bytes:
    if ct.startswith("text/") and "charset" not in ct:
        ct += "; charset=utf-8"
    return ct.encode("latin-1")


class Response:
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
    default_send_file_max_age: ClassVar[int | None] = None
    send_file_buffer_size: ClassVar[int] = CHUNK_SIZE

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

    def __init__(
        self,
        body: Any = "",
        status_code: int = 200,
        headers: HeaderInput | Headers = None,
        reason: str | None = None,
    ) -> None:
        if status_code != 200:
            self.status_code = status_code
        if headers:
            self._headers = Headers(headers)
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
        return h

    @headers.setter
    def headers(self, value: HeaderInput | Headers) -> None:
        self._headers = Headers(value)
        self._ctype = None

    @property
    def is_streamed(self) -> bool:
        return self.body_iter is not None

    # -- cookies ---------------------------------------------------------------------

    def set_cookie(
        self,
        cookie: str,
        value: str,
        path: str | None = "/",
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
        self, cookie: str, path: str | None = "/", domain: str | None = None, **kwargs: Any
    ) -> None:
        """Tell the client to drop ``cookie`` (empty value, expired)."""
        self.set_cookie(
            cookie,
            "",
            path=path,
            domain=domain,
            expires="Thu, 01 Jan 1970 00:00:01 GMT",
            max_age=0,
            **kwargs,
        )

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
        if h is None:
            raw = [(b"content-type", ctype)] if ctype is not None else []
            if length is not None:
                raw.append((b"content-length", _length_bytes(length)))
            return raw
        raw = h.to_asgi()
        d = h._data()
        if ctype is not None and "content-type" not in d:
            raw.append((b"content-type", ctype))
        if length is not None and "content-length" not in d:
            raw.append((b"content-length", _length_bytes(length)))
        return raw

    async def send(self, request: Request, send: Send) -> None:
        """Write this response to ASGI ``send``; body omitted for HEAD, 204 and 304.

        Subclasses (file responses, for instance) may look at ``request`` to
        answer conditional or range requests.
        """
        status = self.status_code
        if self._headers is None and self.body_iter is None and status == 200:
            # The common case: a buffered body, no custom headers.
            body = self.body
            n = len(body)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", self._ctype or request.app.default_ct),
                        (b"content-length", _LENGTHS[n] if n < 1024 else str(n).encode()),
                    ],
                }
            )
            if request.method == "HEAD":
                body = b""
            await send({"type": "http.response.body", "body": body})
            return
        default_ct = request.app.default_ct
        head = request.method == "HEAD"
        no_body = head or status == 204 or status == 304 or status < 200
        if self.body_iter is None:
            body = self.body
            bodiless = status == 204 or status == 304 or status < 200
            raw = self._raw_headers(
                None if bodiless else default_ct, None if bodiless else len(body)
            )
            await send({"type": "http.response.start", "status": status, "headers": raw})
            await send({"type": "http.response.body", "body": b"" if no_body else body})
            return
        raw = self._raw_headers(default_ct, None)
        await send({"type": "http.response.start", "status": status, "headers": raw})
        if no_body:
            await _close_iter(self.body_iter)
            await send({"type": "http.response.body", "body": b""})
            return
        await stream_body(self.body_iter, send, request.receive, self.farewell)


def _length_bytes(n: int) -> bytes:
    return _LENGTHS[n] if n < 1024 else str(n).encode()


def _bad_cookie_text(text: str, is_name: bool) -> bool:
    bad = "\r\n\x00;" + ("=,\t " if is_name else "")
    return any(c in text for c in bad) or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _is_stream(body: Any) -> bool:
    return (
        hasattr(body, "__anext__")
        or hasattr(body, "__next__")
        or hasattr(body, "__aiter__")
        or hasattr(body, "read")
        or isinstance(body, Iterable)
    )


def _to_bytes(chunk: Any) -> bytes:
    if isinstance(chunk, str):
        return chunk.encode()
    return bytes(chunk)


async def _aiter_chunks(body: Any) -> AsyncIterator[bytes]:
    """Adapt any supported body to an async iterator; blocking reads go to a thread."""
    if hasattr(body, "__aiter__"):
        async for chunk in body:
            yield _to_bytes(chunk)
        return
    if hasattr(body, "read"):
        size = Response.send_file_buffer_size
        while True:
            chunk = await asyncio.to_thread(body.read, size)
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

    With a ``farewell``, the body is also cut short as soon as the server
    starts stopping: it is closed, ``farewell`` is sent as the last chunk and
    the response ends, so an endless stream does not hold the shutdown.
    """
    disconnected = asyncio.Event()
    stopped = asyncio.Event()

    async def watch() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()
                return

    async def pump() -> None:
        async for chunk in _aiter_chunks(body):
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    watcher = asyncio.ensure_future(watch())
    pumper = asyncio.ensure_future(pump())
    waiting: set[asyncio.Future[Any]] = {watcher, pumper}
    if farewell is not None:
        waiting.add(asyncio.ensure_future(stopped.wait()))
    try:
        with _draining.on_stop(stopped.set) if farewell is not None else nullcontext():
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
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
        await _close_iter(body)


def redirect(location: str, status_code: int = 302) -> Response:
    """Shortcut for :meth:`Response.redirect`."""
    return Response.redirect(location, status_code)


def send_file(filename: str | os.PathLike[str], **kwargs: Any) -> Response:
    """Shortcut for :meth:`Response.send_file` (see :mod:`junco.files`)."""
    return Response.send_file(filename, **kwargs)
