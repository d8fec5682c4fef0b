"""The canonical-path attacks against real servers (uvicorn, granian, hypercorn), over raw sockets.

Clients such as httpx and browsers resolve ``..`` before sending (browsers
keep ``..%2f`` as is); a raw socket sends exactly what an attacker would.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.paths_app import attacked_app
from tests.e2e.test_files_e2e import raw_request
from tests.servers import free_port, serve

pytestmark = pytest.mark.e2e
CROSS_SITE_FORM = (
    b"Origin: https://evil.example\r\nSec-Fetch-Site: cross-site\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 8\r\n"
)


WAIT = 60.0  # seconds; generous: two cores, other jobs running beside the tests
ROOT = Path(__file__).resolve().parents[2]
SERVER_COMMANDS = {
    "granian": ["granian", "--interface", "asgi", "--host", "127.0.0.1", "--port"],
    "hypercorn": ["hypercorn", "--bind"],
}


@contextmanager
def server_process(kind: str) -> Iterator[str]:
    """``tests.e2e.paths_app:app`` under granian or hypercorn in its own process."""
    port = free_port()
    command = [sys.executable, "-m", *SERVER_COMMANDS[kind]]
    command.append(str(port) if kind == "granian" else f"127.0.0.1:{port}")
    command.append("tests.e2e.paths_app:app")
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{kind} did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(WAIT)


@pytest.fixture(params=["uvicorn-httptools", "uvicorn-h11", "granian", "hypercorn"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[str] | None]]:
    """A base URL, and what ran (only visible for the in-thread uvicorn servers)."""
    kind = str(request.param)
    if kind.startswith("uvicorn-"):
        app, ran = attacked_app()
        with serve(app, http=kind.removeprefix("uvicorn-")) as base:
            yield base, ran
    else:
        with server_process(kind) as base:
            yield base, None


def post_form(base: str, target: bytes) -> tuple[int, bytes, bytes]:
    return raw_request(base, b"POST " + target + b" HTTP/1.1", CROSS_SITE_FORM, b"amount=1")


@pytest.mark.parametrize(
    "target",
    [
        b"/admin/..%2fwebhooks",
        b"/admin/..%2Fwebhooks/x",
        b"/admin/%2e%2e%2fwebhooks",
        b"/admin//..//../webhooks/x",
        b"/admin/../webhooks/x",
        b"//webhooks/x",
    ],
)
def test_csrf_exemption_cannot_be_borrowed(
    server: tuple[str, list[str] | None], target: bytes
) -> None:
    base, ran = server
    status, head, body = post_form(base, target)
    assert status == 400, (status, head, body)
    assert b"admin" not in body
    assert ran in ([], None)


def test_the_exemption_and_the_protection_still_work(server: tuple[str, list[str] | None]) -> None:
    base, ran = server
    assert post_form(base, b"/webhooks/x")[0] == 200
    assert post_form(base, b"/admin/x")[0] == 403
    assert ran in (["webhook x"], None)


def test_rate_limit_rule_cannot_be_skipped(server: tuple[str, list[str] | None]) -> None:
    base, ran = server
    for target in (b"/files/%2e%2e", b"/files/%2E%2E", b"/files/.%2e", b"/files/..", b"//x"):
        status, head, _ = raw_request(base, b"GET " + target + b" HTTP/1.1")
        assert status == 400, (target, head)
    assert ran in ([], None)
    statuses = [raw_request(base, b"GET /files/a HTTP/1.1")[0] for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert ran in (["files a", "files a"], None)


def test_percent_escapes_in_the_query_are_not_mistaken_for_the_path(
    server: tuple[str, list[str] | None],
) -> None:
    # hypercorn's raw_path carries the query string too: only the path part counts.
    base, _ = server
    status, _, body = raw_request(base, b"GET /x?next=%2Fhome%2f..%5c HTTP/1.1")
    assert (status, body) == (200, b"x")
    assert raw_request(base, b"GET /x%2Fy?next=ok HTTP/1.1")[0] == 400
