"""junco.wsgi: a junco app called as a WSGI application (in-process, real WSGI calls).

tests/e2e/test_wsgi_e2e.py serves the same app from wsgiref and gunicorn.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from junco import Junco, Request
from junco.wsgi import WSGIApp, to_wsgi


def make_app(events: list[str] | None = None) -> Junco:
    """The app both WSGI test modules serve."""
    app = Junco(max_content_length=4 * 1024 * 1024)
    log = events if events is not None else []
    stopped = threading.Event()
    gate = threading.Event()
    app.state["stopped"] = stopped
    app.state["gate"] = gate

    @app.on_startup
    def startup(scope: dict[str, Any]) -> None:
        log.append("startup")
        scope["state"]["db"] = "connected"

    @app.on_shutdown
    def shutdown() -> None:
        log.append("shutdown")

    @app.get("/")
    async def index(request: Request) -> dict[str, Any]:
        return {"hello": "wsgi", "db": request.state.get("db"), "q": request.args.get("q")}

    @app.post("/echo")
    async def echo(request: Request) -> bytes:
        return await request.stream.read()

    @app.post("/form")
    async def form(request: Request) -> dict[str, Any]:
        return {"name": request.form.get("name") if request.form else None}

    @app.get("/fail")
    async def fail(request: Request) -> str:
        raise RuntimeError("secret detail")

    @app.get("/stream")
    def stream(request: Request) -> Iterator[str]:
        for i in range(int(request.args.get("n", "3"))):
            yield f"chunk {i}\n"

    @app.get("/gate")
    async def gated(request: Request) -> Any:
        async def body() -> Any:
            yield "first\n"
            # Only a response streamed chunk by chunk lets the client open the gate.
            opened = await asyncio.to_thread(gate.wait, 10)
            yield "second\n" if opened else "buffered\n"

        return body()

    @app.get("/forever")
    async def forever(request: Request) -> Any:
        async def body() -> Any:
            try:
                n = 0
                while True:
                    yield f"tick {n}\n"
                    n += 1
            finally:
                stopped.set()

        return body()

    return app


def call(
    wsgi: Any,
    method: str = "GET",
    path: str = "/",
    body: bytes = b"",
    environ: dict[str, Any] | None = None,
) -> tuple[str, dict[str, str], bytes]:
    """One WSGI call, as a server makes it: status, headers and the whole body."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if body:
        env["CONTENT_LENGTH"] = str(len(body))
    env.update(environ or {})
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, dict(headers)))
        return lambda data: None

    result = wsgi(env, start_response)
    try:
        data = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started[-1]
    return status, {k.lower(): v for k, v in headers.items()}, data


@pytest.fixture
def wsgi() -> Iterator[WSGIApp]:
    app = to_wsgi(make_app())
    yield app
    app.close()


def test_requests(wsgi: WSGIApp) -> None:
    status, headers, body = call(wsgi, environ={"QUERY_STRING": "q=%C3%A9"})
    assert status == "200 OK"
    assert headers["content-type"] == "application/json; charset=UTF-8"
    assert body == b'{"hello":"wsgi","db":"connected","q":"\xc3\xa9"}'
    assert call(wsgi, "POST", "/echo", b"x" * 100_000)[2] == b"x" * 100_000
    form_type = {"CONTENT_TYPE": "application/x-www-form-urlencoded"}
    form = call(wsgi, "POST", "/form", b"name=Ada", form_type)
    assert form[2] == b'{"name":"Ada"}'
    assert call(wsgi, path="/stream", environ={"QUERY_STRING": "n=2"})[2] == b"chunk 0\nchunk 1\n"
    status, headers, _ = call(wsgi, "DELETE", "/")
    assert status == "405 Method Not Allowed"
    assert headers["allow"] == "GET, HEAD, OPTIONS"
    assert call(wsgi, path="/missing")[0] == "404 Not Found"
    status, headers, body = call(wsgi, path="/fail")
    assert status == "500 Internal Server Error"
    assert b"secret" not in body
    assert call(wsgi, "HEAD", "/")[2] == b""


def test_body_over_the_apps_limit(wsgi: WSGIApp) -> None:
    status, _, _ = call(wsgi, "POST", "/echo", b"x" * (4 * 1024 * 1024 + 1))
    assert status.startswith("413")


def test_lifespan_runs_before_the_first_request_and_on_close() -> None:
    events: list[str] = []
    wsgi = WSGIApp(make_app(events))
    assert events == []  # nothing at construction: a forking server loads apps first
    call(wsgi)
    call(wsgi)
    assert events == ["startup"]
    wsgi.close()
    wsgi.close()
    assert events == ["startup", "shutdown"]
    call(wsgi)  # usable again: a fresh loop and a fresh startup
    assert events == ["startup", "shutdown", "startup"]
    wsgi.close()


def test_lifespan_can_be_turned_off() -> None:
    events: list[str] = []
    wsgi = WSGIApp(make_app(events), lifespan=False)
    assert b'"db":null' in call(wsgi)[2]
    wsgi.close()
    assert events == []


