"""WebSocket endpoints over the real ASGI path (the in-process test client)."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from junco import (
    ConfigurationError,
    HTTPException,
    Junco,
    Request,
    Response,
    abort,
    current_request,
)
from junco.testing import TestClient, WebSocketRejected, WebSocketSession
from junco.types import Message, Receive, Scope, Send
from junco.websocket import _INBOX, WebSocket, WebSocketDisconnect, with_websocket
from tests.asyncrun import run

T = TypeVar("T")
NO_HTTP_RESPONSE: dict[str, Any] = {"extensions": {}}  # a server without websocket.http.response


async def rejected(session: WebSocketSession) -> WebSocketRejected:
    with pytest.raises(WebSocketRejected) as info:
        async with session:
            pass
    return info.value


def echo_app() -> Junco:
    app = Junco()

    @app.route("/echo/<int:times>")
    @with_websocket
    async def echo(request: Request, ws: WebSocket, times: int) -> None:
        assert current_request() is request
        async for message in ws:
            await ws.send(message * times)

    return app


# -- messages ----------------------------------------------------------------------------


def test_echo_text_and_bytes_then_client_close() -> None:
    async def main() -> None:
        async with TestClient(echo_app()).websocket("/echo/2") as ws:
            await ws.send("ab")
            assert await ws.receive() == "abab"
            await ws.send(b"\x00\xff")
            assert await ws.receive() == b"\x00\xff\x00\xff"
        assert ws.close_code == 1000

    run(main())


def test_handler_return_closes_1000_and_error_closes_1011(caplog: pytest.LogCaptureFixture) -> None:
    app = Junco()

    @app.route("/once")
    @with_websocket
    async def once(request: Request, ws: WebSocket) -> None:
        await ws.send("only")

    @app.route("/boom")
    @with_websocket
    async def boom(request: Request, ws: WebSocket) -> None:
        await ws.receive()
        raise RuntimeError("kaput")

    async def main() -> None:
        client = TestClient(app)
        async with client.websocket("/once") as ws:
            assert await ws.receive() == "only"
            with pytest.raises(WebSocketDisconnect) as info:
                await ws.receive()
            assert info.value.code == 1000
        async with client.websocket("/boom") as ws:
            await ws.send("go")
            with pytest.raises(WebSocketDisconnect) as info:
                await ws.receive()
            assert info.value.code == 1011
        assert ws.close_code == 1011

    with caplog.at_level(logging.ERROR, logger="junco"):
        run(main())
    assert any(
        r.name == "junco" and r.exc_info and "kaput" in str(r.exc_info[1]) for r in caplog.records
    )


def test_server_close_with_code_and_reason() -> None:
    app = Junco()

    @app.route("/bye")
    @with_websocket
    async def bye(request: Request, ws: WebSocket) -> None:
        await ws.close(4001, "go away")
        await ws.close()  # harmless
        with pytest.raises(WebSocketDisconnect):
            await ws.send("late")
        with pytest.raises(WebSocketDisconnect):
            await ws.receive()

    async def main() -> None:
        async with TestClient(app).websocket("/bye") as ws:
            with pytest.raises(WebSocketDisconnect) as info:
                await ws.receive()
            assert (info.value.code, info.value.reason) == (4001, "go away")

    run(main())


def test_misuse_raises_in_the_handler() -> None:
    app = Junco()
    errors: list[str] = []

    @app.route("/misuse")
    @with_websocket
    async def misuse(request: Request, ws: WebSocket) -> None:
        misuses: list[Callable[[], Awaitable[None]]] = [
            lambda: ws.send(123),  # type: ignore[arg-type]
            lambda: ws.close(1005),
            lambda: ws.close(1000, "x" * 124),
            lambda: ws.accept(),
        ]
        for bad in misuses:
            try:
                await bad()
            except (TypeError, ValueError, RuntimeError) as exc:
                errors.append(type(exc).__name__)
        await ws.send("done")

    async def main() -> None:
        async with TestClient(app).websocket("/misuse") as ws:
            assert await ws.receive() == "done"

    run(main())
    assert errors == ["TypeError", "ValueError", "ValueError", "RuntimeError"]


# -- refusing the handshake --------------------------------------------------------------


def guarded_app() -> Junco:
    app = Junco()
    ran: list[str] = []
    app.state["ran"] = ran

    @app.before_request
    def auth(request: Request) -> Any:
        token = request.args.get("token")
        if token is None:
            return "login first", 401, {"WWW-Authenticate": "Bearer"}
        if token == "banned":
            abort(403, "banned")
        return None

    @app.after_request
    def stamp(request: Request, response: Response) -> None:
        response.headers["X-Stamp"] = "1"

    @app.errorhandler(403)
    def forbidden(request: Request) -> Any:
        return "custom 403", 403

    @app.route("/ws")
    @with_websocket
    async def ws_route(request: Request, ws: WebSocket) -> None:
        ran.append("handler")
        await ws.send("welcome")

    return app


def test_hook_refuses_with_its_response() -> None:
    async def main() -> None:
        app = guarded_app()
        client = TestClient(app)
        refusal = await rejected(client.websocket("/ws"))
        assert refusal.status_code == 401
        assert refusal.response.body == b"login first"
        assert refusal.response.headers["www-authenticate"] == "Bearer"
        assert refusal.response.headers["x-stamp"] == "1"  # after_request hooks ran
        refusal = await rejected(client.websocket("/ws?token=banned"))
        assert (refusal.status_code, refusal.response.body) == (403, b"custom 403")
        assert app.state["ran"] == []
        async with client.websocket("/ws?token=ok") as ws:
            assert await ws.receive() == "welcome"
        assert app.state["ran"] == ["handler"]

    run(main())


def test_without_the_http_response_extension_a_refusal_is_a_close() -> None:
    async def main() -> None:
        refusal = await rejected(TestClient(guarded_app()).websocket("/ws", scope=NO_HTTP_RESPONSE))
        assert refusal.status_code == 403  # what servers answer to a close before accept
        assert refusal.close_code == 1008

    run(main())


def test_unknown_path_is_closed_before_accept() -> None:
    async def main() -> None:
        refusal = await rejected(TestClient(echo_app()).websocket("/nowhere"))
        assert (refusal.status_code, refusal.close_code) == (403, 1008)

    run(main())


def test_http_and_websocket_routes_do_not_mix() -> None:
    app = Junco()
    ran: list[str] = []

    @app.get("/page")
    async def page(request: Request) -> str:
        ran.append("page")
        return "page"

    @app.route("/ws")
    @with_websocket
    async def ws_route(request: Request, ws: WebSocket) -> None:
        ran.append("ws")

    async def main() -> None:
        client = TestClient(app)
        refusal = await rejected(client.websocket("/page"))
        assert refusal.close_code == 1008
        assert (await client.get("/ws")).status_code == 400  # a route, but not a handshake
        assert (await client.request("WEBSOCKET", "/ws")).status_code in (400, 404, 405)

    run(main())
    assert ran == []


def test_bad_handshake_headers_and_paths_are_refused_cleanly() -> None:
    async def main() -> None:
        app = Junco(max_header_bytes=1000)

        @app.route("/ws")
        @with_websocket
        async def ws_route(request: Request, ws: WebSocket) -> None:
            raise AssertionError("must not run")

        client = TestClient(app)
        refusal = await rejected(client.websocket("/ws", headers={"X-Big": "x" * 2000}))
        assert refusal.status_code == 431
        refusal = await rejected(client.websocket("/ws", headers=[("Host", "a"), ("Host", "b")]))
        assert refusal.status_code == 400
        refusal = await rejected(client.websocket("/ws", scope={"path": "/ws\r\n"}))
        assert refusal.status_code in (400, 403)

    run(main())


# -- accept=False ------------------------------------------------------------------------


def test_handler_accepting_itself() -> None:
    app = Junco()

    @app.route("/manual")
    @with_websocket(accept=False)
    async def manual(request: Request, ws: WebSocket) -> Any:
        mode = request.args.get("mode")
        if mode == "close":
            await ws.close()
            return None
        if mode == "abort":
            abort(401)
        if mode == "response":
            return Response("teapot", 418)
        if mode == "nothing":
            return None
        if mode == "early":
            await ws.receive()
        await ws.accept("v2", headers={"X-Room": "lobby"})
        await ws.send(f"{ws.subprotocols}")

    async def main() -> None:
        client = TestClient(app)
        assert (await rejected(client.websocket("/manual?mode=close"))).status_code == 403
        assert (await rejected(client.websocket("/manual?mode=abort"))).status_code == 401
        refusal = await rejected(client.websocket("/manual?mode=response"))
        assert (refusal.status_code, refusal.response.body) == (418, b"teapot")
        assert (await rejected(client.websocket("/manual?mode=nothing"))).close_code == 1008
        assert (await rejected(client.websocket("/manual?mode=early"))).status_code == 500
        not_offered = await rejected(client.websocket("/manual", subprotocols=["v1"]))
        assert not_offered.status_code == 500
        async with client.websocket("/manual", subprotocols=["v1", "v2"]) as ws:
            assert ws.subprotocol == "v2"
            assert ws.accept_headers["x-room"] == "lobby"
            assert await ws.receive() == "['v1', 'v2']"

    run(main())


# -- subprotocols ------------------------------------------------------------------------


def test_subprotocol_negotiation_prefers_the_server_order() -> None:
    app = Junco()

    @app.route("/chat")
    @with_websocket(subprotocols=["chat.v2", "chat.v1"])
    async def chat(request: Request, ws: WebSocket) -> None:
        await ws.send(repr((ws.subprotocols, ws.subprotocol)))

    async def main() -> None:
        client = TestClient(app)
        cases = [
            (["chat.v1", "chat.v2"], "chat.v2"),
            (["chat.v1", "other"], "chat.v1"),
            (["other"], None),
            ([], None),
        ]
        for offered, chosen in cases:
            async with client.websocket("/chat", subprotocols=offered) as ws:
                assert ws.subprotocol == chosen
                assert await ws.receive() == repr((offered, chosen))

    run(main())


# -- limits ------------------------------------------------------------------------------


def test_message_too_big_closes_1009() -> None:
    app = Junco()
    seen: list[Any] = []

    @app.route("/small")
    @with_websocket(max_message_size=10)
    async def small(request: Request, ws: WebSocket) -> None:
        try:
            while True:
                seen.append(await ws.receive())
        except WebSocketDisconnect as exc:
            seen.append(exc.code)
            raise

    async def main() -> None:
        client = TestClient(app)
        for ok, big in (("é" * 5, "é" * 6), (b"x" * 10, b"x" * 11), ("x" * 10, "x" * 11)):
            seen.clear()
            async with client.websocket("/small") as ws:
                await ws.send(ok)
                await ws.send(big)
                with pytest.raises(WebSocketDisconnect) as info:
                    await ws.receive()
                assert info.value.code == 1009
            assert seen == [ok, 1009]

    run(main())


def test_per_app_default_message_size() -> None:
    app = Junco()
    app.extensions["websocket_max_message_size"] = 4

    @app.route("/ws")
    @with_websocket
    async def ws_route(request: Request, ws: WebSocket) -> None:
        async for message in ws:
            await ws.send(message)

    async def main() -> None:
        async with TestClient(app).websocket("/ws") as ws:
            await ws.send("1234")
            assert await ws.receive() == "1234"
            await ws.send("12345")
            with pytest.raises(WebSocketDisconnect) as info:
                await ws.receive()
            assert info.value.code == 1009

    run(main())


def test_unread_messages_are_not_buffered_without_bound() -> None:
    app = Junco()
    gate = asyncio.Event()

    @app.route("/slow")
    @with_websocket
    async def slow(request: Request, ws: WebSocket) -> None:
        await gate.wait()
        for _ in range(50):
            await ws.send(await ws.receive())

    async def main() -> None:
        async with TestClient(app).websocket("/slow") as ws:
            for i in range(50):
                await ws.send(str(i))
            for _ in range(20):
                await asyncio.sleep(0)
            # The app pulled at most its inbox plus the message in hand.
            assert ws._to_app.qsize() >= 50 - _INBOX - 1
            gate.set()
            assert [await ws.receive() for _ in range(50)] == [str(i) for i in range(50)]

    run(main())


def test_decorator_checks() -> None:
    with pytest.raises(ValueError, match="positive"):
        with_websocket(max_message_size=0)
    with pytest.raises(TypeError, match="lists"):
        with_websocket(subprotocols="chat")


# -- disconnects -------------------------------------------------------------------------


def test_disconnect_while_receiving_raises_websocket_disconnect() -> None:
    app = Junco()
    outcome: list[Any] = []
    done = asyncio.Event()

    @app.route("/ws")
    @with_websocket
    async def ws_route(request: Request, ws: WebSocket) -> None:
        try:
            await ws.receive()
        except WebSocketDisconnect as exc:
            outcome.append(exc.code)
            with pytest.raises(WebSocketDisconnect):
                await ws.send("too late")
            outcome.append("still running")
        finally:
            done.set()

    async def main() -> None:
        async with TestClient(app).websocket("/ws") as ws:
            await ws.close(1001)
        await done.wait()

    run(main())
    assert outcome == [1001, "still running"]


def test_disconnect_while_busy_cancels_the_handler() -> None:
    app = Junco()
    outcome: list[str] = []

    @app.route("/ws")
    @with_websocket
    async def ws_route(request: Request, ws: WebSocket) -> None:
        try:
            await ws.send("busy now")
            await asyncio.Event().wait()  # not receiving: only cancellation ends this
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        finally:
            outcome.append("finally")

    async def main() -> None:
        async with TestClient(app).websocket("/ws") as ws:
            assert await ws.receive() == "busy now"
        # Leaving the block closed the session and waited for the app to return.

    run(main())
    assert outcome == ["cancelled", "finally"]


def test_server_cancellation_is_not_swallowed() -> None:
    app = Junco()
    started = asyncio.Event()

    @app.route("/ws")
    @with_websocket
    async def ws_route(request: Request, ws: WebSocket) -> None:
        started.set()
        await asyncio.Event().wait()

    async def main() -> None:
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        await inbox.put({"type": "websocket.connect"})
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {"type": "websocket", "path": "/ws", "headers": [(b"host", b"x")]}
        task = asyncio.ensure_future(app(scope, inbox.get, send))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sent[0]["type"] == "websocket.accept"

    run(main())


# -- origins -----------------------------------------------------------------------------


def origin_app(**options: Any) -> Junco:
    app = Junco()

    @app.route("/ws")
    @with_websocket(**options)
    async def ws_route(request: Request, ws: WebSocket) -> None:
        await ws.send("in")

    return app


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # not a browser
        ("http://localhost", True),
        ("http://LOCALHOST:80", False),  # compared as sent, like CORS and CSRF
        ("https://localhost", False),  # another scheme is another origin
        ("http://localhost:8000", False),
        ("https://evil.example", False),
        ("null", False),
        ("http://[::1", False),
        ("javascript:alert(1)", False),
    ],
)
def test_cross_origin_handshakes_are_refused_by_default(origin: str | None, allowed: bool) -> None:
    run(handshake(TestClient(origin_app()), origin, allowed))


async def handshake(client: TestClient, origin: str | None, allowed: bool) -> None:
    """Open ``/ws`` with ``origin``: it must be accepted, or refused with 403."""
    headers = {"Origin": origin} if origin else None
    session = client.websocket("/ws", headers=headers)
    if allowed:
        async with session as ws:
            assert await ws.receive() == "in"
    else:
        assert (await rejected(session)).status_code == 403


@pytest.mark.parametrize(
    ("scheme", "origin", "allowed"),
    [
        ("https", "https://localhost", True),
        ("https", "http://localhost", False),  # a wss handshake from an http page
        ("http", "https://localhost", False),
        ("https", "https://localhost:443", False),  # not what a browser sends
    ],
)
def test_origin_scheme_must_match_the_handshakes(scheme: str, origin: str, allowed: bool) -> None:
    run(handshake(TestClient(origin_app(), scheme=scheme), origin, allowed))


def test_two_origin_headers_are_refused_even_when_one_is_own() -> None:
    # One policy for a repeated Origin everywhere (CORS, CSRF, WebSocket).
    async def main() -> None:
        client = TestClient(origin_app(allowed_origins=["*"]))
        headers = [("Origin", "http://localhost"), ("Origin", "https://evil.example")]
        session = client.websocket("/ws", headers=headers)
        assert (await rejected(session)).status_code == 403

    run(main())


def test_malformed_allowed_origin_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        with_websocket(allowed_origins=["https://app.example/path"])


def test_allowed_origins() -> None:
    async def main() -> None:
        listed = TestClient(origin_app(allowed_origins=["https://APP.example:443/"]))
        async with listed.websocket("/ws", headers={"Origin": "https://app.example"}) as ws:
            assert await ws.receive() == "in"
        assert (
            await rejected(listed.websocket("/ws", headers={"Origin": "https://x"}))
        ).status_code == 403
        anyone = TestClient(origin_app(allowed_origins=["*"]))
        async with anyone.websocket("/ws", headers={"Origin": "https://x"}) as ws:
            assert await ws.receive() == "in"
        per_app = origin_app()
        per_app.extensions["websocket_allowed_origins"] = "https://x"
        async with TestClient(per_app).websocket("/ws", headers={"Origin": "https://x"}) as ws:
            assert await ws.receive() == "in"

    run(main())


# -- mounts ------------------------------------------------------------------------------


def test_mounted_subapp_routes_and_local_hooks() -> None:
    parent = Junco()
    sub = Junco()

    @sub.before_request
    def only_admins(request: Request) -> Any:
        return None if request.args.get("admin") else ("no", 403)

    @sub.route("/live/<room>")
    @with_websocket
    async def live(request: Request, ws: WebSocket, room: str) -> None:
        await ws.send(f"{request.url_prefix} {room}")

    parent.mount(sub, "/admin", local=True)

    async def main() -> None:
        client = TestClient(parent)
        assert (await rejected(client.websocket("/admin/live/a"))).status_code == 403
        async with client.websocket("/admin/live/a?admin=1") as ws:
            assert await ws.receive() == "/admin a"

    run(main())


def test_foreign_asgi_app_gets_the_websocket() -> None:
    parent = Junco()

    async def foreign(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": scope["root_path"] + "|" + scope["path"]})
        await send({"type": "websocket.close", "code": 1000})

    parent.mount(foreign, "/ext")

    async def main() -> None:
        async with TestClient(parent).websocket("/ext/x") as ws:
            assert await ws.receive() == "/ext|/ext/x"

    run(main())


# -- the test client itself --------------------------------------------------------------


def test_session_reports_an_app_that_never_answers() -> None:
    async def silent(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

    async def crashing(scope: Scope, receive: Receive, send: Send) -> None:
        raise HTTPException(500)

    async def main() -> None:
        with pytest.raises(RuntimeError, match="without answering"):
            await TestClient(silent).websocket("/").connect()
        with pytest.raises(HTTPException):
            await TestClient(crashing).websocket("/").connect()

    run(main())


def test_a_client_gone_before_the_handler_starts_still_lets_it_run() -> None:
    app = Junco()
    outcome: list[Any] = []

    @app.route("/ws")
    @with_websocket
    async def ws_route(request: Request, ws: WebSocket) -> None:
        try:
            outcome.append("started")
            await ws.receive()
        except WebSocketDisconnect as exc:
            outcome.append(exc.code)
        finally:
            outcome.append("finally")

    async def main() -> None:
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        for message in (
            {"type": "websocket.connect"},
            {"type": "websocket.disconnect", "code": 1001},
        ):
            await inbox.put(message)
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {"type": "websocket", "path": "/ws", "headers": [(b"host", b"x")]}
        await app(scope, inbox.get, send)
        assert [m["type"] for m in sent] == ["websocket.accept"]

    run(main())
    assert outcome == ["started", 1001, "finally"]


# -- the examples in docs/websocket.md ---------------------------------------------------


def doc_blocks(page: str) -> list[dict[str, Any]]:
    """Run every python block of a docs page; return each block's namespace."""
    text = (Path(__file__).resolve().parent.parent / "docs" / page).read_text(encoding="utf-8")
    namespaces = []
    for code in re.findall(r"```python\n(.*?)```", text, re.S):
        namespace: dict[str, Any] = {"__name__": "docs_example"}
        exec(compile(code, page, "exec"), namespace)
        namespaces.append(namespace)
    return namespaces


