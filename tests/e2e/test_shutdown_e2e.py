"""Microdot's ``/shutdown`` route on a real ``junco run`` process, with and without TLS.

A client that keeps its connection alive (httpx's pool, a browser) never reads
an idle connection, so it never answers the server's TLS ``close_notify``.
These tests check that the server then still stops as soon as the response to
``/shutdown`` is delivered, instead of waiting out its graceful timeout for
those connections, and that a request in flight still gets its whole response.

Nothing here asserts a duration: the proof that no connection held the stop is
that uvicorn never had to give up waiting ("graceful shutdown exceeded" is what
it logs when it does). The measured times are printed (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import pytest

from junco import Junco, Request, _draining
from junco.sse import SSE, with_sse
from junco.websocket import WebSocket, with_websocket
from tests.e2e.test_bounds_e2e import read_until_closed
from tests.e2e.test_runner_e2e import MARK_ENV, WAIT, Served, _first_answer, junco_run
from tests.servers import free_port
from tests.test_server import make_cert

pytestmark = pytest.mark.e2e

TARGET = "tests.e2e.test_shutdown_e2e:app"
GAVE_UP = "graceful shutdown exceeded"  # uvicorn's log line when a connection held the stop
BIG = bytes(range(256)) * 4096  # 1 MiB: many TLS records, more than one socket buffer

app = Junco()
_waiting = [0]


@app.get("/")
async def index(request: Request) -> str:
    return "hi"


@app.get("/shutdown")
def shutdown(request: Request) -> str:
    # Microdot's example route, ported by changing imports only.
    request.app.shutdown()
    return "The server is shutting down..."


@app.get("/slow")
async def slow(request: Request) -> bytes:
    """Answers only once the server is stopping: a request in flight at shutdown."""
    _waiting[0] += 1
    stop = asyncio.Event()
    with _draining.on_stop(stop.set):  # called once every connection was told to stop
        await asyncio.wait_for(stop.wait(), WAIT)
    return BIG


@app.get("/waiting")
async def waiting(request: Request) -> dict[str, int]:
    return {"waiting": _waiting[0]}


@app.get("/events")
@with_sse(keepalive=None)
async def events(request: Request, sse: SSE) -> None:
    await sse.send("hello")
    await asyncio.Event().wait()  # until the client leaves or the server stops


@app.route("/ws")
@with_websocket
async def ws_hello(request: Request, ws: WebSocket) -> None:
    await ws.send("hello")
    await asyncio.Event().wait()  # until the client leaves or the server stops


@app.on_shutdown
def leave_mark() -> None:
    mark = os.environ.get(MARK_ENV)  # set for `junco run` processes only
    if mark:
        with open(mark, "a") as f:
            f.write(f"{os.getpid()}\n")


@contextmanager
def serving(tmp_path: Path, tls: bool) -> Iterator[tuple[Served, ssl.SSLContext | None]]:
    """The app under ``junco run`` (with a self-signed certificate if ``tls``)."""
    if not tls:
        with junco_run(tmp_path, target=TARGET) as served:
            yield served, None
        return
    cert, key = make_cert(tmp_path)
    context = ssl.create_default_context(cafile=str(cert))
    with junco_run(tmp_path, "--certfile", str(cert), "--keyfile", str(key), target=TARGET) as s:
        yield s, context


def connect(served: Served, context: ssl.SSLContext | None) -> socket.socket:
    host, port = served.base.rsplit("//", 1)[1].split(":")
    sock = socket.create_connection((host, int(port)), timeout=WAIT)
    return context.wrap_socket(sock, server_hostname=host) if context else sock


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One response with a Content-Length, read from a connection that stays open."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, body
        body += chunk
    return head, body


def stopped(served: Served, started: float, what: str) -> str:
    """Wait for the process to exit 0 after the graceful path; its log."""
    code = served.wait_exit()
    print(f"{what}: exited {time.monotonic() - started:.2f} s after the /shutdown response")
    output = served.output()
    assert code == 0, output
    assert served.stopped_pids() == [served.process.pid], output  # shutdown handlers ran
    assert "Traceback" not in output, output
    return output


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
def test_shutdown_answers_and_closes_idle_keep_alive_connections(tmp_path: Path, tls: bool) -> None:
    with serving(tmp_path, tls) as (served, context), closing(connect(served, context)) as idle:
        idle.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_response(idle)[1] == b"hi"  # now idle, kept alive, never closed by us
        with httpx.Client(verify=context or True, timeout=WAIT) as client:
            assert client.get(served.base + "/").text == "hi"
            # The same pooled connection carries /shutdown and then sits idle.
            r = client.get(served.base + "/shutdown")
            started = time.monotonic()
            assert (r.status_code, r.text) == (200, "The server is shutting down...")
            # The server, not the client, ends the idle connection.
            assert read_until_closed(idle) == b""
            output = stopped(served, started, "tls" if tls else "plain")
    assert GAVE_UP not in output, output


UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
GOING_AWAY = b"\x88\x16\x03\xe9server shutting down"  # close frame: 1001 and junco's reason


def open_stream(served: Served, context: ssl.SSLContext | None, request: bytes) -> socket.socket:
    """A connection that has sent ``request`` and received the stream's first message."""
    sock = connect(served, context)
    sock.sendall(request)
    data = b""
    while b"hello" not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    return sock


