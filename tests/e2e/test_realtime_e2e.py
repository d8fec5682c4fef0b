"""WebSocket and SSE through a real uvicorn, with real clients (websockets, httpx)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from junco import Junco, Request
from junco.sse import SSE, with_sse
from junco.sse.wire import ServerSentEvent, SSEDecoder
from junco.websocket import WebSocket, WebSocketDisconnect, with_websocket
from tests.servers import serve

pytestmark = pytest.mark.e2e
T = TypeVar("T")
WS_IMPLEMENTATIONS = ["websockets-sansio", "wsproto"]  # "websockets" is deprecated
HTTP_IMPLEMENTATIONS = ["httptools", "h11"]


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, 20)

    return asyncio.run(bounded())


class Flags:
    """Thread-safe signals from the server's handlers to the test thread."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.finally_ran = threading.Event()
        self.disconnect_code: list[int] = []


def realtime_app(flags: Flags) -> Junco:
    app = Junco()

    @app.before_request
    def auth(request: Request) -> Any:
        if request.args.get("token") == "bad":
            return "denied", 401
        return None

    @app.route("/echo")
    @with_websocket(subprotocols=["chat.v1"], max_message_size=1000)
    async def echo(request: Request, ws: WebSocket) -> None:
        try:
            async for message in ws:
                await ws.send(message)
        finally:
            flags.disconnect_code.append(ws.close_code or 0)

    @app.route("/busy")
    @with_websocket
    async def busy(request: Request, ws: WebSocket) -> None:
        try:
            await ws.send("started")
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            flags.cancelled.set()
            raise
        finally:
            flags.finally_ran.set()

    @app.route("/events")
    @with_sse(keepalive=0.05)
    async def events(request: Request, sse: SSE) -> None:
        start = int(sse.last_event_id or 0)
        try:
            for i in range(start + 1, start + 3):
                await sse.send({"n": i}, event="tick", event_id=i)
            await sse.send("line1\r\nevent: forged\rid: 666")
            await asyncio.Event().wait()  # idle: only keep-alives from now on
        except asyncio.CancelledError:
            flags.cancelled.set()
            raise
        finally:
            flags.finally_ran.set()

    return app


@pytest.fixture(params=WS_IMPLEMENTATIONS)
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, Flags]]:
    flags = Flags()
    with serve(realtime_app(flags), ws=request.param) as base:
        yield base, flags


@pytest.fixture(params=HTTP_IMPLEMENTATIONS)
def http_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, Flags]]:
    flags = Flags()
    with serve(realtime_app(flags), http=request.param) as base:
        yield base, flags


def ws_url(base: str, path: str) -> str:
    return base.replace("http://", "ws://") + path


def test_websocket_echo_subprotocol_and_close(server: tuple[str, Flags]) -> None:
    base, flags = server

    async def main() -> None:
        async with connect(ws_url(base, "/echo"), subprotocols=["chat.v1"], proxy=None) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "chat.v1"
            await ws.send("hello")
            assert await ws.recv() == "hello"
            await ws.send(b"\x00\x01")
            assert await ws.recv() == b"\x00\x01"

    run(main())
    for _ in range(100):  # the handler sees the close shortly after the client sends it
        if flags.disconnect_code:
            break
        threading.Event().wait(0.05)
    assert flags.disconnect_code == [1000]


def test_websocket_refusals(server: tuple[str, Flags]) -> None:
    base, _ = server

    async def main() -> None:
        with pytest.raises(InvalidStatus) as info:
            async with connect(ws_url(base, "/echo?token=bad"), proxy=None):
                pass
        assert info.value.response.status_code == 401
        assert info.value.response.body == b"denied"
        with pytest.raises(InvalidStatus) as info:
            async with connect(ws_url(base, "/nowhere"), proxy=None):
                pass
        assert info.value.response.status_code == 403
        with pytest.raises(InvalidStatus) as info:
            async with connect(ws_url(base, "/echo"), origin="https://evil.example", proxy=None):  # type: ignore[arg-type]
                pass
        assert info.value.response.status_code == 403

    run(main())


def test_websocket_message_too_big(server: tuple[str, Flags]) -> None:
    base, _ = server

    async def main() -> None:
        async with connect(ws_url(base, "/echo"), proxy=None) as ws:
            await ws.send("x" * 1000)
            assert await ws.recv() == "x" * 1000
            await ws.send("x" * 1001)
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            assert info.value.rcvd is not None
            assert info.value.rcvd.code == 1009

    run(main())


def test_websocket_client_vanishing_cancels_a_busy_handler(server: tuple[str, Flags]) -> None:
    base, flags = server

    async def main() -> None:
        ws = await connect(ws_url(base, "/busy"), proxy=None)
        assert await ws.recv() == "started"
        ws.transport.abort()  # no close frame: the TCP connection just drops
        await asyncio.sleep(0)

    run(main())
    assert flags.finally_ran.wait(10)
    assert flags.cancelled.is_set()


def read_events(chunks: Iterator[bytes], count: int) -> tuple[list[ServerSentEvent], bytes]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    raw = b""
    for chunk in chunks:
        raw += chunk
        events += decoder.feed(chunk)
        if len(events) >= count:
            break
    return events, raw


def test_sse_stream_keepalive_and_disconnect(http_server: tuple[str, Flags]) -> None:
    base, flags = http_server
    with (
        httpx.Client(trust_env=False, timeout=10) as client,
        client.stream("GET", base + "/events", headers={"Last-Event-ID": "40"}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["cache-control"] == "no-cache"
        chunks = response.iter_raw()
        events, raw = read_events(chunks, 3)
        assert [(e.event, e.id, e.data) for e in events] == [
            ("tick", "41", '{"n":41}'),
            ("tick", "42", '{"n":42}'),
            ("message", "42", "line1\nevent: forged\nid: 666"),
        ]
        while b": keep-alive" not in raw:  # bounded by the client's read timeout
            raw += next(chunks)
        assert not flags.finally_ran.is_set()
    # Leaving the block closed the connection mid-stream.
    assert flags.finally_ran.wait(10)
    assert flags.cancelled.is_set()


def test_websocket_disconnect_is_raised_in_receive() -> None:
    seen: list[int] = []
    done = threading.Event()
    app = Junco()

    @app.route("/wait")
    @with_websocket
    async def wait(request: Request, ws: WebSocket) -> None:
        try:
            await ws.receive()
        except WebSocketDisconnect as exc:
            seen.append(exc.code)
        finally:
            done.set()

    async def main(base: str) -> None:
        async with connect(ws_url(base, "/wait"), proxy=None) as ws:
            await ws.close(4000, "done here")

    with serve(app) as base:
        run(main(base))
        assert done.wait(10)
    assert seen == [4000]