def test_failed_startup_is_an_error_for_the_request_and_leaks_no_thread() -> None:
    app = Junco()
    attempts: list[int] = []

    @app.on_startup
    def boom() -> None:
        attempts.append(1)
        raise RuntimeError("no database")

    wsgi = WSGIApp(app)
    for _ in range(3):
        with pytest.raises(RuntimeError, match="startup failed"):
            call(wsgi)
    assert len(attempts) == 3  # each request tries again
    assert not [t for t in threading.enumerate() if t.name == "junco-wsgi"]
    wsgi.close()


@pytest.mark.parametrize(
    ("environ", "status"),
    [
        ({"CONTENT_LENGTH": "abc"}, "400"),
        ({"CONTENT_LENGTH": "-1"}, "400"),
        ({"CONTENT_LENGTH": "1" * 30}, "400"),
        ({"CONTENT_LENGTH": "\uff11"}, "400"),  # FULLWIDTH DIGIT ONE: isdigit() says yes
        ({"PATH_INFO": "/\xff"}, "400"),  # wsgiref's percent-decoded %FF
        ({"SCRIPT_NAME": "/\xc3"}, "400"),
        ({"HTTP_TRANSFER_ENCODING": "chunked"}, "411"),
        ({"QUERY_STRING": "q=\xff"}, "400"),  # percent-encoded for the app: not UTF-8
    ],
)
def test_hostile_environ_is_a_clean_4xx(
    wsgi: WSGIApp, environ: dict[str, str], status: str
) -> None:
    got, headers, body = call(wsgi, environ=environ)
    assert got.startswith(status)
    assert headers["content-type"].startswith("text/plain")
    assert b"\xff" not in body


def test_refusals_before_the_app_are_negotiated(wsgi: WSGIApp) -> None:
    bad_path = {"PATH_INFO": "/\xff<script>"}
    status, headers, body = call(wsgi, environ={**bad_path, "HTTP_ACCEPT": "application/json"})
    assert status == "400 Bad Request"
    assert headers["content-type"].startswith("application/json")
    assert headers["vary"] == "Accept"
    assert json.loads(body) == {
        "error": {"status": 400, "code": "bad_request", "message": "the path is not valid UTF-8"}
    }
    assert int(headers["content-length"]) == len(body)
    browser = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}
    status, headers, body = call(wsgi, environ={**bad_path, **browser})
    assert headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in headers["content-security-policy"]
    assert b"<!DOCTYPE html>" in body[:100] or b"<!doctype html>" in body[:100].lower()
    assert b"not valid UTF-8" in body
    assert b"<script>" not in body
    # A chunked body over the limit: the 413 states the limit, in JSON too.
    chunked = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}
    big = {**chunked, "wsgi.input": io.BytesIO(b"x" * (4 * 1024 * 1024 + 1))}
    status, headers, body = call(
        wsgi, "POST", "/echo", environ={**big, "CONTENT_TYPE": "application/json"}
    )
    assert status.startswith("413 ")
    assert json.loads(body)["error"]["limit"] == 4 * 1024 * 1024
    # HEAD gets the headers only.
    status, headers, body = call(wsgi, "HEAD", environ=bad_path)
    assert (status[:3], body) == ("400", b"")
    assert int(headers["content-length"]) > 0


@pytest.mark.parametrize("coding", ["chunked", "gzip, chunked", "identity"])
def test_content_length_with_transfer_encoding_is_refused(wsgi: WSGIApp, coding: str) -> None:
    # Request smuggling: the two framings disagree, so never pick one of them.
    environ = {"HTTP_TRANSFER_ENCODING": coding, "wsgi.input_terminated": True}
    status, _, body = call(wsgi, "POST", "/echo", b"abc", environ)
    assert status.startswith("400")
    assert b"abc" not in body


def test_raw_utf8_query_reaches_the_app(wsgi: WSGIApp) -> None:
    # Servers hand over the raw bytes as latin-1 characters.
    assert b'"q":"\xc3\xa9"' in call(wsgi, environ={"QUERY_STRING": "q=\xc3\xa9"})[2]


def test_chunked_body_delimited_by_the_server(wsgi: WSGIApp) -> None:
    chunked = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}
    small = {**chunked, "wsgi.input": io.BytesIO(b"abc")}
    status, _, body = call(wsgi, "POST", "/echo", environ=small)
    assert (status, body) == ("200 OK", b"abc")
    big = io.BytesIO(b"x" * (4 * 1024 * 1024 + 1))
    status, _, _ = call(wsgi, "POST", "/echo", environ={**chunked, "wsgi.input": big})
    assert status.startswith("413")
    assert big.tell() <= 4 * 1024 * 1024 + 64 * 1024  # stopped reading past the limit


def test_closing_a_stream_early_stops_the_handler() -> None:
    app = make_app()
    wsgi = WSGIApp(app)
    env_started: list[Any] = []
    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/forever",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "wsgi.input": io.BytesIO(),
    }
    result: Iterable[bytes] = wsgi(
        env, lambda status, headers, exc=None: env_started.append(status)
    )
    chunks = iter(result)
    received = b""
    while received.count(b"tick") < 3:
        received += next(chunks)
    close = getattr(result, "close", None)
    assert close is not None
    close()  # what a server does when the client goes away
    assert app.state["stopped"].wait(10)
    wsgi.close()


def test_missing_a2wsgi_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "a2wsgi", None)
    with pytest.raises(ImportError, match=r'pip install "junco\[wsgi\]"'):
        to_wsgi(Junco())
