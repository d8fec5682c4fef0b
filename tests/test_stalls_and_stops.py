"""Stalled request bodies (``body_timeout`` → 408) and streams ended by a server stop.

Driven over the real ASGI path with hand-made ``receive`` callables, so a
client that stalls or a server that starts stopping can be played exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from junco import Junco, Request, _draining
from junco.exceptions import HTTPException
from junco.response import stream_body
from junco.sse import SSE, with_sse
from junco.types import Message
from junco.websocket import WebSocket, with_websocket
from tests.asyncrun import run


def scope(method: str = "POST", path: str = "/", length: int | None = 100) -> dict[str, Any]:
    headers = [(b"host", b"t")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "http_version": "1.1",
    }


class Stalling:
    """An ASGI ``receive`` that gives ``chunks`` and then waits forever."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)

    async def __call__(self) -> Message:
        if self.chunks:
            return {"type": "http.request", "body": self.chunks.pop(0), "more_body": True}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def call(app: Junco, sc: dict[str, Any], receive: Any) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(sc, receive, send)
    return sent


def status_of(sent: list[Message]) -> int:
    return int(sent[0]["status"])


def header(sent: list[Message], name: bytes) -> bytes | None:
    return dict(sent[0]["headers"]).get(name)


# -- body_timeout ------------------------------------------------------------------------


def test_a_stalled_declared_body_gets_408_and_closes_the_connection() -> None:
    app = Junco(body_timeout=0.05)
    seen: list[str] = []

    @app.post("/")
    async def handler(request: Request) -> str:
        seen.append("ran")
        return "never"

    sent = run(call(app, scope(), Stalling(b"x" * 10)))
    assert status_of(sent) == 408
    assert header(sent, b"connection") == b"close"
    assert seen == []  # the body was read before the handler, which never ran


def test_a_handler_reading_the_stream_sees_408_and_cleans_up() -> None:
    app = Junco(body_timeout=0.05, max_body_length=10)
    events: list[str] = []

    @app.post("/")
    async def upload(request: Request) -> str:
        try:
            async for _ in request.stream:
                events.append("chunk")
        except HTTPException as exc:
            events.append(f"error {exc.status_code}")
            raise
        finally:
            events.append("finally")
        return "done"

    sent = run(call(app, scope(length=1000), Stalling(b"y" * 100)))
    assert status_of(sent) == 408
    assert events == ["chunk", "error 408", "finally"]


def test_a_chunked_body_that_stalls_gets_408() -> None:
    app = Junco(body_timeout=0.05)

    @app.post("/")
    async def handler(request: Request) -> str:
        return str(len(request.body))

    sc = scope(length=None)
    sc["headers"].append((b"transfer-encoding", b"chunked"))
    assert status_of(run(call(app, sc, Stalling(b"abc")))) == 408


def test_no_body_timeout_waits_as_long_as_the_client() -> None:
    app = Junco(body_timeout=None)

    @app.post("/")
    async def handler(request: Request) -> str:
        return "x"

    with pytest.raises(TimeoutError):
        run(call(app, scope(), Stalling(b"x")), timeout=0.3)


def test_the_server_cancelling_a_body_wait_is_not_a_408() -> None:
    app = Junco(body_timeout=10)

    @app.post("/")
    async def handler(request: Request) -> str:
        return "x"

    async def main() -> list[Message]:
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        task = asyncio.ensure_future(app(scope(), Stalling(b"x"), send))
        await asyncio.sleep(0.05)  # waiting for the rest of the body, under the timeout
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return sent

    assert run(main()) == []


def test_a_body_that_keeps_coming_is_not_timed_out() -> None:
    app = Junco(body_timeout=0.2)

    @app.post("/")
    async def handler(request: Request) -> str:
        return str(len(request.body))

    async def slow() -> Message:
        await asyncio.sleep(0.05)  # each chunk well within the stall timeout
        slow.count += 1  # type: ignore[attr-defined]
        return {"type": "http.request", "body": b"z" * 10, "more_body": slow.count < 10}  # type: ignore[attr-defined]

    slow.count = 0  # type: ignore[attr-defined]
    sent = run(call(app, scope(), slow))
    assert status_of(sent) == 200
    assert sent[1]["body"] == b"100"


# -- stopping ----------------------------------------------------------------------------


async def _stream_until_stopped(app: Junco, path: str) -> list[Message]:
    sent: list[Message] = []
    first = asyncio.Event()

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            first.set()

    task = asyncio.ensure_future(app(scope("GET", path, None), Stalling(), send))
    await stop_once(first, task)
    return sent


