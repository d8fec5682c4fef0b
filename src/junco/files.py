"""File responses: a file streamed from disk, with validators, conditional requests and ranges.

Theory of operation. ``FileResponse(path)`` stats the file when it is built
(so a missing file raises in the handler, as in Microdot) and derives the
validators from that: a strong ``ETag`` from the modification time in
nanoseconds and the size, and ``Last-Modified``. Nothing is opened yet, so a
response that a hook replaces, a HEAD, a 304, a 412 or a 416 never holds a
file descriptor. Only when bytes must go out does ``send`` open the file (in
a worker thread, non-blocking so a FIFO cannot hang it, final symlink refused
when asked) and fstat it; if the file changed since the stat, the plan is
redone from the new stat so headers and body agree. Chunks are read in worker
threads by :func:`junco.response.stream_body`, which stops when the client
disconnects. The file is closed in ``send``'s ``finally`` whatever happened.

Conditional requests follow RFC 9110 section 13.2.2: ``If-Match`` or
``If-Unmodified-Since`` (412), then ``If-None-Match`` (weak comparison, lists
and ``*``) or, only without it, ``If-Modified-Since`` (304), then ``Range``
with ``If-Range`` (strong comparison). Only a 200 response to GET or HEAD is
conditional; ranges apply to GET alone.

Several ranges: up to :data:`MAX_RANGES` satisfiable, non-overlapping ranges
become a ``multipart/byteranges`` response; more, or overlapping ones, get the
whole file with 200. The work per request is bounded by the file's size either way.
"""

from __future__ import annotations

import asyncio
import errno
import io
import itertools
import logging
import mimetypes
import os
import re
import stat
import threading
import unicodedata
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import IO, TYPE_CHECKING, NamedTuple
from urllib.parse import quote

from .datastructures import HeaderInput, Headers
from .errors import render_error
from .exceptions import HTTPException
from .response import Response, stream_body
from .types import Send

if TYPE_CHECKING:
    from .request import Request

logger = logging.getLogger("junco")

MAX_RANGES = 8
"""Most ranges served as ``multipart/byteranges``; more get the whole file (200)."""
MAX_RANGE_HEADER = 1024
"""A longer ``Range`` header is ignored (the whole file is sent)."""

_ENCODING_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}
_ETAG_ITEM = re.compile(r'(W/)?("[^"]*")')
# Headers that describe the body; a 304 or an error response must not carry the file's.
_REPRESENTATION = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "content-range",
        "content-language",
        "content-disposition",
    }
)
# Open errors meaning "no such regular file here (any more)": a link refused by
# O_NOFOLLOW, a directory or a FIFO swapped in, a removed file.
_GONE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.EINVAL})
_NOT_FOR_ERRORS = _REPRESENTATION | {"etag", "last-modified", "cache-control"}
_ATTR_SAFE = "!#$&+^`|"  # RFC 5987 attr-char beyond what quote() keeps
_UNSAFE_IN_QUOTES = frozenset('"\\%')  # some browsers unescape the quoted filename

Part = bytes | tuple[int, int]  # literal bytes, or (offset, length) of the file


# -- pure helpers ------------------------------------------------------------------------


def guess_content_type(filename: str, compressed: bool | str = False) -> str:
    """The ``Content-Type`` for ``filename``; text types get ``charset=UTF-8``.

    A name like ``app.js.gz`` is ``text/javascript`` when the response is sent
    ``compressed`` (the browser decodes it) and ``application/gzip`` otherwise.
    """
    # A "./" prefix stops mimetypes from reading "data:..." names as URLs.
    ctype, encoding = mimetypes.guess_type("./" + os.path.basename(filename), strict=False)
    if encoding is not None and not compressed:
        return _ENCODING_TYPES.get(encoding, "application/octet-stream")
    if ctype is None:
        return "application/octet-stream"
    if ctype.startswith("text/") or ctype in ("application/javascript", "image/svg+xml"):
        ctype += "; charset=UTF-8"
    return ctype


def make_etag(st: os.stat_result) -> str:
    """A strong, quoted entity tag from a file's modification time and size."""
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'


def http_date(timestamp: float) -> str:
    """Format a POSIX timestamp as an HTTP date (``Sun, 06 Nov 1994 08:49:37 GMT``)."""
    return format_datetime(datetime.fromtimestamp(int(timestamp), UTC), usegmt=True)


