"""Fan-out across processes' worth of servers: two uvicorns, each with its own Broadcast,
one real Redis between them, real clients (httpx for SSE, websockets), and a Redis
restart in the middle."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from junco.pubsub import Broadcast
from junco.sse.wire import SSEDecoder
from tests.redis_server import RedisServer
from tests.servers import serve
from tests.test_pubsub import realtime_app

pytestmark = pytest.mark.e2e
T = TypeVar("T")


def run(coro: Awaitable[T], timeout: float = 90) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@contextlib.asynccontextmanager
async def sse_events(url: str) -> AsyncIterator[asyncio.Queue[Any]]:
    """Stream ``url`` with httpx; yield a queue of the decoded events' JSON data."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def read() -> None:
        decoder = SSEDecoder()
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client,
            client.stream("GET", url, headers={"Accept": "text/event-stream"}) as response,
        ):
            assert response.status_code == 200
            async for chunk in response.aiter_bytes():
                for event in decoder.feed(chunk):
                    await queue.put(event.json())

    task = asyncio.create_task(read())
    try:
        yield queue
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def probe(
    send: Callable[[str], Awaitable[None]], receive: Callable[[], Awaitable[str]]
) -> None:
    """Send probes until one comes through; messages sent while a subscription is being
    (re)established may be lost, later ones must arrive. Bounded."""
    async with asyncio.timeout(30):
        n = 0
        while True:
            await send(f"probe {n}")
            n += 1
            with contextlib.suppress(TimeoutError):
                text = await asyncio.wait_for(receive(), 0.3)
                assert text.startswith("probe"), text
                return


async def expect(receive: Callable[[], Awaitable[str]], wanted: str) -> None:
    """The next message that is not a late probe is ``wanted``."""
    async with asyncio.timeout(10):
        while True:
            text = await receive()
            if not text.startswith("probe"):
                assert text == wanted
                return


async def restart(redis_server: RedisServer) -> None:
    await asyncio.to_thread(redis_server.stop)
    await asyncio.to_thread(redis_server.start)


def test_sse_on_b_receives_posts_on_a_across_a_redis_restart(
    redis_db: str, redis_server: RedisServer
) -> None:
    with (
        serve(realtime_app(Broadcast(redis_db))) as a,
        serve(realtime_app(Broadcast(redis_db))) as b,
    ):

        async def main() -> None:
            async with (
                httpx.AsyncClient(base_url=a, timeout=10) as poster,
                sse_events(b + "/rooms/lobby/events") as events,
            ):

                async def post(text: str) -> None:
                    r = await poster.post("/rooms/lobby/messages", data={"text": text})
                    assert r.status_code in (202, 503)  # 503 only while Redis is down

                async def receive() -> str:
                    event = await events.get()
                    assert event["room"] == "lobby"
                    return str(event["text"])

                await probe(post, receive)
                await post("hello from A")
                await expect(receive, "hello from A")
                await restart(redis_server)
                await probe(post, receive)
                await post("after the restart")
                await expect(receive, "after the restart")

        try:
            run(main())
        finally:
            if not redis_server.running:
                redis_server.start()


def test_websocket_message_through_a_reaches_a_client_on_b(
    redis_db: str, redis_server: RedisServer
) -> None:
    with (
        serve(realtime_app(Broadcast(redis_db))) as a,
        serve(realtime_app(Broadcast(redis_db))) as b,
    ):
        ws_a = a.replace("http://", "ws://") + "/chat/lobby"
        ws_b = b.replace("http://", "ws://") + "/chat/lobby"

        async def main() -> None:
            async with connect(ws_a, open_timeout=10) as ana, connect(ws_b, open_timeout=10) as bo:

                async def receive_on(ws: ClientConnection) -> str:
                    return str(await ws.recv())

                async def receive() -> str:
                    return await receive_on(bo)

                await probe(ana.send, receive)
                await ana.send("hi bo")
                await expect(receive, "hi bo")
                await expect(lambda: receive_on(ana), "hi bo")  # the sender is a member too
                await bo.send(json.dumps({"reply": "hi ana"}))
                await expect(lambda: receive_on(ana), '{"reply": "hi ana"}')
                await expect(receive, '{"reply": "hi ana"}')

                await restart(redis_server)
                await probe(ana.send, receive)
                await ana.send("still here")
                await expect(receive, "still here")

        try:
            run(main())
        finally:
            if not redis_server.running:
                redis_server.start()


def test_hostile_input_on_a_real_server(redis_db: str) -> None:
    with serve(realtime_app(Broadcast(redis_db, max_message_size=1000))) as a:

        async def main() -> None:
            async with httpx.AsyncClient(base_url=a, timeout=10) as client:
                r = await client.get("/rooms/" + "x" * 300 + "/events")
                assert r.status_code == 400
                r = await client.post("/rooms/lobby/messages", data={"text": "x" * 5000})
                assert r.status_code == 413
                r = await client.get("/rooms/%0D%0A/events")
                assert r.status_code == 400

        run(main())
