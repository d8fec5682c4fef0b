"""multipart/form-data: file uploads, streamed or collected (Microdot's multipart API).

Theory of operation
-------------------
The body is read from ``request.stream`` chunk by chunk, as the server
delivers it, and fed (at most 64 KiB at a time) to the pure parser in
:mod:`junco.multipart.parser`, which returns events (a part's headers, some of its
data, its end). ``FormDataIter`` pulls events only as
fast as the handler consumes them, so a streamed upload never holds more
than a chunk in memory and the server's flow control slows the client down.

- A field's value is collected (up to ``max_field_size``) and yielded as str.
- A file is yielded as a :class:`FileUpload` that reads straight from the
  stream. Moving to the next item drains what is left of it; reading it
  afterwards raises ``RuntimeError`` rather than returning truncated data.
  ``copy()`` moves the rest into a spooled temporary file so it outlives the
  iteration.
- ``with_form_data`` copies every file, fills ``request.form`` and
  ``request.files``, calls the handler and closes the files when the handler
  is done, or, when it returns a streamed response, when that stream ends.

Temporary files are anonymous (unlinked at creation on POSIX), so nothing is
left on disk even if the process dies. Reads and writes of a file that has
rolled over to disk run in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import io
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Container
from typing import IO, TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from ..calling import call_endpoint
from ..coerce import make_response
from ..datastructures import Headers, MultiDict
from ..exceptions import HTTPException
from ..response import Response, _aiter_chunks, _close_iter
from .parser import (
    Event,
    FormDataParser,
    MiB,
    MultipartLimits,
    Part,
    boundary_from_content_type,
    configure,
    require_python_multipart,
    resolve_limits,
    secure_filename,
)

if TYPE_CHECKING:
    from ..request import Request

F = TypeVar("F", bound=Callable[..., Any])
CHUNK_SIZE = 64 * 1024
# An upload in an OpenAPI 3.1 document: contentMediaType is 3.1's way to say
# bytes (Swagger UI 5 offers a file picker for it); format: binary is 3.0's,
# kept for tools and code generators that know only that spelling.
JSON_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "binary",
    "contentMediaType": "application/octet-stream",
}
WRITE_BATCH = 1024 * 1024


class FileUpload:
    """An uploaded file: streamed from the request, or copied to a temporary file.

    Args:
        filename: The client's filename, raw: never use it as a path (see
            :func:`secure_filename`). ``''`` when a browser sent no file.
        content_type: The part's ``Content-Type`` (``None`` if absent).
        read: ``async read(n)`` returning the next bytes of the stream.
        headers: All the part's headers.
        name: The form field name.
    """

    #: Bytes ``copy()`` keeps in memory by default (``FormDataIter`` sets the app's value).
    max_memory_size: int = MiB

    def __init__(
        self,
        filename: str | None,
        content_type: str | None,
        read: Callable[[int], Awaitable[bytes]] | None = None,
        *,
        headers: Headers | None = None,
        name: str = "",
        tmp_dir: str | None = None,
    ) -> None:
        self.filename = filename
        self.content_type = content_type
        self.headers = headers if headers is not None else Headers()
        self.name = name
        #: Bytes received so far; the whole size once copied.
        self.size = 0
        self._read = read
        self._spool: tempfile.SpooledTemporaryFile[bytes] | None = None
        self._on_disk = False
        self._closed = False
        self._tmp_dir = tmp_dir

    def __repr__(self) -> str:
        return f"<FileUpload {self.name!r} {self.filename!r} {self.content_type!r} {self.size}>"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Let pydantic models hold uploads, as any instance of this class."""
        from pydantic_core import core_schema

        return core_schema.is_instance_schema(cls)

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return dict(JSON_SCHEMA)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def in_memory(self) -> bool:
        """False once the file has been spooled to a temporary file on disk."""
        return not self._on_disk

    @property
    def file(self) -> IO[bytes]:
        """The copied file as a binary file object (for sync code).

        Raises:
            RuntimeError: the upload is still a stream; ``await copy()`` first.
        """
        if self._spool is None:
            raise RuntimeError("the upload is still streaming: call `await upload.copy()` first")
        return self._spool

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes (the rest of the file when ``n < 0``).

        Raises:
            ValueError: the upload is closed.
            RuntimeError: a streamed upload was skipped by the form iterator.
            HTTPException: 413 when the file exceeds ``max_file_size``.
        """
        if self._closed:
            raise ValueError("read from a closed upload")
        if self._spool is not None:
            if self._on_disk:
                return await asyncio.to_thread(self._spool.read, n)
            return self._spool.read(n)
        if self._read is None:
            return b""
        data = await self._read(n)
        self.size += len(data)
        return data

    async def _chunks(self) -> AsyncIterator[bytes]:
        while data := await self.read(CHUNK_SIZE):
            yield data

    async def save(self, path_or_file: str | os.PathLike[str] | IO[bytes]) -> None:
        """Write the rest of the file to a path or a binary file object.

        A path is opened (and truncated) in a thread; if the upload fails
        part-way, the partial file is removed. Writes to a file object run in
        a thread unless it is an ``io.BytesIO``; an async ``write`` is awaited.
        """
        if isinstance(path_or_file, (str, os.PathLike)):
            path = path_or_file
            f = await asyncio.to_thread(open, path, "wb")
            try:
                await self._write_to(f)
            except BaseException:
                await asyncio.to_thread(_close_and_remove, f, path)
                raise
            await asyncio.to_thread(f.close)
        else:
            await self._write_to(path_or_file)

    async def _write_to(self, f: Any) -> None:
        write = f.write
        if inspect.iscoroutinefunction(write):
            async for data in self._chunks():
                await write(data)
        elif self._spool is not None:
            await asyncio.to_thread(shutil.copyfileobj, self._spool, f, CHUNK_SIZE)
        elif isinstance(f, io.BytesIO):
            async for data in self._chunks():
                write(data)
        else:
            async for data in self._chunks():
                await asyncio.to_thread(write, data)

    async def copy(self, max_memory_size: int | None = None) -> FileUpload:
        """Move the rest of the stream into a temporary file; return ``self``.

        Up to ``max_memory_size`` bytes stay in memory; past that the file is
        rolled over to an anonymous temporary file. The read position is then
        the start of the copy. Copying an already copied upload does nothing.

        Raises:
            HTTPException: 413 when the file exceeds ``max_file_size``.
        """
        if self._spool is not None:
            return self
        if self._closed:
            raise ValueError("copy of a closed upload")
        limit = self.max_memory_size if max_memory_size is None else max_memory_size
        # max_size=0: never roll over by itself; _fill decides, off the event loop.
        spool: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=0, mode="w+b", dir=self._tmp_dir
        )
        try:
            await self._fill(spool, limit)
        except BaseException:
            await _close_spool(spool, self._on_disk)
            raise
        self._spool, self._read = spool, None
        return self

    async def _fill(self, spool: tempfile.SpooledTemporaryFile[bytes], limit: int) -> None:
        # On disk, data is written in batches of WRITE_BATCH: a thread hop per
        # 64 KiB chunk would cost more than the write itself.
        read, pending, buffered = self._read, [], 0
        while read is not None and (data := await read(CHUNK_SIZE)):
            self.size += len(data)
            if not self._on_disk and spool.tell() + len(data) > limit:
                await asyncio.to_thread(spool.rollover)
                self._on_disk = True
            if not self._on_disk:
                spool.write(data)
                continue
            pending.append(data)
            buffered += len(data)
            if buffered >= WRITE_BATCH:
                await asyncio.to_thread(spool.write, b"".join(pending))
                pending, buffered = [], 0
        if self._on_disk:
            await asyncio.to_thread(_write_and_rewind, spool, pending)
        else:
            spool.seek(0)

    async def close(self) -> None:
        """Release the temporary file, if any. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        spool, self._spool = self._spool, None
        if spool is not None:
            await _close_spool(spool, self._on_disk)

    def _release(self) -> None:
        """Close synchronously (last resort, from a finaliser)."""
        self._closed = True
        spool, self._spool = self._spool, None
        if spool is not None:
            spool.close()


