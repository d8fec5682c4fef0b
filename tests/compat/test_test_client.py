"""The test client behaves as Microdot's, so ported test suites run unchanged."""

from __future__ import annotations

import binascii
import unittest
from collections.abc import AsyncGenerator, Generator
from typing import Any

from junco.compat.microdot import Microdot, Request, Response, TestClient
from junco.compat.microdot.sse import SSE, with_sse
from junco.compat.microdot.websocket import WebSocket, with_websocket


def cookie_app() -> Microdot:
    app = Microdot()

    @app.route("/cookies")
    def cookies(req: Request) -> dict[str, str]:
        return dict(req.cookies)

    @app.route("/set")
    def set_cookies(req: Request) -> Response:
        res = Response("set")
        res.set_cookie("everywhere", "1", path="/")
        res.set_cookie("admin", "2", path="/admin")
        return res

    @app.route("/admin/cookies")
    def admin_cookies(req: Request) -> dict[str, str]:
        return dict(req.cookies)

    @app.route("/unset")
    def unset(req: Request) -> Response:
        res = Response("unset")
        res.delete_cookie("admin", path="/admin")
        return res

    return app


class TestResponses(unittest.IsolatedAsyncioTestCase):
    async def test_headers_compare_equal_to_a_dict(self) -> None:
        app = Microdot()

        @app.route("/")
        def index(req: Request) -> tuple[str, dict[str, str]]:
            return "foo", {"X-Foo": "bar"}

        res = await TestClient(app).get("/")
        self.assertEqual(
            res.headers,
            {"Content-Type": "text/plain; charset=UTF-8", "Content-Length": "3", "X-Foo": "bar"},
        )

    async def test_set_cookie_is_a_list(self) -> None:
        app = Microdot()

        @app.route("/")
        def index(req: Request) -> Response:
            res = Response("foo")
            res.set_cookie("one", "1")
            return res

        res = await TestClient(app).get("/")
        self.assertEqual(res.headers["Set-Cookie"], ["one=1"])
        self.assertEqual(res.headers.get("Set-Cookie"), ["one=1"])

    async def test_binary_body_has_no_text_or_json(self) -> None:
        app = Microdot()

        @app.route("/bin")
        def index(req: Request) -> tuple[bytes, dict[str, str]]:
            return b"\xff\xfe", {"Content-Type": "application/octet-stream"}

        res = await TestClient(app).get("/bin")
        self.assertEqual(res.body, b"\xff\xfe")
        self.assertIsNone(res.text)
        self.assertIsNone(res.json)

    async def test_json_only_for_json_responses(self) -> None:
        app = Microdot()

        @app.route("/text")
        def text(req: Request) -> str:
            return '{"looks": "like json"}'

        res = await TestClient(app).get("/text")
        self.assertEqual(res.text, '{"looks": "like json"}')
        self.assertIsNone(res.json)

    async def test_head_has_no_body(self) -> None:
        app = Microdot()

        @app.route("/")
        def index(req: Request) -> str:
            return "foo"

        res = await TestClient(app).request("HEAD", "/")
        self.assertEqual((res.status_code, res.headers["Content-Length"]), (200, "3"))
        self.assertIsNone(res.body)
        self.assertIsNone(res.text)

    async def test_already_handled_gives_an_empty_response(self) -> None:
        app = Microdot()

        @app.route("/")
        def index(req: Request) -> Response:
            return Response.already_handled

        res = await TestClient(app).get("/")
        self.assertIsNone(res.body)
        self.assertIsNone(res.status_code)

    async def test_events(self) -> None:
        app = Microdot()

        @app.route("/events")
        @with_sse
        async def events(req: Request, sse: SSE) -> None:
            await sse.send("hello")
            await sse.send({"n": 1}, event="tick", event_id="7")

        res = await TestClient(app).get("/events")
        self.assertEqual(
            res.events,
            [
                {
                    "data": b"hello",
                    "data_json": None,
                    "event": None,
                    "event_id": None,
                    "retry": None,
                },
                {
                    "data": b'{"n":1}',
                    "data_json": {"n": 1},
                    "event": "tick",
                    "event_id": "7",
                    "retry": None,
                },
            ],
        )
        self.assertEqual(res.events[1]["data_json"], {"n": 1})

    async def test_no_events_for_other_types(self) -> None:
        app = Microdot()

        @app.route("/")
        def index(req: Request) -> str:
            return "data: x\n\n"

        self.assertIsNone((await TestClient(app).get("/")).events)


class TestRequests(unittest.IsolatedAsyncioTestCase):
    async def test_query_method(self) -> None:
        app = Microdot()

        @app.query("/search")
        def search(req: Request) -> dict[str, Any]:
            return {"method": req.method, "q": req.json}

        res = await TestClient(app).query("/search", body={"name": "ana"})
        self.assertEqual(res.json, {"method": "QUERY", "q": {"name": "ana"}})

    async def test_header_values_are_trimmed(self) -> None:
        app = Microdot()

        @app.route("/")
        def index(req: Request) -> str:
            return req.headers["Authorization"]

        token = binascii.b2a_base64(b"user:pass").decode()  # ends with "\n"
        res = await TestClient(app).get("/", headers={"Authorization": "Basic " + token})
        self.assertEqual(res.status_code, 200)
        self.assertEqual(res.text, "Basic dXNlcjpwYXNz")

    async def test_cookie_header_merges_with_the_jar(self) -> None:
        client = TestClient(cookie_app(), cookies={"jar": "1"})
        res = await client.get("/cookies", headers={"Cookie": "mine=2"})
        self.assertEqual(res.json, {"mine": "2", "jar": "1"})

    async def test_cookie_paths_are_respected(self) -> None:
        client = TestClient(cookie_app())
        await client.get("/set")
        self.assertEqual((await client.get("/cookies")).json, {"everywhere": "1"})
        self.assertEqual(
            (await client.get("/admin/cookies")).json, {"everywhere": "1", "admin": "2"}
        )
        await client.get("/unset")
        self.assertEqual((await client.get("/admin/cookies")).json, {"everywhere": "1"})

    async def test_initial_cookie_with_a_path(self) -> None:
        client = TestClient(cookie_app(), cookies={"a": ("1", "/admin")})
        self.assertEqual((await client.get("/cookies")).json, {})
        self.assertEqual((await client.get("/admin/cookies")).json, {"a": "1"})


class TestWebSocketClient(unittest.IsolatedAsyncioTestCase):
    async def test_generator_client(self) -> None:
        app = Microdot()

        @app.route("/echo")
        @with_websocket
        async def echo(req: Request, ws: WebSocket) -> None:
            while True:
                data = await ws.receive()
                await ws.send(data)

        results: list[Any] = []

        def client() -> Generator[str | bytes, Any, None]:
            data = yield "hello"
            results.append(data)
            data = yield b"bye"
            results.append(data)

        res = await TestClient(app).websocket("/echo", client)
        self.assertIsNone(res.body)
        self.assertEqual(results, ["hello", b"bye"])

    async def test_async_generator_client(self) -> None:
        app = Microdot()

        @app.route("/upper")
        @with_websocket
        async def upper(req: Request, ws: WebSocket) -> None:
            async for data in ws:
                await ws.send(str(data).upper())

        results: list[Any] = []

        async def client() -> AsyncGenerator[str, Any]:
            results.append((yield "abc"))
            results.append((yield "def"))

        await TestClient(app).websocket("/upper", client)
        self.assertEqual(results, ["ABC", "DEF"])
