"""Responses: bodies, headers, cookies, redirects, files and streaming over ASGI."""

from __future__ import annotations

import asyncio
import gzip
import io
import logging
import os
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import AsyncGeneratorType
from typing import Any, cast

import pytest

from junco import Junco, Request, Response, redirect, send_file
from junco.testing import TestClient, TestResponse

Message = dict[str, Any]


def call(app: Junco, method: str, path: str = "/", **kw: Any) -> TestResponse:
    """One request through a fresh client."""
    return asyncio.run(TestClient(app).request(method, path, **kw))


def serve(response: Callable[[], Any], method: str = "GET", **app_options: Any) -> TestResponse:
    """Answer one request with whatever ``response()`` returns."""
    app = Junco(**app_options)

    @app.route("/", methods=["GET", "POST"])
    async def index(request: Request) -> Any:
        return response()

    return call(app, method)


def body_messages(r: TestResponse) -> list[Message]:
    return [dict(m) for m in r.messages if m["type"] == "http.response.body"]


def http_scope(path: str = "/", method: str = "GET") -> Message:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test")],
    }


# -- bodies and content types --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "ctype", "raw"),
    [
        ("héllo", b"text/plain; charset=UTF-8", "héllo".encode()),
        (b"\x00\xff", b"text/plain; charset=UTF-8", b"\x00\xff"),
        (bytearray(b"ba"), b"text/plain; charset=UTF-8", b"ba"),
        (memoryview(b"mv"), b"text/plain; charset=UTF-8", b"mv"),
        ({"a": [1, "é"]}, b"application/json; charset=UTF-8", '{"a":[1,"é"]}'.encode()),
        ([1, None], b"application/json; charset=UTF-8", b"[1,null]"),
        ("", b"text/plain; charset=UTF-8", b""),
    ],
)
def test_body_types_on_the_wire(body: Any, ctype: bytes, raw: bytes) -> None:
    r = serve(lambda: Response(body))
    start = r.messages[0]
    assert start == {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", ctype), (b"content-length", str(len(raw)).encode())],
    }
    assert body_messages(r) == [{"type": "http.response.body", "body": raw}]


def test_str_subclass_body() -> None:
    class Markup(str):
        pass

    r = serve(lambda: Response(Markup("<b>x</b>")))
    assert (r.body, r.headers["content-type"]) == (b"<b>x</b>", "text/plain; charset=UTF-8")


def test_handler_returning_plain_values() -> None:
    assert serve(lambda: "ok").headers["content-type"] == "text/plain; charset=UTF-8"
    assert serve(lambda: {"a": 1}).headers["content-type"] == "application/json; charset=UTF-8"
    r = serve(lambda: None)
    assert (r.status_code, r.body, r.headers.get("content-length")) == (204, b"", None)


@pytest.mark.parametrize(
    ("default", "expected"),
    [
        ("text/html", "text/html; charset=UTF-8"),
        ("text/html; charset=latin-1", "text/html; charset=latin-1"),
        ("application/xml", "application/xml"),
    ],
)
def test_app_default_content_type(default: str, expected: str) -> None:
    assert serve(lambda: "x", default_content_type=default).headers["content-type"] == expected
    assert serve(lambda: b"x", default_content_type=default).headers["content-type"] == expected
    json = serve(lambda: [1], default_content_type=default)
    assert json.headers["content-type"] == "application/json; charset=UTF-8"


def test_default_content_type_class_attribute_is_the_app_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Response, "default_content_type", "text/csv")
    assert serve(lambda: "a,b").headers["content-type"] == "text/csv; charset=UTF-8"


def test_unsupported_body_type() -> None:
    with pytest.raises(TypeError, match="int"):
        Response(42)
    with pytest.raises(TypeError, match="object"):
        Response(object())


def test_content_length_counts_bytes() -> None:
    r = serve(lambda: "😀é")
    assert r.headers["content-length"] == "6"
    assert r.text == "😀é"


# -- headers -------------------------------------------------------------------------------