def parse_http_date(value: str) -> int | None:
    """A POSIX timestamp from an HTTP date, or ``None`` if it is not one."""
    if len(value) > 64:
        return None
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return int(when.timestamp())
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None


def etag_matches(header: str, etag: str, weak: bool) -> bool:
    """Whether an ``If-Match``/``If-None-Match``/``If-Range`` value names ``etag``.

    Args:
        header: The header value: ``*`` or a list of entity tags.
        etag: The current tag, quoted, possibly ``W/``-prefixed.
        weak: Weak comparison (``W/`` ignored) instead of strong (no weak tag matches).
    """
    if header.strip() == "*":
        return True
    is_weak = etag.startswith("W/")
    opaque = etag[2:] if is_weak else etag
    if is_weak and not weak:
        return False
    for m in _ETAG_ITEM.finditer(header):
        if m.group(2) == opaque and (weak or not m.group(1)):
            return True
    return False


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_range(header: str, size: int) -> list[tuple[int, int]] | None:
    """Parse a ``Range`` header against a representation of ``size`` bytes.

    Returns:
        Inclusive ``(first, last)`` byte positions in the order asked; ``[]``
        when the header is valid but no range is satisfiable (416); ``None``
        when the header must be ignored (another unit, bad syntax, too long).
    """
    if len(header) > MAX_RANGE_HEADER:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    ranges: list[tuple[int, int]] = []
    seen = False
    for piece in spec.split(","):
        piece = piece.strip()
        if not piece:
            continue  # RFC 9110 lists tolerate empty elements
        seen = True
        first, dash, last = piece.partition("-")
        if not dash:
            return None
        if first == "":
            if not _digits(last):
                return None
            suffix = int(last)
            if suffix > 0 and size > 0:
                ranges.append((max(0, size - suffix), size - 1))
            continue
        if not _digits(first) or (last and not _digits(last)):
            return None
        start = int(first)
        end = int(last) if last else size - 1
        if last and end < start:
            return None
        if start < size:
            ranges.append((start, min(end, size - 1)))
    return ranges if seen else None


def _overlapping(ranges: Iterable[tuple[int, int]]) -> bool:
    ordered = sorted(ranges)
    return any(b[0] <= a[1] for a, b in itertools.pairwise(ordered))


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """A ``Content-Disposition`` value naming ``filename`` safely (RFC 6266 and 5987).

    Only the last path component is used. Names that are not plain printable
    ASCII get an ASCII ``filename`` fallback plus a UTF-8 ``filename*``;
    quotes, backslashes, ``%`` and control characters never reach the quoted
    form, so the header cannot be broken out of.
    """
    name = filename.replace("\\", "/").rsplit("/", 1)[-1] or "download"
    fallback = "".join(_ascii_char(ch) for ch in name)
    if fallback == name:
        return f'{disposition}; filename="{name}"'
    encoded = quote(name, safe=_ATTR_SAFE)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _ascii_char(ch: str) -> str:
    """``ch`` as safe printable ASCII: itself, its folded form (``é`` → ``e``) or ``_``."""
    if ch not in _UNSAFE_IN_QUOTES and 0x20 <= ord(ch) < 0x7F:
        return ch
    folded = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
    if folded and all(c not in _UNSAFE_IN_QUOTES and 0x20 <= ord(c) < 0x7F for c in folded):
        return folded
    return "_"


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _check_regular(st: os.stat_result, path: str) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", path)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file", path)


# -- reading -----------------------------------------------------------------------------


