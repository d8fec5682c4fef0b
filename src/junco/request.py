"""The request object handed to every handler.

Everything beyond the method and the path is parsed on first access. The body
is read by the dispatcher before the hooks run when the client declared one no
larger than ``max_body_length``; larger (or unknown-length, over-limit) bodies
are left to ``request.stream``, which enforces ``max_content_length`` as it reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Generator, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, overload

from ._parsing import json_loads, parse_cookies, parse_urlencoded
from .datastructures import HeaderNames, Headers, MultiDict, pick_headers
from .exceptions import ClientDisconnect, HTTPException
from .paths import strip_root
from .types import Message, Receive, Scope

if TYPE_CHECKING:
    from .app import Junco
    from .routing import Route

T = TypeVar("T")
D = TypeVar("D")


class _Unset:
    __slots__ = ()


_UNSET: Any = _Unset()


class Slot(Generic[T]):
    """One datum an extension keeps on a request, read and written only through here.

    The core declares nothing for its extensions: each one creates its slots
    (``SESSION = Slot[SessionData]("session")``) and other modules read them
    through the same object, so every cross-module read is greppable and
    typed. A slot whose ``name`` has no leading underscore is also readable
    as ``request.<name>`` (``request.session``, ``request.request_id``).

    Args:
        name: The attribute the value is stored under; unique per extension
            (prefix private ones with ``_junco_<extension>_``).
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def get(self, request: Request) -> T | None: ...
    @overload
    def get(self, request: Request, default: D) -> T | D: ...
    def get(self, request: Request, default: Any = None) -> Any:
        """The value on ``request``, or ``default`` when it was never set."""
        return request.__dict__.get(self.name, default)

    def set(self, request: Request, value: T) -> T:
        """Store ``value`` on ``request``; returns it."""
        request.__dict__[self.name] = value
        return value

    def is_set(self, request: Request) -> bool:
        """Whether a value was stored on ``request``."""
        return self.name in request.__dict__

    def pop(self, request: Request) -> T | None:
        """Remove the value from ``request`` and return it (``None`` if unset)."""
        return request.__dict__.pop(self.name, None)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"Slot({self.name!r})"


#: The request id (``request.request_id``): ``RequestID`` sets it, error pages show it.
REQUEST_ID: Slot[str] = Slot("request_id")
#: The CSP nonce (``request.csp_nonce``): made by ``csp_nonce()``, used by error pages.
CSP_NONCE: Slot[str] = Slot("csp_nonce")

_current: ContextVar[Request | None] = ContextVar("junco_request", default=None)

logger = logging.getLogger("junco")
_COOKIE = HeaderNames({b"cookie": b"; "})  # RFC 6265 section 5.4: one line, "; " between


def current_request() -> Request:
    """The request being handled in this context.

    Raises:
        RuntimeError: outside of a request.
    """
    req = _current.get()
    if req is None or req.finished:
        raise RuntimeError("current_request() called outside of a request")
    return req


class G:
    """A plain namespace for per-request data (``request.g``)."""

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def get(self, name: str, default: Any = None) -> Any:
        return self.__dict__.get(name, default)


