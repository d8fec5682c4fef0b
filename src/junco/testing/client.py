"""An in-process test client that drives an app through its real ASGI interface.

``TestClient`` methods are coroutines (as in Microdot); ``client.sync`` gives
the same client with blocking methods for plain synchronous tests. Lifespan
runs with ``async with client`` (or ``with client.sync``).
"""

from __future__ import annotations

import asyncio
import json as _json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar, overload
from urllib.parse import unquote, urlencode

from ..datastructures import Headers
from ..sse.wire import SSEDecoder
from ..types import ASGIApp, Message
from .response import TestResponse, _collect
from .websocket import WebSocketSession, drive_generator

__all__ = ["SyncTestClient", "TestClient"]  # junco.testing exports the package's names

T = TypeVar("T")
HeadersArg = Mapping[str, str] | Iterable[tuple[str, str]] | None


class TestClient:
    """Drive ``app`` in-process over ASGI.

    As Microdot's client: header values are trimmed, the cookie jar is added
    to an explicit ``Cookie`` header, and a cookie set with a ``Path`` is only
    sent under that path.

    Args:
        app: Any ASGI application (normally a :class:`~junco.Junco`).
        cookies: Initial cookies for the jar: ``{name: value}``, or
            ``{name: (value, path)}`` for a cookie limited to a path.
        scheme: ``"http"`` (default) or ``"https"``.
        host: The ``Host`` header (default ``"localhost"``).
    """

    __test__ = False

    def __init__(
        self,
        app: ASGIApp,
        cookies: Mapping[str, str | tuple[str, str]] | None = None,
        scheme: str | None = None,
        host: str | None = None,
    ) -> None:
        self.app = app
        self.cookies: dict[str, str] = {}
        self._cookie_paths: dict[str, str] = {}  # name -> Path, for cookies not on "/"
        for name, value in (cookies or {}).items():
            if isinstance(value, tuple):
                value, self._cookie_paths[name] = value
            self.cookies[name] = value
        self.scheme = scheme or "http"
        self.host = host or "localhost"
        self._lifespan: asyncio.Task[None] | None = None
        self._lifespan_in: asyncio.Queue[Message] | None = None
        self._lifespan_out: asyncio.Queue[Message] | None = None
        self.state: dict[str, Any] = {}
        self._sync: SyncTestClient | None = None

    # -- lifespan ----------------------------------------------------------------------

    async def __aenter__(self) -> TestClient:
        await self.startup()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def startup(self) -> None:
        """Run the app's lifespan startup.

        Raises:
            RuntimeError: the app reported ``lifespan.startup.failed``.
        """
        self._lifespan_in, self._lifespan_out = asyncio.Queue(), asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        self._lifespan = asyncio.ensure_future(
            self.app(scope, self._lifespan_in.get, self._lifespan_out.put)
        )
        await self._lifespan_in.put({"type": "lifespan.startup"})
        message = await self._lifespan_out.get()
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"lifespan startup failed: {message.get('message', '')}")

    async def shutdown(self) -> None:
        """Run the app's lifespan shutdown (if startup ran)."""
        if self._lifespan is None or self._lifespan_in is None or self._lifespan_out is None:
            return
        await self._lifespan_in.put({"type": "lifespan.shutdown"})
        message = await self._lifespan_out.get()
        await self._lifespan
        self._lifespan = None
        if message["type"] != "lifespan.shutdown.complete":
            raise RuntimeError(f"lifespan shutdown failed: {message.get('message', '')}")

    # -- requests ----------------------------------------------------------------------

    def _scope(
        self, method: str, path: str, headers: Headers, scope: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        path, _, query = path.partition("?")
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items_all()]
        s: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": method.upper(),
            "scheme": self.scheme,
            # As servers do: ``path`` percent-decoded, ``raw_path`` as sent.
            "path": unquote(path),
            "raw_path": path.encode("utf-8"),
            "query_string": query.encode("latin-1", "strict"),
            "root_path": "",
            "headers": raw,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 443 if self.scheme == "https" else 80),
            "state": dict(self.state),
        }
        if scope:
            s.update(scope)
        return s

    def _headers(
        self,
        headers: HeadersArg,
        body: bytes | None,
        stream: bool,
        content_type: str | None,
        path: str = "/",
    ) -> Headers:
        pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
        # Trimmed, as Microdot does: tests often pass b2a_base64(...) with its "\n".
        h = Headers([(k, v.strip(" \t\r\n")) for k, v in pairs])
        if "host" not in h:
            h["Host"] = self.host
        jar = self._cookie_header(path.partition("?")[0])
        if jar:
            mine = h.get("cookie")
            h["Cookie"] = f"{mine}; {jar}" if mine else jar
        if content_type and "content-type" not in h:
            h["Content-Type"] = content_type
        if body is not None and not stream and "content-length" not in h:
            h["Content-Length"] = str(len(body))
        if stream and "transfer-encoding" not in h and "content-length" not in h:
            h["Transfer-Encoding"] = "chunked"
        return h

    async def request(
        self,
        method: str,
        path: str,
        headers: HeadersArg = None,
        body: Any = None,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        stream: Iterable[bytes] | AsyncIterator[bytes] | None = None,
        scope: Mapping[str, Any] | None = None,
    ) -> TestResponse:
        """Send a request and collect the whole response.

        Args:
            method: The HTTP method.
            path: The path, with an optional query string.
            headers: Request headers (a mapping, or pairs to repeat a name).
            body: ``bytes``/``str``, or a ``dict``/``list`` sent as JSON.
            json: A value sent as JSON.
            form: Fields sent urlencoded.
            stream: Chunks sent one ASGI message each, with no Content-Length.
            scope: Entries overriding the generated ASGI scope.
        """
        data, ctype = _encode_body(body, json, form)
        h = self._headers(headers, data, stream is not None, ctype, path)
        s = self._scope(method, path, h, scope)
        response = await _run(self.app, s, data, stream)
        self._store_cookies(response.headers)
        return response

    async def get(self, path: str, headers: HeadersArg = None, **kw: Any) -> TestResponse:
        return await self.request("GET", path, headers, **kw)

    async def head(self, path: str, headers: HeadersArg = None, **kw: Any) -> TestResponse:
        return await self.request("HEAD", path, headers, **kw)

    async def options(self, path: str, headers: HeadersArg = None, **kw: Any) -> TestResponse:
        return await self.request("OPTIONS", path, headers, **kw)

    async def post(
        self, path: str, headers: HeadersArg = None, body: Any = None, **kw: Any
    ) -> TestResponse:
        return await self.request("POST", path, headers, body, **kw)

    async def put(
        self, path: str, headers: HeadersArg = None, body: Any = None, **kw: Any
    ) -> TestResponse:
        return await self.request("PUT", path, headers, body, **kw)

    async def patch(
        self, path: str, headers: HeadersArg = None, body: Any = None, **kw: Any
    ) -> TestResponse:
        return await self.request("PATCH", path, headers, body, **kw)

    async def delete(
        self, path: str, headers: HeadersArg = None, body: Any = None, **kw: Any
    ) -> TestResponse:
        return await self.request("DELETE", path, headers, body, **kw)

    async def query(
        self, path: str, headers: HeadersArg = None, body: Any = None, **kw: Any
    ) -> TestResponse:
        return await self.request("QUERY", path, headers, body, **kw)

    @overload
    def websocket(
        self,
        path: str,
        client: None = None,
        headers: HeadersArg = None,
        subprotocols: Iterable[str] | None = None,
        scope: Mapping[str, Any] | None = None,
        timeout: float = 10.0,
    ) -> WebSocketSession: ...
    @overload
    def websocket(
        self,
        path: str,
        client: Callable[[], Any],
        headers: HeadersArg = None,
        subprotocols: Iterable[str] | None = None,
        scope: Mapping[str, Any] | None = None,
        timeout: float = 10.0,
    ) -> Coroutine[Any, Any, TestResponse]: ...

    def websocket(
        self,
        path: str,
        client: Callable[[], Any] | None = None,
        headers: HeadersArg = None,
        subprotocols: Iterable[str] | None = None,
        scope: Mapping[str, Any] | None = None,
        timeout: float = 10.0,
    ) -> WebSocketSession | Coroutine[Any, Any, TestResponse]:
        """Open a WebSocket session: ``async with client.websocket('/ws') as ws: ...``.

        Entering the session performs the handshake and raises
        :class:`WebSocketRejected` if the app refuses it.

        Microdot's form works too: ``await client.websocket('/ws', client)``,
        where ``client`` is a (sync or async) generator function that yields
        the messages to send and receives each message the app sends (or
        ``None`` when the app reads before writing). The connection closes
        when the generator ends. It returns an empty :class:`TestResponse`
        (``status_code`` ``None``) when the app accepted, else the app's
        refusal.

        Args:
            path: The path, with an optional query string.
            client: Microdot's generator function (see above).
            headers: Handshake request headers.
            subprotocols: Subprotocols to offer, preferred first.
            scope: Entries overriding the generated ASGI scope (for instance
                ``{"extensions": {}}`` for a server without
                ``websocket.http.response``).
            timeout: Longest wait, in seconds, for any answer from the app.
        """
        offered = list(subprotocols or ())
        h = self._headers(headers, None, False, None, path)
        for name, value in (
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ):
            h.setdefault(name, value)
        if offered and "sec-websocket-protocol" not in h:
            h["Sec-WebSocket-Protocol"] = ", ".join(offered)
        s = self._scope("GET", path, h, None)
        del s["method"]
        s.update(
            type="websocket",
            scheme="wss" if self.scheme == "https" else "ws",
            subprotocols=offered,
            extensions={"websocket.http.response": {}},
        )
        if scope:
            s.update(scope)
        if client is not None:
            return drive_generator(self.app, s, client, timeout)
        return WebSocketSession(self.app, s, timeout)

    async def sse(
        self,
        path: str,
        headers: HeadersArg = None,
        max_events: int | None = None,
        scope: Mapping[str, Any] | None = None,
    ) -> TestResponse:
        """GET an event stream; with ``max_events``, disconnect once that many arrived.

        ``response.events`` holds the decoded events (all complete ones
        received, so possibly more than ``max_events`` if several came in one
        chunk).
        """
        h = self._headers(headers, None, False, None, path)
        h.setdefault("Accept", "text/event-stream")
        s = self._scope("GET", path, h, scope)
        response = await _run_sse(self.app, s, max_events)
        self._store_cookies(response.headers)
        return response

    def _cookie_header(self, path: str) -> str:
        paths = self._cookie_paths
        return "; ".join(
            f"{k}={v}"
            for k, v in self.cookies.items()
            if k not in paths or path.startswith(paths[k])
        )

    def _store_cookies(self, headers: Headers) -> None:
        for header in headers.getlist("set-cookie"):
            first, *attrs = header.split(";")
            name, _, value = first.strip().partition("=")
            path, expired = "/", False
            for attr in attrs:
                key, _, arg = attr.strip().partition("=")
                key = key.lower()
                if key == "path":
                    path = arg or "/"
                elif key == "max-age":
                    expired = expired or not arg.isdigit() or int(arg) <= 0
                elif key == "expires":
                    expired = expired or "1970" in arg or not value
            if expired:
                if self._cookie_paths.get(name, "/") == path:
                    self.cookies.pop(name, None)
                    self._cookie_paths.pop(name, None)
            else:
                self.cookies[name] = value
                if path == "/":
                    self._cookie_paths.pop(name, None)
                else:
                    self._cookie_paths[name] = path

    @property
    def sync(self) -> SyncTestClient:
        """This client with blocking methods, for synchronous tests."""
        if self._sync is None:
            self._sync = SyncTestClient(self)
        return self._sync


