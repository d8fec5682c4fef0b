"""The test client itself: scopes, bodies, cookies, lifespan, sync use and httpx parity."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from junco import Junco, Request, Response
from junco.testing import TestClient, TestResponse
from junco.types import Receive, Scope, Send


def make_app() -> Junco:
    app = Junco()
    app.state["events"] = []

    @app.route("/echo", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def echo(request: Request) -> dict[str, Any]:
        return {
            "method": request.method,
            "scheme": request.scheme,
            "host": request.headers.get("host"),
            "url": request.url,
            "ctype": request.content_type,
            "length": request.headers.get("content-length"),
            "chunked": request.headers.get("transfer-encoding"),
            "body": (await request.stream.read()).decode(),
            "cookies": request.cookies,
            "server": list(request.asgi_scope.get("server") or ()),
        }

    @app.get("/login")
    async def login(request: Request) -> Response:
        resp = Response("in")
        resp.set_cookie("sid", "s1", http_only=True)
        resp.set_cookie("theme", "dark")
        return resp

    @app.get("/logout")
    async def logout(request: Request) -> Response:
        resp = Response("out")
        resp.delete_cookie("sid")
        return resp

    @app.get("/forget")
    async def forget(request: Request) -> Response:
        resp = Response("forgotten")
        resp.headers.add("Set-Cookie", "theme=x; Max-Age=0")
        return resp

    @app.get("/state")
    async def state(request: Request) -> dict[str, Any]:
        return dict(request.state)

    @app.get("/text")
    async def text(request: Request) -> bytes:
        return "héllo \U0001f600".encode() + b"\xff"

    @app.get("/empty")
    async def empty(request: Request) -> None:
        return None

    @app.on_startup
    async def startup(scope: Scope) -> None:
        scope["state"]["ready"] = True
        app.state["events"].append("startup")

    @app.on_shutdown
    def shutdown() -> None:
        app.state["events"].append("shutdown")

    return app


@pytest.fixture
def app() -> Junco:
    return make_app()


def run(client: TestClient, method: str, path: str, **kw: Any) -> TestResponse:
    return asyncio.run(client.request(method, path, **kw))


# -- scope and bodies ----------------------------------------------------------------------


def test_default_scope(app: Junco) -> None:
    r = run(TestClient(app), "GET", "/echo?x=1")
    assert r.status_code == 200
    assert r.json == {
        "method": "GET",
        "scheme": "http",
        "host": "localhost",
        "url": "/echo?x=1",
        "ctype": None,
        "length": None,
        "chunked": None,
        "body": "",
        "cookies": {},
        "server": ["127.0.0.1", 80],
    }


def test_scheme_and_host_options(app: Junco) -> None:
    r = run(TestClient(app, scheme="https", host="api.example.org"), "GET", "/echo")
    assert (r.json["scheme"], r.json["host"], r.json["server"]) == (
        "https",
        "api.example.org",
        ["127.0.0.1", 443],
    )


def test_explicit_host_header_wins(app: Junco) -> None:
    r = run(TestClient(app, host="a.example"), "GET", "/echo", headers={"Host": "b.example"})
    assert r.json["host"] == "b.example"


@pytest.mark.parametrize(
    ("kw", "ctype", "body"),
    [
        ({"body": b"raw\xc3\xa9"}, None, "rawé"),
        ({"body": "text é"}, None, "text é"),
        ({"body": {"a": 1}}, "application/json", '{"a": 1}'),
        ({"body": [1, 2]}, "application/json", "[1, 2]"),
        ({"json": {"k": [None]}}, "application/json", '{"k": [null]}'),
        ({"json": "s"}, "application/json", '"s"'),
        ({"form": {"a": "1 2", "b": "&"}}, "application/x-www-form-urlencoded", "a=1+2&b=%26"),
    ],
)
def test_body_arguments(app: Junco, kw: dict[str, Any], ctype: str | None, body: str) -> None:
    r = run(TestClient(app), "POST", "/echo", **kw)
    assert r.json["ctype"] == ctype
    assert r.json["body"] == body
    assert r.json["length"] == str(len(body.encode()))
    assert r.json["chunked"] is None


def test_explicit_content_type_is_kept(app: Junco) -> None:
    r = run(TestClient(app), "POST", "/echo", json=[1], headers={"Content-Type": "text/x"})
    assert r.json["ctype"] == "text/x"


def test_stream_argument_sync_and_async(app: Junco) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"one,"
        yield b"two"

    async def achunks() -> AsyncIterator[bytes]:
        yield b"three,"
        await asyncio.sleep(0)
        yield b"four"

    client = TestClient(app)
    for stream, expected in ((chunks(), "one,two"), (achunks(), "three,four"), ([], "")):
        r = run(client, "PUT", "/echo", stream=stream)
        assert r.json["body"] == expected
        assert r.json["length"] is None
        assert r.json["chunked"] == "chunked"


def test_stream_messages_are_one_per_chunk() -> None:
    received: list[dict[str, Any]] = []

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            received.append(dict(message))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    run(TestClient(asgi), "POST", "/", stream=[b"a", b"bc"])
    assert received == [
        {"type": "http.request", "body": b"a", "more_body": True},
        {"type": "http.request", "body": b"bc", "more_body": True},
        {"type": "http.request", "body": b"", "more_body": False},
    ]


def test_scope_override(app: Junco) -> None:
    r = run(TestClient(app), "GET", "/echo", scope={"scheme": "wss-ish", "client": None})
    assert r.json["scheme"] == "wss-ish"


def test_every_method_helper(app: Junco) -> None:
    client = TestClient(app)

    async def main() -> list[tuple[int, str]]:
        rs = [
            await client.get("/echo"),
            await client.post("/echo", body=b"p"),
            await client.put("/echo", body=b"u"),
            await client.patch("/echo", body=b"a"),
            await client.delete("/echo", body=b"d"),
        ]
        return [(r.status_code, r.json["method"] + r.json["body"]) for r in rs]

    assert asyncio.run(main()) == [
        (200, "GET"),
        (200, "POSTp"),
        (200, "PUTu"),
        (200, "PATCHa"),
        (200, "DELETEd"),
    ]
    head = run(client, "HEAD", "/echo")
    assert head.status_code == 200
    assert head.body is None
    options = asyncio.run(client.options("/echo"))
    assert options.status_code == 200
    assert options.headers["allow"] == "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"


# -- TestResponse --------------------------------------------------------------------------


def test_response_text_json_and_messages(app: Junco) -> None:
    client = TestClient(app)
    r = run(client, "GET", "/text")
    assert r.text is None  # not UTF-8 (a stray 0xff): None, as in Microdot
    assert r.body.decode("utf-8", "replace") == "héllo \U0001f600\ufffd"
    assert r.headers["content-length"] == "12"
    assert [m["type"] for m in r.messages] == ["http.response.start", "http.response.body"]
    empty = run(client, "GET", "/empty")
    assert (empty.status_code, empty.json, empty.text) == (204, None, "")
    assert repr(empty) == "<TestResponse 204 b''>"
    assert r.json is None  # text/plain: no JSON, whatever the body


def test_app_that_sends_nothing() -> None:
    async def silent(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    # Nothing at all is what Response.already_handled sends: an empty response.
    r = run(TestClient(silent), "GET", "/")
    assert r.status_code is None
    assert r.body is None
    assert r.text is None


# -- cookie jar ----------------------------------------------------------------------------


def test_cookie_jar(app: Junco) -> None:
    client = TestClient(app, cookies={"pre": "1"})

    async def main() -> list[Any]:
        out: list[Any] = [(await client.get("/echo")).json["cookies"]]
        login = await client.get("/login")
        out.append(login.headers.getlist("set-cookie"))
        out.append(dict(client.cookies))
        out.append((await client.get("/echo")).json["cookies"])
        await client.get("/logout")
        out.append((await client.get("/echo")).json["cookies"])
        await client.get("/forget")
        out.append(dict(client.cookies))
        overridden = await client.get("/echo", headers={"Cookie": "mine=2"})
        out.append(overridden.json["cookies"])
        return out

    assert asyncio.run(main()) == [
        {"pre": "1"},
        ["sid=s1; HttpOnly", "theme=dark"],
        {"pre": "1", "sid": "s1", "theme": "dark"},
        {"pre": "1", "sid": "s1", "theme": "dark"},
        {"pre": "1", "theme": "dark"},
        {"pre": "1"},
        {"mine": "2", "pre": "1"},  # an explicit Cookie header is merged with the jar
    ]


# -- lifespan ------------------------------------------------------------------------------


def test_lifespan_with_async_with(app: Junco) -> None:
    client = TestClient(app)

    async def main() -> Any:
        async with client:
            assert app.state["events"] == ["startup"]
            return (await client.get("/state")).json

    assert asyncio.run(main()) == {"ready": True}
    assert app.state["events"] == ["startup", "shutdown"]
    assert client.state == {"ready": True}


def test_lifespan_with_sync_client(app: Junco) -> None:
    client = TestClient(app)
    with client.sync as sync:
        assert app.state["events"] == ["startup"]
        assert sync.get("/state").json == {"ready": True}
        assert sync.post("/echo", body=b"x").json["body"] == "x"
        sync.get("/login")
        assert sync.cookies == {"sid": "s1", "theme": "dark"}
    assert app.state["events"] == ["startup", "shutdown"]


def test_sync_client_without_lifespan(app: Junco) -> None:
    sync = TestClient(app).sync
    try:
        assert sync.get("/state").json == {}
        assert sync.put("/echo", body=b"u").json["body"] == "u"
        assert sync.patch("/echo", body=b"a").json["body"] == "a"
        assert sync.delete("/echo").json["method"] == "DELETE"
        assert sync.head("/echo").body is None
        assert sync.options("/echo").status_code == 200
        assert sync.request("GET", "/echo?q=1").json["url"] == "/echo?q=1"
    finally:
        sync.close()
    assert app.state["events"] == []


def test_lifespan_startup_failure() -> None:
    app = Junco()

    @app.on_startup
    def broken() -> None:
        raise RuntimeError("no database")

    async def main() -> None:
        async with TestClient(app):
            pass

    with pytest.raises(RuntimeError, match="lifespan startup failed: RuntimeError"):
        asyncio.run(main())


def test_shutdown_without_startup_is_a_no_op(app: Junco) -> None:
    asyncio.run(TestClient(app).shutdown())
    assert app.state["events"] == []


# -- httpx parity --------------------------------------------------------------------------


def _via_httpx(app: Junco, requests: list[tuple[str, str, dict[str, Any]]]) -> list[Any]:
    async def main() -> list[Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            out = []
            for method, path, kw in requests:
                r = await client.request(method, path, **kw)
                out.append((r.status_code, r.content, r.headers.get_list("set-cookie")))
            return out

    return asyncio.run(main())


def _via_junco(app: Junco, requests: list[tuple[str, str, dict[str, Any]]]) -> list[Any]:
    async def main() -> list[Any]:
        client = TestClient(app, host="t")
        out = []
        for method, path, kw in requests:
            r = await client.request(method, path, **kw)
            out.append(
                (r.status_code, r.body or b"", r.headers.getlist("set-cookie"))
            )  # HEAD: None
        return out

    return asyncio.run(main())


def test_httpx_gets_the_same_answers() -> None:
    app = Junco()

    @app.route("/items/<int:n>", methods=["GET", "POST"])
    async def item(request: Request, n: int) -> Any:
        return {
            "n": n,
            "q": request.args.getlist("q"),
            "host": request.host,
            "json": request.json,
            "body": request.body.decode(),
        }

    @app.get("/stream")
    async def stream(request: Request) -> AsyncIterator[bytes]:
        for i in range(3):
            yield b"chunk%d;" % i

    @app.get("/cookie")
    async def cookie(request: Request) -> Response:
        resp = Response("c")
        resp.set_cookie("a", "1", samesite="Lax")
        return resp

    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/items/3?q=a&q=b", {}),
        (
            "POST",
            "/items/4",
            {"content": b'{"x": 1}', "headers": {"Content-Type": "application/json"}},
        ),
        ("POST", "/items/5", {"content": b"{bad", "headers": {"Content-Type": "application/json"}}),
        ("GET", "/items/x", {}),
        ("DELETE", "/items/3", {}),
        ("HEAD", "/items/3", {}),
        ("GET", "/stream", {}),
        ("GET", "/cookie", {}),
        ("GET", "/items/3?q=%ff", {}),
    ]
    junco_requests = [
        (m, p, {"body": kw["content"], "headers": kw["headers"]} if kw else {})
        for m, p, kw in requests
    ]
    expected = _via_junco(app, junco_requests)
    assert _via_httpx(app, requests) == expected
    assert [status for status, _, _ in expected] == [200, 200, 400, 404, 405, 200, 200, 200, 400]
    assert expected[0][1] == b'{"n":3,"q":["a","b"],"host":"t","json":null,"body":""}'
    assert expected[6][1] == b"chunk0;chunk1;chunk2;"
    assert expected[7][2] == ["a=1; SameSite=Lax"]


def test_path_is_percent_decoded_like_a_server_does() -> None:
    app = Junco()

    @app.get("/hello/<name>")
    async def hello(request: Request, name: str) -> dict[str, str]:
        return {"name": name, "raw": request.asgi_scope["raw_path"].decode()}

    response = TestClient(app).sync.get("/hello/%3Cb%3E%20x")
    assert response.json == {"name": "<b> x", "raw": "/hello/%3Cb%3E%20x"}
