"""Attacks on ``python -m junco run`` over raw sockets: every client is bounded.

Each test starts the default server (uvicorn) on 127.0.0.1 serving :data:`app`
below, performs one attack, and checks the server refused or closed it. Waits
are generous upper bounds for a busy machine; no test asserts how long
anything took (the measured times are in docs/deployment.md).
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from junco import Junco, Request
from junco.sse import SSE, with_sse
from junco.websocket import WebSocket, with_websocket
from tests.e2e.test_runner_e2e import Served, junco_run

pytestmark = pytest.mark.e2e

TARGET = "tests.e2e.test_bounds_e2e:app"
BOUND = 30.0  # seconds: the most any close or answer may take here, on a busy machine

app = Junco(body_timeout=2)


@app.get("/")
async def index(request: Request) -> dict[str, int]:
    return {"pid": os.getpid()}


@app.post("/echo")
async def echo(request: Request) -> dict[str, int]:
    return {"length": len(request.body)}


@app.get("/events")
@with_sse(keepalive=None)
async def events(request: Request, sse: SSE) -> None:
    await sse.send("hello")
    await asyncio.Event().wait()  # forever, until the client leaves or the server stops


@app.route("/ws")
@with_websocket
async def ws_echo(request: Request, ws: WebSocket) -> None:
    await ws.send("hello")
    async for message in ws:
        await ws.send(message)


@contextmanager
def serving(tmp_path: Path, *args: str) -> Iterator[Served]:
    with junco_run(tmp_path, *args, target=TARGET) as served:
        yield served


def address(served: Served) -> tuple[str, int]:
    host, port = served.base.rsplit("//", 1)[1].split(":")
    return host, int(port)


def raw(served: Served) -> socket.socket:
    sock = socket.create_connection(address(served), timeout=BOUND)
    return sock


def answer_and_keep_open(sock: socket.socket) -> None:
    """One keep-alive request on ``sock``, its whole response read; the connection stays."""
    sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection; got {data[:200]!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        body += chunk


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (or BOUND passes: then fail)."""
    data = b""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        except TimeoutError:
            break
        if not chunk:
            return data
        data += chunk
    pytest.fail(f"the server kept the connection open past {BOUND} s; got {data[:200]!r}")


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    assert match is not None
    return int(match.group(1))


def get(served: Served, path: str = "/") -> bytes:
    with closing(raw(served)) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        return read_until_closed(sock)