def _encode_body(
    body: Any, json: Any, form: Mapping[str, str] | None
) -> tuple[bytes | None, str | None]:
    if json is not None:
        return _json.dumps(json).encode(), "application/json"
    if form is not None:
        return urlencode(form).encode(), "application/x-www-form-urlencoded"
    if body is None:
        return None, None
    if isinstance(body, (dict, list)):
        return _json.dumps(body).encode(), "application/json"
    if isinstance(body, str):
        return body.encode(), None
    return bytes(body), None


async def _run(
    app: ASGIApp,
    scope: dict[str, Any],
    data: bytes | None,
    stream: Iterable[bytes] | AsyncIterator[bytes] | None,
) -> TestResponse:
    done = asyncio.Event()
    messages: list[Message] = []
    chunks = _chunks(data, stream)

    async def receive() -> Message:
        chunk = await chunks.__anext__() if chunks is not None else None
        if chunk is not None:
            return chunk
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    try:
        await app(scope, receive, send)
    finally:
        done.set()
    return _collect(messages, scope.get("method") == "HEAD")


class _Chunks:
    """Yields the request body messages, then ``None`` forever."""

    def __init__(self, data: bytes | None, stream: Any) -> None:
        self.data = data
        self.stream = stream
        self.sent = False
        self.iter: Any = None

    async def __anext__(self) -> Message | None:
        if self.stream is None:
            if self.sent:
                return None
            self.sent = True
            return {"type": "http.request", "body": self.data or b"", "more_body": False}
        if self.iter is None:
            self.iter = (
                self.stream.__aiter__() if hasattr(self.stream, "__aiter__") else iter(self.stream)
            )
        if self.sent:
            return None
        try:
            chunk = (
                await self.iter.__anext__() if hasattr(self.iter, "__anext__") else next(self.iter)
            )
        except (StopIteration, StopAsyncIteration):
            self.sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}