async def _close_spool(spool: tempfile.SpooledTemporaryFile[bytes], on_disk: bool) -> None:
    if on_disk:
        await asyncio.to_thread(spool.close)
    else:
        spool.close()


def _write_and_rewind(spool: tempfile.SpooledTemporaryFile[bytes], pending: list[bytes]) -> None:
    if pending:
        spool.write(b"".join(pending))
    spool.seek(0)


def _close_and_remove(f: IO[bytes], path: str | os.PathLike[str]) -> None:
    f.close()
    with contextlib.suppress(OSError):
        os.remove(path)


class _Source:
    """Feeds the request stream to the parser and hands out its events one by one.

    Chunks are fed as the server delivers them (a pre-read body in slices of
    ``CHUNK_SIZE``), so a field is available as soon as its bytes are.
    """

    __slots__ = ("_chunk", "_chunks", "_events", "_offset", "_parser", "_pos")

    def __init__(self, request: Request, parser: FormDataParser) -> None:
        self._chunks = request.stream.chunks()
        self._chunk = b""
        self._offset = 0
        self._parser = parser
        self._events: list[Event] = []
        self._pos = 0

    async def _next(self) -> Event | None:
        while self._pos == len(self._events):
            if self._parser.done:
                return None
            chunk, offset = self._chunk, self._offset
            if offset >= len(chunk):
                chunk = self._chunk = await anext(self._chunks, b"")
                offset = 0
                if not chunk:
                    self._parser.close()  # 400 unless the closing delimiter was seen
                    return None
            data = (
                chunk
                if not offset and len(chunk) <= CHUNK_SIZE
                else chunk[offset : offset + CHUNK_SIZE]
            )
            self._offset = offset + len(data)
            self._events = self._parser.feed(data)
            self._pos = 0
        event = self._events[self._pos]
        self._pos += 1
        return event

    async def part(self) -> Part | None:
        """The headers of the next part; ``None`` at the end of the body."""
        event = await self._next()
        return event if isinstance(event, Part) else None

    async def data(self) -> bytes | None:
        """More data of the current part; ``None`` at its end."""
        event = await self._next()
        return event if isinstance(event, bytes) else None


