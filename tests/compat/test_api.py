"""Documented Microdot API that ported code and tests use."""

from __future__ import annotations

import asyncio
import unittest
from typing import Any

from junco.compat.microdot import (
    AsyncBytesIO,
    FormDataIter,
    Microdot,
    MultiDict,
    NoCaseDict,
    Request,
    Response,
    TestClient,
    URLPattern,
    urldecode,
    urlencode,
)
from junco.compat.microdot.websocket import WebSocket, with_websocket


class TestSmallClasses(unittest.TestCase):
    def test_no_case_dict(self) -> None:
        d = NoCaseDict({"Content-Type": "text/html"})
        self.assertEqual(d["content-type"], "text/html")
        d["CONTENT-TYPE"] = "text/plain"
        self.assertEqual(d, {"Content-Type": "text/plain"})
        self.assertIn("content-TYPE", d)
        self.assertEqual(d.get("Content-type"), "text/plain")
        del d["content-type"]
        self.assertEqual(d, {})
        self.assertNotIn("Content-Type", d)

    def test_multidict_assignment_appends(self) -> None:
        d = MultiDict()
        d["sort"] = "name"
        d["sort"] = "email"
        self.assertEqual(d["sort"], "name")
        self.assertEqual(d.getlist("sort"), ["name", "email"])
        self.assertEqual(d.get("sort", type=str.upper), "NAME")
        self.assertEqual(d.get("age", default="none"), "none")

    def test_urlencode_round_trip(self) -> None:
        text = "a b&c=d?e#f%g+h/ñ"
        encoded = urlencode(text)
        for c in " &=?#":
            self.assertNotIn(c, encoded)
        self.assertEqual(urldecode(encoded), text)
        self.assertEqual(urldecode(b"x+y%21"), "x y!")

    def test_url_pattern_compile(self) -> None:
        p = URLPattern("/users/<int:id>")
        self.assertIsNotNone(p.compile().fullmatch("/users/5"))
        self.assertEqual(p.match("/users/5"), {"id": 5})

    def test_form_data_iter_buffer_size(self) -> None:
        self.assertEqual(FormDataIter.buffer_size, 256)


class TestResponseByHand(unittest.IsolatedAsyncioTestCase):
    async def test_complete_fills_length_and_type(self) -> None:
        res = Response("foo")
        res.complete()
        self.assertEqual(res.headers["Content-Length"], "3")
        self.assertEqual(res.headers["Content-Type"], "text/plain; charset=UTF-8")

    async def test_write_renders_http(self) -> None:
        async def gen() -> Any:
            yield "a"
            yield b"b"

        stream = AsyncBytesIO(b"")
        await Response(gen(), headers={"X-Test": "1"}).write(stream)
        raw = stream.stream.getvalue()
        self.assertTrue(raw.startswith(b"HTTP/1.0 200 OK\r\n"))
        self.assertIn(b"x-test: 1\r\n", raw)
        self.assertTrue(raw.endswith(b"\r\n\r\nab"))

    async def test_dispatch_request(self) -> None:
        app = Microdot()

        @app.route("/hello/<name>")
        def hello(req: Request, name: str) -> tuple[str, int]:
            return "hi " + name, 202

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/hello/ana",
            "query_string": b"",
            "headers": [(b"host", b"x")],
        }
        res = await app.dispatch_request(Request(app, scope, receive))
        self.assertEqual((res.status_code, res.body), (202, b"hi ana"))


class TestWebSocketApi(unittest.IsolatedAsyncioTestCase):
    def tearDown(self) -> None:
        WebSocket.max_message_length = -1

    async def test_sync_handler_runs_in_a_thread(self) -> None:
        app = Microdot()
        loops: list[Any] = []

        @app.route("/echo")
        @with_websocket
        def echo(req: Request, ws: Any) -> None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                loops.append(None)  # no loop here: a worker thread
            while True:
                ws.send(ws.receive())

        got: list[Any] = []

        def client() -> Any:
            got.append((yield "one"))

        await TestClient(app).websocket("/echo", client)
        self.assertEqual((loops, got), ([None], ["one"]))

    async def test_max_message_length(self) -> None:
        app = Microdot()
        closed: list[Any] = []

        @app.route("/ws")
        @with_websocket
        async def ws_route(req: Request, ws: WebSocket) -> None:
            try:
                while True:
                    await ws.send(await ws.receive())
            finally:
                closed.append(ws.close_code)

        WebSocket.max_message_length = 4
        got: list[Any] = []

        def client() -> Any:
            got.append((yield "four"))
            got.append((yield "fives"))

        await TestClient(app).websocket("/ws", client)
        self.assertEqual((got, closed), (["four"], [1009]))

    async def test_max_message_length_falls_back_to_max_body_length(self) -> None:
        app = Microdot(max_body_length=3)
        closed: list[Any] = []

        @app.route("/ws")
        @with_websocket
        async def ws_route(req: Request, ws: WebSocket) -> None:
            try:
                await ws.receive()
            finally:
                closed.append(ws.close_code)

        def client() -> Any:
            yield "four"

        await TestClient(app).websocket("/ws", client)
        self.assertEqual(closed, [1009])