class _FileReader:
    """Reads chosen spans of one file from worker threads; opened lazily, closed once.

    ``close`` comes from the event loop and never blocks: if a worker thread
    is inside ``read`` it only marks the reader, and the thread closes the file
    as it leaves. So no read ever runs on a closed (or reused) descriptor.
    """

    __slots__ = ("_closing", "_file", "_flags", "_lock", "_parts", "_path")

    def __init__(self, path: str, follow_symlinks: bool, size: int) -> None:
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
        if not follow_symlinks:
            flags |= getattr(os, "O_NOFOLLOW", 0)
        self._path = path
        self._flags = flags
        self._file: io.FileIO | None = None
        self._lock = threading.Lock()
        self._closing = False
        self._parts: deque[Part] = deque([(0, size)])

    def _ensure_open(self) -> io.FileIO:
        if self._file is None:
            if self._closing:
                raise ValueError("the file response is closed")
            fd = os.open(self._path, self._flags)
            try:
                _check_regular(os.fstat(fd), self._path)
                os.set_blocking(fd, True)
            except BaseException:
                os.close(fd)
                raise
            self._file = io.FileIO(fd, "r")
        return self._file

    def open(self) -> os.stat_result:
        """Open the file (in a worker thread) and return its current stat."""
        with self._lock:
            st = os.fstat(self._ensure_open().fileno())
        self._close_if_asked()
        return st

    def select(self, parts: list[Part]) -> None:
        """Set what ``read`` returns: literal bytes and ``(offset, length)`` spans."""
        with self._lock:
            self._parts = deque(parts)

    def read(self, n: int = -1) -> bytes:
        """The next chunk of at most ``n`` file bytes (literal parts whole); ``b''`` at the end."""
        with self._lock:
            data = b"" if self._closing else self._next(n)
        self._close_if_asked()
        return data

    def _next(self, n: int) -> bytes:
        parts = self._parts
        while parts:
            part = parts[0]
            if isinstance(part, bytes):
                parts.popleft()
                return part
            offset, length = part
            if length <= 0:
                parts.popleft()
                continue
            f = self._ensure_open()
            f.seek(offset)
            data = f.read(length if n < 0 else min(n, length)) or b""
            if not data:  # the file shrank: stop short, the server notices
                parts.clear()
                return b""
            parts[0] = (offset + len(data), length - len(data))
            return data
        return b""

    def close(self) -> None:
        """Close the file now, or as soon as the thread reading it is done."""
        self._closing = True
        self._close_if_asked()

    def _close_if_asked(self) -> None:
        if self._closing and self._lock.acquire(blocking=False):
            try:
                if self._file is not None:
                    self._file.close()
                    self._file = None
            finally:
                self._lock.release()


# -- the response ------------------------------------------------------------------------


class _Plan(NamedTuple):
    status: int
    headers: list[tuple[bytes, bytes]]
    parts: list[Part] | None  # None: no body from the file
    body: bytes = b""