def test_docs_examples(capsys: pytest.CaptureFixture[str]) -> None:
    echo, lifetimes, private, rooms, testing = doc_blocks("websocket.md")

    async def main() -> None:
        client = TestClient(lifetimes["app"])
        async with client.websocket("/ticker") as ws:
            assert await ws.receive() == "tick 0"
            assert len(lifetimes["listeners"]) == 1
        assert lifetimes["listeners"] == set()  # the cancelled handler's finally ran
        async with client.websocket("/chat") as ws:
            await ws.send("hi")
            assert await ws.receive() == "you said hi"
            await ws.close(1001)
        client = TestClient(rooms["app"])
        assert (await rejected(client.websocket("/rooms/staff"))).status_code == 403
        async with client.websocket("/rooms/staff", headers={"Cookie": "role=staff"}) as ws:
            assert ws.accept_headers["x-room"] == "staff"
            assert await ws.receive() == "joined staff"
        both = Junco()
        both.mount(echo["app"])
        both.mount(private["app"], local=True)
        await testing["check"](both)
        async with TestClient(both).websocket("/private?token=s3cret") as ws:
            assert await ws.receive() == "welcome"

    run(main())
    assert "client left with code 1001" in capsys.readouterr().out


# -- more edges --------------------------------------------------------------------------