class _PartReader:
    """Reads one file part from the shared source, until the part ends."""

    __slots__ = ("_buf", "_ended", "_skipped", "_source")

    def __init__(self, source: _Source) -> None:
        self._source = source
        self._buf = b""
        self._ended = False
        self._skipped = False

    async def read(self, n: int = -1) -> bytes:
        if self._skipped:
            raise RuntimeError(
                "this upload was skipped: the form iterator moved past it before it was "
                "read; read it (or `await upload.copy()`) before asking for the next item"
            )
        parts = [self._buf] if self._buf else []
        have = len(self._buf)
        while not self._ended and (n < 0 or have < n):
            data = await self._source.data()
            if data is None:
                self._ended = True
            else:
                parts.append(data)
                have += len(data)
        buf = parts[0] if len(parts) == 1 else b"".join(parts)
        if n < 0 or have <= n:
            self._buf = b""
            return buf
        self._buf = buf[n:]
        return buf[:n]

    async def drain(self) -> None:
        """Skip the rest of the part; later reads raise if anything was left."""
        while not self._ended:
            if await self._source.data() is None:
                self._ended = True
            else:
                self._skipped = True
        if self._buf:
            self._skipped = True
            self._buf = b""


class FormDataIter:
    """Iterate over a multipart/form-data body as it arrives: ``(name, value)`` pairs.

    ``value`` is a ``str`` for a field and a :class:`FileUpload` for a file.
    Read a file (``read``, ``save`` or ``copy``) before asking for the next
    item: the iterator then skips whatever is left of it, and reading it later
    raises ``RuntimeError``.

    Args:
        request: The request whose body to parse.
        **limits: Overrides of the app's :class:`MultipartLimits`.

    Raises:
        HTTPException: 415 unless the body is multipart/form-data; 400 or 413
            (while iterating) for malformed or oversized bodies.
    """

    #: Microdot's read size. Accepted for ported code; the parser here takes
    #: the body in the chunks the server delivers, so it changes nothing.
    buffer_size: ClassVar[int] = 256

    def __init__(self, request: Request, **limits: Any) -> None:
        self.request = request
        self.limits = resolve_limits(request.app, limits)
        lim = self.limits
        boundary = boundary_from_content_type(request.content_type)
        max_file = lim.max_file_size
        parser = FormDataParser(
            boundary,
            max_parts=lim.max_parts,
            max_field_size=lim.max_field_size,
            max_file_size=request.app.max_content_length if max_file is None else max_file,
            max_header_lines=lim.max_header_lines,
            max_header_bytes=lim.max_header_bytes,
        )
        self._source = _Source(request, parser)
        self._reader: _PartReader | None = None
        # Bytes in the last field yielded, for with_form_data's memory budget.
        self._last_field_size = 0

    def __aiter__(self) -> FormDataIter:
        return self

    async def __anext__(self) -> tuple[str, str | FileUpload]:
        if self._reader is not None:
            await self._reader.drain()
            self._reader = None
        part = await self._source.part()
        if part is None:
            raise StopAsyncIteration
        if part.filename is None:
            return part.name, await self._field()
        self._reader = _PartReader(self._source)
        upload = FileUpload(
            part.filename,
            part.content_type,
            self._reader.read,
            headers=part.headers,
            name=part.name,
            tmp_dir=self.limits.tmp_dir,
        )
        upload.max_memory_size = self.limits.max_memory_size
        return part.name, upload

    async def _field(self) -> str:
        chunks = []
        while (data := await self._source.data()) is not None:
            chunks.append(data)
        self._last_field_size = sum(map(len, chunks))
        try:
            return b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(400, "invalid UTF-8 in a multipart field") from None


@overload
def with_form_data(f: F, /) -> F: ...
@overload
def with_form_data(f: None = None, /, **limits: Any) -> Callable[[F], F]: ...


