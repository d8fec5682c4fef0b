"""junco.pubsub: wire format, channels, bounded queues, the memory and Redis backends,
and the two fan-out patterns of docs/pubsub.md (SSE stream, WebSocket chat) through
TestClient. tests/e2e/test_pubsub_e2e.py runs the same app on two real servers."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis

from junco import Junco, Request
from junco.pubsub import (
    Broadcast,
    BroadcastUnavailable,
    InvalidChannel,
    MessageTooLarge,
    SubscriberDropped,
    Subscription,
    check_channel,
    decode,
    encode,
)
from junco.sse import SSE, sse_response
from junco.sse.wire import SSEDecoder
from junco.testing import TestClient, WebSocketRejected
from junco.types import Message
from junco.websocket import WebSocket, WebSocketDisconnect, with_websocket
from tests.redis_server import RedisServer

T = TypeVar("T")
BACKENDS = ["memory", "redis"]


def run(coro: Awaitable[T], timeout: float = 30) -> T:
    """Run a test coroutine; every test is bounded."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


async def until(predicate: Callable[[], bool]) -> None:
    """Wait until ``predicate()`` holds: at most 2000 polls (about 10 seconds)."""
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise TimeoutError("the condition never held")


async def next_message(sub: Subscription) -> Any:
    return await asyncio.wait_for(sub.get(), 5)


# -- the app of docs/pubsub.md -------------------------------------------------------------


def realtime_app(broadcast: Broadcast) -> Junco:
    """An SSE stream and a WebSocket chat, fanned out through ``broadcast``."""
    app = Junco()
    broadcast.init_app(app)

    @app.post("/rooms/<room>/messages")
    async def post_message(request: Request, room: str) -> tuple[str, int]:
        text = request.form.get("text", "") if request.form else ""
        await broadcast.publish(f"room:{room}", {"room": room, "text": text})
        return "sent", 202

    @app.get("/rooms/<room>/events")
    async def room_events(request: Request, room: str) -> Any:
        channel = check_channel(f"room:{room}")  # a hostile name is a 400 here
        return sse_response(request, stream_channel, channel)

    async def stream_channel(request: Request, sse: SSE, channel: str) -> None:
        async with broadcast.subscribe(channel) as messages:
            async for message in messages:
                await sse.send(message, event="chat")

    @app.route("/chat/<room>")
    @with_websocket(accept=False, max_message_size=4096)
    async def chat(request: Request, ws: WebSocket, room: str) -> None:
        channel = check_channel(f"chat:{room}")  # refused with 400 before accepting
        async with broadcast.subscribe(channel) as messages:
            await ws.accept()

            async def forward() -> None:
                try:
                    async for message in messages:
                        await ws.send(message)
                except SubscriberDropped:
                    await ws.close(1013, "too slow")

            forwarding = asyncio.create_task(forward())
            try:
                async for text in ws:
                    try:
                        await broadcast.publish(channel, text)
                    except BroadcastUnavailable:
                        await ws.send("! not delivered, try again")
            finally:
                forwarding.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await forwarding

    return app


# -- wire format and channel names ---------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["", "héllo\n\x00", "\ud800 lone", b"", b"\x00\xff", {"a": [1, 2.5, None, True]}, [], 7, None],
)
def test_round_trip(value: Any) -> None:
    assert decode(encode(value)) == value
    assert type(decode(encode(value))) is type(value)


def test_bytearray_and_memoryview_arrive_as_bytes() -> None:
    assert decode(encode(bytearray(b"ab"))) == b"ab"
    assert decode(encode(memoryview(b"cd"))) == b"cd"


def test_foreign_messages() -> None:
    assert decode(b"plain text") == "plain text"
    assert decode(b"\xff\xfe") == b"\xff\xfe"
    assert decode(b"") == ""
    assert decode(b"\x00zunknown tag") == "\x00zunknown tag"