def test_send_to_a_client_the_reader_has_not_seen_leave() -> None:
    app = Junco()
    gate = asyncio.Event()
    outcome: list[Any] = []

    @app.route("/ws")
    @with_websocket
    async def ws_route(request: Request, ws: WebSocket) -> None:
        await gate.wait()
        try:
            await ws.send("anyone there?")
        except WebSocketDisconnect as exc:
            outcome.extend([exc.code, ws.closed, ws.accepted])

    async def main() -> None:
        async with TestClient(app).websocket("/ws") as ws:
            for i in range(_INBOX + 3):  # the reader stops at a full inbox
                await ws.send(str(i))
            closing = asyncio.ensure_future(ws.close())
            await asyncio.sleep(0)
            gate.set()
            await closing

    run(main())
    assert outcome == [1006, True, True]


def test_decorators_stacked_over_with_websocket() -> None:
    app = Junco()

    def login_required(f: Any) -> Any:
        @functools.wraps(f)
        async def wrapper(request: Request, **kwargs: Any) -> Any:
            if "user" not in request.cookies:
                return "who are you?", 401
            return await f(request, **kwargs)

        return wrapper

    def fails_afterwards(f: Any) -> Any:
        @functools.wraps(f)
        async def wrapper(request: Request, **kwargs: Any) -> Any:
            await f(request, **kwargs)
            raise RuntimeError("after the session")

        return wrapper

    @app.route("/me")
    @login_required
    @with_websocket
    async def me(request: Request, ws: WebSocket) -> None:
        await ws.send(request.cookies["user"])

    @app.route("/late")
    @fails_afterwards
    @with_websocket
    async def late(request: Request, ws: WebSocket) -> None:
        await ws.send("fine")

    async def main() -> None:
        client = TestClient(app)
        refusal = await rejected(client.websocket("/me"))
        assert (refusal.status_code, refusal.response.body) == (401, b"who are you?")
        async with client.websocket("/me", headers={"Cookie": "user=ann"}) as ws:
            assert await ws.receive() == "ann"
        async with client.websocket("/late") as ws:
            assert await ws.receive() == "fine"

    run(main())


