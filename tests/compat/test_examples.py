"""Microdot-style example apps (tests/compat/examples/) run with only their imports changed."""

from __future__ import annotations

import asyncio
import importlib
import unittest
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import httpx

from junco.compat.microdot import Response, TestClient
from junco.exceptions import ConfigurationError
from tests.servers import serve_wsgi


def load(name: str) -> ModuleType:
    module = importlib.import_module(f"tests.compat.examples.{name}")
    return importlib.reload(module)  # fresh app state for every test


@contextmanager
def wsgi_server(app: Any) -> Iterator[str]:
    try:
        with serve_wsgi(app) as url:
            yield url
    finally:
        app._wsgi.close()


class TestTemplatedHtml(unittest.IsolatedAsyncioTestCase):
    def tearDown(self) -> None:
        Response.default_content_type = "text/plain"

    async def test_page(self) -> None:
        example = load("templated")
        client = TestClient(example.app)
        res = await client.get("/")
        self.assertEqual(res.status_code, 200)
        self.assertEqual(res.headers["Content-Type"], "text/html; charset=UTF-8")
        self.assertIn("<h1>Hello, stranger!</h1>", res.text)
        res = await client.post(
            "/",
            body="name=<b>ana</b>",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        self.assertIn("<h1>Hello, &lt;b&gt;ana&lt;/b&gt;!</h1>", res.text)  # escaped


class TestWsgi(unittest.TestCase):
    def test_served_by_a_wsgi_server(self) -> None:
        example = load("wsgi_hello")
        with wsgi_server(example.app) as url, httpx.Client(base_url=url, timeout=30) as http:
            page = http.get("/")
            self.assertEqual((page.status_code, page.text), (200, "<h1>Hello from WSGI</h1>"))
            self.assertEqual(page.headers["content-type"], "text/html")
            self.assertEqual(http.get("/numbers/7").json(), {"n": 7, "square": 49})
            self.assertEqual(http.get("/nowhere").status_code, 404)

    def test_still_an_asgi_app(self) -> None:
        example = load("wsgi_hello")
        res = TestClient(example.app).sync.get("/numbers/3")
        self.assertEqual(res.json, {"n": 3, "square": 9})


class TestStreaming(unittest.IsolatedAsyncioTestCase):
    async def test_generator_exit_runs_when_the_client_leaves(self) -> None:
        example = load("streaming")
        left = asyncio.Event()
        chunks: list[bytes] = []
        asked: list[bool] = []

        async def receive() -> dict[str, Any]:
            if not asked:
                asked.append(True)
                return {"type": "http.request", "body": b"", "more_body": False}
            await left.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                chunks.append(message["body"])
                if len(chunks) == 2:
                    left.set()

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/video",
            "query_string": b"",
            "headers": [(b"host", b"x")],
        }
        await asyncio.wait_for(example.app(scope, receive, send), 30)
        await asyncio.wait_for(example.cleaned_up.wait(), 30)
        self.assertEqual(example.events, ["client left"])
        self.assertTrue(chunks[0].startswith(b"--frame"))


class TestLogin(unittest.IsolatedAsyncioTestCase):
    async def test_login_logout_and_session(self) -> None:
        example = load("login_app")
        client = TestClient(example.app)
        self.assertEqual((await client.get("/")).status_code, 302)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        res = await client.post("/login", body="username=susan&password=hello", headers=form)
        self.assertEqual(res.status_code, 302)
        self.assertEqual((await client.get("/")).text, "Hello, susan!")
        self.assertEqual((await client.get("/visits")).text, "visit 1")
        self.assertEqual((await client.get("/visits")).text, "visit 2")
        await client.post("/logout")
        self.assertEqual((await client.get("/")).status_code, 302)

    async def test_remember_cookie_name(self) -> None:
        example = load("login_app")
        client = TestClient(example.app)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        await client.post("/login", body="username=susan&password=hello&remember=1", headers=form)
        self.assertIn("_remember", client.cookies)

    def test_microdots_short_key_says_what_to_change(self) -> None:
        from junco.compat.microdot import Microdot
        from junco.compat.microdot.session import Session

        with self.assertRaisesRegex(ConfigurationError, "token_urlsafe") as caught:
            Session(Microdot(), secret_key="top-secret!")
        self.assertIn("top-secret!", str(caught.exception))  # names Microdot's example key
        self.assertIn("SECRET_KEY", str(caught.exception))


class TestPortingMessages(unittest.TestCase):
    def test_utemplate_says_what_to_change(self) -> None:
        from junco.compat.microdot.utemplate import Template

        with self.assertRaisesRegex(ImportError, "junco.compat.microdot.jinja"):
            Template("index.html")

    def test_shutdown_without_a_server_warns(self) -> None:
        from junco.compat.microdot import Microdot

        with self.assertLogs("junco", "WARNING") as logs:
            Microdot().shutdown()
        self.assertIn("SIGTERM", logs.output[0])