def test_a_64_mib_header_line_is_refused_and_memory_stays_bounded(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        assert get(served).startswith(b"HTTP/1.1 200")
        before = rss_kib(served.process.pid)
        with closing(raw(served)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: ")
            line = b"a" * (1024 * 1024)
            try:
                for _ in range(64):
                    sock.sendall(line)
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused part-way: the point of the test
            answer = read_until_closed(sock)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:100]
        grown = rss_kib(served.process.pid) - before
        assert grown < 16 * 1024, f"the worker grew by {grown} KiB"  # unbounded: ~61 MiB
        assert get(served).startswith(b"HTTP/1.1 200")  # and it still serves


def test_a_dripped_head_is_closed_within_the_header_timeout(tmp_path: Path) -> None:
    with serving(tmp_path, "--header-timeout", "2") as served, closing(raw(served)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        sock.settimeout(1)
        deadline = time.monotonic() + BOUND
        answer = b""
        while time.monotonic() < deadline:
            try:
                sock.sendall(b"X")  # one byte of a header name, again and again
                chunk = sock.recv(1024)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            answer += chunk
            if not chunk or answer.endswith(b"Request Timeout"):
                break
        else:
            pytest.fail("a dripping client was never closed")
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer


def test_a_silent_connection_is_closed(tmp_path: Path) -> None:
    with serving(tmp_path, "--header-timeout", "2") as served, closing(raw(served)) as sock:
        assert read_until_closed(sock) == b""


def test_an_idle_keep_alive_connection_is_closed(tmp_path: Path) -> None:
    args = ("--keep-alive-timeout", "1", "--header-timeout", "60")
    with serving(tmp_path, *args) as served, closing(raw(served)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        answer = read_until_closed(sock)  # the response, then the close
        assert answer.startswith(b"HTTP/1.1 200"), answer


def test_a_trickled_body_gets_408_and_the_connection_closes(tmp_path: Path) -> None:
    with serving(tmp_path) as served, closing(raw(served)) as sock:
        head = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n"
        sock.sendall(head + b"x" * 10)  # then nothing: the app's body_timeout is 2 s
        answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b"connection: close" in answer.lower()
        # A body that arrives in time is served as usual.
        with closing(raw(served)) as ok:
            ok.sendall(head.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n") + b"y" * 100)
            assert b'{"length":100}' in read_until_closed(ok)


def test_connections_past_the_limit_get_503(tmp_path: Path) -> None:
    args = ("--max-connections", "4", "--header-timeout", "60", "--keep-alive-timeout", "60")
    with serving(tmp_path, *args) as served:
        idle: list[socket.socket] = []
        try:
            # Three connections, opened one at a time, each complete a request, so
            # the server has certainly accepted and counted them (uvicorn counts the
            # asking connection too: with 3 open it still answers). A fourth stays
            # silent; whether or not it is accepted yet, the fifth makes at least 4.
            for _ in range(3):
                idle.append(raw(served))
                answer_and_keep_open(idle[-1])
            idle.append(raw(served))
            with closing(raw(served)) as extra:
                extra.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                answer = read_until_closed(extra)
            assert answer.startswith(b"HTTP/1.1 503"), answer
        finally:
            for sock in idle:
                sock.close()

        def served_again() -> bool:
            return get(served).startswith(b"HTTP/1.1 200")

        deadline = time.monotonic() + BOUND
        while not served_again():
            assert time.monotonic() < deadline, "the server never recovered"
            time.sleep(0.2)


# -- stopping with streams open ------------------------------------------------------------


def open_sse(served: Served) -> tuple[socket.socket, bytes]:
    sock = raw(served)
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
    data = b""
    while b"data: hello" not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    return sock, data


@pytest.mark.parametrize(
    ("server", "sig"),
    [("uvicorn", signal.SIGINT), ("uvicorn", signal.SIGTERM), ("hypercorn", signal.SIGTERM)],
)
def test_stopping_ends_sse_and_websocket_clients_at_once(
    tmp_path: Path, server: str, sig: signal.Signals
) -> None:
    with serving(tmp_path, "--server", server) as served:
        sse, _ = open_sse(served)
        with closing(sse), ws_connect(served.base.replace("http", "ws", 1) + "/ws") as ws:
            assert ws.recv(timeout=BOUND) == "hello"
            started = time.monotonic()
            served.process.send_signal(sig)
            code = served.wait_exit()
            took = time.monotonic() - started
            print(f"{server} stopped with an SSE and a WebSocket client in {took:.2f} s")
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=BOUND)
            tail = read_until_closed(sse)
        output = served.output()
        assert code == 0, output
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1001
        assert b": server shutting down\n\n" in tail, tail
        assert tail.endswith(b"0\r\n\r\n"), tail  # the chunked body ended properly
        assert "Traceback" not in output, output
        assert "aclose()" not in output, output
        assert "graceful shutdown exceeded" not in output, output


# -- many long-lived streams ---------------------------------------------------------------

STREAMS = 2000


async def _open_stream(host: str, port: int, websocket: bool) -> asyncio.StreamWriter:
    reader, writer = await asyncio.open_connection(host, port)
    if websocket:
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        expect = b"HTTP/1.1 101"
    else:
        writer.write(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        expect = b"HTTP/1.1 200"
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(expect), head
    return writer


async def _plain_get(host: str, port: int) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        return await reader.read()
    finally:
        writer.close()


async def _many_streams(host: str, port: int) -> list[bytes]:
    writers: list[asyncio.StreamWriter] = []
    try:
        for start in range(0, STREAMS, 100):  # in batches: the listen backlog is finite
            batch = [_open_stream(host, port, i % 4 == 3) for i in range(start, start + 100)]
            writers += await asyncio.gather(*batch)
        return list(await asyncio.gather(*(_plain_get(host, port) for _ in range(20))))
    finally:
        for writer in writers:
            writer.close()


def _raise_file_limit(need: int) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"needs {need} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


@pytest.mark.parametrize("server", ["uvicorn", "granian"])
def test_2000_streams_and_ordinary_requests_are_served(tmp_path: Path, server: str) -> None:
    _raise_file_limit(STREAMS + 512)
    with serving(tmp_path, "--server", server, "--header-timeout", "60") as served:
        host, port = address(served)

        async def bounded() -> list[bytes]:
            return await asyncio.wait_for(_many_streams(host, port), 120)

        answers = asyncio.run(bounded())
        assert all(a.startswith(b"HTTP/1.1 200") for a in answers), answers[:2]
