"""Spellings and small defaults, as a Microdot app's own tests check them."""

from __future__ import annotations

import unittest
from typing import Any

from junco.compat.microdot import Microdot, Request, Response, TestClient, abort
from junco.compat.microdot.multipart import with_form_data


class TestSpellings(unittest.IsolatedAsyncioTestCase):
    async def test_text_content_type(self) -> None:
        app = Microdot()

        @app.route("/")
        def index(req: Request) -> str:
            return "foo"

        res = await TestClient(app).get("/")
        self.assertEqual(res.headers["Content-Type"], "text/plain; charset=UTF-8")
        self.assertEqual(res.text, "foo")

    async def test_json_content_type(self) -> None:
        app = Microdot()

        @app.route("/dict")
        async def json_dict(req: Request) -> dict[str, Any]:
            return {"foo": "bar"}

        res = await TestClient(app).get("/dict")
        self.assertEqual(res.headers["Content-Type"], "application/json; charset=UTF-8")
        self.assertEqual(res.json, {"foo": "bar"})

    async def test_error_texts(self) -> None:
        app = Microdot(max_content_length=10)

        @app.route("/", methods=["GET", "POST"])
        def index(req: Request) -> str:
            return "foo"

        @app.route("/boom")
        def boom(req: Request) -> float:
            return 1 / 0

        client = TestClient(app)
        missing = await client.get("/missing")
        self.assertEqual((missing.status_code, missing.text), (404, "Not found"))
        self.assertEqual(missing.headers["Content-Type"], "text/plain; charset=UTF-8")
        big = await client.post("/", body="x" * 11)
        self.assertEqual((big.status_code, big.text), (413, "Payload too large"))
        with self.assertLogs("junco", "ERROR"):
            failed = await client.get("/boom")
        self.assertEqual((failed.status_code, failed.text), (500, "Internal server error"))

    async def test_abort_with_and_without_reason(self) -> None:
        app = Microdot()

        @app.route("/<int:n>")
        def index(req: Request, n: int) -> str:
            abort(406, "Not acceptable" if n else None)

        client = TestClient(app)
        self.assertEqual((await client.get("/1")).text, "Not acceptable")
        self.assertEqual((await client.get("/0")).text, "Not acceptable")


class TestCookies(unittest.IsolatedAsyncioTestCase):
    async def test_set_cookie_without_path_has_no_path(self) -> None:
        app = Microdot()

        @app.route("/")
        def index(req: Request) -> Response:
            res = Response("ok")
            res.set_cookie("a", "1")
            res.set_cookie("b", "2", path="/foo", http_only=True)
            return res

        res = await TestClient(app).get("/")
        self.assertEqual(res.headers["Set-Cookie"], ["a=1", "b=2; Path=/foo; HttpOnly"])

    async def test_delete_cookie_ignores_max_age_and_expires(self) -> None:
        app = Microdot()

        @app.route("/")
        def index(req: Request) -> Response:
            res = Response("ok")
            res.delete_cookie("a", max_age=100, expires="Wed, 01 Jan 2100 00:00:00 GMT")
            return res

        res = await TestClient(app).get("/")
        self.assertEqual(
            res.headers["Set-Cookie"], ["a=; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0"]
        )


class TestOptionsAndEmptyBodies(unittest.IsolatedAsyncioTestCase):
    async def test_options_lists_methods_in_registration_order(self) -> None:
        app = Microdot()

        @app.route("/", methods=["POST", "GET", "DELETE"])
        def index(req: Request) -> str:
            return "foo"

        res = await TestClient(app).request("OPTIONS", "/")
        self.assertEqual(res.status_code, 200)
        self.assertEqual(res.headers["Allow"], "POST, GET, DELETE, HEAD, OPTIONS")
        self.assertEqual(res.body, b"")

    async def test_405_keeps_allow(self) -> None:
        app = Microdot()

        @app.post("/")
        def index(req: Request) -> str:
            return "foo"

        res = await TestClient(app).get("/")
        self.assertEqual((res.status_code, res.headers["Allow"]), (405, "POST, OPTIONS"))

    async def test_response_none_is_204(self) -> None:
        self.assertEqual(Response(None).status_code, 204)
        self.assertEqual(Response(None, 404).status_code, 404)

    async def test_with_form_data_without_a_form_leaves_form_none(self) -> None:
        app = Microdot()
        seen: list[Any] = []

        @app.post("/")
        @with_form_data
        async def index(req: Request) -> str:
            seen.append((req.form, req.files))
            return "ok"

        res = await TestClient(app).post("/")
        self.assertEqual(res.status_code, 200)
        self.assertEqual(seen, [(None, None)])


class TestDefaultContentType(unittest.IsolatedAsyncioTestCase):
    def tearDown(self) -> None:
        Response.default_content_type = "text/plain"

    async def test_set_after_the_app_exists(self) -> None:
        app = Microdot()

        @app.route("/")
        def index(req: Request) -> str:
            return "<p>hi</p>"

        Response.default_content_type = "text/html"  # as every Microdot HTML example does
        res = await TestClient(app).get("/")
        self.assertEqual(res.headers["Content-Type"], "text/html; charset=UTF-8")

    async def test_the_app_setting_wins(self) -> None:
        app = Microdot(default_content_type="application/xml")

        @app.route("/")
        def index(req: Request) -> str:
            return "<a/>"

        Response.default_content_type = "text/html"
        res = await TestClient(app).get("/")
        self.assertEqual(res.headers["Content-Type"], "application/xml")


class TestBugs(unittest.IsolatedAsyncioTestCase):
    async def test_plain_get_to_a_websocket_route_is_400(self) -> None:
        from junco.compat.microdot.websocket import WebSocket, with_websocket

        app = Microdot()

        @app.route("/ws")
        @with_websocket
        async def ws(req: Request, sock: WebSocket) -> None:
            await sock.send("never")

        res = await TestClient(app).get("/ws")
        self.assertEqual(res.status_code, 400)