@pytest.mark.parametrize("payload", [b"\x00j{not json", b"\x00j" + b"[" * 100_000, b"\x00jNaN"])
def test_malformed_json_is_a_value_error(payload: bytes) -> None:
    with pytest.raises(ValueError, match="JSON"):
        decode(payload)


def test_unencodable_message() -> None:
    with pytest.raises(TypeError):
        encode(object())


@pytest.mark.parametrize(
    "channel", ["", "x" * 257, "a\x00b", "a\r\nb", "tab\there", "\ud800", 12, None, b"bytes"]
)
def test_hostile_channel_names(channel: Any) -> None:
    with pytest.raises(InvalidChannel):
        check_channel(channel)
    assert issubclass(InvalidChannel, ValueError)


@pytest.mark.parametrize("channel", ["room:1", "ümlaut ✓", "x" * 256, "a*", "[x]", "?"])
def test_valid_channel_names(channel: str) -> None:
    assert check_channel(channel) == channel


def test_constructor_checks() -> None:
    with pytest.raises(ValueError, match="accepted: a store object"):
        Broadcast("kafka://x")
    with pytest.raises(ValueError, match="positive"):
        Broadcast(max_queue=0)
    with pytest.raises(ValueError, match="positive"):
        Broadcast(max_message_size=0)
    with pytest.raises(TypeError, match="options"):
        Broadcast("memory://", password="x")


# -- both backends -------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    return str(request.getfixturevalue("redis_db"))


def pair(url: str, **options: Any) -> tuple[Broadcast, Broadcast]:
    """A subscriber's and a publisher's broadcast: two processes' worth with Redis."""
    first = Broadcast(url, **options)
    return first, (first if url == "memory://" else Broadcast(url, **options))


def test_publish_and_subscribe(url: str) -> None:
    async def main() -> None:
        sub_side, pub_side = pair(url)
        async with sub_side, pub_side:
            async with sub_side.subscribe("news") as one, sub_side.subscribe("news") as two:
                assert sub_side.subscriber_count("news") == 2
                await pub_side.publish("other", "not for us")
                await pub_side.publish("news", {"n": 1})
                await pub_side.publish("news", "two")
                await pub_side.publish("news", b"\x00three")
                got = [await next_message(one) for _ in range(3)]
                assert got == [{"n": 1}, "two", b"\x00three"]
                copy = await next_message(two)
                assert copy == {"n": 1}
                got[0]["n"] = 99  # each subscriber decodes its own copy
                assert copy == {"n": 1}
            assert sub_side.subscriber_count("news") == 0

    run(main())


def test_channel_names_are_literal_not_patterns(url: str) -> None:
    async def main() -> None:
        sub_side, pub_side = pair(url)
        async with sub_side, pub_side, sub_side.subscribe("room:*") as star:
            await pub_side.publish("room:1", "no")
            await pub_side.publish("room:*", "yes")
            assert await next_message(star) == "yes"

    run(main())


def test_not_connected(url: str) -> None:
    async def main() -> None:
        broadcast = Broadcast(url)
        with pytest.raises(BroadcastUnavailable):
            await broadcast.publish("x", "y")
        with pytest.raises(BroadcastUnavailable):
            async with broadcast.subscribe("x"):
                pass
        await broadcast.disconnect()  # harmless before connect
        async with broadcast:
            await broadcast.connect()  # idempotent
            assert broadcast.connected
        assert not broadcast.connected

    run(main())


def test_hostile_channel_and_message_are_refused_before_sending(url: str) -> None:
    async def main() -> None:
        sub_side, pub_side = pair(url, max_message_size=1000)
        async with sub_side, pub_side, sub_side.subscribe("c") as sub:
            with pytest.raises(InvalidChannel):
                await pub_side.publish("bad\nname", "x")
            with pytest.raises(InvalidChannel):
                async with sub_side.subscribe("x" * 1000):
                    pass
            with pytest.raises(MessageTooLarge):
                await pub_side.publish("c", "x" * 999)  # 2 tag bytes + 999 > 1000
            with pytest.raises(MessageTooLarge):
                await pub_side.publish("c", {"big": "x" * 10_000_000})
            await pub_side.publish("c", "x" * 998)  # exactly at the limit
            assert await next_message(sub) == "x" * 998

    run(main())


