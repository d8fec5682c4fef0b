"""Starlette with sse-starlette's ``EventSourceResponse`` (the usual FastAPI/Starlette SSE
recipe: one task per stream plus a ping task), fed by per-client unbounded ``asyncio.Queue``.
WebSockets are the plain Starlette recipe of ``starlette_fanout``."""

import asyncio
from collections.abc import AsyncIterator

from sse_starlette.sse import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route, WebSocketRoute

from fanout_apps.starlette_fanout import publish, subscribers, ws


async def sse(request: Request) -> EventSourceResponse:
    queue: asyncio.Queue[str] = asyncio.Queue()
    subscribers.add(queue)

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            yield ServerSentEvent(comment="subscribed")
            while True:
                yield ServerSentEvent(data=await queue.get())
        finally:
            subscribers.discard(queue)

    return EventSourceResponse(events(), ping=15)


app = Starlette(
    routes=[
        Route("/sse", sse),
        WebSocketRoute("/ws", ws),
        Route("/publish", publish, methods=["POST"]),
    ]
)
