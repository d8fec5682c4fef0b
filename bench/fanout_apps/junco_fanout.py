"""junco: ``Broadcast("memory://")`` feeding ``with_sse`` streams and WebSockets."""

from typing import Any

from junco import Junco
from junco.pubsub import Broadcast
from junco.sse import SSE, with_sse
from junco.websocket import WebSocket, with_websocket

app = Junco()
broadcast = Broadcast("memory://", max_queue=100)
broadcast.init_app(app)


@app.get("/sse")
@with_sse
async def sse(request: Any, stream: SSE) -> None:
    async with broadcast.subscribe("feed") as messages:
        await stream.comment("subscribed")
        async for message in messages:
            await stream.send(message)


@app.route("/ws")
@with_websocket
async def ws(request: Any, websocket: WebSocket) -> None:
    async with broadcast.subscribe("feed") as messages:
        await websocket.send("subscribed")
        async for message in messages:
            await websocket.send(message)


@app.post("/publish")
async def publish(request: Any) -> dict[str, int]:
    await broadcast.publish("feed", request.body.decode())
    return {"subscribers": broadcast.subscriber_count("feed")}
