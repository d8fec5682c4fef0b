"""Server-Sent Events: the pure encoder/decoder and ``with_sse`` over the ASGI path."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from junco import ClientDisconnect, Junco, Request, Response, abort, current_request
from junco.sse import _MAX_PENDING, SSE, sse_response, with_sse
from junco.sse.wire import ServerSentEvent, SSEDecoder, encode_comment, encode_event
from junco.testing import TestClient
from junco.types import Message, Receive, Scope, Send
from tests.asyncrun import run

T = TypeVar("T")


def decode(data: bytes) -> list[ServerSentEvent]:
    return SSEDecoder().feed(data)


# -- encoder -----------------------------------------------------------------------------


def test_encode_fields_in_order() -> None:
    out = encode_event("hi", event="greeting", event_id="7", retry=2.5)
    assert out == b"event: greeting\nid: 7\nretry: 2500\ndata: hi\n\n"


def test_encode_data_types() -> None:
    assert encode_event({"a": [1, 2]}) == b'data: {"a":[1,2]}\n\n'
    assert encode_event([1, "x"]) == b'data: [1,"x"]\n\n'
    assert encode_event(b"raw") == b"data: raw\n\n"
    assert encode_event(42) == b"data: 42\n\n"
    assert encode_event("") == b"data: \n\n"
    assert encode_event("x", event_id=5) == b"id: 5\ndata: x\n\n"


@pytest.mark.parametrize("data", ["a\r\nb", "a\rb", "a\nb", b"a\r\nb", b"a\rb", b"a\nb"])
def test_every_line_break_starts_a_new_data_line(data: str | bytes) -> None:
    assert encode_event(data) == b"data: a\ndata: b\n\n"


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\r\nb", "a\x00b", "\n"])
def test_event_name_and_id_refuse_line_breaks_and_nul(bad: str) -> None:
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        encode_event("x", event=bad)
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        encode_event("x", event_id=bad)


@pytest.mark.parametrize("retry", [-1, float("nan"), float("inf")])
def test_bad_retry(retry: float) -> None:
    with pytest.raises(ValueError, match="retry"):
        encode_event("x", retry=retry)


def test_comment_cannot_inject_fields() -> None:
    out = encode_comment("ping\r\ndata: evil\revent: x\nid: 1")
    assert out == b": ping\n: data: evil\n: event: x\n: id: 1\n\n"
    decoder = SSEDecoder()
    assert decoder.feed(out) == []
    assert decoder.comments == ["ping", "data: evil", "event: x", "id: 1"]


HOSTILE = [
    "event: x",
    "line1\nevent: evil\nid: 666\nretry: 1\n\ndata: second",
    "a\r\n\r\nb",
    "\r\r\n\n",
    "trailing\r",
    "\nleading",
    "  spaces kept  ",
    ": not a comment",
    "data: nested",
    "nul\x00inside",
    "unicode \u2028 \u0085 \x0b \x0c stay",
    "",
]


@pytest.mark.parametrize("data", HOSTILE)
def test_hostile_data_round_trips_as_one_event(data: str) -> None:
    events = decode(encode_event(data, event="ok", event_id="1"))
    expected = re.sub(r"\r\n|\r", "\n", data)
    assert events == [ServerSentEvent(expected, "ok", "1")]


def test_random_round_trip() -> None:
    rng = random.Random(1234)
    alphabet = ["a", " ", ":", "\r", "\n", "\r\n", "data:", "event:", "id:", "é", "\x00", "\ufeff"]
    stream = b""
    expected: list[str] = []
    for _ in range(120):
        data = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        stream += encode_event(data)
        if rng.random() < 0.3:
            stream += encode_comment(data)
        expected.append(re.sub(r"\r\n|\r", "\n", data))
    assert [e.data for e in decode(stream)] == expected
    # The same stream, cut at every possible place, decodes the same.
    for cut in range(0, len(stream), 13):
        decoder = SSEDecoder()
        events = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert [e.data for e in events] == expected


# -- decoder -----------------------------------------------------------------------------


def test_decoder_byte_by_byte_with_split_crlf_and_utf8() -> None:
    stream = "data: é\r\ndata: ü\r\n\r\nevent: e\rdata: x\r\r".encode()
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for i in range(len(stream)):
        events += decoder.feed(stream[i : i + 1])
    assert events == [ServerSentEvent("é\nü"), ServerSentEvent("x", "e")]


def test_cr_then_lf_in_the_next_chunk_is_one_line_break() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r") == [ServerSentEvent("a\nb")]
    assert decoder.feed(b"\n") == []  # the LF of the last CRLF, not an empty line


def test_decoder_follows_the_spec() -> None:
    stream = (
        b"\xef\xbb\xbfdata:no space\n\n"  # BOM stripped, space optional
        b"data\n\n"  # no colon: empty value
        b"id: 1\nretry: 3000\ndata: a\n\n"
        b"data: b\n\n"  # the last event id carries over
        b"id: bad\x00\nretry: 12x\ndata: c\n\n"  # NUL id and non-digit retry ignored
        b"id\nevent: only-fields\n\n"  # no data: nothing dispatched, but id reset
        b"data: d\n\n"
        b"data:  two spaces\n\n"
        b"unknown: x\ndata: e\n\n"
        b"data: unterminated"
    )
    assert decode(stream) == [
        ServerSentEvent("no space"),
        ServerSentEvent(""),
        ServerSentEvent("a", id="1", retry=3000),
        ServerSentEvent("b", id="1"),
        ServerSentEvent("c", id="1"),
        ServerSentEvent("d", id=""),
        ServerSentEvent(" two spaces"),
        ServerSentEvent("e"),
    ]


def test_decoder_line_limit() -> None:
    decoder = SSEDecoder(max_line_length=10)
    assert decoder.feed(b"data: 1234\n\n") == [ServerSentEvent("1234")]
    with pytest.raises(ValueError, match="too long"):
        decoder.feed(b"data: " + b"x" * 20)


def test_event_json() -> None:
    assert decode(encode_event({"k": "v\nw"}))[0].json() == {"k": "v\nw"}


# -- with_sse over ASGI ------------------------------------------------------------------


def test_events_and_headers() -> None:
    app = Junco()

    @app.route("/events/<int:n>")
    @with_sse
    async def events(request: Request, sse: SSE, n: int) -> None:
        assert current_request() is request
        for i in range(n):
            await sse.send({"i": i}, event="tick", event_id=i)
        await sse.send("bye", retry=1)

    r = TestClient(app).sync.sse("/events/3")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-accel-buffering"] == "no"
    assert [(e.event, e.id, e.json()) for e in r.events[:3]] == [
        ("tick", "0", {"i": 0}),
        ("tick", "1", {"i": 1}),
        ("tick", "2", {"i": 2}),
    ]
    assert r.events[3] == ServerSentEvent("bye", "message", "2", 1000)


def test_injection_from_request_input() -> None:
    app = Junco()

    @app.route("/echo")
    @with_sse
    async def echo(request: Request, sse: SSE) -> None:
        await sse.send(request.args["msg"])
        await sse.send("end", event="done")

    hostile = "hi\r\nevent: admin\rid: 999\n\ndata: forged"
    r = TestClient(app).sync.sse("/echo?msg=" + hostile.replace("\r", "%0D").replace("\n", "%0A"))
    assert r.events == [
        ServerSentEvent("hi\nevent: admin\nid: 999\n\ndata: forged"),
        ServerSentEvent("end", "done"),
    ]


def test_bad_event_name_is_logged_and_the_stream_ends(caplog: pytest.LogCaptureFixture) -> None:
    app = Junco()

    @app.route("/e")
    @with_sse
    async def e(request: Request, sse: SSE) -> None:
        await sse.send("first")
        await sse.send("x", event=request.args["name"])

    with caplog.at_level(logging.ERROR, logger="junco"):
        r = TestClient(app).sync.sse("/e?name=a%0Aid:%201")
    assert r.status_code == 200
    assert r.events == [ServerSentEvent("first")]
    assert any("SSE handler" in rec.message and rec.exc_info for rec in caplog.records)


def test_keepalive_comments_while_idle() -> None:
    app = Junco()
    seen = asyncio.Event()
    keepalives = 0

    @app.route("/e")
    @with_sse(keepalive=0.01)
    async def e(request: Request, sse: SSE) -> None:
        await sse.send("start")
        await seen.wait()  # quiet until the client has had two keep-alives
        await sse.send("end")

    async def spy_app(scope: Scope, receive: Receive, send: Send) -> None:
        async def spy(message: Message) -> None:
            nonlocal keepalives
            if message.get("body", b"").startswith(b":"):
                keepalives += 1
                if keepalives >= 2:
                    seen.set()
            await send(message)

        await app(scope, receive, spy)

    r = run(TestClient(spy_app).sse("/e"))
    assert [e.data for e in r.events] == ["start", "end"]
    assert r.body.count(b": keep-alive\n\n") >= 2


@pytest.mark.parametrize("keepalive", [0, -1.0])
def test_keepalive_must_be_positive(keepalive: float) -> None:
    with pytest.raises(ValueError, match="keepalive"):
        with_sse(keepalive=keepalive)


def test_last_event_id() -> None:
    app = Junco()

    @app.route("/e")
    @with_sse
    async def e(request: Request, sse: SSE) -> None:
        start = int(sse.last_event_id or 0) + 1
        for i in range(start, start + 2):
            await sse.send(f"n{i}", event_id=i)

    client = TestClient(app).sync
    assert [e.data for e in client.sse("/e").events] == ["n1", "n2"]
    resumed = client.sse("/e", headers={"Last-Event-ID": "41"})
    assert [(e.data, e.id) for e in resumed.events] == [("n42", "42"), ("n43", "43")]


def test_client_gone_cancels_the_handler_and_runs_finally() -> None:
    app = Junco()
    log: list[str] = []

    @app.route("/forever")
    @with_sse
    async def forever(request: Request, sse: SSE) -> None:
        try:
            i = 0
            while True:
                await sse.send(str(i))
                i += 1
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            log.append("cancelled")
            raise
        finally:
            log.append("finally")

    r = run(TestClient(app).sse("/forever", max_events=3))
    assert [e.data for e in r.events][:3] == ["0", "1", "2"]
    assert log == ["cancelled", "finally"]


def test_idle_handler_is_cancelled_on_disconnect() -> None:
    app = Junco()
    log: list[str] = []

    @app.route("/idle")
    @with_sse
    async def idle(request: Request, sse: SSE) -> None:
        try:
            await sse.send("hello")
            await asyncio.Event().wait()
        finally:
            log.append("finally")

    r = run(TestClient(app).sse("/idle", max_events=1))
    assert r.events == [ServerSentEvent("hello")]
    assert log == ["finally"]


def test_handler_error_before_any_event(caplog: pytest.LogCaptureFixture) -> None:
    app = Junco()

    @app.route("/e")
    @with_sse
    async def e(request: Request, sse: SSE) -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="junco"):
        r = TestClient(app).sync.sse("/e")
    assert r.status_code == 200
    assert r.body == b""
    assert any(rec.exc_info and "boom" in str(rec.exc_info[1]) for rec in caplog.records)


def test_head_never_starts_the_handler() -> None:
    app = Junco()
    started: list[bool] = []

    @app.route("/e", methods=["GET"])
    @with_sse
    async def e(request: Request, sse: SSE) -> None:
        started.append(True)
        await sse.send("x")

    r = TestClient(app).sync.head("/e")
    assert r.status_code == 200
    assert r.body is None  # HEAD: no body at all (Microdot's rule)
    assert started == []


def test_sse_response_lets_the_handler_refuse_first() -> None:
    app = Junco()

    async def stream(request: Request, sse: SSE, room: str, *, loud: bool) -> None:
        await sse.send(room.upper() if loud else room)

    @app.route("/rooms/<room>")
    async def rooms(request: Request, room: str) -> Any:
        if room == "secret":
            abort(403)
        return sse_response(request, stream, room, loud=True, keepalive=None)

    client = TestClient(app).sync
    assert client.sse("/rooms/secret").status_code == 403
    assert client.sse("/rooms/lobby").events == [ServerSentEvent("LOBBY")]


def test_microdot_comment_flag_and_comment_method() -> None:
    app = Junco()

    @app.route("/e")
    @with_sse
    async def e(request: Request, sse: SSE) -> None:
        await sse.send("note\ndata: x", comment=True)
        await sse.comment("two")
        await sse.send("real")

    r = TestClient(app).sync.sse("/e")
    assert r.body == b": note\n: data: x\n\n: two\n\ndata: real\n\n"
    assert r.events == [ServerSentEvent("real")]


def test_send_after_the_stream_ended_raises() -> None:
    app = Junco()
    kept: list[SSE] = []

    @app.route("/e")
    @with_sse
    async def e(request: Request, sse: SSE) -> None:
        kept.append(sse)

    async def main() -> None:
        await TestClient(app).sse("/e")
        with pytest.raises(ClientDisconnect):
            await kept[0].send("late")

    run(main())


def test_slow_client_makes_send_wait() -> None:
    app = Junco()
    produced = 0

    @app.route("/e")
    @with_sse
    async def e(request: Request, sse: SSE) -> None:
        nonlocal produced
        for i in range(200):
            await sse.send(str(i))
            produced += 1

    async def main() -> None:
        gate = asyncio.Event()
        chunks: list[bytes] = []
        asked = False

        async def receive() -> Message:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b""}
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body":
                await gate.wait()  # a client that does not read
                chunks.append(message["body"])

        scope = {"type": "http", "method": "GET", "path": "/e", "headers": [(b"host", b"x")]}
        task = asyncio.ensure_future(app(scope, receive, send))
        for _ in range(100):
            await asyncio.sleep(0)
        assert produced <= _MAX_PENDING + 1  # buffered, not unbounded
        gate.set()
        await task
        assert produced == 200
        assert [e.data for e in decode(b"".join(chunks))] == [str(i) for i in range(200)]

    run(main())


def test_handler_that_never_waits_still_notices_the_client_leaving() -> None:
    app = Junco()
    log: list[str] = []

    @app.route("/flood")
    @with_sse
    async def flood(request: Request, sse: SSE) -> None:
        try:
            for _ in range(100_000):  # never awaits anything but sse.send
                await sse.send("x")
            log.append("ran to the end")  # (not cancelled: the loop never ran the client)
        finally:
            log.append("finally")

    r = run(TestClient(app).sse("/flood", max_events=3))
    assert [e.data for e in r.events][:3] == ["x", "x", "x"]
    assert log == ["finally"]


def test_sends_from_several_tasks_are_written_whole() -> None:
    app = Junco()

    @app.route("/e")
    @with_sse(keepalive=None)
    async def e(request: Request, sse: SSE) -> None:
        async def producer(name: str) -> None:
            for i in range(25):
                await sse.send(f"{name}-{i}\nsecond line", event_id=f"{name}{i}")

        await asyncio.gather(*(producer(name) for name in "abcd"))

    async def main() -> list[ServerSentEvent]:
        chunks: list[bytes] = []
        asked: list[bool] = []

        async def receive() -> Message:
            if not asked:
                asked.append(True)
                return {"type": "http.request", "body": b""}
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body":
                await asyncio.sleep(0)  # a write that waits: the others queue up meanwhile
                chunks.append(message["body"])

        scope = {"type": "http", "method": "GET", "path": "/e", "headers": [(b"host", b"x")]}
        await app(scope, receive, send)
        return decode(b"".join(chunks))

    events = run(main())
    assert len(events) == 100
    for name in "abcd":
        mine = [e for e in events if e.id.startswith(name)]
        assert [e.data for e in mine] == [f"{name}-{i}\nsecond line" for i in range(25)]


def wrapped_body_app() -> tuple[Junco, list[str]]:
    """``/few`` sends 40 events, ``/forever`` never stops; a hook replaces each body."""
    app = Junco()
    log: list[str] = []

    @app.route("/few")
    @with_sse
    async def few(request: Request, sse: SSE) -> None:
        for i in range(40):  # more than the fallback path buffers
            await sse.send(str(i))

    @app.route("/forever")
    @with_sse
    async def forever(request: Request, sse: SSE) -> None:
        try:
            for i in range(1_000_000):
                await sse.send(str(i))
        finally:
            log.append("finally")

    @app.after_request
    def wrap(request: Request, response: Response) -> Response:
        inner = response.body_iter

        async def passthrough() -> AsyncIterator[bytes]:
            async for chunk in inner:
                yield chunk

        response.body_iter = passthrough()
        return response

    return app, log


def test_a_body_replaced_by_a_middleware_still_streams_and_stops() -> None:
    app, log = wrapped_body_app()
    r = run(TestClient(app).sse("/forever", max_events=3))
    assert [e.data for e in r.events][:3] == ["0", "1", "2"]
    assert log == ["finally"]


def test_a_body_replaced_by_a_middleware_ends_with_the_handler() -> None:
    r = TestClient(wrapped_body_app()[0]).sync.sse("/few")
    assert [e.data for e in r.events] == [str(i) for i in range(40)]


def test_keepalive_resumes_after_a_burst_of_events() -> None:
    app = Junco()
    quiet = asyncio.Event()
    after_burst = 0
    burst_done = False

    @app.route("/e")
    @with_sse(keepalive=0.01)
    async def e(request: Request, sse: SSE) -> None:
        nonlocal burst_done
        for i in range(50):
            await sse.send(str(i))
        burst_done = True
        await quiet.wait()  # silence: the one timer must fire again
        await sse.send("end")

    async def spy_app(scope: Scope, receive: Receive, send: Send) -> None:
        async def spy(message: Message) -> None:
            nonlocal after_burst
            if burst_done and message.get("body", b"") == b": keep-alive\n\n":
                after_burst += 1
                if after_burst >= 2:
                    quiet.set()
            await send(message)

        await app(scope, receive, spy)

    r = run(TestClient(spy_app).sse("/e"))
    assert [e.data for e in r.events] == [*(str(i) for i in range(50)), "end"]
    assert after_burst >= 2


def test_decorator_checks() -> None:
    def sync_handler(request: Request, sse: SSE) -> None:
        pass

    with pytest.raises(TypeError, match="async"):
        with_sse(sync_handler)  # type: ignore[arg-type]


# -- the examples in docs/sse.md ---------------------------------------------------------


def doc_blocks(page: str) -> list[dict[str, Any]]:
    """Run every python block of a docs page; return each block's namespace."""
    text = (Path(__file__).resolve().parent.parent / "docs" / page).read_text(encoding="utf-8")
    namespaces = []
    for code in re.findall(r"```python\n(.*?)```", text, re.S):
        namespace: dict[str, Any] = {"__name__": "docs_example"}
        exec(compile(code, page, "exec"), namespace)
        namespaces.append(namespace)
    return namespaces


def test_docs_examples() -> None:
    clock, news, rooms, testing = doc_blocks("sse.md")
    ticks = run(TestClient(clock["app"]).sse("/clock", max_events=1)).events
    assert [(e.event, e.id, e.json()) for e in ticks] == [("tick", "0", {"tick": 0})]
    client = TestClient(news["app"]).sync
    assert [e.data for e in client.sse("/news").events] == ["first", "second", "third", "fourth"]
    testing["check"](news["app"])
    client = TestClient(rooms["app"]).sync
    assert client.sse("/rooms/attic/events").status_code == 404
    assert client.sse("/rooms/lobby/events").events == [ServerSentEvent("welcome to lobby")]
