"""``python -m junco run`` serves a burst of connections that queued while it could not accept.

The server process is stopped (SIGSTOP) while 64 clients connect and send a
request, so all 64 sit in the kernel's accept queue when it resumes: junco's
loop (:mod:`junco.server.accept`) takes them in one batch and every one is answered.
The iteration count itself is tested in-process (tests/test_accept.py).
"""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from tests.e2e.test_bounds_e2e import BOUND, TARGET, address
from tests.e2e.test_runner_e2e import junco_run

pytestmark = pytest.mark.e2e

BURST = 64
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_burst_queued_while_the_server_was_stopped_is_answered(tmp_path: Path) -> None:
    with junco_run(tmp_path, target=TARGET) as served:
        clients: list[socket.socket] = []
        served.process.send_signal(signal.SIGSTOP)
        try:
            for _ in range(BURST):
                client = socket.create_connection(address(served), timeout=BOUND)
                client.sendall(REQUEST)
                clients.append(client)
        finally:
            served.process.send_signal(signal.SIGCONT)
        try:
            answers = [read_all(client) for client in clients]
        finally:
            for client in clients:
                client.close()
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [b"HTTP/1.1 200 OK"] * BURST