class Request:
    """An HTTP (or WebSocket) request.

    The class attributes are Microdot's names for the limits; they are only the
    defaults for apps created afterwards: each ``Junco`` keeps its own copy.
    """

    max_content_length: ClassVar[int] = 16 * 1024 * 1024
    max_body_length: ClassVar[int] = 1024 * 1024
    max_readline: ClassVar[int] = 8 * 1024

    # Defaults live on the class so that creating a request only sets what varies.
    route: Route | None = None
    # Extensions keep their data in slots (see ``Slot``); the session
    # extension's is readable as ``request.session`` (``junco.security.sessions.SESSION``).
    session: Any
    finished: bool = False  # set once the response is sent
    url_args: Mapping[str, Any] = MappingProxyType({})
    url_prefix: str = ""
    subapp: Junco | None = None
    _headers: Headers | None = None
    _raw_ctype: bytes | None = None
    _raw_host: bytes | None = None  # the Host header, once the dispatcher has scanned for it
    _mimetype: str | None = None
    _args: MultiDict | None = None
    _cookies: dict[str, str] | None = None
    _body: bytes | None = b""
    _json: Any = _UNSET
    _form: Any = _UNSET
    _files: MultiDict | None = None
    _g: G | None = None
    _after: list[Callable[..., Any]] | None = None
    _stream: RequestStream | None = None

    def __init__(self, app: Junco, scope: Scope, receive: Receive) -> None:
        self.app = app
        self.asgi_scope = scope
        self.receive = receive
        self.method: str = scope.get("method", "GET")
        path: str = scope["path"]
        root_path = scope.get("root_path")
        self.path = strip_root(path, root_path) if root_path else path

    # -- scope-derived -----------------------------------------------------------------

    @property
    def scheme(self) -> str:
        return self.asgi_scope.get("scheme", "http")  # type: ignore[no-any-return]

    @property
    def root_path(self) -> str:
        return self.asgi_scope.get("root_path", "")  # type: ignore[no-any-return]

    @property
    def http_version(self) -> str:
        return self.asgi_scope.get("http_version", "1.1")  # type: ignore[no-any-return]

    @property
    def client_addr(self) -> tuple[str, int] | None:
        client = self.asgi_scope.get("client")
        return tuple(client) if client else None

    @property
    def query_string(self) -> str:
        return self.asgi_scope.get("query_string", b"").decode("latin-1")  # type: ignore[no-any-return]

    @property
    def url(self) -> str:
        """The request target: path plus query string (Microdot's meaning)."""
        qs = self.asgi_scope.get("query_string", b"")
        return self.path + "?" + qs.decode("latin-1") if qs else self.path

    @property
    def host(self) -> str:
        """The ``Host`` header (or the server address when there is none)."""
        host = self.headers.get("host")
        if host:
            return host
        server = self.asgi_scope.get("server")
        return f"{server[0]}:{server[1]}" if server else ""

    @property
    def full_url(self) -> str:
        """The absolute URL: scheme, host, root path, path and query."""
        return f"{self.scheme}://{self.host}{self.root_path}{self.url}"

    @property
    def state(self) -> dict[str, Any]:
        """Lifespan state: what startup handlers stored in ``scope['state']``."""
        state = self.asgi_scope.get("state")
        if state is None:
            state = self.asgi_scope["state"] = {}
        return state

    @property
    def g(self) -> G:
        """A namespace for data that lives as long as the request."""
        if self._g is None:
            self._g = G()
        return self._g

    # -- lazily parsed ---------------------------------------------------------------

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers.from_asgi(self.asgi_scope.get("headers", ()))
        return self._headers

    @property
    def args(self) -> MultiDict:
        """Query string arguments. Invalid UTF-8 or too many fields → 400."""
        if self._args is None:
            self._args = parse_urlencoded(
                self.asgi_scope.get("query_string", b""), self.app.max_query_fields
            )
        return self._args

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            h = self._headers
            if h is not None and h._d is not None:
                header = h.getlist("cookie")
            else:  # straight from the scope: no Headers object for one lookup
                found: list[bytes | None] = [None]
                pick_headers(self.asgi_scope.get("headers", ()), _COOKIE, found)
                header = [] if found[0] is None else [found[0].decode("latin-1")]
            self._cookies = parse_cookies("; ".join(header)) if header else {}
        return self._cookies

    @property
    def content_length(self) -> int | None:
        """The declared ``Content-Length`` (``None`` if absent or not a number)."""
        value = self.headers.get("content-length")
        return int(value) if value is not None and value.isdigit() and len(value) < 19 else None

    @property
    def content_type(self) -> str | None:
        raw = self._raw_ctype
        if raw is not None:  # seen by the dispatcher's header scan
            return raw.decode("latin-1")
        return self.headers.get("content-type")

    @property
    def mimetype(self) -> str:
        """The content type without parameters, lower-cased ('' if none)."""
        mt = self._mimetype
        if mt is None:
            ct = self.content_type
            mt = self._mimetype = ct.partition(";")[0].strip().lower() if ct else ""
        return mt

    @property
    def body(self) -> bytes:
        """The whole request body.

        Raises:
            HTTPException: 413 when the body was too large to buffer
                (over ``max_body_length``); read ``request.stream`` instead.
        """
        if self._body is None:
            raise HTTPException(413, "request body too large; read it with request.stream")
        return self._body

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or ``None`` if the content type is not JSON.

        A body sent without ``Content-Type: application/json`` is not parsed
        (as in Microdot); a line on the ``junco`` logger at DEBUG says so.

        Raises:
            HTTPException: 400 for malformed or too deeply nested JSON.
        """
        if self._json is _UNSET:
            mt = self.mimetype
            if mt == "application/json" or (mt.startswith("application/") and mt.endswith("+json")):
                body = self.body
                self._json = json_loads(body, self.app.max_json_depth) if body else None
            else:
                self._json = None
                if self._body:
                    _not_parsed("json", mt, "send Content-Type: application/json")
        return self._json

    @property
    def form(self) -> MultiDict | None:
        """The urlencoded form, or ``None`` for other content types.

        Multipart bodies are parsed by the multipart extension, which hands the
        result over with :meth:`set_form` (decorate the handler with
        ``@with_form_data``); without it, a line on the ``junco`` logger at
        DEBUG says why the form is ``None``.
        """
        if self._form is _UNSET:
            mt = self.mimetype
            if mt == "application/x-www-form-urlencoded":
                self._form = parse_urlencoded(self.body, self.app.max_form_fields, "form")
            else:
                self._form = None
                if mt == "multipart/form-data":
                    _not_parsed("form", mt, "decorate the handler with @with_form_data")
                elif self._body:
                    _not_parsed("form", mt, "send a form (urlencoded or multipart)")
        return self._form  # type: ignore[no-any-return]

    @property
    def files(self) -> MultiDict | None:
        """Uploaded files, once a body extension parsed a multipart body (else None)."""
        return self._files

    def set_form(self, form: MultiDict | None, files: MultiDict | None = None) -> None:
        """Hand over a form parsed by a body extension (multipart, typed handlers)."""
        self._form = form
        self._files = files

    @property
    def stream(self) -> RequestStream:
        """The body as an async stream; use it for bodies of any size."""
        if self._stream is None:
            self._stream = RequestStream(self, b"" if self._body is None else self._body, True)
        return self._stream

    # -- hooks -------------------------------------------------------------------------

    def after_request(self, f: Callable[..., Any]) -> Callable[..., Any]:
        """Register a hook ``f(request, response)`` for this request only."""
        if self._after is None:
            self._after = []
        self._after.append(f)
        return f

    @property
    def after_request_handlers(self) -> list[Callable[..., Any]]:
        if self._after is None:
            self._after = []
        return self._after

    # -- body loading (called by the dispatcher) ----------------------------------------

    async def _load_body(self, declared: int | None) -> None:
        """Buffer the body if it fits ``max_body_length``; else leave it to ``stream``."""
        app = self.app
        if declared is not None:
            if declared > app.max_content_length:
                raise _too_large(app.max_content_length)
            if declared > app.max_body_length:
                self._body = None
                self._stream = RequestStream(self, b"", False)
                return
        if declared is not None:
            # The usual case: the whole declared body arrives in one message.
            message = await receive_body(self)
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            first = message.get("body", b"")
            if not message.get("more_body", False) and len(first) <= declared:
                self._body = first
                return
            chunks, size, more = [first], len(first), message.get("more_body", False)
            if size > app.max_content_length:
                raise _too_large(app.max_content_length)
        else:
            chunks, size, more = [], 0, True
        while more:
            message = await receive_body(self)
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            size += len(chunk)
            if size > app.max_content_length:
                raise _too_large(app.max_content_length)
            if chunk:
                chunks.append(chunk)
            if size > app.max_body_length:
                # Unknown length and already too big to buffer: hand what we
                # have to the stream, which goes on reading (and limiting).
                self._body = None
                self._stream = RequestStream(self, b"".join(chunks), not more, size)
                return
        self._body = b"".join(chunks)


def _not_parsed(attr: str, mimetype: str, fix: str) -> None:
    logger.debug(
        "request.%s is None: the body's Content-Type is %r; %s", attr, mimetype or "(none)", fix
    )


def _too_large(limit: int) -> HTTPException:
    """The 413 for a body over ``limit`` bytes (the error page states the limit)."""
    return HTTPException(413, extra={"limit": limit})


async def receive_body(request: Request) -> Message:
    """The next body message, waiting at most ``app.body_timeout`` for it.

    A message the server already holds (nearly always) is taken without
    arming a timer: ``receive`` is stepped once by hand, and only if it has
    to wait does the rest of the wait run under the timeout.

    Raises:
        HTTPException: 408 when the client sends nothing for that long; the
            response closes the connection, whose unread body is abandoned.
    """
    timeout = request.app.body_timeout
    if timeout is None:
        return await request.receive()
    pending = request.receive()
    steps = pending.__await__()
    try:
        if not hasattr(steps, "send"):
            # granian's futures iterate but take no send()/throw(): no fast path.
            async with asyncio.timeout(timeout):
                return await pending
        try:
            waiting_on = steps.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        async with asyncio.timeout(timeout):
            return await _Resumed(steps, waiting_on)
    except TimeoutError:
        raise HTTPException(408, headers={"Connection": "close"}) from None


class _Resumed:
    """Awaits an ``__await__`` iterator that has already yielded ``waiting_on``."""

    __slots__ = ("_steps", "_waiting_on")

    def __init__(self, steps: Any, waiting_on: Any) -> None:
        self._steps = steps
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Message]:
        steps, value = self._steps, self._waiting_on
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                steps.close()
                raise
            except BaseException as exc:  # cancellation (the timeout) goes in, too
                try:
                    value = steps.throw(exc)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
            else:
                try:
                    value = steps.send(sent)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]


class RequestStream:
    """Async reader over the request body with ``read``, ``readline`` and iteration.

    It counts bytes as they arrive and raises 413 past ``max_content_length``.
    """

    __slots__ = ("_buf", "_done", "_received", "_request")

    def __init__(self, request: Request, initial: bytes, done: bool, received: int = 0) -> None:
        self._request = request
        self._buf = bytearray(initial)
        self._done = done
        self._received = received or len(initial)

    async def _fill(self) -> bool:
        """Receive one more chunk; False at the end of the body."""
        if self._done:
            return False
        message = await receive_body(self._request)
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        self._done = not message.get("more_body", False)
        self._received += len(chunk)
        limit = self._request.app.max_content_length
        if self._received > limit:
            self._done = True
            raise _too_large(limit)
        self._buf += chunk
        return True

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes (all remaining when ``n < 0``)."""
        if n < 0:
            while await self._fill():
                pass
            data = bytes(self._buf)
            self._buf.clear()
            return data
        while len(self._buf) < n and await self._fill():
            pass
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes.

        Raises:
            EOFError: the body ended first.
        """
        data = await self.read(n)
        if len(data) < n:
            raise EOFError("request body ended early")
        return data

    async def readline(self) -> bytes:
        """Read one line including ``\\n``; longer than ``max_readline`` → 413."""
        limit = self._request.app.max_readline
        while True:
            i = self._buf.find(b"\n")
            if i >= 0:
                if i + 1 > limit:
                    raise HTTPException(413, "line too long")
                data = bytes(self._buf[: i + 1])
                del self._buf[: i + 1]
                return data
            if len(self._buf) > limit:
                raise HTTPException(413, "line too long")
            if not await self._fill():
                data = bytes(self._buf)
                self._buf.clear()
                return data

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield the body in the chunks the server delivers."""
        if self._buf:
            data = bytes(self._buf)
            self._buf.clear()
            yield data
        while await self._fill():
            if self._buf:
                data = bytes(self._buf)
                self._buf.clear()
                yield data

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.chunks()


__all__ = ["CSP_NONCE", "REQUEST_ID", "Request", "RequestStream", "Slot", "current_request"]
