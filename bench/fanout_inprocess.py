#!/usr/bin/env python
"""Realtime fan-out in-process: each framework's own CPU per delivered event.

The apps of ``bench/fanout_apps/`` are driven through their ASGI callables with a
``send`` that only counts, so the server's framing and the socket writes (the bulk of
``bench/fanout.py``'s numbers, and the same for every framework) are left out: what is
left is the framework's path from publish to ``send``. ``bare`` is the least a plain ASGI
callable can do (a deque and one future per waiting client), the floor.

    python bench/fanout_inprocess.py                    # 2000 clients, 50 messages, SSE and WS
    python bench/fanout_inprocess.py --clients 5000 --kinds ws --rounds 5
    python bench/fanout_inprocess.py --objects --kinds ws   # GC-tracked objects per connection
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

APPS = {
    "junco": "fanout_apps.junco_fanout",
    "starlette": "fanout_apps.starlette_fanout",
    "bare": "fanout_apps.bare_fanout",
}


def scope(kind: str) -> dict[str, Any]:
    common = {
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "server": ("bench", 80),
        "client": ("127.0.0.1", 1),
        "asgi": {"version": "3.0"},
    }
    if kind == "ws":
        return {**common, "type": "websocket", "path": "/ws", "raw_path": b"/ws",
                "scheme": "ws", "subprotocols": []}  # fmt: skip
    headers = [(b"host", b"bench"), (b"accept", b"text/event-stream")]
    return {**common, "type": "http", "http_version": "1.1", "method": "GET", "path": "/sse",
            "raw_path": b"/sse", "scheme": "http", "headers": headers}  # fmt: skip


async def publish(app: Any, message: str) -> None:
    body = message.encode()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        pass

    headers = [(b"host", b"bench"), (b"content-type", b"text/plain"),
               (b"content-length", str(len(body)).encode())]  # fmt: skip
    await app({**scope("sse"), "method": "POST", "path": "/publish", "raw_path": b"/publish",
               "headers": headers}, receive, send)  # fmt: skip


def tracked() -> int:
    gc.collect()
    return len(gc.get_objects())


async def measure(
    name: str, kind: str, clients: int, messages: int, objects: bool = False
) -> float:
    """CPU µs per delivered event; with ``objects``, GC-tracked objects per connection."""
    module = importlib.import_module(APPS[name])
    app = module.app
    delivered = 0
    target = clients  # everyone got "subscribed" first
    reached = asyncio.Event()
    stop = asyncio.Event()
    data_type = "websocket.send" if kind == "ws" else "http.response.body"

    async def client() -> None:
        first = True

        async def receive() -> dict[str, Any]:
            nonlocal first
            if first:
                first = False
                return {"type": "websocket.connect" if kind == "ws" else "http.request"}
            await stop.wait()
            return {"type": "websocket.disconnect" if kind == "ws" else "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal delivered
            if message["type"] == data_type:
                delivered += 1
                if delivered >= target:
                    reached.set()

        await app(scope(kind), receive, send)

    broadcast = getattr(module, "broadcast", None)
    if broadcast is not None:
        await broadcast.connect()
    before = tracked() if objects else 0
    tasks = [asyncio.ensure_future(client()) for _ in range(clients)]
    await reached.wait()
    await asyncio.sleep(0.1)
    per_connection = (tracked() - before) / clients if objects else 0.0
    cpu = time.process_time()
    for _ in range(messages):
        target += clients
        reached.clear()
        await publish(app, repr(time.time()))
        await reached.wait()
    cpu = time.process_time() - cpu
    if objects:
        cpu = per_connection * clients * messages / 1e6  # reported instead of the CPU
    stop.set()  # the client leaves; apps that never listen for that are cancelled
    await asyncio.sleep(0.1)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if broadcast is not None:
        await broadcast.disconnect()
    return cpu / (clients * messages) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians")
    parser.add_argument("--kinds", default="sse,ws")
    parser.add_argument("--frameworks", default="junco,starlette,bare")
    parser.add_argument(
        "--objects",
        action="store_true",
        help="report GC-tracked objects per connection (the harness's own included)",
    )
    args = parser.parse_args()
    import uvloop

    names = args.frameworks.split(",")
    unit = "objects/connection" if args.objects else "µs/event"
    print("| kind | " + " | ".join(f"{n} {unit}" for n in names) + " |")
    print("|---|" + "---:|" * len(names))
    for kind in args.kinds.split(","):
        runs: dict[str, list[float]] = {n: [] for n in names}
        for _ in range(args.rounds):
            for n in names:
                coro = measure(n, kind, args.clients, args.messages, args.objects)
                runs[n].append(uvloop.run(coro))
        med = {n: statistics.median(v) for n, v in runs.items()}
        cells = [f"{med[n]:.2f}" + (f" ({med[n] / med['starlette']:.2f}x)"
                 if "starlette" in med else "") for n in names]  # fmt: skip
        print(f"| {kind} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
