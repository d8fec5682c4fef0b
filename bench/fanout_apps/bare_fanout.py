"""A bare ASGI callable: the least Python per delivered event (a deque and one future per
waiting client, then the server's ``send``), so the floor under every framework."""

import asyncio
from collections import deque
from typing import Any


class Client:
    __slots__ = ("queue", "waiter")

    def __init__(self) -> None:
        self.queue: deque[str] = deque()
        self.waiter: asyncio.Future[None] | None = None

    def put(self, message: str) -> None:
        self.queue.append(message)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self) -> str:
        while not self.queue:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        return self.queue.popleft()


clients: set[Client] = set()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path = scope["path"]
    if path == "/publish":
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        text = body.decode()
        for client in clients:
            client.put(text)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    client = Client()
    clients.add(client)
    try:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": "subscribed"})
            while True:
                await send({"type": "websocket.send", "text": await client.get()})
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b": subscribed\n\n", "more_body": True})
        while True:
            chunk = b"data: " + (await client.get()).encode() + b"\n\n"
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        clients.discard(client)
