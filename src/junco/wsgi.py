"""Serve a junco app from a WSGI server (gunicorn sync workers, mod_wsgi, uWSGI, wsgiref).

junco has one code path, ASGI; this module adapts it with a2wsgi's
``ASGIMiddleware``, which runs the app on an event loop in a background thread
and hands each WSGI request to it. Around that adapter this module adds what
a2wsgi leaves out:

- the lifespan protocol: startup runs before the first request (not at
  import, so a server that forks after loading the app gets a working loop in
  every worker) and shutdown runs on :meth:`WSGIApp.close` or at exit;
- an environ check: a malformed ``Content-Length``, ``Content-Length`` together
  with ``Transfer-Encoding``, a path that is not UTF-8 or a chunked body the
  server cannot delimit gets a clean 4xx instead of an
  exception in the adapter; a chunked body the server delimits is read (up to
  the app's ``max_content_length``) and passed on with its length. These
  refusals go through junco's error renderer (:func:`junco.errors.bare_error`):
  a browser gets the HTML page, an API client JSON, anyone else text;
- the target as the client sent it (gunicorn's ``RAW_URI``, uWSGI's and
  mod_wsgi's ``REQUEST_URI``) becomes ``raw_path``, so an encoded ``/`` is
  refused as under an ASGI server;
- cancellation: when the server closes the response early (the client left),
  the app's task is cancelled, so a streaming handler stops and its
  ``finally`` blocks run.

WebSocket is not available under WSGI, and every open response holds one
server thread or worker for as long as it streams.
"""

from __future__ import annotations

import asyncio
import atexit
import io
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .errors import bare_error
from .exceptions import HTTPException, status_phrase
from .types import ASGIApp, Message, Receive, Scope, Send

INSTALL_HINT = 'WSGI support needs a2wsgi: pip install "junco[wsgi]"'
Environ = dict[str, Any]
StartResponse = Callable[..., Any]

_TASK = "junco.asgi_task"
_READ = 64 * 1024
_DEFAULT_MAX_BODY = 16 * 1024 * 1024


def _import_a2wsgi() -> Any:
    try:
        import a2wsgi
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return a2wsgi


class WSGIApp:
    """An ASGI app (normally a :class:`~junco.Junco`) as a WSGI application.

    Args:
        app: The ASGI application.
        lifespan: Run the app's startup handlers before the first request and
            its shutdown handlers on :meth:`close` (or at interpreter exit).
        wait_time: Seconds to let the app finish after its response is sent,
            before its task is cancelled; ``None`` waits as long as it takes.
        startup_timeout: Longest wait for startup or shutdown, in seconds.

    Raises:
        ImportError: a2wsgi is missing (``pip install "junco[wsgi]"``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        lifespan: bool = True,
        wait_time: float | None = 5.0,
        startup_timeout: float = 30.0,
    ) -> None:
        self._a2wsgi = _import_a2wsgi()
        self.app = app
        self.lifespan = lifespan
        self.wait_time = wait_time
        self.startup_timeout = startup_timeout
        self.state: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._adapter: Any = None
        self._lifespan: _Lifespan | None = None

    # -- WSGI ------------------------------------------------------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one WSGI request."""
        problem = _check_environ(environ, _max_body(self.app))
        if problem is not None:
            return _refuse(problem, environ, start_response)
        adapter, loop = self._start()
        return _Body(adapter(environ, start_response), environ, loop)

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        environ = scope.get("wsgi_environ")
        if environ is not None:
            environ[_TASK] = asyncio.current_task()
            # PATH_INFO is decoded: only the target as sent shows "%2f" (see junco.paths).
            uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
            if isinstance(uri, str) and uri.startswith("/"):
                scope["raw_path"] = uri.partition("?")[0].encode("latin-1", "replace")
        scope["state"] = dict(self.state)  # a shallow copy per request, as ASGI servers do
        await self.app(scope, receive, send)

    # -- loop and lifespan -----------------------------------------------------------

    def _start(self) -> tuple[Any, asyncio.AbstractEventLoop]:
        with self._lock:
            if self._adapter is None or self._pid != os.getpid():
                # First request, or first in a forked worker: the parent's
                # loop thread did not survive the fork.
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, daemon=True, name="junco-wsgi")
                thread.start()
                lifespan = _Lifespan(self.app, self.state) if self.lifespan else None
                try:
                    if lifespan is not None:
                        future = asyncio.run_coroutine_threadsafe(lifespan.startup(), loop)
                        future.result(self.startup_timeout)
                except BaseException:
                    _stop(loop, thread, self.startup_timeout)
                    raise  # the server answers 500; the next request tries again
                self._loop, self._thread, self._pid = loop, thread, os.getpid()
                self._lifespan = lifespan
                self._adapter = self._a2wsgi.ASGIMiddleware(
                    self._asgi, wait_time=self.wait_time, loop=loop
                )
                atexit.register(self.close)
            return self._adapter, self._loop  # type: ignore[return-value]

    def close(self) -> None:
        """Run the shutdown handlers (if startup ran) and stop the event loop.

        Call it once the server has stopped taking requests (it also runs at
        interpreter exit). A later request starts everything again.
        """
        with self._lock:
            loop, thread, lifespan = self._loop, self._thread, self._lifespan
            self._loop = self._thread = self._adapter = self._lifespan = None
            if loop is None or self._pid != os.getpid():
                return
            atexit.unregister(self.close)
            try:
                if lifespan is not None:
                    future = asyncio.run_coroutine_threadsafe(lifespan.shutdown(), loop)
                    future.result(self.startup_timeout)
            finally:
                _stop(loop, thread, self.startup_timeout)


