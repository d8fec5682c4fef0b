#!/usr/bin/env python
"""Realtime fan-out: CPU per delivered event, memory per connection, delivery latency.

One uvicorn worker per framework (``bench/fanout_apps/``) holds N SSE (or WebSocket)
clients, all opened by this one client process over 127.0.0.1. We then publish M
messages, one at a time, each carrying its publish time, and wait until every client
has every message. Reported per framework:

- server CPU per delivered event (user + system time of the server process over the
  publishing phase, divided by N x M),
- server RSS per connection (RSS with N clients minus RSS before, divided by N),
- median and p99 delivery latency (receive time minus publish time),
- idle CPU: server CPU over a few quiet seconds with N clients connected.

    python bench/fanout.py                      # 5000 SSE clients, 20 messages, all three apps
    python bench/fanout.py --kind ws            # WebSockets: junco and Starlette
    python bench/fanout.py --clients 1000 --frameworks junco,starlette

Each client starts reading as soon as it is connected (WebSocket clients answer the
server's pings, as browsers do), so a slow set-up does not time connections out.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"
APPS = {
    "junco": "fanout_apps.junco_fanout:app",
    "starlette": "fanout_apps.starlette_fanout:app",
    "sse-starlette": "fanout_apps.sse_starlette_fanout:app",
    "bare": "fanout_apps.bare_fanout:app",
}
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Client:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    latencies: list[float] = field(default_factory=list)
    received: int = 0
    task: asyncio.Future[None] | None = None


async def open_sse(port: int) -> Client:
    reader, writer = await asyncio.open_connection(HOST, port)
    request = f"GET /sse HTTP/1.1\r\nHost: {HOST}:{port}\r\nAccept: text/event-stream\r\n\r\n"
    writer.write(request.encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head[:200])
    # the first chunk carries ": subscribed": the subscription is live
    await reader.readuntil(b"subscribed")
    return Client(reader, writer)


async def open_ws(port: int) -> Client:
    reader, writer = await asyncio.open_connection(HOST, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head[:200])
    await reader.readuntil(b"subscribed")
    return Client(reader, writer)


async def read_sse(client: Client, expected: int) -> None:
    while client.received < expected:
        line = await client.reader.readline()
        if not line:
            return
        # chunked framing: the data line is found by its prefix
        if line.startswith(b"data: "):
            sent = float(line[6:].strip())
            client.latencies.append(time.time() - sent)
            client.received += 1


async def read_ws(client: Client, expected: int) -> None:
    while client.received < expected:
        header = await client.reader.readexactly(2)
        length = header[1] & 0x7F
        if length == 126:
            length = int.from_bytes(await client.reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await client.reader.readexactly(8), "big")
        payload = await client.reader.readexactly(length)
        opcode = header[0] & 0x0F
        if opcode == 1:
            sent = float(payload)
            client.latencies.append(time.time() - sent)
            client.received += 1
        elif opcode == 9:  # ping: answer with a (masked, as from a client) pong
            mask = os.urandom(4)
            masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            client.writer.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)
        elif opcode == 8:
            return


async def publish(port: int, body: str) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    data = body.encode()
    writer.write(
        f"POST /publish HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Length: {len(data)}\r\n"
        f"Content-Type: text/plain\r\nConnection: close\r\n\r\n".encode()
        + data
    )
    await writer.drain()
    await reader.read()
    writer.close()


async def measure(name: str, args: argparse.Namespace) -> dict[str, float]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(BENCH), *sys.path]))
    server = subprocess.Popen(  # noqa: ASYNC220 (started once, before measuring)
        [
            sys.executable,
            "-m",
            "uvicorn",
            APPS[name],
            "--host",
            HOST,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--backlog",
            "8192",
            "--limit-max-requests",
            "1000000",
        ],
        cwd=BENCH,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection((HOST, port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"{name} did not start") from None
                await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        rss_before = rss_kib(server.pid)
        opener = open_sse if args.kind == "sse" else open_ws
        reader = read_sse if args.kind == "sse" else read_ws
        clients: list[Client] = []
        for start in range(0, args.clients, 250):
            batch = min(250, args.clients - start)
            opened = await asyncio.gather(*(opener(port) for _ in range(batch)))
            for c in opened:
                c.task = asyncio.ensure_future(reader(c, args.messages))
            clients += opened
        await asyncio.sleep(1)
        rss_after = rss_kib(server.pid)
        idle_start = cpu_seconds(server.pid)
        await asyncio.sleep(args.idle)
        idle_cpu = cpu_seconds(server.pid) - idle_start
        readers = [c.task for c in clients if c.task is not None]
        cpu_start = cpu_seconds(server.pid)
        for _ in range(args.messages):
            await publish(port, repr(time.time()))
            await asyncio.sleep(args.gap)
        await asyncio.wait_for(asyncio.gather(*readers), 300)
        cpu = cpu_seconds(server.pid) - cpu_start
        delivered = sum(c.received for c in clients)
        latencies = sorted(x for c in clients for x in c.latencies)
        for c in clients:
            c.writer.close()
        return {
            "delivered": delivered,
            "cpu_us_per_event": cpu / delivered * 1e6,
            "rss_kib_per_conn": (rss_after - rss_before) / args.clients,
            "idle_cpu_s": idle_cpu,
            "latency_p50_ms": statistics.median(latencies) * 1e3,
            "latency_p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3,
        }
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(10)
        if server.poll() is None:
            server.kill()


async def main_async(args: argparse.Namespace) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.clients * 2 + 100)), hard))
    results = {name: await measure(name, args) for name in args.frameworks}
    print(json.dumps(results, indent=2))
    base = results.get("starlette")
    print(f"\n{args.clients} {args.kind} clients, {args.messages} messages, one uvicorn worker\n")
    print("| framework | CPU µs / event | RSS KiB / conn | idle CPU s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        ratio = f" ({r['cpu_us_per_event'] / base['cpu_us_per_event']:.2f}x)" if base else ""
        print(
            f"| {name} | {r['cpu_us_per_event']:.1f}{ratio} | {r['rss_kib_per_conn']:.1f} "
            f"| {r['idle_cpu_s']:.2f} | {r['latency_p50_ms']:.1f} | {r['latency_p99_ms']:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--kind", choices=["sse", "ws"], default="sse")
    parser.add_argument("--frameworks", help="default: junco,starlette,sse-starlette for SSE")
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between messages")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle CPU measure")
    args = parser.parse_args()
    default = "junco,starlette,sse-starlette" if args.kind == "sse" else "junco,starlette"
    args.frameworks = (args.frameworks or default).split(",")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