def test_refusal_with_a_streamed_body_and_request_hooks() -> None:
    app = Junco()

    @app.before_request
    def refuse(request: Request) -> Any:
        @request.after_request
        def mark(request: Request, response: Response) -> None:
            response.headers["X-Per-Request"] = "yes"

        def body() -> Any:
            yield "not "
            yield "today"

        return Response(body(), 429)

    @app.route("/ws")
    @with_websocket
    async def ws_route(request: Request, ws: WebSocket) -> None:
        raise AssertionError("must not run")

    async def main() -> None:
        refusal = await rejected(TestClient(app).websocket("/ws"))
        assert refusal.status_code == 429
        assert refusal.response.body == b"not today"
        assert refusal.response.headers["x-per-request"] == "yes"

    run(main())


def test_accept_refuses_a_subprotocol_header() -> None:
    app = Junco()

    @app.route("/ws")
    @with_websocket(accept=False)
    async def ws_route(request: Request, ws: WebSocket) -> None:
        assert not ws.accepted
        with pytest.raises(RuntimeError, match="accept"):
            await ws.send("early")
        with pytest.raises(ValueError, match="subprotocol"):
            await ws.accept(headers={"Sec-WebSocket-Protocol": "x"})
        await ws.accept()
        await ws.send("ok")

    async def main() -> None:
        async with TestClient(app).websocket("/ws") as ws:
            assert await ws.receive() == "ok"

    run(main())