def _stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread | None, timeout: float) -> None:
    loop.call_soon_threadsafe(loop.stop)
    if thread is not None:
        thread.join(timeout)
    if not loop.is_running():
        loop.close()


def to_wsgi(app: ASGIApp, **options: Any) -> WSGIApp:
    """Wrap ``app`` for a WSGI server; ``options`` as for :class:`WSGIApp`.

    Example: ``application = to_wsgi(app)``, then ``gunicorn module:application``.
    """
    return WSGIApp(app, **options)


class _Body:
    """The response iterable: on ``close()`` (client gone), cancel the app's task."""

    def __init__(
        self, inner: Iterable[bytes], environ: Environ, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._inner = inner
        self._environ = environ
        self._loop = loop

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._inner)

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()
        task = self._environ.pop(_TASK, None)
        if task is not None and not task.done() and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(task.cancel)


class _Lifespan:
    """Drives the ASGI lifespan protocol of ``app`` on the adapter's loop."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state
        self._to_app: asyncio.Queue[Message] | None = None
        self._from_app: asyncio.Queue[Message] | None = None
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        self._to_app, self._from_app = asyncio.Queue(), asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        self._task = asyncio.ensure_future(self.app(scope, self._to_app.get, self._from_app.put))
        await self._to_app.put({"type": "lifespan.startup"})
        message = await self._next()
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"lifespan startup failed: {message.get('message', '')}")

    async def shutdown(self) -> None:
        if self._to_app is None or self._task is None or self._task.done():
            return
        await self._to_app.put({"type": "lifespan.shutdown"})
        message = await self._next()
        await self._task
        if message["type"] != "lifespan.shutdown.complete":
            raise RuntimeError(f"lifespan shutdown failed: {message.get('message', '')}")

    async def _next(self) -> Message:
        if self._from_app is None or self._task is None:
            raise RuntimeError("lifespan startup has not run")
        getter = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait({getter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        getter.cancel()
        self._task.result()  # the app's own exception, if it raised
        raise RuntimeError("the app ended the lifespan protocol without answering")


# -- environ checks ----------------------------------------------------------------------


def _max_body(app: Any) -> int:
    value = getattr(app, "max_content_length", None)
    return value if isinstance(value, int) else _DEFAULT_MAX_BODY


def _refuse(exc: HTTPException, environ: Environ, start_response: StartResponse) -> list[bytes]:
    """Answer ``exc`` without the app, in the form the client asked for."""
    accept, ctype = environ.get("HTTP_ACCEPT"), environ.get("CONTENT_TYPE")
    response = bare_error(exc, accept if isinstance(accept, str) else None, ctype or None)
    body = response.body
    headers = [(k.title(), v) for k, v in response.headers.items_all() if k != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{exc.status_code} {status_phrase(exc.status_code)}", headers)
    return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else body]


def _check_environ(environ: Environ, max_body: int) -> HTTPException | None:
    """Make the environ safe for the adapter; the error to refuse it with, if any."""
    for key in ("SCRIPT_NAME", "PATH_INFO"):
        try:
            environ.get(key, "").encode("latin-1").decode("utf-8")
        except UnicodeError:
            return HTTPException(400, "the path is not valid UTF-8")
    query = environ.get("QUERY_STRING", "")
    if not query.isascii():
        # Raw bytes a browser would have percent-encoded; the adapter needs ASCII.
        environ["QUERY_STRING"] = "".join(c if c.isascii() else f"%{ord(c):02X}" for c in query)
    length = environ.get("CONTENT_LENGTH") or ""
    coding = environ.get("HTTP_TRANSFER_ENCODING", "")
    if not length:
        environ.pop("CONTENT_LENGTH", None)  # wsgiref sends "" for no body
    elif coding:
        # RFC 9112 6.3: both framings at once is how requests are smuggled
        # past a proxy that reads the other one. Never guess which was meant.
        return HTTPException(400, "Content-Length and Transfer-Encoding together")
    else:
        if not (length.isascii() and length.isdigit()) or len(length) > 18:
            return HTTPException(400, "invalid Content-Length")
        return None
    if "chunked" not in coding.lower():
        return None
    if not environ.get("wsgi.input_terminated"):
        return HTTPException(411, "this server needs a Content-Length")
    return _buffer_chunked(environ, max_body)


def _buffer_chunked(environ: Environ, max_body: int) -> HTTPException | None:
    """Read a chunked body the server delimits, so the adapter sees a length."""
    stream = environ["wsgi.input"]
    buffer = io.BytesIO()
    while True:
        chunk = stream.read(_READ)
        if not chunk:
            break
        buffer.write(chunk)
        if buffer.tell() > max_body:
            return HTTPException(413, extra={"limit": max_body})
    environ["CONTENT_LENGTH"] = str(buffer.tell())
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    buffer.seek(0)
    environ["wsgi.input"] = buffer
    return None


__all__ = ["INSTALL_HINT", "WSGIApp", "to_wsgi"]