def test_headers_mapping_is_case_insensitive() -> None:
    resp = Response("x", headers={"X-Thing": "1"})
    assert resp.headers["x-thing"] == "1"
    assert "X-THING" in resp.headers
    resp.headers["x-THING"] = "2"
    assert resp.headers.getlist("X-Thing") == ["2"]


def test_headers_as_pairs_keep_repeats() -> None:
    r = serve(lambda: Response("x", headers=[("Link", "</a>"), ("link", "</b>"), ("X", "1")]))
    assert r.messages[0]["headers"] == [
        (b"link", b"</a>"),
        (b"link", b"</b>"),
        (b"x", b"1"),
        (b"content-type", b"text/plain; charset=UTF-8"),
        (b"content-length", b"1"),
    ]


def test_explicit_content_type_wins() -> None:
    r = serve(lambda: Response({"a": 1}, headers={"content-type": "application/problem+json"}))
    assert r.headers.getlist("content-type") == ["application/problem+json"]
    assert r.body == b'{"a":1}'


def test_json_content_type_visible_in_headers() -> None:
    resp = Response({"a": 1})
    assert resp.headers["Content-Type"] == "application/json; charset=UTF-8"
    resp.headers["Content-Type"] = "application/vnd.x+json"
    r = serve(lambda: resp)
    assert r.headers.getlist("content-type") == ["application/vnd.x+json"]


def test_headers_setter_replaces_all() -> None:
    resp = Response("x", headers={"A": "1"})
    resp.headers = [("B", "2")]
    assert list(resp.headers.items_all()) == [("b", "2")]
    r = serve(lambda: resp)
    assert r.headers.get("a") is None
    assert r.headers["b"] == "2"
    assert r.headers["content-type"] == "text/plain; charset=UTF-8"


def test_explicit_content_length_is_not_duplicated() -> None:
    r = serve(lambda: Response("abc", headers={"Content-Length": "3"}))
    assert r.headers.getlist("content-length") == ["3"]


@pytest.mark.parametrize("bad", ["a\r\nSet-Cookie: x=1", "a\nb", "a\rb", "a\x00b"])
def test_header_values_with_control_characters_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="control character"):
        Response("x", headers={"X": bad})
    resp = Response("x")
    with pytest.raises(ValueError, match="control character"):
        resp.headers["X"] = bad
    with pytest.raises(ValueError, match="control character"):
        resp.headers.add("X", bad)


def test_status_and_reason() -> None:
    r = serve(lambda: Response("teapot", 418, reason="I'm a teapot"))
    assert (r.status_code, r.text) == (418, "teapot")


# -- cookies -------------------------------------------------------------------------------


def cookie_header(**kw: Any) -> str:
    resp = Response()
    name = kw.pop("name", "sid")
    value = kw.pop("value", "v")
    resp.set_cookie(name, value, **kw)
    headers = resp.headers.getlist("set-cookie")
    assert len(headers) == 1
    return headers[0]


def test_set_cookie_defaults() -> None:
    assert cookie_header() == "sid=v"  # no Path unless given, as in Microdot
    assert cookie_header(path="/") == "sid=v; Path=/"


def test_set_cookie_every_attribute() -> None:
    header = cookie_header(
        path="/app",
        domain="example.org",
        expires=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        max_age=60,
        secure=True,
        http_only=True,
        samesite="strict",
    )
    assert header == (
        "sid=v; Path=/app; Domain=example.org; Expires=Wed, 02 Jan 2030 03:04:05 GMT; "
        "Max-Age=60; Secure; HttpOnly; SameSite=Strict"
    )


