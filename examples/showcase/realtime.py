"""The live feed (Server-Sent Events) and the chat room (WebSocket), both fed by pub/sub.

With ``memory://`` pub/sub, events reach the clients of this process; with
``redis://`` they reach the clients of every worker. Each handler subscribes
*before* it tells the client it is ready (the ``ready`` event, the ``hello``
message), so nothing published after that can be missed.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from junco import SSE, Junco, Request, Response, WebSocket, abort, sse_response, with_websocket
from junco.pubsub import SubscriberDropped

from .services import CHAT_CHANNEL, Services, current_user, feed_channel

#: Longest chat message kept, in characters; the socket refuses frames over 4 KiB.
MAX_CHAT = 500
MAX_FRAME = 4096
#: How soon a browser reconnects the live feed after losing it, in seconds.
RETRY_SECONDS = 2


def register(app: Junco, s: Services) -> None:
    """Add ``/feed``, ``/chat`` and ``/chat/ws`` to ``app``."""
    login, broadcast = s.login, s.broadcast

    @app.get("/feed")
    @login
    async def feed(request: Request) -> Response:
        channel = feed_channel(current_user(request).id)
        return sse_response(request, _stream_feed, broadcast, channel)

    @app.get("/chat")
    @login
    async def chat_page(request: Request) -> Response:
        return await s.render(request, "chat.html")

    @app.route("/chat/ws")
    @with_websocket(accept=False, max_message_size=MAX_FRAME)
    async def chat(request: Request, ws: WebSocket) -> None:
        # Only same-origin pages reach here (with_websocket checks Origin); the
        # session cookie came with the handshake.
        user = await login.get_current_user(request)
        if not user:
            abort(401)
        async with broadcast.subscribe(CHAT_CHANNEL) as subscription:
            await ws.accept()
            await ws.send(json.dumps({"type": "hello", "user": user.username}))
            relay = asyncio.ensure_future(_relay(subscription, ws))
            try:
                await _read_chat(ws, broadcast, user.username)
            finally:
                relay.cancel()
                await asyncio.wait({relay})


async def _stream_feed(request: Request, sse: SSE, broadcast: Any, channel: str) -> None:
    async with broadcast.subscribe(channel) as subscription:
        # retry: after a restart (or a lost connection) the browser reconnects
        # within 2 s and the page says so (static/app.js).
        await sse.send({"channel": "feed"}, event="ready", retry=RETRY_SECONDS)
        try:
            async for message in subscription:
                if isinstance(message, dict):
                    await sse.send(message, event=str(message.get("type", "message")))
        except SubscriberDropped:
            return  # the stream ends; EventSource reconnects by itself


async def _relay(subscription: Any, ws: WebSocket) -> None:
    """Forward the room's messages to this socket."""
    try:
        async for message in subscription:
            await ws.send(json.dumps(message))
    except SubscriberDropped:
        await ws.close(1013, "too slow: reconnect")


async def _read_chat(ws: WebSocket, broadcast: Any, username: str) -> None:
    """Publish what this socket says to the room."""
    async for data in ws:
        if not isinstance(data, str):
            await ws.close(1003, "text messages only")
            return
        text = " ".join(data.split())[:MAX_CHAT]
        if text:
            message = {"type": "message", "user": username, "text": text, "at": time.time()}
            await broadcast.publish(CHAT_CHANNEL, message)