def test_slow_subscriber_is_dropped_and_memory_stays_bounded(url: str) -> None:
    async def main() -> None:
        sub_side, pub_side = pair(url, max_queue=3)
        async with sub_side, pub_side:
            async with sub_side.subscribe("c") as slow, sub_side.subscribe("c") as fast:
                for i in range(10):
                    await pub_side.publish("c", i)
                    assert await next_message(fast) == i
                    assert slow.pending <= 3
                await until(lambda: slow.dropped)
                assert sub_side.dropped == 1
                assert slow.pending == 0  # its backlog was freed
                with pytest.raises(SubscriberDropped):
                    await slow.get()
                with pytest.raises(SubscriberDropped):
                    await slow.get()
                assert sub_side.subscriber_count("c") == 1
                await pub_side.publish("c", "still flowing")
                assert await next_message(fast) == "still flowing"
            assert sub_side.subscriber_count("c") == 0

    run(main())


def test_text_is_decoded_once_and_malformed_text_skipped_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        broadcast = Broadcast()
        async with broadcast, broadcast.subscribe("c") as one, broadcast.subscribe("c") as two:
            # invalid UTF-8 behind the text tag: skipped for everyone, warned once
            await broadcast.backend.publish("c", b"\x00s\xff\xfe")
            await broadcast.publish("c", "shared " * 3)
            first, second = await next_message(one), await next_message(two)
            assert first == "shared " * 3
            assert first is second  # immutable: one decoded object for all
            await broadcast.publish("c", [1])
            mine, theirs = await next_message(one), await next_message(two)
            assert mine == theirs == [1]
            assert mine is not theirs  # mutable: a copy each

    with caplog.at_level("WARNING", logger="junco"):
        run(main())
    assert sum("malformed" in r.getMessage() for r in caplog.records) == 1


def test_two_tasks_waiting_on_one_subscription() -> None:
    async def main() -> None:
        async with Broadcast() as broadcast, broadcast.subscribe("c") as sub:
            first = asyncio.ensure_future(sub.get())
            second = asyncio.ensure_future(sub.get())
            await asyncio.sleep(0)
            first.cancel()  # cancelling one waiter leaves the other waiting
            await broadcast.publish("c", "m")
            assert await asyncio.wait_for(second, 5) == "m"
            assert first.cancelled()

    run(main())


def test_disconnect_ends_iteration(url: str) -> None:
    async def main() -> None:
        broadcast = Broadcast(url)
        await broadcast.connect()
        received: list[Any] = []
        subscribed = asyncio.Event()

        async def listen() -> None:
            async with broadcast.subscribe("c") as sub:
                subscribed.set()
                async for message in sub:
                    received.append(message)

        task = asyncio.create_task(listen())
        await asyncio.wait_for(subscribed.wait(), 5)
        await broadcast.publish("c", "one")
        await until(lambda: received == ["one"])
        await broadcast.disconnect()
        await asyncio.wait_for(task, 5)  # the loop ended by itself
        assert broadcast.subscriber_count("c") == 0

    run(main())