async def stop_once(started: asyncio.Event, task: asyncio.Future[None]) -> None:
    """When ``started`` is set, play a server stop and wait for ``task`` to end."""
    await started.wait()
    _draining.begin()
    try:
        await task
    finally:
        _draining.reset()


def test_a_server_stop_ends_an_sse_stream_with_a_final_comment() -> None:
    app = Junco()
    ended: list[str] = []

    @app.get("/events")
    @with_sse(keepalive=None)
    async def events(request: Request, sse: SSE) -> None:
        try:
            await sse.send("hello")
            await asyncio.Event().wait()
        finally:
            ended.append("handler finally")

    sent = run(_stream_until_stopped(app, "/events"))
    bodies = [m.get("body", b"") for m in sent[1:]]
    assert bodies[0] == b"data: hello\n\n"
    assert bodies[-2:] == [b": server shutting down\n\n", b""] or bodies[-1] == (
        b": server shutting down\n\n"
    )
    assert sent[-1].get("more_body", False) is False
    assert ended == ["handler finally"]


async def _stream_while_stopping(body: AsyncIterator[bytes], farewell: bytes | None) -> bytes:
    """Stream ``body`` to a client that stays, with the server already stopping."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    _draining.begin()
    try:
        await stream_body(body, send, Stalling(), farewell)
    finally:
        _draining.reset()
    assert sent[-1].get("more_body", False) is False
    return b"".join(m.get("body", b"") for m in sent)


def test_a_stream_started_while_stopping_ends_at_once() -> None:
    async def endless() -> AsyncIterator[bytes]:
        while True:
            await asyncio.sleep(0.01)
            yield b"x"

    assert run(_stream_while_stopping(endless(), b": bye\n\n")) == b": bye\n\n"


def test_an_ordinary_stream_is_not_cut_by_a_stop() -> None:
    async def five() -> AsyncIterator[bytes]:
        for _ in range(5):
            await asyncio.sleep(0.01)
            yield b"x"

    assert run(_stream_while_stopping(five(), None)) == b"xxxxx"


def test_cancelling_a_stream_from_outside_closes_the_body_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The server cancelling the request task used to close the body generator
    # while it was still running: "aclose(): asynchronous generator is already running".
    closed: list[str] = []

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"x"
                await asyncio.sleep(0.01)
        finally:
            closed.append("closed")

    async def main() -> None:
        async def send(message: Message) -> None:
            pass

        task = asyncio.ensure_future(stream_body(endless(), send, Stalling()))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    assert closed == ["closed"]
    assert "already running" not in caplog.text
    assert "closing a response body failed" not in caplog.text


def test_stop_callbacks_run_once_and_survive_a_failing_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    def boom() -> None:
        raise RuntimeError("boom")

    try:
        with _draining.on_stop(boom), _draining.on_stop(lambda: calls.append("ok")):
            _draining.begin()
            _draining.begin()
            assert _draining.stopping()
        assert calls == ["ok"]
        assert "ending a stream at shutdown failed" in caplog.text
    finally:
        _draining.reset()
    assert not _draining.stopping()


def test_a_server_stop_closes_a_websocket_with_1001_and_ends_its_handler() -> None:
    app = Junco()
    ended: list[str] = []

    @app.route("/ws")
    @with_websocket
    async def chat(request: Request, ws: WebSocket) -> None:
        try:
            await ws.send("hello")
            await asyncio.Event().wait()  # busy elsewhere, not receiving
        finally:
            ended.append("handler finally")

    async def main() -> list[Message]:
        sent: list[Message] = []
        greeted = asyncio.Event()
        connected = [False]

        async def send(message: Message) -> None:
            sent.append(message)
            if message["type"] == "websocket.send":
                greeted.set()

        async def receive() -> Message:
            if not connected[0]:
                connected[0] = True
                return {"type": "websocket.connect"}
            await asyncio.Event().wait()  # the client stays
            raise AssertionError("unreachable")

        sc = {"type": "websocket", "path": "/ws", "raw_path": b"/ws", "query_string": b""}
        sc["headers"] = [(b"host", b"t")]
        await stop_once(greeted, asyncio.ensure_future(app(sc, receive, send)))
        return sent

    sent = run(main())
    assert sent[-1] == {
        "type": "websocket.close",
        "code": 1001,
        "reason": "server shutting down",
    }
    assert ended == ["handler finally"]
