"""An app meant to run as several processes sharing one Redis (tests/e2e/test_scaleout_e2e.py).

Sessions, logins, a rate limit and pub/sub fan-out (SSE and WebSocket) all
live in Redis, so any process can answer any request::

    JUNCO_REDIS_URL=redis://127.0.0.1:6379/0 \\
        python -m junco run tests.e2e.scaleout_app:app --port 8001

It uses junco's public API only; docs/scale-out.md walks through it.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from junco import (
    SSE,
    Junco,
    Login,
    Request,
    Response,
    Session,
    WebSocket,
    abort,
    with_sse,
    with_websocket,
)
from junco.pubsub import Broadcast, BroadcastUnavailable, SubscriberDropped, Subscription
from junco.security.passwords import PasswordHasher
from junco.security.ratelimit import RateLimit
from junco.stores import redis_url_from_env

#: Fixed so that every process signs and verifies the same cookies. A real
#: deployment reads it from its secret store, never from the code.
SECRET_KEY = "scale-out-test-secret-0123456789-abcdefghijklmnop"
FEED = "feed"
CHAT = "chat"

# Cheap parameters: the tests log in often, and the strength of a test
# account's hash does not matter.
HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@dataclass(frozen=True)
class User:
    """A user of the in-code table."""

    id: int
    name: str
    password_hash: str


USERS = {
    1: User(1, "alice", HASHER.hash("alice's password")),
    2: User(2, "bob", HASHER.hash("bob's password")),
}


def create_app(redis_url: str) -> Junco:
    """The app, with every piece of shared state in the Redis at ``redis_url``.

    Each component is given the URL itself: within one process they share one
    Redis client, and a Redis that does not answer fails the start-up.
    """
    app = Junco()
    Session(app, secret_key=SECRET_KEY, store=redis_url)
    _add_login(app)
    limiter = RateLimit(app, store=redis_url)
    limiter.rule("/limited", "5/minute", methods=["POST"])

    @app.post("/limited")
    async def limited(request: Request) -> str:
        return "ok"

    broadcast = Broadcast(redis_url)
    broadcast.init_app(app)
    _add_feed(app, broadcast)
    _add_chat(app, broadcast)
    return app


def _add_login(app: Junco) -> None:
    login = Login("/login")

    @login.user_loader
    async def load_user(user_id: int) -> User | None:
        return USERS.get(user_id)

    @app.post("/login")
    async def do_login(request: Request) -> Response:
        name, password = _credentials(request)
        user = next((u for u in USERS.values() if u.name == name), None)
        if not await HASHER.verify_async(password, user.password_hash if user else None):
            return Response("wrong name or password", 401)
        return await login.login_user(request, user, redirect_url="/me")

    @app.get("/me")
    async def me(request: Request) -> Response:
        user = await login.get_current_user(request)
        if user is None:
            return Response("not logged in", 401)
        return Response(user.name)


def _credentials(request: Request) -> tuple[str, str]:
    """``(username, password)`` from a form or a JSON object; empty strings when absent."""
    data: Any = request.form if request.form is not None else request.json
    if not hasattr(data, "get"):
        return "", ""
    name, password = data.get("username"), data.get("password")
    if not isinstance(name, str) or not isinstance(password, str):
        return "", ""
    return name, password


def _add_feed(app: Junco, broadcast: Broadcast) -> None:
    @app.post("/publish")
    async def publish(request: Request) -> tuple[str, int]:
        message = request.json
        if message is None:
            abort(400, "send a JSON body")
        await broadcast.publish(FEED, message)  # Redis down: 503 (init_app)
        return "published", 202

    @app.get("/events")
    @with_sse
    async def events(request: Request, sse: SSE) -> None:
        async with broadcast.subscribe(FEED) as messages:
            # Tells the client that everything published from now on reaches it.
            await sse.send("subscribed", event="ready")
            with contextlib.suppress(SubscriberDropped):  # ending makes the client reconnect
                async for message in messages:
                    await sse.send(message, event="feed")


def _add_chat(app: Junco, broadcast: Broadcast) -> None:
    @app.route("/chat")
    @with_websocket(accept=False, max_message_size=4096)
    async def chat(request: Request, ws: WebSocket) -> None:
        # Subscribed before accepting: nothing sent once the client is in is missed.
        async with broadcast.subscribe(CHAT) as messages:
            await ws.accept()
            forwarding = asyncio.create_task(_forward(messages, ws))
            try:
                async for text in ws:
                    try:
                        await broadcast.publish(CHAT, text)
                    except BroadcastUnavailable:
                        await ws.send("! not delivered, try again")
            finally:
                forwarding.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await forwarding


async def _forward(messages: Subscription, ws: WebSocket) -> None:
    try:
        async for message in messages:
            await ws.send(message)
    except SubscriberDropped:
        await ws.close(1013, "too slow")


app = create_app(redis_url_from_env() or "redis://127.0.0.1:6379/0")