def test_cancelled_subscriber_leaves(url: str) -> None:
    async def main() -> None:
        async with Broadcast(url) as broadcast:

            async def listen() -> None:
                async with broadcast.subscribe("c") as sub:
                    async for _ in sub:
                        pass

            task = asyncio.create_task(listen())
            await until(lambda: broadcast.subscriber_count("c") == 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert broadcast.subscriber_count("c") == 0
            await broadcast.publish("c", "nobody listens")

    run(main())


def test_many_concurrent_subscribers_of_one_channel(url: str) -> None:
    async def main() -> None:
        sub_side, pub_side = pair(url)
        async with sub_side, pub_side, contextlib.AsyncExitStack() as stack:
            subs = await asyncio.gather(
                *(stack.enter_async_context(sub_side.subscribe("c")) for _ in range(50))
            )
            await pub_side.publish("c", "all")
            assert [await next_message(s) for s in subs] == ["all"] * 50

    run(main())


# -- lifespan and error pages --------------------------------------------------------------


def test_init_app_connects_with_the_lifespan_and_maps_errors() -> None:
    async def main() -> None:
        broadcast = Broadcast(max_message_size=100)
        app = realtime_app(broadcast)
        assert app.extensions["broadcast"] is broadcast
        client = TestClient(app)
        r = await client.post("/rooms/a/messages", form={"text": "hi"})
        assert r.status_code == 503  # no lifespan: not connected
        async with client:
            assert broadcast.connected
            r = await client.post("/rooms/a/messages", form={"text": "hi"})
            assert r.status_code == 202
            r = await client.post("/rooms/a/messages", form={"text": "x" * 200})
            assert r.status_code == 413
            assert "x" * 200 not in r.text
            r = await client.get("/rooms/" + "x" * 300 + "/events")
            assert r.status_code == 400
            assert r.headers["content-type"].startswith("text/plain")
        assert not broadcast.connected

    run(main())


def test_init_app_keeps_the_apps_own_error_handlers() -> None:
    app = Junco()

    @app.errorhandler(InvalidChannel)
    def mine(request: Request, exc: Exception) -> tuple[str, int]:
        return "mine", 422

    Broadcast().init_app(app)
    assert app.error_handlers[InvalidChannel] is mine


# -- the fan-out patterns through TestClient -----------------------------------------------


def test_sse_endpoint_streams_a_channel() -> None:
    async def main() -> None:
        broadcast = Broadcast()
        app = realtime_app(broadcast)
        async with TestClient(app) as client:

            async def publish() -> None:
                await until(lambda: broadcast.subscriber_count("room:lobby") == 1)
                for text in ("hello", "line1\nevent: forged"):
                    r = await client.post("/rooms/lobby/messages", form={"text": text})
                    assert r.status_code == 202

            response, _ = await asyncio.gather(
                client.sse("/rooms/lobby/events", max_events=2), publish()
            )
            assert response.headers["content-type"] == "text/event-stream"
            events = response.events
            assert [e.event for e in events] == ["chat", "chat"]
            assert [e.json() for e in events] == [
                {"room": "lobby", "text": "hello"},
                {"room": "lobby", "text": "line1\nevent: forged"},
            ]
            # The client left: its subscription ended with the stream.
            await until(lambda: broadcast.subscriber_count("room:lobby") == 0)

    run(main())


def test_websocket_chat_fans_out_to_every_member() -> None:
    async def main() -> None:
        broadcast = Broadcast()
        app = realtime_app(broadcast)
        async with (
            TestClient(app) as client,
            client.websocket("/chat/lobby") as ana,
            client.websocket("/chat/lobby") as bo,
            client.websocket("/chat/elsewhere") as cy,
        ):
            assert broadcast.subscriber_count("chat:lobby") == 2
            await ana.send("hi all")
            assert await bo.receive() == "hi all"
            assert await ana.receive() == "hi all"
            await bo.send(b"\x00binary")
            assert await ana.receive() == b"\x00binary"
            assert await bo.receive() == b"\x00binary"
            await cy.send("alone")
            assert await cy.receive() == "alone"
            await bo.close()
            await until(lambda: broadcast.subscriber_count("chat:lobby") == 1)
        assert broadcast.subscriber_count("chat:lobby") == 0

    run(main())


def test_websocket_chat_refuses_a_hostile_room_with_400() -> None:
    async def main() -> None:
        app = realtime_app(Broadcast())
        async with TestClient(app) as client:
            with pytest.raises(WebSocketRejected) as info:
                async with client.websocket("/chat/" + "x" * 300):
                    pass
            assert info.value.status_code == 400

    run(main())


def test_websocket_chat_closes_a_member_too_slow_to_keep_up() -> None:
    async def main() -> None:
        broadcast = Broadcast(max_queue=2)
        app = realtime_app(broadcast)
        async with TestClient(app) as client, client.websocket("/chat/lobby") as ana:
            await until(lambda: broadcast.subscriber_count("chat:lobby") == 1)
            # Published while ana's forwarder is not scheduled: her queue overflows.
            for i in range(5):
                await broadcast.publish("chat:lobby", f"m{i}")
            received: list[str | bytes] = []

            async def receive_all() -> None:
                while True:
                    received.append(await ana.receive())

            with pytest.raises(WebSocketDisconnect) as info:
                await receive_all()
            assert info.value.code == 1013
            assert broadcast.dropped == 1
            assert received == []

    run(main())


def test_sse_subscriber_too_slow_is_dropped_and_its_stream_ends() -> None:
    broadcast = Broadcast(max_queue=2)
    app = Junco()
    broadcast.init_app(app)
    ended: list[str] = []

    @app.get("/feed")
    async def feed(request: Request) -> Any:
        async def stream(request: Request, sse: SSE) -> None:
            try:
                async with broadcast.subscribe("feed") as messages:
                    async for message in messages:
                        await sse.send(message)
            except SubscriberDropped:
                ended.append("dropped")  # the stream ends: EventSource reconnects

        return sse_response(request, stream)

    async def main() -> list[bytes]:
        gate = asyncio.Event()
        chunks: list[bytes] = []

        async def receive() -> Message:
            if not chunks:
                chunks.append(b"")
                return {"type": "http.request", "body": b""}
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body":
                await gate.wait()  # a client that does not read: the server's send waits
                chunks.append(message["body"])

        async with TestClient(app):
            scope = {"type": "http", "method": "GET", "path": "/feed", "headers": [(b"host", b"x")]}
            task = asyncio.ensure_future(app(scope, receive, send))
            await until(lambda: broadcast.subscriber_count("feed") == 1)
            for i in range(10):
                await broadcast.publish("feed", f"m{i}")
                await asyncio.sleep(0)
            await until(lambda: broadcast.dropped == 1)
            gate.set()
            await asyncio.wait_for(task, 10)
        return chunks

    chunks = run(main())
    assert ended == ["dropped"]
    assert broadcast.subscriber_count("feed") == 0
    assert len(SSEDecoder().feed(b"".join(chunks))) <= 3  # at most the first and two queued


# -- Redis only ----------------------------------------------------------------------------


def test_redis_foreign_publishers_and_hostile_payloads(redis_db: str) -> None:
    async def main() -> None:
        raw = aioredis.Redis.from_url(redis_db)
        async with (
            Broadcast(redis_db, max_message_size=1000) as broadcast,
            broadcast.subscribe("c") as sub,
        ):
            await raw.publish("c", "from redis-cli")
            assert await next_message(sub) == "from redis-cli"
            await raw.publish("c", b"\xff raw")
            assert await next_message(sub) == b"\xff raw"
            await raw.publish("c", b"x" * 1_000_000)  # over the limit: skipped
            await raw.publish("c", b"\x00j{broken")  # malformed: skipped
            await raw.publish("c", b"\x00j" + b"[" * 900)  # too deep: skipped
            await raw.publish("c", "after")
            assert await next_message(sub) == "after"
            assert broadcast.rejected == 1
            assert sub.pending == 0
        await raw.aclose()

    run(main())


def test_redis_unsubscribes_when_the_last_subscriber_leaves(redis_db: str) -> None:
    async def main() -> None:
        raw = aioredis.Redis.from_url(redis_db)

        async def numsub(channel: str) -> int:
            return int(dict(await raw.pubsub_numsub(channel))[channel.encode()])

        async with Broadcast(redis_db) as broadcast:
            async with broadcast.subscribe("c"):
                async with broadcast.subscribe("c"):
                    assert await numsub("c") == 1  # one shared connection
                assert await numsub("c") == 1
            for _ in range(500):  # UNSUBSCRIBE is sent; Redis applies it shortly
                if not await numsub("c"):
                    break
                await asyncio.sleep(0.01)
            assert await numsub("c") == 0
        await raw.aclose()

    run(main())


async def probe_until_received(publish: Callable[[str], Awaitable[Any]], sub: Subscription) -> None:
    """Publish probes until one arrives (messages sent during an outage may be lost)."""
    async with asyncio.timeout(20):
        n = 0
        while True:
            with contextlib.suppress(BroadcastUnavailable):
                await publish(f"probe {n}")
            n += 1
            with contextlib.suppress(TimeoutError):
                message = await asyncio.wait_for(sub.get(), 0.2)
                assert str(message).startswith("probe")
                return


async def expect_after_probes(sub: Subscription, wanted: Any) -> None:
    """The next message that is not a late probe must be ``wanted``."""
    while True:
        message = await next_message(sub)
        if isinstance(message, str) and message.startswith("probe"):
            continue
        assert message == wanted
        return


def test_redis_restart_restores_subscriptions(redis_db: str, redis_server: RedisServer) -> None:
    async def main() -> None:
        async with (
            Broadcast(redis_db) as listener,
            Broadcast(redis_db) as publisher,
            listener.subscribe("c") as sub,
        ):
            await publisher.publish("c", "before")
            assert await next_message(sub) == "before"
            await asyncio.to_thread(redis_server.stop)
            with pytest.raises(BroadcastUnavailable):
                await publisher.publish("c", "lost")
            # Subscribing while Redis is down returns; the channel is restored later.
            async with listener.subscribe("d") as late:
                await asyncio.to_thread(redis_server.start)
                await probe_until_received(lambda m: publisher.publish("c", m), sub)
                await publisher.publish("c", {"after": True})
                await expect_after_probes(sub, {"after": True})
                await probe_until_received(lambda m: publisher.publish("d", m), late)
                await publisher.publish("d", "late too")
                await expect_after_probes(late, "late too")

    try:
        run(main(), timeout=60)
    finally:
        if not redis_server.running:
            redis_server.start()


def test_redis_down_at_connect_then_up(redis_db: str, redis_server: RedisServer) -> None:
    async def main() -> None:
        await asyncio.to_thread(redis_server.stop)
        listener = Broadcast(redis_db)
        await listener.connect()  # does not fail: it keeps trying in the background
        async with listener.subscribe("c") as sub:
            await asyncio.to_thread(redis_server.start)
            async with Broadcast(redis_db) as publisher:
                await probe_until_received(lambda m: publisher.publish("c", m), sub)
        await listener.disconnect()

    try:
        run(main(), timeout=60)
    finally:
        if not redis_server.running:
            redis_server.start()


def test_missing_redis_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match=r'pip install "junco\[redis\]"'):
        Broadcast("redis://127.0.0.1:1/0")
    assert Broadcast("memory://").url == "memory://"  # the memory backend needs nothing


def test_two_readers_of_one_subscription_and_one_is_cancelled() -> None:
    async def main() -> None:
        async with Broadcast("memory") as broadcast, broadcast.subscribe("c") as sub:
            first = asyncio.ensure_future(sub.get())
            second = asyncio.ensure_future(sub.get())
            await asyncio.sleep(0)  # both wait on the one subscription
            first.cancel()
            await broadcast.publish("c", "for the one still waiting")
            assert await second == "for the one still waiting"
            assert first.cancelled()

    run(main())


def test_a_subscription_is_entered_once() -> None:
    async def main() -> None:
        async with Broadcast("memory") as broadcast:
            subscription = broadcast.subscribe("c")
            async with subscription as sub:
                assert sub is subscription
                assert broadcast.subscriber_count("c") == 1
                with pytest.raises(RuntimeError, match="once"):
                    async with subscription:
                        pass
            assert broadcast.subscriber_count("c") == 0
            with pytest.raises(InvalidChannel):
                async with broadcast.subscribe(""):
                    pass
            assert sub.dropped is False
            assert await anext(aiter(sub), "ended") == "ended"

    run(main())