class FileResponse(Response):
    """A response that sends a file: validators, 304, ranges, HEAD, streamed off the loop.

    Args:
        path: The file to send. With ``stream``, only its name is used (for
            the content type and the attachment name).
        status_code: The HTTP status; only a 200 answers conditional and
            range requests.
        headers: Extra headers.
        stream: An open binary file to send instead; it is streamed as is,
            without validators or ranges, and closed at the end.
        content_type: Overrides the type guessed from ``path``.
        max_age: ``Cache-Control: max-age`` in seconds; ``None`` takes
            ``Response.default_send_file_max_age`` (no header if that is ``None``).
        compressed: The file is pre-compressed: ``True`` for gzip, or the
            ``Content-Encoding`` value. ``Vary: Accept-Encoding`` is added.
        attachment: ``True`` to have browsers download the file under its own
            name, or a string with the name to offer.
        stat_result: The file's stat, if the caller already has it.
        follow_symlinks: ``False`` refuses to open the file if its last
            component is a symbolic link.

    Raises:
        FileNotFoundError: ``path`` does not exist (and no ``stream`` is given).
        IsADirectoryError: ``path`` is a directory.
        OSError: ``path`` is not a regular file, or cannot be stat'ed.
    """

    __slots__ = ("_path", "_reader", "_stat")

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: HeaderInput | Headers = None,
        *,
        stream: IO[bytes] | None = None,
        content_type: str | None = None,
        max_age: int | None = None,
        compressed: bool | str = False,
        attachment: bool | str = False,
        stat_result: os.stat_result | None = None,
        follow_symlinks: bool = True,
    ) -> None:
        name = os.fspath(path)
        h = Headers(headers)
        if "content-type" not in h or content_type is not None:
            h["Content-Type"] = content_type or guess_content_type(name, compressed)
        if max_age is None:
            max_age = self.default_send_file_max_age
        if max_age is not None:
            h["Cache-Control"] = f"max-age={int(max_age)}"
        if compressed:
            h["Content-Encoding"] = "gzip" if compressed is True else str(compressed)
            h.add_vary("Accept-Encoding")
        if attachment:
            h["Content-Disposition"] = content_disposition(
                name if attachment is True else attachment
            )
        self._path: str | None = None
        self._reader: _FileReader | None = None
        self._stat: os.stat_result | None = None
        if stream is not None:
            super().__init__(stream, status_code, h)
            return
        st = os.stat(name) if stat_result is None else stat_result
        _check_regular(st, name)
        self._path = name
        self._reader = _FileReader(name, follow_symlinks, st.st_size)
        h["Accept-Ranges"] = "bytes"
        h.setdefault("ETag", make_etag(st))
        h.setdefault("Last-Modified", http_date(st.st_mtime))
        super().__init__(self._reader, status_code, h)
        self._stat = st

    @property
    def path(self) -> str | None:
        """The file sent (``None`` for a stream)."""
        return self._path

    async def send(self, request: Request, send: Send) -> None:
        """Answer ``request`` from the file: 200, 206, 304, 412 or 416; HEAD gets headers."""
        reader = self._reader
        planned = self._stat
        if reader is None or planned is None or self.body_iter is not reader:
            await super().send(request, send)  # a stream, or a body a hook replaced
            return
        try:
            plan = self._plan(request, planned)
            if plan.parts is not None:
                try:
                    st = await asyncio.to_thread(reader.open)
                except OSError as exc:
                    plan = self._open_failed(request, exc)
                else:
                    if _identity(st) != _identity(planned):
                        self._restat(st)
                        plan = self._plan(request, st)
            head = request.method == "HEAD"
            start = {"type": "http.response.start", "status": plan.status, "headers": plan.headers}
            await send(start)
            if plan.parts is None or head:
                await send({"type": "http.response.body", "body": b"" if head else plan.body})
                return
            reader.select(plan.parts)
            await stream_body(reader, send, request.receive)
        finally:
            reader.close()

    def _restat(self, st: os.stat_result) -> None:
        self._stat = st
        self.headers["ETag"] = make_etag(st)
        self.headers["Last-Modified"] = http_date(st.st_mtime)

    # -- planning ----------------------------------------------------------------------

    def _plan(self, request: Request, st: os.stat_result) -> _Plan:
        size = st.st_size
        status = self.status_code
        method = request.method
        if status == 200 and (method == "GET" or method == "HEAD"):
            verdict = self._preconditions(request.headers, int(st.st_mtime))
            if verdict == 412:
                return self._error_plan(request, 412)
            if verdict == 304:
                return _Plan(304, self._raw(None, drop=_REPRESENTATION), None)
            value = request.headers.get("range")
            if method == "GET" and value is not None and self._if_range(request, int(st.st_mtime)):
                ranges = parse_range(value, size)
                if ranges == []:
                    return self._error_plan(request, 416, {"content-range": f"bytes */{size}"})
                if ranges:
                    plan = self._range_plan(ranges, size)
                    if plan is not None:
                        return plan
        no_body = method == "HEAD" or status in (204, 304) or status < 200
        length = None if status in (204, 304) or status < 200 else size
        return _Plan(status, self._raw(length), None if no_body else [(0, size)])

    def _preconditions(self, headers: Headers, mtime: int) -> int | None:
        """412, 304 or None (go on), in the order RFC 9110 section 13.2.2 gives."""
        etag = self.headers.get("etag")
        if_match = ", ".join(headers.getlist("if-match"))
        if if_match:
            if not (if_match.strip() == "*" or (etag and etag_matches(if_match, etag, False))):
                return 412
        else:
            since = headers.get("if-unmodified-since")
            when = parse_http_date(since) if since else None
            if when is not None and mtime > when:
                return 412
        if_none = ", ".join(headers.getlist("if-none-match"))
        if if_none:
            if if_none.strip() == "*" or (etag and etag_matches(if_none, etag, True)):
                return 304
            return None
        since = headers.get("if-modified-since")
        when = parse_http_date(since) if since else None
        if when is not None and mtime <= when:
            return 304
        return None

    def _if_range(self, request: Request, mtime: int) -> bool:
        """Whether the ``Range`` header applies (no ``If-Range``, or it still matches)."""
        value = request.headers.get("if-range")
        if value is None:
            return True
        value = value.strip()
        if value.startswith('"') or value.startswith("W/"):
            etag = self.headers.get("etag")
            return bool(etag) and not value.startswith("W/") and value == etag
        return parse_http_date(value) == mtime

    def _range_plan(self, ranges: list[tuple[int, int]], size: int) -> _Plan | None:
        if len(ranges) == 1:
            first, last = ranges[0]
            extra = {"content-range": f"bytes {first}-{last}/{size}"}
            return _Plan(206, self._raw(last - first + 1, extra), [(first, last - first + 1)])
        if len(ranges) > MAX_RANGES or _overlapping(ranges):
            return None
        boundary = os.urandom(12).hex()
        ctype = self.headers.get("content-type", "application/octet-stream")
        parts: list[Part] = []
        total = 0
        for i, (first, last) in enumerate(ranges):
            sep = "\r\n" if i else ""
            head = (
                f"{sep}--{boundary}\r\nContent-Type: {ctype}\r\n"
                f"Content-Range: bytes {first}-{last}/{size}\r\n\r\n"
            ).encode("latin-1")
            parts += [head, (first, last - first + 1)]
            total += len(head) + last - first + 1
        tail = f"\r\n--{boundary}--\r\n".encode("latin-1")
        parts.append(tail)
        total += len(tail)
        extra = {"content-type": f"multipart/byteranges; boundary={boundary}"}
        return _Plan(206, self._raw(total, extra), parts)

    def _error_plan(
        self, request: Request, status: int, extra: dict[str, str] | None = None
    ) -> _Plan:
        """An error in place of the file, in the form the client asked for.

        The response's own headers (security headers, CORS, the request id,
        put on by the hooks before it was sent) are kept, except those that
        describe the file; the body and its type come from junco's renderer.
        """
        rendered = render_error(request, HTTPException(status))
        replace = {"content-type": rendered.headers["content-type"], **(extra or {})}
        vary = ", ".join(filter(None, (self.headers.get("vary"), "Accept")))
        replace["vary"] = vary
        csp = rendered.headers.get("content-security-policy")
        if csp is not None and "content-security-policy" not in self.headers:
            replace["content-security-policy"] = csp
        body = rendered.body
        return _Plan(status, self._raw(len(body), replace, _NOT_FOR_ERRORS), None, body)

    def _open_failed(self, request: Request, exc: OSError) -> _Plan:
        """The file went away (or became unreadable) between the stat and the open."""
        logger.warning("cannot open %s for sending: %s", self._path, exc)
        if exc.errno in _GONE:
            return self._error_plan(request, 404)
        if exc.errno in (errno.EACCES, errno.EPERM):
            return self._error_plan(request, 403)
        return self._error_plan(request, 500)

    def _raw(
        self,
        length: int | None,
        replace: dict[str, str] | None = None,
        drop: frozenset[str] = frozenset(),
    ) -> list[tuple[bytes, bytes]]:
        """The ASGI headers: ours minus ``drop``, with ``replace`` and a Content-Length."""
        replace = replace or {}
        raw = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in self.headers.items_all()
            if k != "content-length" and k not in drop and k not in replace
        ]
        raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in replace.items()]
        if length is not None:
            raw.append((b"content-length", str(length).encode()))
        return raw