def test_refusal_runs_after_hooks_in_the_http_order() -> None:
    # App hooks first, then the per-request ones, as for HTTP; their results coerced.
    app = Junco()
    order: list[str] = []

    @app.after_request
    def app_hook(request: Request, response: Response) -> None:
        order.append("app")

    @app.route("/refuse")
    @with_websocket(accept=False)
    async def refuse(request: Request, ws: WebSocket) -> Any:
        @request.after_request
        def per_request(request: Request, response: Response) -> tuple[str, int]:
            order.append("request")
            return "replaced", 403

        return "no", 403

    async def main() -> WebSocketRejected:
        return await rejected(TestClient(app).websocket("/refuse"))

    refusal = run(main())
    assert order == ["app", "request"]
    assert (refusal.status_code, refusal.response.body) == (403, b"replaced")


# -- decorator order -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["with_websocket", "with_sse"])
def test_endpoint_decorator_above_route_is_refused_at_registration(name: str) -> None:
    # It used to leave a GET route holding the unwrapped function: a 500.
    from junco.sse import with_sse

    decorators: dict[str, Callable[[Any], Any]] = {
        "with_websocket": with_websocket,
        "with_sse": with_sse,
    }
    decorator = decorators[name]
    app = Junco()
    with pytest.raises(ConfigurationError, match=rf"@{name} must come below @app\.route"):

        @decorator
        @app.route("/endpoint")
        async def endpoint(request: Request, other: Any) -> None: ...


