"""Starlette: a set of per-client ``asyncio.Queue`` (unbounded, the usual recipe) feeding a
``StreamingResponse`` per SSE client and a ``WebSocket`` per WebSocket client."""

import asyncio
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

subscribers: set[asyncio.Queue[str]] = set()


async def sse(request: Request) -> StreamingResponse:
    queue: asyncio.Queue[str] = asyncio.Queue()
    subscribers.add(queue)

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield b": subscribed\n\n"
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), 15)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                yield f"data: {message}\n\n".encode()
        finally:
            subscribers.discard(queue)

    return StreamingResponse(stream(), media_type="text/event-stream")


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    queue: asyncio.Queue[str] = asyncio.Queue()
    subscribers.add(queue)
    try:
        await websocket.send_text("subscribed")
        while True:
            await websocket.send_text(await queue.get())
    finally:
        subscribers.discard(queue)


async def publish(request: Request) -> JSONResponse:
    message = (await request.body()).decode()
    for queue in subscribers:
        queue.put_nowait(message)
    return JSONResponse({"subscribers": len(subscribers)})


app = Starlette(
    routes=[
        Route("/sse", sse),
        WebSocketRoute("/ws", ws),
        Route("/publish", publish, methods=["POST"]),
    ]
)