def _chunks(data: bytes | None, stream: Any) -> _Chunks:
    return _Chunks(data, stream)


class SyncTestClient:
    """Blocking facade over a :class:`TestClient`, running a loop in a thread."""

    __test__ = False

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _run(self, coro: Awaitable[T]) -> T:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
            self._thread.start()
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)  # type: ignore[arg-type]
        return fut.result()

    def close(self) -> None:
        """Stop the background loop."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
            self._loop = None

    def __enter__(self) -> SyncTestClient:
        self._run(self.client.startup())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._run(self.client.shutdown())
        finally:
            self.close()

    @property
    def cookies(self) -> dict[str, str]:
        return self.client.cookies

    def request(
        self, method: str, path: str, headers: HeadersArg = None, body: Any = None, **kw: Any
    ) -> TestResponse:
        return self._run(self.client.request(method, path, headers, body, **kw))

    def get(self, path: str, headers: HeadersArg = None, **kw: Any) -> TestResponse:
        return self.request("GET", path, headers, **kw)

    def head(self, path: str, headers: HeadersArg = None, **kw: Any) -> TestResponse:
        return self.request("HEAD", path, headers, **kw)

    def options(self, path: str, headers: HeadersArg = None, **kw: Any) -> TestResponse:
        return self.request("OPTIONS", path, headers, **kw)

    def post(
        self, path: str, headers: HeadersArg = None, body: Any = None, **kw: Any
    ) -> TestResponse:
        return self.request("POST", path, headers, body, **kw)

    def put(
        self, path: str, headers: HeadersArg = None, body: Any = None, **kw: Any
    ) -> TestResponse:
        return self.request("PUT", path, headers, body, **kw)

    def patch(
        self, path: str, headers: HeadersArg = None, body: Any = None, **kw: Any
    ) -> TestResponse:
        return self.request("PATCH", path, headers, body, **kw)

    def delete(
        self, path: str, headers: HeadersArg = None, body: Any = None, **kw: Any
    ) -> TestResponse:
        return self.request("DELETE", path, headers, body, **kw)

    def sse(
        self, path: str, headers: HeadersArg = None, max_events: int | None = None, **kw: Any
    ) -> TestResponse:
        return self._run(self.client.sse(path, headers, max_events, **kw))


# -- Server-Sent Events ----------------------------------------------------------------


async def _run_sse(app: ASGIApp, scope: dict[str, Any], max_events: int | None) -> TestResponse:
    """Like ``_run``, but the client disconnects after ``max_events`` events."""
    stop = asyncio.Event()
    messages: list[Message] = []
    decoder = SSEDecoder()
    seen = 0
    asked = False

    async def receive() -> Message:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await stop.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal seen
        messages.append(message)
        if message["type"] != "http.response.body":
            return
        seen += len(decoder.feed(message.get("body", b"")))
        if not message.get("more_body") or (max_events is not None and seen >= max_events):
            stop.set()

    try:
        await app(scope, receive, send)
    finally:
        stop.set()
    return _collect(messages)