def test_set_cookie_expires_variants() -> None:
    naive = cookie_header(expires=datetime(2030, 1, 2, 3, 4, 5))
    assert naive == "sid=v; Expires=Wed, 02 Jan 2030 03:04:05 GMT"
    plus_two = datetime(2030, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert cookie_header(expires=plus_two) == naive
    text = cookie_header(expires="Fri, 01 Jan 2100 00:00:00 GMT")
    assert text == "sid=v; Expires=Fri, 01 Jan 2100 00:00:00 GMT"


@pytest.mark.parametrize(
    ("samesite", "expected"),
    [
        ("Lax", "sid=v; SameSite=Lax"),
        ("lax", "sid=v; SameSite=Lax"),
        ("Strict", "sid=v; SameSite=Strict"),
        ("None", "sid=v; Secure; SameSite=None"),
        ("none", "sid=v; Secure; SameSite=None"),
    ],
)
def test_set_cookie_samesite(samesite: str, expected: str) -> None:
    assert cookie_header(samesite=samesite) == expected


def test_set_cookie_partitioned_forces_secure() -> None:
    assert cookie_header(partitioned=True) == "sid=v; Secure; Partitioned"
    assert (
        cookie_header(partitioned=True, secure=True, samesite="None", http_only=True)
        == "sid=v; Secure; HttpOnly; SameSite=None; Partitioned"
    )


def test_set_cookie_invalid_samesite() -> None:
    with pytest.raises(ValueError, match="SameSite"):
        Response().set_cookie("a", "b", samesite="Loose")


@pytest.mark.parametrize("field", ["name", "value", "path", "domain"])
@pytest.mark.parametrize("bad", ["x\r\ny", "x\ny", "x\ry", "x;y", "x\x00y", "x\x7fy"])
def test_set_cookie_refuses_injection(field: str, bad: str) -> None:
    kw: dict[str, Any] = {"name": "sid", "value": "v", "path": "/", "domain": "example.org"}
    kw[field] = bad
    resp = Response()
    with pytest.raises(ValueError, match=f"cookie {field}"):
        resp.set_cookie(kw.pop("name"), kw.pop("value"), **kw)
    assert resp.headers.getlist("set-cookie") == []


@pytest.mark.parametrize("bad", ["a=b", "a b", "a,b", "a\tb", ""])
def test_set_cookie_refuses_bad_names(bad: str) -> None:
    with pytest.raises(ValueError, match="cookie name"):
        Response().set_cookie(bad, "v")


def test_set_cookie_refuses_bad_expires_text() -> None:
    with pytest.raises(ValueError, match="expires"):
        Response().set_cookie("a", "b", expires="x; Domain=evil.example")


def test_delete_cookie() -> None:
    resp = Response()
    resp.delete_cookie("sid", max_age=10, expires="ignored")  # accepted, ignored (Microdot)
    resp.delete_cookie("pref", path="/app", domain="example.org", secure=True)
    assert resp.headers.getlist("set-cookie") == [
        "sid=; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0",
        "pref=; Path=/app; Domain=example.org; Expires=Thu, 01 Jan 1970 00:00:01 GMT; "
        "Max-Age=0; Secure",
    ]


def test_several_cookies_on_the_wire() -> None:
    def make() -> Response:
        resp = Response({"ok": True})
        resp.set_cookie("a", "1")
        resp.set_cookie("b", "2", http_only=True)
        return resp

    r = serve(make)
    assert r.headers.getlist("set-cookie") == ["a=1", "b=2; HttpOnly"]
    assert r.headers["content-type"] == "application/json; charset=UTF-8"


# -- redirects -----------------------------------------------------------------------------


def test_redirect() -> None:
    r = serve(lambda: Response.redirect("/login?next=%2F"))
    assert (r.status_code, r.headers["location"], r.body) == (302, "/login?next=%2F", b"")
    assert r.headers["content-length"] == "0"
    r = serve(lambda: redirect("https://example.org/", 301))
    assert (r.status_code, r.headers["location"]) == (301, "https://example.org/")


@pytest.mark.parametrize("bad", ["/x\r\nSet-Cookie: a=1", "/x\ny", "/x\ry", "/x\x00"])
def test_redirect_refuses_control_characters(bad: str) -> None:
    with pytest.raises(ValueError, match="control character"):
        Response.redirect(bad)
    with pytest.raises(ValueError, match="control character"):
        redirect(bad, 303)


# -- HEAD, 204, 304 ------------------------------------------------------------------------


def test_head_gets_headers_without_body() -> None:
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> Response:
        return Response("hello", headers={"X-Method": request.method})

    get = call(app, "GET")
    head = call(app, "HEAD")
    assert head.status_code == 200
    assert head.body is None
    expected = [(k, "HEAD" if k == "x-method" else v) for k, v in get.headers.items_all()]
    assert head.headers.items_all() == expected
    assert head.headers["content-length"] == "5"
    assert get.headers["x-method"] == "GET"


def test_every_buffered_path_writes_head_and_length_alike() -> None:
    # The dispatcher's plain path (a str, inlined from response.buffered),
    # Response.send's plain path and its general path (own headers, another
    # status) write HEAD and Content-Length alike.
    app = Junco()

    @app.get("/str")
    async def text(request: Request) -> str:
        return "hello"

    @app.get("/plain")
    async def plain(request: Request) -> Response:
        return Response("hello")

    @app.get("/headers")
    async def headers(request: Request) -> Response:
        return Response("hello", headers={"X-A": "1"})

    @app.get("/created")
    async def created(request: Request) -> Response:
        return Response("hello", 201)

    for path in ("/str", "/plain", "/headers", "/created"):
        get, head = call(app, "GET", path), call(app, "HEAD", path)
        assert get.body == b"hello", path
        assert head.body is None, path
        assert get.headers["content-length"] == head.headers["content-length"] == "5", path
        assert get.headers["content-type"] == head.headers["content-type"], path


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(status: int) -> None:
    r = serve(lambda: Response("ignored", status))
    assert r.status_code == status
    assert r.body == b""
    assert "content-length" not in r.headers
    assert body_messages(r) == [{"type": "http.response.body", "body": b""}]


def test_no_body_status_closes_streamed_body() -> None:
    async def gen() -> AsyncGenerator[bytes, None]:
        yield b"never"

    body = gen()
    r = serve(lambda: Response(body, 304))
    assert (r.status_code, r.body) == (304, b"")
    assert cast(AsyncGeneratorType[bytes, None], body).ag_frame is None  # closed, never run


# -- send_file -----------------------------------------------------------------------------


@pytest.fixture
def big_file(tmp_path: Path) -> tuple[Path, bytes]:
    data = bytes(range(256)) * 800 + b"end"  # 204,803 bytes: four chunks
    path = tmp_path / "data.json"
    path.write_bytes(data)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    return path, data


def test_send_file_streams_in_chunks(big_file: tuple[Path, bytes]) -> None:
    path, data = big_file
    r = serve(lambda: send_file(path))
    assert r.status_code == 200
    assert r.body == data
    assert r.headers["content-type"] == "application/json"  # send_file: the type alone, as Microdot
    assert r.headers["content-length"] == str(len(data))
    assert r.headers["last-modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert "cache-control" not in r.headers
    assert "content-encoding" not in r.headers
    sizes = [len(m["body"]) for m in body_messages(r)]
    assert sizes == [65536, 65536, 65536, len(data) - 3 * 65536, 0]
    assert [m.get("more_body", False) for m in body_messages(r)] == [True] * 4 + [False]


def test_send_file_content_type(tmp_path: Path) -> None:
    unknown = tmp_path / "blob.junconope"
    unknown.write_bytes(b"\x00\x01")
    page = tmp_path / "page.html"
    page.write_bytes(b"<p>")
    r = serve(lambda: Response.send_file(unknown))
    assert (r.headers["content-type"], r.body) == ("application/octet-stream", b"\x00\x01")
    html = serve(lambda: Response.send_file(str(page))).headers["content-type"]
    assert html == "text/html; charset=UTF-8"
    forced = serve(lambda: Response.send_file(page, content_type="text/plain; charset=UTF-8"))
    assert forced.headers["content-type"] == "text/plain; charset=UTF-8"


def test_send_file_max_age(big_file: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = big_file
    assert serve(lambda: send_file(path, max_age=60)).headers["cache-control"] == "max-age=60"
    assert serve(lambda: send_file(path, max_age=0)).headers["cache-control"] == "max-age=0"
    monkeypatch.setattr(Response, "default_send_file_max_age", 3600)
    assert serve(lambda: send_file(path)).headers["cache-control"] == "max-age=3600"
    assert serve(lambda: send_file(path, max_age=5)).headers["cache-control"] == "max-age=5"


def test_send_file_compressed(tmp_path: Path) -> None:
    original = b'{"k": "' + b"v" * 100_000 + b'"}'
    packed = gzip.compress(original)
    (tmp_path / "big.json.gz").write_bytes(packed)
    r = serve(lambda: send_file(tmp_path / "big.json", compressed=True, file_extension=".gz"))
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-length"] == str(len(packed))
    assert gzip.decompress(r.body) == original
    (tmp_path / "big.json.br").write_bytes(b"brotli")
    br = serve(lambda: send_file(tmp_path / "big.json", compressed="br", file_extension=".br"))
    assert (br.headers["content-encoding"], br.body) == ("br", b"brotli")


def test_send_file_status_code(big_file: tuple[Path, bytes]) -> None:
    path, data = big_file
    r = serve(lambda: send_file(path, status_code=203))
    assert (r.status_code, r.body) == (203, data)


def test_send_file_from_stream_closes_it() -> None:
    stream = io.BytesIO(b"x" * 70_000)
    r = serve(lambda: Response.send_file("report.csv", stream=stream))
    assert r.headers["content-type"] == "text/csv; charset=UTF-8"
    assert "content-length" not in r.headers
    assert r.body == b"x" * 70_000
    assert stream.closed


def test_send_file_head_sends_headers_only(big_file: tuple[Path, bytes]) -> None:
    path, data = big_file
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> Response:
        return send_file(path)

    head = call(app, "HEAD")
    get = call(app, "GET")
    assert head.status_code == 200
    assert head.body is None
    assert head.headers == get.headers
    assert head.headers["content-length"] == str(len(data))
    assert get.body == data


# -- streaming -----------------------------------------------------------------------------


def test_sync_generator_body() -> None:
    def gen() -> Iterator[str | bytes]:
        yield "é"
        yield b""
        yield b"two"

    r = serve(lambda: Response(gen(), headers={"Content-Type": "text/event-stream"}))
    assert r.body == "étwo".encode()
    assert "content-length" not in r.headers
    assert r.headers["content-type"] == "text/event-stream"
    assert body_messages(r) == [
        {"type": "http.response.body", "body": "é".encode(), "more_body": True},
        {"type": "http.response.body", "body": b"two", "more_body": True},
        {"type": "http.response.body", "body": b""},
    ]


def test_async_generator_body() -> None:
    async def gen() -> AsyncIterator[bytes]:
        for i in range(3):
            await asyncio.sleep(0)
            yield b"%d" % i

    r = serve(lambda: gen())
    assert r.body == b"012"
    assert r.headers["content-type"] == "text/plain; charset=UTF-8"
    assert len(body_messages(r)) == 4


def test_handler_that_is_a_generator_function() -> None:
    app = Junco()

    @app.get("/sync")
    def sync_gen(request: Request) -> Iterator[bytes]:
        yield b"a"
        yield request.path.encode()

    @app.get("/async")
    async def async_gen(request: Request) -> AsyncIterator[bytes]:
        yield b"b"
        yield request.path.encode()

    assert call(app, "GET", "/sync").body == b"a/sync"
    assert call(app, "GET", "/async").body == b"b/async"


def test_file_like_and_iterator_bodies() -> None:
    f = io.BytesIO(b"y" * 100_000)
    r = serve(lambda: Response(f))
    assert r.body == b"y" * 100_000
    assert [len(m["body"]) for m in body_messages(r)] == [65536, 100_000 - 65536, 0]
    assert f.closed
    assert serve(lambda: Response(iter([b"i", "t"]))).body == b"it"


def test_head_on_streamed_body_closes_generator() -> None:
    bodies: list[AsyncGenerator[bytes, None]] = []
    app = Junco()

    async def gen() -> AsyncGenerator[bytes, None]:
        yield b"body"

    @app.get("/")
    async def index(request: Request) -> Response:
        bodies.append(gen())
        return Response(bodies[-1], headers={"X-Stream": "1"})

    r = call(app, "HEAD")
    assert (r.status_code, r.headers["x-stream"]) == (200, "1")
    assert r.body is None
    assert "content-length" not in r.headers
    closed = cast(AsyncGeneratorType[bytes, None], bodies[0])
    assert closed.ag_frame is None  # closed without being run


def test_error_inside_stream_truncates_without_end_of_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def gen() -> Iterator[bytes]:
        yield b"partial"
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="junco"):
        r = serve(lambda: Response(gen()))
    assert r.status_code == 200
    # No final empty message: the server must signal the truncated body.
    assert body_messages(r) == [
        {"type": "http.response.body", "body": b"partial", "more_body": True}
    ]
    assert "error while sending the response" in caplog.text


@pytest.mark.parametrize("chunk", [7, 1.5, None, [b"x"]], ids=["int", "float", "none", "list"])
def test_stream_yielding_a_non_text_chunk_is_a_typeerror_not_nul_bytes(
    chunk: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def gen() -> Iterator[Any]:
        yield b"ok"
        yield chunk

    with caplog.at_level(logging.ERROR, logger="junco"):
        r = serve(gen)
    # Headers were already out: the stream is cut short (the server drops the
    # connection), never completed with bytes(7) == seven NUL bytes.
    assert body_messages(r) == [{"type": "http.response.body", "body": b"ok", "more_body": True}]
    assert "a streamed body yielded a" in caplog.text


def test_async_read_body_is_awaited() -> None:
    class AsyncFile:
        def __init__(self) -> None:
            self.chunks = [b"hel", b"lo"]
            self.closed = False

        async def read(self, size: int = -1) -> bytes:
            return self.chunks.pop(0) if self.chunks else b""

        async def close(self) -> None:
            self.closed = True

    body = AsyncFile()
    r = serve(lambda: body)
    assert (r.status_code, r.body) == (200, b"hello")
    assert body.closed


async def _disconnect_after_first_chunk(
    app: Junco, ready: threading.Event | None = None
) -> list[Message]:
    """Run one GET; ``receive`` reports a disconnect once a body chunk went out.

    With ``ready``, the disconnect also waits until that event is set.
    """
    sent: list[Message] = []
    first_chunk = asyncio.Event()
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await first_chunk.wait()
        if ready is not None:
            await asyncio.to_thread(ready.wait, 10)
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(dict(message))
        if message["type"] == "http.response.body" and message.get("body"):
            first_chunk.set()

    await asyncio.wait_for(app(http_scope(), receive, send), 10)
    return sent


def test_disconnect_closes_async_generator() -> None:
    closed = threading.Event()
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"tick"
                await asyncio.sleep(0)
        finally:
            closed.set()

    sent = asyncio.run(_disconnect_after_first_chunk(app))
    assert closed.is_set()
    assert sent[0]["status"] == 200
    assert all(m.get("more_body") for m in sent[1:])


def test_disconnect_closes_sync_generator() -> None:
    closed = threading.Event()
    app = Junco()

    @app.get("/")
    def index(request: Request) -> Iterator[bytes]:
        try:
            while True:
                yield b"tick"
        finally:
            closed.set()

    sent = asyncio.run(_disconnect_after_first_chunk(app))
    assert closed.wait(5)
    assert sent[0]["status"] == 200
    assert all(m.get("more_body") for m in sent[1:])


def test_disconnect_closes_file_body() -> None:
    f = io.BytesIO(b"z" * (10 * 65536))
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> Response:
        return Response(f)

    sent = asyncio.run(_disconnect_after_first_chunk(app))
    assert f.closed
    assert len(sent) < 12


def test_disconnect_while_sync_generator_is_producing(caplog: pytest.LogCaptureFixture) -> None:
    # BUG: the generator is busy in a worker thread when the client leaves, so
    # close() fails with "generator already executing" (logged as a warning) and
    # nothing closes it later: its finally block never runs while anything else
    # holds a reference to it.
    producing = threading.Event()
    release = threading.Event()
    closed = threading.Event()
    generators: list[Iterator[bytes]] = []
    app = Junco()

    def produce() -> Iterator[bytes]:
        try:
            yield b"first"
            producing.set()
            release.wait(10)
            yield b"second"
            yield b"third"
        finally:
            closed.set()

    @app.get("/")
    def index(request: Request) -> Iterator[bytes]:
        generators.append(produce())
        return generators[-1]

    async def main() -> list[Message]:
        sent = await _disconnect_after_first_chunk(app, ready=producing)
        release.set()
        await asyncio.to_thread(closed.wait, 3)
        return sent

    with caplog.at_level(logging.WARNING, logger="junco"):
        sent = asyncio.run(main())
    assert [m.get("body") for m in sent[1:]] == [b"first"]
    assert closed.is_set()
    assert "closing a response body failed" not in caplog.text


# -- headers junco's own middleware add already encoded --------------------------------


def test_a_content_type_alone_is_sent_once_and_checked() -> None:
    r = serve(lambda: ("<p>hi</p>", {"Content-Type": "text/html; charset=utf-8"}))
    assert r.headers.getlist("content-type") == ["text/html; charset=utf-8"]
    response = Response("x", headers={"content-type": "text/html"})
    assert response.headers["Content-Type"] == "text/html"
    with pytest.raises(ValueError, match="control character"):
        Response("x", headers={"Content-Type": "text/html\r\nX-Evil: 1"})


def test_encoded_pairs_are_seen_and_overridden_by_later_hooks() -> None:
    from junco.phases import Phase
    from junco.security import RequestID, SecurityHeaders

    app = Junco()
    seen: dict[str, Any] = {}

    class Last:
        phase = Phase.OBSERVE  # the outermost phase: its after-hook runs last

        def after_request(self, request: Request, response: Response) -> None:
            seen["frame"] = response.headers.get("X-Frame-Options")
            seen["id"] = response.headers.get("X-Request-ID")
            response.headers["X-Frame-Options"] = "SAMEORIGIN"

    app.add_middleware(Last())
    SecurityHeaders(app)
    RequestID(app)

    @app.get("/")
    async def index(request: Request) -> str:
        return "ok"

    r = call(app, "GET")
    assert seen["frame"] == "DENY"
    assert seen["id"] == r.headers["X-Request-ID"]
    assert r.headers.getlist("x-frame-options") == ["SAMEORIGIN"]
    assert r.headers.getlist("x-request-id") == [seen["id"]]


def test_each_header_of_the_full_stack_is_sent_once() -> None:
    from junco.security import RequestID, csp_nonce, secure_stack

    app = Junco()
    origin = "https://app.example.com"
    secure_stack(
        app,
        secret_key="k" * 48,
        allowed_hosts=["127.0.0.1"],
        cors_origins=[origin],
        cors_credentials=True,
    )
    RequestID(app)  # a second one replaces the id rather than adding a header

    @app.get("/")
    async def index(request: Request) -> Any:
        request.session["n"] = 1
        return f"<script nonce='{csp_nonce(request)}'></script>", {"Content-Type": "text/html"}

    r = asyncio.run(
        TestClient(app).request("GET", "/", headers={"Host": "127.0.0.1", "Origin": origin})
    )
    assert r.status_code == 200
    names = [k.decode().lower() for k, _ in r.messages[0]["headers"]]
    repeated = {n for n in names if names.count(n) > 1}
    assert repeated == set(), repeated
    assert set(r.headers["Vary"].replace(" ", "").split(",")) == {"Origin", "Cookie"}
    nonce = r.text.split("nonce='")[1].split("'")[0]
    assert f"'nonce-{nonce}'" in r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Access-Control-Allow-Origin"] == origin


def test_the_shared_already_handled_response_keeps_no_encoded_pairs() -> None:
    from junco.security import RequestID, SecurityHeaders

    app = Junco()
    SecurityHeaders(app)
    RequestID(app)

    @app.get("/")
    async def index(request: Request) -> Response:
        return Response.already_handled

    for _ in range(3):
        call(app, "GET")
    assert Response.already_handled._extra is None