def send_file(
    filename: str | os.PathLike[str],
    status_code: int = 200,
    content_type: str | None = None,
    stream: IO[bytes] | None = None,
    max_age: int | None = None,
    compressed: bool | str = False,
    file_extension: str = "",
    attachment: bool | str = False,
) -> FileResponse:
    """Microdot's ``send_file``: a :class:`FileResponse` for ``filename``.

    Args:
        filename: The file; its name picks the content type and the attachment name.
        status_code: The HTTP status.
        content_type: Overrides the guessed type.
        stream: An open binary file to send instead of opening ``filename``.
        max_age: ``Cache-Control: max-age`` seconds (``Response.default_send_file_max_age``
            when ``None``).
        compressed: Pre-compressed content: ``True`` for gzip, or the encoding name.
        file_extension: Appended to ``filename`` when opening (``'.gz'``), not
            used for the content type.
        attachment: ``True`` or a file name: send ``Content-Disposition: attachment``.

    Raises:
        FileNotFoundError: the file does not exist (see :class:`FileResponse`).
    """
    name = os.fspath(filename)
    if content_type is None:
        content_type = guess_content_type(name, compressed)
    if attachment is True:
        attachment = os.path.basename(name)
    return FileResponse(
        name if stream is not None else name + file_extension,
        status_code,
        stream=stream,
        content_type=content_type,
        max_age=max_age,
        compressed=compressed,
        attachment=attachment,
    )


__all__ = [
    "MAX_RANGES",
    "FileResponse",
    "content_disposition",
    "etag_matches",
    "guess_content_type",
    "make_etag",
    "parse_http_date",
    "parse_range",
    "send_file",
]