def with_form_data(f: F | None = None, /, **limits: Any) -> F | Callable[[F], F]:
    """Decorate a handler so that ``request.form`` and ``request.files`` hold the form.

    Use it bare (``@with_form_data``) or with limits overriding the app's
    (``@with_form_data(max_parts=10)``). For multipart bodies every file is
    copied (to memory, or past ``max_memory_size`` to an anonymous temporary
    file) and ``request.files`` maps field names to :class:`FileUpload`
    objects; urlencoded bodies keep the core's ``request.form`` and get an
    empty ``request.files``; a request with no body gets both ``None`` (as in
    Microdot). Any
    other content type is answered with 415.

    The files are closed when the handler returns or raises; if it returns a
    streamed response, when that response has been sent (or abandoned).
    The handler may be sync (it then runs in a thread) or async.

    Raises:
        ImportError: python-multipart is not installed.
        TypeError: an unknown limit name.
    """
    require_python_multipart()
    MultipartLimits(**limits)  # unknown names fail at import time, not per request

    def decorate(handler: F) -> F:
        @functools.wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
            uploads = await _load_form(request, limits)
            if not uploads:
                return await _call(handler, request, args, kwargs)
            try:
                rv = await _call(handler, request, args, kwargs)
            except BaseException:
                await _close_all(uploads)
                raise
            return await release_after(rv, uploads)

        return wrapper  # type: ignore[return-value]

    return decorate if f is None else decorate(f)


async def _load_form(request: Request, limits: dict[str, Any]) -> list[FileUpload]:
    """Fill ``request.form`` and ``request.files``; return the uploads to close later.

    Raises:
        HTTPException: 415 for a body that is not a form; 400/413 from parsing.
    """
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        return await _collect(request, limits)
    if mimetype == "application/x-www-form-urlencoded":
        request.set_form(request.form or MultiDict(), MultiDict())
        return []
    if not request.content_type and not await request.stream.read(1):
        request.set_form(None, None)  # no form at all, as Microdot leaves it
        return []
    raise HTTPException(415, "expected a form (multipart/form-data or urlencoded)")


async def release_after(rv: Any, uploads: list[FileUpload]) -> Response:
    """``rv`` as a response that closes ``uploads`` once it is done.

    A streamed response closes them when its stream ends (or is abandoned);
    any other at once, its body being complete.
    """
    try:
        response = make_response(rv)
    except BaseException:
        await _close_all(uploads)
        raise
    if response.is_streamed:
        response.body_iter = _ClosingBody(response.body_iter, uploads)
    else:
        await _close_all(uploads)
    return response


async def _collect(
    request: Request, limits: dict[str, Any], keep: Container[str] | None = None
) -> list[FileUpload]:
    """Fill ``request.form`` and ``request.files``; return the uploads to close later.

    Only the files of the fields in ``keep`` are copied when it is given; the
    others are skipped as they stream past.
    """
    form, files = MultiDict(), MultiDict()
    uploads: list[FileUpload] = []
    it = FormDataIter(request, **limits)
    budget = it.limits.max_form_memory
    try:
        async for name, value in it:
            if isinstance(value, str):
                budget -= it._last_field_size
                if budget < 0:
                    raise HTTPException(413, "form fields too large")
                form.add(name, value)
                continue
            if keep is not None and name not in keep:
                continue  # the iterator drains it; nothing is stored
            uploads.append(value)
            await value.copy(max(0, min(it.limits.max_memory_size, budget)))
            if value.in_memory:
                budget -= value.size
            files.add(name, value)  # type: ignore[arg-type]
    except BaseException:
        await _close_all(uploads)
        raise
    request.set_form(form, files)
    return uploads


async def _call(handler: Callable[..., Any], request: Request, args: Any, kwargs: Any) -> Any:
    return await call_endpoint(handler, None, request, *args, **kwargs)


async def _close_all(uploads: list[FileUpload]) -> None:
    for upload in uploads:
        await upload.close()


class _ClosingBody:
    """A response body that closes the request's uploads once the response is done.

    The dispatcher closes a streamed body after sending it, after a client
    disconnect and for HEAD requests alike; a body dropped unsent (an
    after-request hook replaced the response) is released when collected.
    """

    def __init__(self, body: Any, uploads: list[FileUpload]) -> None:
        self._body = body
        self._uploads = uploads
        self._it: AsyncIterator[bytes] | None = None

    def __aiter__(self) -> _ClosingBody:
        return self

    async def __anext__(self) -> bytes:
        if self._it is None:
            self._it = _aiter_chunks(self._body)
        return await self._it.__anext__()

    async def aclose(self) -> None:
        try:
            if self._it is not None:
                await _close_iter(self._it)
            await _close_iter(self._body)
        finally:
            await _close_all(self._uploads)

    def __del__(self) -> None:
        for upload in self._uploads:
            upload._release()


__all__ = [
    "FileUpload",
    "FormDataIter",
    "MultipartLimits",
    "configure",
    "secure_filename",
    "with_form_data",
]
