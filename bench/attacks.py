#!/usr/bin/env python
"""Slow and huge clients against ``junco run`` on each server: the security half of the matrix.

Each server serves :data:`app` below through ``junco.server.run`` (what ``junco run``
does, with its default bounds unless flags say otherwise) on 127.0.0.1, and gets the
same raw-socket attacks. The table says what the client saw and after how long.

    python bench/attacks.py                  # uvicorn, uvicorn-h11, granian, hypercorn
    python bench/attacks.py --servers granian
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from junco import Junco, Request
from junco.sse import SSE, with_sse
from junco.websocket import WebSocket, with_websocket

HOST = "127.0.0.1"
BENCH = Path(__file__).resolve().parent
GIVE_UP = 45.0  # seconds: "still open" past this
LIMIT = 64  # --max-connections for the flood attack

app = Junco(body_timeout=5)


@app.get("/")
async def index(request: Request) -> str:
    return "ok"


@app.post("/echo")
async def echo(request: Request) -> str:
    return str(len(request.body))


@app.get("/events")
@with_sse(keepalive=None)
async def events(request: Request, sse: SSE) -> None:
    await sse.send("hello")
    await asyncio.Event().wait()


@app.route("/ws")
@with_websocket
async def ws(request: Request, ws: WebSocket) -> None:
    await ws.send("hello")
    async for message in ws:
        await ws.send(message)


SERVERS: dict[str, dict[str, object]] = {
    "uvicorn": {"http": "httptools"},
    "uvicorn-h11": {"http": "h11"},
    "granian": {"server": "granian"},
    "hypercorn": {"server": "hypercorn"},
}


class Served:
    def __init__(self, name: str, **bounds: object) -> None:
        with socket.socket() as s:
            s.bind((HOST, 0))
            self.port = int(s.getsockname()[1])
        options = SERVERS[name] | bounds
        code = (
            f"import sys; sys.path.insert(0, {str(BENCH)!r}); from junco.server import run; "
            f"run('attacks:app', port={self.port}, **{options!r})"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.output = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"{name} did not start: {self.output[-500:]!r}") from None
                time.sleep(0.1)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output += line

    def connect(self) -> socket.socket:
        return socket.create_connection((HOST, self.port), timeout=GIVE_UP)

    def rss_kib(self) -> int:
        """Resident memory of the server and its worker processes."""
        total, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except FileNotFoundError:
                continue
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
        self.proc.wait(10)


def until_closed(
    sock: socket.socket, started: float, tick: Callable[[], None] | None = None
) -> str:
    """What the server answered (status line or 'closed') and when, or 'open'."""
    data = b""
    sock.settimeout(1 if tick else GIVE_UP)
    while time.monotonic() - started < GIVE_UP:
        try:
            if tick:
                tick()
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    else:
        return f"still open after {GIVE_UP:.0f} s"
    took = time.monotonic() - started
    status = data.split(b"\r\n", 1)[0].decode(errors="replace")
    return f"{status + ', then ' if data else ''}closed after {took:.1f} s"


def huge_head(served: Served) -> str:
    before = served.rss_kib()
    sock = served.connect()
    started = time.monotonic()
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: ")
        for _ in range(64):
            sock.sendall(b"a" * (1 << 20))
    except OSError:
        pass
    result = until_closed(sock, started)
    grown = (served.rss_kib() - before) / 1024
    sock.close()
    return f"{result}; RSS +{grown:.0f} MiB"


def dripped_head(served: Served) -> str:
    sock = served.connect()
    sock.sendall(b"GET / HTTP/1.1\r\n")
    started = time.monotonic()
    last = [started]

    def drip() -> None:
        if time.monotonic() - last[0] >= 2:
            last[0] = time.monotonic()
            sock.sendall(b"X")

    with sock:
        return until_closed(sock, started, drip)


def silent(served: Served) -> str:
    with served.connect() as sock:
        return until_closed(sock, time.monotonic())


def idle_keep_alive(served: Served) -> str:
    with served.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        started = time.monotonic()
        return until_closed(sock, started)


def trickled_body(served: Served) -> str:
    with served.connect() as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        return until_closed(sock, time.monotonic())


def flood(served: Served) -> str:
    """``LIMIT`` idle connections, then one more request (server run with that limit)."""
    idle = [served.connect() for _ in range(LIMIT)]
    try:
        with served.connect() as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            sock.settimeout(5)
            try:
                data = sock.recv(1024)
            except TimeoutError:
                return "no answer within 5 s (waits)"
            return data.split(b"\r\n", 1)[0].decode() or "closed"
    finally:
        for s in idle:
            s.close()


def stop_with_streams(served: Served) -> str:
    sse = served.connect()
    sse.sendall(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
    seen = b""
    while b"hello" not in seen:
        seen += sse.recv(4096)
    wsock = served.connect()
    key = base64.b64encode(os.urandom(16))
    wsock.sendall(
        b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    head = b""
    while b"hello" not in head:
        head += wsock.recv(4096)
    started = time.monotonic()
    served.proc.send_signal(2)
    try:
        served.proc.wait(GIVE_UP)
        took = f"exited after {time.monotonic() - started:.1f} s"
    except subprocess.TimeoutExpired:
        took = f"still running after {GIVE_UP:.0f} s"
    tail = b""
    wsock.settimeout(2)
    try:
        while chunk := wsock.recv(4096):
            tail += chunk
    except OSError:
        pass
    code = int.from_bytes(tail[2:4]) if tail[:1] == b"\x88" else None
    sse.settimeout(2)
    rest = b""
    try:
        while chunk := sse.recv(4096):
            rest += chunk
    except OSError:
        pass
    comment = b": server shutting down" in rest
    trace = b"Traceback" in served.output
    return (
        f"{took}; SSE final comment: {'yes' if comment else 'no'}; "
        f"WebSocket close code: {code}; traceback: {'yes' if trace else 'no'}"
    )


ATTACKS = {
    "64 MiB header line": huge_head,
    "head dripped, 1 byte / 2 s": dripped_head,
    "silent connection": silent,
    "idle keep-alive": idle_keep_alive,
    "body: 10 of 100 bytes, then nothing": trickled_body,
}


def attack(name: str) -> dict[str, str]:
    results: dict[str, str] = {}
    served = Served(name)
    try:
        results["64 MiB header line"] = huge_head(served)
        timed = [k for k in ATTACKS if k != "64 MiB header line"]
        with ThreadPoolExecutor(len(timed)) as pool:  # slow attacks at the same time
            futures = {k: pool.submit(ATTACKS[k], served) for k in timed}
            results |= {k: f.result() for k, f in futures.items()}
    finally:
        served.stop()
    flooded = Served(name, max_connections=LIMIT, header_timeout=60)
    try:
        results[f"{LIMIT + 1}th connection, --max-connections {LIMIT}"] = flood(flooded)
    finally:
        flooded.stop()
    stopped = Served(name)
    try:
        results["SIGINT with an SSE and a WebSocket client"] = stop_with_streams(stopped)
    finally:
        stopped.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default=",".join(SERVERS), help=",".join(SERVERS))
    args = parser.parse_args()
    names = args.servers.split(",")
    table = {name: attack(name) for name in names}
    rows = list(next(iter(table.values())))
    print("| attack | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for row in rows:
        print(f"| {row} | " + " | ".join(table[n][row] for n in names) + " |")


if __name__ == "__main__":
    main()