def test_in_flight_work_finishes_and_streams_end_at_shutdown_over_tls(tmp_path: Path) -> None:
    with serving(tmp_path, tls=True) as (served, context):
        answers: list[tuple[bytes, bytes]] = []

        def in_flight() -> None:
            with closing(connect(served, context)) as sock:
                sock.sendall(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                answers.append(read_response(sock))

        worker = threading.Thread(target=in_flight)
        worker.start()
        events = b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        # Neither stream client reads again until the server has exited.
        with (
            closing(open_stream(served, context, events)) as sse,
            closing(open_stream(served, context, UPGRADE)) as ws,
            httpx.Client(verify=context or True, timeout=WAIT) as client,
        ):
            deadline = time.monotonic() + WAIT
            while client.get(served.base + "/waiting").json()["waiting"] < 1:
                assert time.monotonic() < deadline, "the /slow request never arrived"
                time.sleep(0.05)
            r = client.get(served.base + "/shutdown")
            started = time.monotonic()
            assert r.status_code == 200
            worker.join(WAIT)
            output = stopped(served, started, "tls, a request in flight, SSE and WebSocket")
            sse_tail, ws_tail = read_until_closed(sse), read_until_closed(ws)
    assert not worker.is_alive()
    head, body = answers[0]
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"connection: close" in head.lower(), head  # it was in flight when the stop began
    assert body == BIG
    assert sse_tail.endswith(b"0\r\n\r\n"), sse_tail  # the SSE body ended properly
    assert ws_tail.endswith(GOING_AWAY), ws_tail
    assert GAVE_UP not in output, output


class Records(logging.Handler):
    """Keeps the messages logged to one logger, whatever the process's logging setup."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def recording(name: str) -> Iterator[Records]:
    logger = logging.getLogger(name)
    records, level = Records(), logger.level
    logger.addHandler(records)
    try:
        yield records
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)


def test_start_server_over_tls_on_asyncio_stops_without_waiting_for_a_keep_alive_client(
    tmp_path: Path,
) -> None:
    # In-process, so the event loop (and its TLS layer) is asyncio's, not uvloop's.
    cert, key = make_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def main() -> str:
        port = free_port()
        base = f"https://127.0.0.1:{port}"
        serving = app.start_server(port=port, ssl=context, log_config=None, log_level="info")
        task = asyncio.create_task(serving)
        verify = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(verify=verify, timeout=WAIT) as client:
            assert (await _first_answer(client, base + "/", task)).text == "hi"
            r = await client.get(base + "/shutdown")  # on the same, pooled connection
            started = time.monotonic()
            await asyncio.wait_for(task, WAIT)
            print(f"asyncio: stopped {time.monotonic() - started:.2f} s after the response")
        return r.text

    with recording("uvicorn.error") as log:
        assert asyncio.run(main()) == "The server is shutting down..."
    assert "Shutting down" in log.messages  # the log is seen, so the next line can fail
    assert not [m for m in log.messages if GAVE_UP in m], log.messages
