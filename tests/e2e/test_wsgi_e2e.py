"""A junco app behind real WSGI servers: wsgiref (threads) and gunicorn (sync workers)."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from junco import Request
from junco.wsgi import WSGIApp, to_wsgi
from tests.redis_server import free_port
from tests.servers import serve_wsgi
from tests.test_wsgi import make_app

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def wsgiref_url() -> Iterator[str]:
    """The test app on wsgiref's server, one thread per request."""
    events: list[str] = []
    app = make_app(events)
    wsgi = to_wsgi(app)
    try:
        with serve_wsgi(wsgi) as url:
            yield url
    finally:
        wsgi.close()
    # Startup runs before the first request that reaches the app, shutdown on close().
    assert events in ([], ["startup", "shutdown"])


def test_wsgiref_routes_json_bodies_errors(wsgiref_url: str) -> None:
    with httpx.Client(base_url=wsgiref_url, timeout=10) as client:
        r = client.get("/", params={"q": "é"})
        assert r.status_code == 200
        assert r.json() == {"hello": "wsgi", "db": "connected", "q": "é"}
        big = os.urandom(2 * 1024 * 1024)  # over max_body_length: read as a stream
        assert client.post("/echo", content=big).content == big
        assert client.post("/form", data={"name": "Ada"}).json() == {"name": "Ada"}
        r = client.put("/")
        assert r.status_code == 405
        assert r.headers["allow"] == "GET, HEAD, OPTIONS"
        assert client.get("/nope").status_code == 404
        r = client.get("/fail")
        assert r.status_code == 500
        assert "secret" not in r.text
        r = client.post("/echo", content=b"x" * (4 * 1024 * 1024 + 1))
        assert r.status_code == 413


def test_wsgiref_streams(wsgiref_url: str) -> None:
    with (
        httpx.Client(base_url=wsgiref_url, timeout=10) as client,
        client.stream("GET", "/stream", params={"n": "50"}) as r,
    ):
        lines = [line for line in r.iter_lines() if line]
    assert lines == [f"chunk {i}" for i in range(50)]


def test_wsgiref_delivers_each_chunk_as_it_is_produced() -> None:
    app = make_app()
    wsgi = to_wsgi(app)
    try:
        with (
            serve_wsgi(wsgi) as base,
            httpx.Client(timeout=20) as client,
            client.stream("GET", base + "/gate") as r,
        ):
            lines = r.iter_lines()
            assert next(lines) == "first"
            app.state["gate"].set()
            assert [line for line in lines if line] == ["second"]
    finally:
        wsgi.close()


def raw_request(url: str, data: bytes) -> bytes:
    """Send bytes no well-behaved client would; return the status line."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        reply = b""
        while b"\r\n" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply.split(b"\r\n", 1)[0]


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"GET /%FF%FE HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /?q=\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n",
    ],
)
def test_wsgiref_hostile_requests_get_a_4xx(wsgiref_url: str, request_bytes: bytes) -> None:
    status = raw_request(wsgiref_url, request_bytes)
    assert status.split()[1][:1] == b"4", status


# -- gunicorn ------------------------------------------------------------------------------


def gunicorn_app() -> WSGIApp:
    """The factory gunicorn loads (``tests.e2e.test_wsgi_e2e:gunicorn_app()``)."""
    app = make_app()
    marker = os.environ.get("JUNCO_TEST_SHUTDOWN_FILE")

    @app.on_shutdown
    def mark() -> None:
        if marker:
            Path(marker).write_text("shut down")

    @app.get("/pid")
    async def pid(request: Request) -> str:
        return str(os.getpid())

    return to_wsgi(app)


@pytest.fixture
def gunicorn_url(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    if importlib.util.find_spec("gunicorn") is None:
        pytest.fail("gunicorn is not installed (it is in the dev extra)")
    port = free_port()
    marker = tmp_path / "shutdown"
    env = dict(os.environ, JUNCO_TEST_SHUTDOWN_FILE=str(marker), PYTHONPATH=str(ROOT))
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--worker-class",
                "sync",
                "--preload",  # the app is loaded before the fork: the loop must start after it
                "--graceful-timeout",
                "5",
                "--log-level",
                "warning",
                "tests.e2e.test_wsgi_e2e:gunicorn_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "/", timeout=1)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                pytest.fail(f"gunicorn did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
    try:
        yield url, marker, process
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_gunicorn_sync_workers(gunicorn_url: tuple[str, Path, subprocess.Popen[bytes]]) -> None:
    url = gunicorn_url[0]
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.get("/").json() == {"hello": "wsgi", "db": "connected", "q": None}
        body = os.urandom(300_000)
        assert client.post("/echo", content=body).content == body

        def chunks() -> Iterator[bytes]:
            yield b"chunked "
            yield b"upload"

        # No Content-Length: gunicorn delimits the chunked body, junco reads it.
        assert client.post("/echo", content=chunks()).content == b"chunked upload"
        r = client.get("/stream", params={"n": "20"})
        assert r.text == "".join(f"chunk {i}\n" for i in range(20))
        assert client.get("/fail").status_code == 500
        assert client.delete("/").headers["allow"] == "GET, HEAD, OPTIONS"
        pids = {client.get("/pid").text for _ in range(20)}
        assert pids  # every worker that answered had a working loop after the fork


def test_gunicorn_runs_shutdown_handlers_when_workers_exit(
    gunicorn_url: tuple[str, Path, subprocess.Popen[bytes]],
) -> None:
    url, marker, process = gunicorn_url
    assert httpx.get(url + "/", timeout=10).status_code == 200
    assert not marker.exists()
    process.terminate()  # workers exit gracefully and run their atexit hooks
    process.wait(15)
    assert marker.read_text() == "shut down"