def test_either_decorator_may_be_repeated_in_the_right_order() -> None:
    app = Junco()

    @app.route("/a")
    @app.route("/b")
    @with_websocket
    async def ws_route(request: Request, ws: WebSocket) -> None:
        await ws.send(request.path)

    async def main() -> None:
        for path in ("/a", "/b"):
            async with TestClient(app).websocket(path) as ws:
                assert await ws.receive() == path

    run(main())


# -- one task per connection, and servers that closed first ------------------------------


def raw_session(app: Junco, send: Send) -> tuple[asyncio.Queue[Message], Awaitable[None]]:
    """Drive ``app`` as a server would: an inbox for ``receive``, the given ``send``."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})
    scope = {"type": "websocket", "path": "/ws", "headers": [(b"host", b"x")]}
    return inbox, app(scope, inbox.get, send)


def test_the_handler_runs_in_the_servers_task_and_leaves_no_cancellation_behind() -> None:
    app = Junco()
    tasks: list[Any] = []

    @app.route("/ws")
    @with_websocket
    async def ws_route(request: Request, ws: WebSocket) -> None:
        tasks.append(asyncio.current_task())
        await ws.send("hello")
        await asyncio.Event().wait()  # only the client's departure ends this

    async def main() -> None:
        async def send(message: Message) -> None:
            if message["type"] == "websocket.send":
                inbox.put_nowait({"type": "websocket.disconnect", "code": 1001})

        inbox, served = raw_session(app, send)
        await served  # returns: the departure's cancellation was taken back
        assert tasks == [asyncio.current_task()]
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0
        await asyncio.sleep(0)  # and no cancellation is still pending for this task

    run(main())


@pytest.mark.parametrize(
    "refusal",
    [
        RuntimeError("Unexpected ASGI message 'websocket.send', after sending 'websocket.close'."),
        OSError("client disconnected"),
    ],
)
def test_a_send_the_server_refuses_ends_the_handler_as_a_disconnect(
    refusal: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    # uvicorn, once its ping timed out (or the client broke the protocol), has sent
    # its close but not yet queued the disconnect: a send then raises RuntimeError.
    app = Junco()
    outcome: list[Any] = []

    @app.route("/ws")
    @with_websocket
    async def ws_route(request: Request, ws: WebSocket) -> None:
        await ws.send("first")
        try:
            await ws.send("second")
        except WebSocketDisconnect as exc:
            outcome.extend([exc.code, ws.closed])
            raise

    async def main() -> None:
        sent: list[Message] = []

        async def send(message: Message) -> None:
            if len(sent) == 2:  # the accept and the first message went out
                raise refusal
            sent.append(message)

        await raw_session(app, send)[1]
        assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send"]

    with caplog.at_level(logging.INFO, logger="junco"):
        run(main())
    assert outcome == [1006, True]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_cancelled_receiver_does_not_cancel_another() -> None:
    app = Junco()
    outcome: list[Any] = []

    @app.route("/ws")
    @with_websocket
    async def ws_route(request: Request, ws: WebSocket) -> None:
        first = asyncio.ensure_future(ws.receive())
        second = asyncio.ensure_future(ws.receive())
        await asyncio.sleep(0)  # both wait now
        first.cancel()
        await ws.send("one receiver left")
        outcome.append(await second)
        outcome.append(first.cancelled())

    async def main() -> None:
        async with TestClient(app).websocket("/ws") as ws:
            assert await ws.receive() == "one receiver left"
            await ws.send("for the second")

    run(main())
    assert outcome == ["for the second", True]
