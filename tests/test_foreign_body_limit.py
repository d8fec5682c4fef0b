"""max_content_length for foreign ASGI apps mounted with app.mount(asgi_app, "/x"), raw ASGI."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from junco import Junco
from junco.types import ASGIApp, Message, Receive, Scope, Send

LIMIT = 1000


@dataclass
class Reader:
    """A foreign app that reads the whole body, then answers with its length."""

    catch: bool = False  # answer a 500 of its own when receive raises
    start_first: bool = False  # start the response before reading the body
    calls: int = 0
    got: bytearray = field(default_factory=bytearray)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        if self.start_first:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            more = True
            while more:
                message = await receive()
                self.got += message.get("body", b"")
                more = message.get("more_body", False)
        except Exception:
            if not self.catch:
                raise
            if not self.start_first:
                await send({"type": "http.response.start", "status": 500, "headers": []})
            await send({"type": "http.response.body", "body": b"the app's own error"})
            return
        if not self.start_first:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(self.got)).encode()})


@dataclass
class Sent:
    status: int
    headers: dict[str, str]
    body: bytes


def drive(
    foreign: ASGIApp,
    chunks: list[bytes],
    headers: list[tuple[bytes, bytes]],
    http_version: str = "1.1",
) -> tuple[Sent, int]:
    """POST ``chunks`` to the mounted app; what went out, and how many chunks were taken."""
    app = Junco(max_content_length=LIMIT)
    app.mount(foreign, "/ext")
    pending = list(chunks)
    taken = 0
    out: list[Message] = []

    async def receive() -> Message:
        nonlocal taken
        if not pending:
            await asyncio.Event().wait()  # nothing more: the client waits for the answer
        taken += 1
        body = pending.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        out.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": http_version,
        "method": "POST",
        "scheme": "http",
        "path": "/ext/upload",
        "raw_path": b"/ext/upload",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"example.com"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 30))
    start = next(m for m in out if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in out if m["type"] == "http.response.body")
    names = {k.decode(): v.decode() for k, v in start["headers"]}
    return Sent(start["status"], names, body), taken


CHUNKED = [(b"transfer-encoding", b"chunked")]


def test_a_declared_length_over_the_limit_is_413_before_the_app() -> None:
    foreign = Reader()
    headers = [(b"content-length", b"1001"), (b"accept", b"application/json")]
    sent, taken = drive(foreign, [b"x" * 1001], headers)
    assert sent.status == 413
    assert json.loads(sent.body)["error"] == {
        "status": 413,
        "code": "content_too_large",
        "message": "Payload too large",
        "limit": LIMIT,
    }
    assert (foreign.calls, taken) == (0, 0)  # neither called nor a byte read


def test_bodies_within_the_limit_reach_the_app_whole() -> None:
    foreign = Reader()
    sent, _ = drive(foreign, [b"x" * LIMIT], [(b"content-length", b"1000")])
    assert (sent.status, sent.body) == (200, b"1000")
    foreign = Reader()
    sent, _ = drive(foreign, [b"x" * 400, b"y" * 400, b"z" * 200], CHUNKED)
    assert (sent.status, sent.body) == (200, b"1000")
    assert bytes(foreign.got) == b"x" * 400 + b"y" * 400 + b"z" * 200


def test_a_chunked_body_over_the_limit_is_stopped_as_it_streams() -> None:
    foreign = Reader()
    chunks = [b"x" * 400] * 10
    sent, taken = drive(foreign, chunks, CHUNKED)
    assert sent.status == 413
    assert sent.body == b"Payload too large"
    assert taken == 3  # the third chunk crossed the limit; the rest was never read
    assert len(foreign.got) == 800  # the crossing chunk never reached the app
    assert sent.headers["vary"] == "Accept"  # rendered by junco's error renderer


def test_an_app_that_answers_the_error_itself_is_overruled() -> None:
    foreign = Reader(catch=True)
    sent, _ = drive(foreign, [b"x" * 600, b"x" * 600], CHUNKED)
    assert sent.status == 413
    assert b"the app's own error" not in sent.body


def test_http2_bodies_without_a_length_are_counted_too() -> None:
    sent, _ = drive(Reader(), [b"x" * 600, b"x" * 600], [], http_version="2")
    assert sent.status == 413
    sent, _ = drive(Reader(), [b"x" * 600], [], http_version="2")
    assert (sent.status, sent.body) == (200, b"600")


def test_a_response_already_started_is_left_alone() -> None:
    # Too late for a 413: the app's own status is out, and its error answer follows it.
    foreign = Reader(catch=True, start_first=True)
    sent, _ = drive(foreign, [b"x" * 600, b"x" * 600], CHUNKED)
    assert sent.status == 200
    assert sent.body == b"the app's own error"


def test_more_receives_after_the_limit_keep_refusing() -> None:
    refusals: list[str] = []

    async def stubborn(scope: Scope, receive: Receive, send: Send) -> None:
        for _ in range(3):
            try:
                await receive()
            except Exception as exc:
                refusals.append(type(exc).__name__)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ignored"})

    sent, taken = drive(stubborn, [b"x" * 1200, b"y"], CHUNKED)
    assert sent.status == 413
    assert refusals == ["HTTPException", "HTTPException", "HTTPException"]
    assert taken == 1
