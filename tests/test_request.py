"""Request attributes, body access and per-app limits, through the real ASGI path."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from junco import Junco, Request, current_request
from junco.exceptions import error_text
from junco.testing import TestClient, TestResponse

TOO_LARGE = error_text(413)


def call(app: Junco, method: str, path: str, **kw: Any) -> TestResponse:
    """One request through a fresh client."""
    return asyncio.run(TestClient(app).request(method, path, **kw))


def describe(request: Request) -> dict[str, Any]:
    return {
        "method": request.method,
        "scheme": request.scheme,
        "url": request.url,
        "full_url": request.full_url,
        "path": request.path,
        "root_path": request.root_path,
        "query_string": request.query_string,
        "http_version": request.http_version,
        "client_addr": request.client_addr,
        "content_type": request.content_type,
        "mimetype": request.mimetype,
    }


@pytest.fixture
def info_app() -> Junco:
    app = Junco()

    @app.route("/info", methods=["GET", "POST", "PUT", "DELETE"])
    async def info(request: Request) -> dict[str, Any]:
        return describe(request)

    return app


# -- scope-derived attributes --------------------------------------------------------------


def test_scope_attributes(info_app: Junco) -> None:
    r = call(info_app, "GET", "/info?x=1&y=%20z")
    assert r.status_code == 200
    assert r.json == {
        "method": "GET",
        "scheme": "http",
        "url": "/info?x=1&y=%20z",
        "full_url": "http://localhost/info?x=1&y=%20z",
        "path": "/info",
        "root_path": "",
        "query_string": "x=1&y=%20z",
        "http_version": "1.1",
        "client_addr": ["127.0.0.1", 50000],
        "content_type": None,
        "mimetype": "",
    }


def test_url_without_query_string(info_app: Junco) -> None:
    r = call(info_app, "DELETE", "/info")
    assert r.json["method"] == "DELETE"
    assert r.json["url"] == "/info"
    assert r.json["query_string"] == ""
    assert r.json["full_url"] == "http://localhost/info"


def test_https_scheme_and_host() -> None:
    app = Junco()

    @app.get("/info")
    async def info(request: Request) -> dict[str, Any]:
        return describe(request)

    client = TestClient(app, scheme="https", host="example.org:8443")
    r = asyncio.run(client.get("/info?a=b"))
    assert r.json["scheme"] == "https"
    assert r.json["full_url"] == "https://example.org:8443/info?a=b"


def test_root_path_is_stripped_from_path(info_app: Junco) -> None:
    r = call(info_app, "GET", "/info?q=1", scope={"root_path": "/api", "path": "/api/info"})
    assert r.status_code == 200
    assert r.json["path"] == "/info"
    assert r.json["root_path"] == "/api"
    assert r.json["url"] == "/info?q=1"
    assert r.json["full_url"] == "http://localhost/api/info?q=1"


def test_root_path_is_not_stripped_from_a_longer_segment() -> None:
    app = Junco()

    @app.get("/foo")
    async def foo(request: Request) -> str:
        return "below /api"

    @app.get("/apifoo")
    async def apifoo(request: Request) -> str:
        return request.path

    # root_path /api: /api/foo is /foo; /apifoo is not below /api at all.
    def get(path: str) -> TestResponse:
        return call(app, "GET", path, scope={"root_path": "/api", "path": path})

    assert get("/api/foo").text == "below /api"
    assert get("/apifoo").text == "/apifoo"  # was "foo": a 400, or another route
    assert get("/api").status_code == 404  # "/", no route
    assert get("/apifo").status_code == 404


def test_host_falls_back_to_server_address(info_app: Junco) -> None:
    scope = {"http_version": "1.0", "headers": [], "server": ("10.0.0.1", 8000)}
    r = call(info_app, "GET", "/info", scope=scope)
    assert r.status_code == 200
    assert r.json["http_version"] == "1.0"
    assert r.json["full_url"] == "http://10.0.0.1:8000/info"


def test_client_addr_none_without_client(info_app: Junco) -> None:
    r = call(info_app, "GET", "/info", scope={"client": None})
    assert r.json["client_addr"] is None


def test_content_type_and_mimetype(info_app: Junco) -> None:
    r = call(
        info_app, "POST", "/info", body=b"{}", headers={"Content-Type": "Application/JSON; a=b"}
    )
    assert r.json["content_type"] == "Application/JSON; a=b"
    assert r.json["mimetype"] == "application/json"


def test_content_length_attribute() -> None:
    app = Junco()

    @app.post("/")
    async def index(request: Request) -> dict[str, Any]:
        return {"content_length": request.content_length}

    assert call(app, "POST", "/", body=b"hello").json == {"content_length": 5}
    assert call(app, "POST", "/").json == {"content_length": None}
    assert call(app, "POST", "/", stream=[b"ab"]).json == {"content_length": None}


# -- query arguments -----------------------------------------------------------------------


def test_args() -> None:
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> dict[str, Any]:
        a = request.args
        return {
            "page": a.get("page", 1, type=int),
            "bad": a.get("bad", 1, type=int),
            "missing": a.get("missing", "none"),
            "tags": a.getlist("tag"),
            "first_tag": a["tag"],
            "space": a.get("s"),
            "unicode": a.get("u"),
            "empty": a.get("e"),
            "all": a.items_all(),
        }

    r = call(app, "GET", "/?page=3&bad=x1&tag=a&tag=b&s=a+b%20c&u=caf%C3%A9&e=&tag=c")
    assert r.status_code == 200
    assert r.json == {
        "page": 3,
        "bad": 1,
        "missing": "none",
        "tags": ["a", "b", "c"],
        "first_tag": "a",
        "space": "a b c",
        "unicode": "café",
        "empty": "",
        "all": [
            ["page", "3"],
            ["bad", "x1"],
            ["tag", "a"],
            ["tag", "b"],
            ["tag", "c"],
            ["s", "a b c"],
            ["u", "café"],
            ["e", ""],
        ],
    }


def test_args_are_parsed_once_and_cached() -> None:
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> dict[str, Any]:
        return {"same": request.args is request.args, "n": len(request.args)}

    assert call(app, "GET", "/?a=1").json == {"same": True, "n": 1}


# -- headers and cookies -------------------------------------------------------------------


def test_headers_case_insensitive_and_multi_valued() -> None:
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> dict[str, Any]:
        h = request.headers
        return {
            "x": h.get("X-Multi"),
            "all": h.getlist("x-multi"),
            "upper": h["USER-AGENT"],
            "host": h["Host"],
            "has": "x-MULTI" in h,
            "none": h.get("x-none"),
        }

    headers = [("X-Multi", "1"), ("x-multi", "2"), ("User-Agent", "ua/1")]
    assert call(app, "GET", "/", headers=headers).json == {
        "x": "1",
        "all": ["1", "2"],
        "upper": "ua/1",
        "host": "localhost",
        "has": True,
        "none": None,
    }


@pytest.fixture
def cookie_app() -> Junco:
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> dict[str, str]:
        return request.cookies

    return app


def test_cookies(cookie_app: Junco) -> None:
    header = 'sid="abc def"; theme=dark; sid=second; junk; =noname; empty=; q="x'
    r = call(cookie_app, "GET", "/", headers={"Cookie": header})
    assert r.json == {"sid": "abc def", "theme": "dark", "empty": "", "q": '"x'}


def test_cookies_from_several_cookie_headers(cookie_app: Junco) -> None:
    # HTTP/2 clients may send one Cookie header per cookie.
    r = call(cookie_app, "GET", "/", headers=[("Cookie", "a=1"), ("Cookie", "b=2; a=3")])
    assert r.json == {"a": "1", "b": "2"}


def test_no_cookies(cookie_app: Junco) -> None:
    assert call(cookie_app, "GET", "/").json == {}


# -- body, json, form ----------------------------------------------------------------------


@pytest.fixture
def body_app() -> Junco:
    app = Junco()

    @app.route("/body", methods=["GET", "POST"])
    async def body(request: Request) -> dict[str, Any]:
        return {"body": request.body.decode("latin-1")}

    @app.post("/json")
    async def json(request: Request) -> dict[str, Any]:
        return {"json": request.json}

    @app.post("/form")
    async def form(request: Request) -> dict[str, Any]:
        form = request.form
        return {"form": None if form is None else form.items_all()}

    return app


def test_body(body_app: Junco) -> None:
    assert call(body_app, "POST", "/body", body=b"\x00\xffraw").json == {"body": "\x00\xffraw"}
    assert call(body_app, "GET", "/body").json == {"body": ""}
    assert call(body_app, "POST", "/body", body="text é").json == {"body": "text Ã©"}


@pytest.mark.parametrize(
    "ctype",
    [
        "application/json",
        "application/json; charset=UTF-8",
        "APPLICATION/JSON",
        "application/vnd.api+json",
        "application/merge-patch+json; charset=UTF-8",
    ],
)
def test_json_content_types_accepted(body_app: Junco, ctype: str) -> None:
    r = call(
        body_app, "POST", "/json", body=b'{"a": [1, "\\u00e9"]}', headers={"Content-Type": ctype}
    )
    assert r.status_code == 200
    assert r.json == {"json": {"a": [1, "é"]}}


@pytest.mark.parametrize(
    "ctype",
    [None, "text/plain", "text/json", "application/jsonp", "application/x-www-form-urlencoded"],
)
def test_json_is_none_for_other_content_types(body_app: Junco, ctype: str | None) -> None:
    headers = {"Content-Type": ctype} if ctype else None
    r = call(body_app, "POST", "/json", body=b'{"a": 1}', headers=headers)
    assert r.status_code == 200
    assert r.json == {"json": None}


def test_json_empty_body_is_none(body_app: Junco) -> None:
    r = call(body_app, "POST", "/json", body=b"", headers={"Content-Type": "application/json"})
    assert r.json == {"json": None}


def test_json_from_test_client_json_argument(body_app: Junco) -> None:
    assert call(body_app, "POST", "/json", json=[1, None]).json == {"json": [1, None]}


def test_form(body_app: Junco) -> None:
    r = call(body_app, "POST", "/form", form={"name": "Ann Lee", "city": "Zürich", "x": "a&b=c"})
    assert r.json == {"form": [["name", "Ann Lee"], ["city", "Zürich"], ["x", "a&b=c"]]}
    ctype = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
    r = call(body_app, "POST", "/form", body=b"a=1&a=2&b", headers=ctype)
    assert r.json == {"form": [["a", "1"], ["a", "2"], ["b", ""]]}


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/json"])
def test_form_is_none_for_other_content_types(body_app: Junco, ctype: str | None) -> None:
    headers = {"Content-Type": ctype} if ctype else None
    r = call(body_app, "POST", "/form", body=b"a=1", headers=headers)
    assert r.json == {"form": None}


# -- stream --------------------------------------------------------------------------------


@pytest.fixture
def stream_app() -> Junco:
    app = Junco()

    @app.post("/mixed")
    async def mixed(request: Request) -> dict[str, Any]:
        s = request.stream
        head = await s.read(3)
        line = await s.readline()
        exact = await s.readexactly(2)
        rest = await s.read()
        return {
            "head": head.decode(),
            "line": line.decode(),
            "exact": exact.decode(),
            "rest": rest.decode(),
            "after": (await s.read()).decode(),
        }

    @app.post("/lines")
    async def lines(request: Request) -> list[str]:
        out = []
        while line := await request.stream.readline():
            out.append(line.decode())
        return out

    @app.post("/iter")
    async def iterate(request: Request) -> list[str]:
        return [chunk.decode() async for chunk in request.stream]

    @app.post("/exact")
    async def exact(request: Request) -> str:
        try:
            await request.stream.readexactly(100)
        except EOFError:
            return "eof"
        return "read"

    return app


def test_stream_read_readline_readexactly(stream_app: Junco) -> None:
    r = call(stream_app, "POST", "/mixed", stream=[b"he", b"llo\nwor", b"ld\nx"])
    assert r.status_code == 200
    assert r.json == {"head": "hel", "line": "lo\n", "exact": "wo", "rest": "rld\nx", "after": ""}


def test_stream_over_buffered_body(stream_app: Junco) -> None:
    r = call(stream_app, "POST", "/mixed", body=b"abcdef\nghij")
    assert r.json == {"head": "abc", "line": "def\n", "exact": "gh", "rest": "ij", "after": ""}


def test_stream_readline_until_end(stream_app: Junco) -> None:
    r = call(stream_app, "POST", "/lines", stream=[b"one\ntw", b"o\n\nthree"])
    assert r.json == ["one\n", "two\n", "\n", "three"]


def test_stream_async_for_buffered_body(stream_app: Junco) -> None:
    assert call(stream_app, "POST", "/iter", stream=[b"ab", b"cd"]).json == ["abcd"]
    assert call(stream_app, "POST", "/iter").json == []


def test_stream_async_for_unbuffered_body() -> None:
    app = Junco(max_body_length=4)

    @app.post("/iter")
    async def iterate(request: Request) -> list[str]:
        return [chunk.decode() async for chunk in request.stream]

    # The first two chunks were read while deciding whether to buffer.
    r = call(app, "POST", "/iter", stream=[b"abc", b"def", b"ghi", b"", b"j"])
    assert r.json == ["abcdef", "ghi", "j"]


def test_stream_readexactly_short_body(stream_app: Junco) -> None:
    r = call(stream_app, "POST", "/exact", body=b"short")
    assert (r.status_code, r.text) == (200, "eof")


# -- g, state, route, scope ----------------------------------------------------------------


def test_g_is_per_request() -> None:
    app = Junco()
    seen: list[Any] = []

    @app.before_request
    async def load_user(request: Request) -> None:
        if "user" in request.args:
            request.g.user = request.args["user"]

    @app.get("/")
    async def index(request: Request) -> dict[str, Any]:
        seen.append(request.g)
        return {"user": request.g.get("user", "anonymous")}

    client = TestClient(app)

    async def main() -> list[Any]:
        return [(await client.get(path)).json for path in ("/?user=ann", "/", "/?user=bob")]

    assert asyncio.run(main()) == [{"user": "ann"}, {"user": "anonymous"}, {"user": "bob"}]
    assert seen[0] is not seen[1]
    with pytest.raises(AttributeError):
        seen[1].user  # noqa: B018


def test_state_from_lifespan() -> None:
    app = Junco()

    @app.on_startup
    async def startup(scope: dict[str, Any]) -> None:
        scope["state"]["db"] = "connected"

    @app.get("/")
    async def index(request: Request) -> dict[str, Any]:
        return dict(request.state)

    async def main() -> tuple[Any, Any]:
        client = TestClient(app)
        async with client:
            inside = (await client.get("/")).json
        return inside, (await TestClient(app).get("/")).json

    assert asyncio.run(main()) == ({"db": "connected"}, {})


def test_state_without_state_in_scope() -> None:
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> dict[str, Any]:
        request.state["k"] = 1
        return {"state": request.state, "in_scope": request.asgi_scope["state"]}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"host", b"h")]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b'{"state":{"k":1},"in_scope":{"k":1}}'


def test_route_url_args_and_scope() -> None:
    app = Junco()
    seen: dict[str, Any] = {}

    @app.get("/users/<int:uid>")
    async def user(request: Request, uid: int) -> dict[str, Any]:
        seen["route_handler"] = request.route.handler if request.route else None
        seen["scope"] = request.asgi_scope
        seen["current"] = current_request()
        seen["request"] = request
        return {
            "uid": uid,
            "url_args": request.url_args,
            "pattern": request.route.url_pattern if request.route else None,
        }

    r = call(app, "GET", "/users/42")
    assert r.json == {"uid": 42, "url_args": {"uid": 42}, "pattern": "/users/<int:uid>"}
    assert seen["route_handler"] is user
    assert seen["scope"]["type"] == "http"
    assert seen["scope"]["path"] == "/users/42"
    assert seen["current"] is seen["request"]


def test_route_is_none_on_404_in_before_request() -> None:
    app = Junco()
    routes: list[Any] = []

    @app.before_request
    def hook(request: Request) -> None:
        routes.append(request.route)

    @app.get("/")
    async def index(request: Request) -> str:
        return "ok"

    assert call(app, "GET", "/nope").status_code == 404
    assert call(app, "GET", "/").status_code == 200
    assert routes[0] is None
    assert routes[1] is not None
    assert routes[1].handler is index


def test_current_request_outside_request() -> None:
    with pytest.raises(RuntimeError, match="outside of a request"):
        current_request()


def test_sync_handler_sees_request() -> None:
    app = Junco()

    @app.post("/")
    def index(request: Request) -> dict[str, Any]:
        return {
            "same": current_request() is request,
            "json": request.json,
            "q": request.args.get("q"),
        }

    r = call(app, "POST", "/?q=1", json={"a": 1})
    assert r.json == {"same": True, "json": {"a": 1}, "q": "1"}


# -- limits --------------------------------------------------------------------------------


def _counting_app(**limits: Any) -> tuple[Junco, list[str]]:
    app = Junco(**limits)
    ran: list[str] = []

    @app.post("/body")
    async def body(request: Request) -> dict[str, int]:
        ran.append("body")
        return {"len": len(request.body)}

    @app.post("/stream")
    async def stream(request: Request) -> dict[str, Any]:
        ran.append("stream")
        data = await request.stream.read()
        return {"len": len(data), "head": data[:8].decode(), "tail": data[-8:].decode()}

    @app.post("/json")
    async def json(request: Request) -> Any:
        ran.append("json")
        return {"json": request.json}

    return app, ran


def test_declared_length_over_max_content_length_is_413_before_handler() -> None:
    app, ran = _counting_app(max_content_length=100)
    for path in ("/body", "/stream"):
        r = call(app, "POST", path, body=b"x" * 101)
        assert (r.status_code, r.text) == (413, TOO_LARGE)
    assert call(app, "POST", "/body", body=b"x" * 100).json == {"len": 100}
    assert ran == ["body"]


def test_declared_length_lie_is_413_before_handler() -> None:
    app, ran = _counting_app(max_content_length=100)
    r = call(app, "POST", "/stream", body=b"small", headers={"Content-Length": "1000"})
    assert r.status_code == 413
    assert ran == []


def test_chunked_body_over_max_content_length_is_413_while_buffering() -> None:
    app, ran = _counting_app(max_content_length=100, max_body_length=100)
    r = call(app, "POST", "/stream", stream=[b"x" * 60, b"x" * 60])
    assert (r.status_code, r.text) == (413, TOO_LARGE)
    assert ran == []


def test_chunked_body_over_max_content_length_is_413_while_streaming() -> None:
    app, ran = _counting_app(max_content_length=100, max_body_length=50)
    r = call(app, "POST", "/stream", stream=[b"x" * 40, b"x" * 40, b"x" * 40])
    assert (r.status_code, r.text) == (413, TOO_LARGE)
    assert ran == ["stream"]
    r = call(app, "POST", "/stream", stream=[b"x" * 40, b"x" * 40, b"x" * 20])
    assert r.json == {"len": 100, "head": "x" * 8, "tail": "x" * 8}


def test_body_between_max_body_and_max_content_length() -> None:
    app, ran = _counting_app(max_content_length=1000, max_body_length=100)
    data = b"HEAD" + b"." * 492 + b"TAIL"
    r = call(app, "POST", "/body", body=data)
    assert (r.status_code, r.text) == (413, "request body too large; read it with request.stream")
    r = call(app, "POST", "/stream", body=data)
    assert r.json == {"len": 500, "head": "HEAD....", "tail": "....TAIL"}
    r = call(
        app,
        "POST",
        "/json",
        body=b"[" + b"1," * 100 + b"1]",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert ran == ["body", "stream", "json"]


def test_chunked_over_max_body_length_streams_every_byte_in_order() -> None:
    app, _ = _counting_app(max_content_length=10_000, max_body_length=100)
    chunks = [bytes([65 + i]) * 37 for i in range(20)]
    r = call(app, "POST", "/stream", stream=chunks)
    assert r.status_code == 200
    assert r.json == {"len": 740, "head": "A" * 8, "tail": "T" * 8}

    seen: list[bytes] = []

    @app.post("/collect")
    async def collect(request: Request) -> str:
        seen.append(await request.stream.read())
        return "ok"

    assert call(app, "POST", "/collect", stream=chunks).text == "ok"
    assert seen == [b"".join(chunks)]


def test_readline_limit() -> None:
    app = Junco(max_readline=10)

    @app.post("/")
    async def lines(request: Request) -> list[str]:
        out = []
        while line := await request.stream.readline():
            out.append(line.decode())
        return out

    ok = call(app, "POST", "/", stream=[b"123456789\n", b"12345", b"6789\nend"])
    assert ok.json == ["123456789\n", "123456789\n", "end"]
    long_line = call(app, "POST", "/", stream=[b"1234567890\n"])
    assert (long_line.status_code, long_line.text) == (413, "line too long")
    no_newline = call(app, "POST", "/", stream=[b"12345678", b"90123"])
    assert (no_newline.status_code, no_newline.text) == (413, "line too long")


def test_form_field_limit() -> None:
    app = Junco(max_form_fields=3)

    @app.post("/")
    async def form(request: Request) -> int:
        return 200 if request.form is not None else 500

    assert call(app, "POST", "/", form={"a": "1", "b": "2", "c": "3"}).status_code == 200
    r = call(app, "POST", "/", form={"a": "1", "b": "2", "c": "3", "d": "4"})
    assert (r.status_code, r.text) == (400, "too many fields in form")


def test_query_field_limit() -> None:
    app = Junco(max_query_fields=3)

    @app.get("/")
    async def index(request: Request) -> dict[str, str]:
        return request.args.to_dict()

    assert call(app, "GET", "/?a=1&b=2&c=3").json == {"a": "1", "b": "2", "c": "3"}
    r = call(app, "GET", "/?a=1&b=2&c=3&d=4")
    assert (r.status_code, r.text) == (400, "too many fields in query string")


def test_query_not_parsed_unless_used() -> None:
    app = Junco(max_query_fields=1)

    @app.get("/")
    async def index(request: Request) -> str:
        return "untouched"

    assert call(app, "GET", "/?a=1&b=2&c=%ff").text == "untouched"


@pytest.fixture
def restore_request_limits() -> Iterator[None]:
    saved = (Request.max_content_length, Request.max_body_length, Request.max_readline)
    yield
    Request.max_content_length, Request.max_body_length, Request.max_readline = saved


@pytest.mark.usefixtures("restore_request_limits")
def test_class_attribute_defaults_are_honoured_at_creation() -> None:
    Request.max_content_length = 50
    Request.max_body_length = 20
    Request.max_readline = 5
    limited, _ = _counting_app()
    explicit, _ = _counting_app(max_content_length=1000)
    Request.max_content_length = 16 * 1024 * 1024
    later, _ = _counting_app()
    assert (limited.max_content_length, limited.max_body_length, limited.max_readline) == (
        50,
        20,
        5,
    )
    assert explicit.max_content_length == 1000
    assert later.max_content_length == 16 * 1024 * 1024
    assert call(limited, "POST", "/stream", body=b"x" * 51).status_code == 413
    assert call(limited, "POST", "/body", body=b"x" * 21).status_code == 413
    assert call(limited, "POST", "/stream", body=b"x" * 50).json["len"] == 50
    assert call(explicit, "POST", "/stream", body=b"x" * 51).json["len"] == 51
    assert call(later, "POST", "/stream", body=b"x" * 51).json["len"] == 51


def test_two_apps_keep_their_own_limits() -> None:
    small, _ = _counting_app(max_content_length=10, max_body_length=10)
    large, _ = _counting_app(max_content_length=1000, max_body_length=1000)

    async def main() -> list[int]:
        a, b = TestClient(small), TestClient(large)
        results = await asyncio.gather(
            a.post("/body", body=b"x" * 11),
            b.post("/body", body=b"x" * 11),
            a.post("/body", body=b"x" * 10),
            b.post("/body", body=b"x" * 1001),
        )
        return [r.status_code for r in results]

    assert asyncio.run(main()) == [413, 200, 200, 413]
    assert (small.max_content_length, large.max_content_length) == (10, 1000)
    assert Request.max_content_length == 16 * 1024 * 1024


@pytest.mark.parametrize(
    ("ctype", "attr", "said"),
    [
        ("text/plain", "json", "request.json is None: the body's Content-Type is 'text/plain'"),
        (None, "json", "Content-Type is '(none)'; send Content-Type: application/json"),
        ("multipart/form-data; boundary=x", "form", "decorate the handler with @with_form_data"),
        ("application/json", "form", "send a form (urlencoded or multipart)"),
    ],
)
def test_a_body_not_parsed_says_why_at_debug(
    ctype: str | None, attr: str, said: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = Junco()

    @app.post("/")
    async def h(request: Request) -> str:
        return repr(getattr(request, attr))

    headers = {"Content-Type": ctype} if ctype else {}
    with caplog.at_level(logging.DEBUG, logger="junco"):
        r = asyncio.run(TestClient(app).post("/", headers=headers, body=b'{"a": 1}'))
    assert r.text == "None"
    assert any(said in rec.getMessage() for rec in caplog.records), caplog.text


def test_a_repeated_content_type_is_ambiguous_not_the_last_one() -> None:
    app = Junco()

    @app.post("/t")
    async def t(request: Request) -> dict[str, Any]:
        return {"type": request.content_type, "form": dict(request.form or {})}

    form = "application/x-www-form-urlencoded"
    headers = [("Content-Type", "text/plain"), ("Content-Type", form)]
    r = call(app, "POST", "/t", headers=headers, body=b"a=1")
    assert r.json == {"type": "", "form": {}}  # the body is not parsed as a form
    once = [("Content-Type", "application/x-www-form-urlencoded")]
    assert call(app, "POST", "/t", headers=once, body=b"a=1").json["form"] == {"a": "1"}
