"""The application through its ASGI interface: request guards, handlers, return values."""

from __future__ import annotations

import asyncio
import inspect
import io
import threading
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any

import pytest

from junco import Junco, Request, Response
from junco.testing import TestClient, TestResponse


def fetch(app: Junco, path: str, method: str = "GET", **kw: Any) -> TestResponse:
    """One request through a fresh test client."""
    return asyncio.run(TestClient(app).request(method, path, **kw))


def hello_app(**options: Any) -> Junco:
    app = Junco(**options)

    @app.route("/", methods=["GET", "POST"])
    async def index(request: Request) -> str:
        return "hello"

    return app


# -- hostile requests -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/a\x00b", "/a\rb", "/a\nb", "/\r\nSet-Cookie:x=1"])
def test_control_characters_in_path_are_400(path: str) -> None:
    app = Junco()

    @app.get("/<path:p>")
    async def h(request: Request, p: str) -> str:
        return p

    r = fetch(app, path)
    assert r.status_code == 400
    assert r.text == "invalid character in path"


def test_duplicate_host_is_400() -> None:
    r = fetch(hello_app(), "/", headers=[("Host", "a.example"), ("Host", "b.example")])
    assert r.status_code == 400
    assert r.text == "exactly one Host header is required"


def test_missing_host_on_http11_is_400() -> None:
    r = fetch(hello_app(), "/", scope={"headers": []})
    assert r.status_code == 400
    assert r.text == "exactly one Host header is required"


def test_missing_host_on_http10_is_fine() -> None:
    r = fetch(hello_app(), "/", scope={"headers": [], "http_version": "1.0"})
    assert r.status_code == 200
    assert r.text == "hello"


def test_duplicate_host_on_http10_is_400() -> None:
    headers = [(b"host", b"a"), (b"host", b"b")]
    r = fetch(hello_app(), "/", scope={"headers": headers, "http_version": "1.0"})
    assert r.status_code == 400


def test_headers_over_the_cap_are_431() -> None:
    app = hello_app(max_header_bytes=1000)
    assert fetch(app, "/", headers={"X-Big": "a" * 900}).status_code == 200
    r = fetch(app, "/", headers={"X-Big": "a" * 1000})
    assert r.status_code == 431
    assert r.text == "Request header fields too large"


def test_default_header_cap_is_32_kib() -> None:
    app = hello_app()
    assert fetch(app, "/", headers={"X-Big": "a" * 32_000}).status_code == 200
    assert fetch(app, "/", headers={"X-Big": "a" * 33_000}).status_code == 431


def test_many_small_headers_count_towards_the_cap() -> None:
    app = hello_app(max_header_bytes=2000)
    headers = [(f"X-H{i}", "v" * 20) for i in range(100)]
    assert fetch(app, "/", headers=headers).status_code == 431


def test_conflicting_content_length_is_400() -> None:
    headers = [("Content-Length", "3"), ("Content-Length", "4")]
    r = fetch(hello_app(), "/", "POST", headers=headers, body=b"abc")
    assert r.status_code == 400
    assert r.text == "conflicting Content-Length headers"


def test_repeated_equal_content_length_is_accepted() -> None:
    headers = [("Content-Length", "3"), ("Content-Length", "3")]
    r = fetch(hello_app(), "/", "POST", headers=headers, body=b"abc")
    assert r.status_code == 200


@pytest.mark.parametrize("value", ["abc", "-1", "+3", "3.0", " 3", "0x3", "1" * 19, ""])
def test_invalid_content_length_is_400(value: str) -> None:
    # Raw scope headers: the test client trims values as Microdot's does.
    headers = [(b"host", b"t"), (b"content-length", value.encode())]
    r = fetch(hello_app(), "/", "POST", scope={"headers": headers}, body=b"abc")
    assert r.status_code == 400
    assert r.text == "invalid Content-Length"


def test_invalid_content_length_is_400_even_on_404() -> None:
    r = fetch(Junco(), "/missing", "POST", headers={"Content-Length": "x"}, body=b"abc")
    assert r.status_code == 400


def test_declared_body_over_limit_is_413() -> None:
    app = Junco(max_content_length=10)

    @app.post("/")
    async def h(request: Request) -> bytes:
        return request.body

    assert fetch(app, "/", "POST", body=b"0123456789").body == b"0123456789"
    r = fetch(app, "/", "POST", body=b"0123456789A")
    assert r.status_code == 413
    assert r.text == "Payload too large"  # Microdot's wording


def test_chunked_body_over_limit_is_413() -> None:
    app = Junco(max_content_length=10)

    @app.post("/")
    async def h(request: Request) -> bytes:
        return request.body

    r = fetch(app, "/", "POST", stream=[b"012345", b"6789AB"])
    assert r.status_code == 413


def test_limits_are_per_app() -> None:
    small = Junco(max_content_length=4)
    big = Junco()
    for app in (small, big):

        @app.post("/")
        async def h(request: Request) -> bytes:
            return request.body

    assert fetch(small, "/", "POST", body=b"12345").status_code == 413
    assert fetch(big, "/", "POST", body=b"12345").body == b"12345"


# -- handlers -----------------------------------------------------------------------------


def test_sync_handler_runs_in_a_worker_thread() -> None:
    app = Junco()
    idents: dict[str, int] = {}

    @app.get("/async")
    async def in_loop(request: Request) -> str:
        idents["loop"] = threading.get_ident()
        return "a"

    @app.get("/sync")
    def in_thread(request: Request) -> str:
        idents["sync"] = threading.get_ident()
        return "s"

    async def main() -> None:
        client = TestClient(app)
        assert (await client.get("/async")).text == "a"
        assert (await client.get("/sync")).text == "s"

    asyncio.run(main())
    assert set(idents) == {"loop", "sync"}
    assert idents["sync"] != idents["loop"]


def test_sync_handler_does_not_block_the_loop() -> None:
    app = Junco()
    started = threading.Event()
    released = threading.Event()

    @app.get("/wait")
    def wait(request: Request) -> str:
        started.set()
        # Only another request can set the event: the loop must keep running.
        return "released" if released.wait(timeout=10) else "timed out"

    @app.get("/release")
    async def release(request: Request) -> str:
        released.set()
        return "done"

    async def main() -> list[TestResponse]:
        client = TestClient(app)
        first = asyncio.ensure_future(client.get("/wait"))
        for _ in range(10_000):  # until /wait is blocked in its thread
            if started.is_set():
                break
            await asyncio.sleep(0.001)
        return [await client.get("/release"), await first]

    release_r, wait_r = asyncio.run(main())
    assert release_r.text == "done"
    assert wait_r.text == "released"


def test_two_blocking_sync_handlers_run_concurrently() -> None:
    app = Junco()
    barrier = threading.Barrier(2, timeout=10)

    @app.get("/<int:n>")
    def meet(request: Request, n: int) -> str:
        barrier.wait()  # raises BrokenBarrierError (a 500) unless both run at once
        return str(n)

    async def main() -> list[TestResponse]:
        client = TestClient(app)
        return list(await asyncio.gather(client.get("/1"), client.get("/2")))

    assert [r.text for r in asyncio.run(main())] == ["1", "2"]


def test_sync_client_facade() -> None:
    client = TestClient(hello_app())
    try:
        r = client.sync.get("/")
        assert r.status_code == 200
        assert r.text == "hello"
        assert client.sync.post("/", body=b"x").text == "hello"
    finally:
        client.sync.close()


def test_sync_handler_returning_awaitable_is_awaited() -> None:
    app = Junco()

    async def later() -> str:
        return "awaited"

    @app.get("/")
    def h(request: Request) -> Any:
        return later()

    assert fetch(app, "/").text == "awaited"


def test_callable_object_with_async_call_is_awaited() -> None:
    class Handler:
        async def __call__(self, request: Request) -> str:
            return "object"

    app = Junco()
    app.add_route("/", Handler())
    assert fetch(app, "/").text == "object"


# -- return values ------------------------------------------------------------------------


def returning(value: Any) -> Junco:
    """An app whose ``/`` handler returns ``value``."""
    app = Junco()

    @app.route("/", methods=["GET", "HEAD"])
    async def h(request: Request) -> Any:
        return value

    return app


def test_return_str() -> None:
    r = fetch(returning("héllo"), "/")
    assert r.status_code == 200
    assert r.body == "héllo".encode()
    assert r.headers["content-type"] == "text/plain; charset=UTF-8"
    assert r.headers["content-length"] == str(len("héllo".encode()))


def test_return_bytes() -> None:
    r = fetch(returning(b"\x00\xff"), "/")
    assert r.status_code == 200
    assert r.body == b"\x00\xff"
    assert r.headers["content-length"] == "2"


def test_return_dict() -> None:
    r = fetch(returning({"a": 1, "b": [True, None]}), "/")
    assert r.status_code == 200
    assert r.body == b'{"a":1,"b":[true,null]}'
    assert r.headers["content-type"] == "application/json; charset=UTF-8"


def test_return_list() -> None:
    r = fetch(returning([1, "x"]), "/")
    assert r.body == b'[1,"x"]'
    assert r.headers["content-type"] == "application/json; charset=UTF-8"


def test_return_none_is_204() -> None:
    r = fetch(returning(None), "/")
    assert r.status_code == 204
    assert r.body == b""
    assert "content-length" not in r.headers


def test_return_int_is_status() -> None:
    r = fetch(returning(202), "/")
    assert r.status_code == 202
    assert r.body == b""


def test_return_body_and_status() -> None:
    r = fetch(returning(("made", 201)), "/")
    assert (r.status_code, r.text) == (201, "made")


def test_return_json_body_and_status() -> None:
    r = fetch(returning(({"e": "bad"}, 422)), "/")
    assert r.status_code == 422
    assert r.json == {"e": "bad"}
    assert r.headers["content-type"] == "application/json; charset=UTF-8"


def test_return_body_and_headers() -> None:
    r = fetch(returning(("x", {"X-A": "1"})), "/")
    assert (r.status_code, r.text, r.headers["x-a"]) == (200, "x", "1")


def test_return_body_status_headers() -> None:
    r = fetch(returning(("x", 418, {"X-A": "1", "Content-Type": "text/html"})), "/")
    assert r.status_code == 418
    assert r.text == "x"
    assert r.headers["x-a"] == "1"
    assert r.headers.getlist("content-type") == ["text/html"]


def test_return_headers_as_pairs() -> None:
    r = fetch(returning(("x", 200, [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])), "/")
    assert r.headers.getlist("set-cookie") == ["a=1", "b=2"]


def test_return_status_only_tuple() -> None:
    r = fetch(returning((304,)), "/")
    assert r.status_code == 304
    assert r.body == b""


def test_return_status_and_headers() -> None:
    r = fetch(returning((303, {"Location": "/next"})), "/")
    assert r.status_code == 303
    assert r.headers["location"] == "/next"


def test_return_response() -> None:
    r = fetch(returning(Response("made", 201, {"X-R": "1"})), "/")
    assert (r.status_code, r.text, r.headers["x-r"]) == (201, "made", "1")


def test_return_response_with_status_and_headers() -> None:
    r = fetch(returning((Response("x", headers={"X-A": "1"}), 202, {"X-B": "2"})), "/")
    assert r.status_code == 202
    assert (r.headers["x-a"], r.headers["x-b"]) == ("1", "2")


def body_messages(r: TestResponse) -> list[dict[str, Any]]:
    return [dict(m) for m in r.messages if m["type"] == "http.response.body"]


def test_return_sync_generator_is_streamed() -> None:
    app = Junco()

    @app.get("/")
    def gen(request: Request) -> Iterator[str]:
        yield "a"
        yield "b"
        yield "c"

    r = fetch(app, "/")
    assert r.status_code == 200
    assert r.body == b"abc"
    assert "content-length" not in r.headers
    assert [m.get("body") for m in body_messages(r)] == [b"a", b"b", b"c", b""]
    assert [m.get("more_body", False) for m in body_messages(r)] == [True, True, True, False]


def test_return_async_generator_is_streamed() -> None:
    app = Junco()

    @app.get("/")
    async def gen(request: Request) -> AsyncIterator[bytes]:
        for chunk in (b"1", b"2"):
            yield chunk

    r = fetch(app, "/")
    assert r.body == b"12"
    assert [m.get("body") for m in body_messages(r)] == [b"1", b"2", b""]


def test_return_generator_with_status() -> None:
    def gen() -> Iterator[str]:
        yield "x"

    r = fetch(returning((gen(), 206)), "/")
    assert (r.status_code, r.body) == (206, b"x")


def test_return_file_like_is_streamed_and_closed() -> None:
    f = io.BytesIO(b"file contents")
    r = fetch(returning(f), "/")
    assert r.status_code == 200
    assert r.body == b"file contents"
    assert f.closed


def test_head_of_generator_sends_no_body_and_closes_it() -> None:
    started: list[bool] = []

    def gen() -> Generator[str, None, None]:
        started.append(True)
        yield "never sent"

    body = gen()
    r = fetch(returning(body), "/", "HEAD")
    assert r.status_code == 200
    assert r.body is None
    assert started == []
    assert inspect.getgeneratorstate(body) == inspect.GEN_CLOSED


@pytest.mark.parametrize(
    "value",
    [
        object(),
        1.5,
        (),
        ("a", 200, {}, "extra"),
        ("a", "b"),
        (200, "x"),
        ("a", "200", {}),
        range(3),
        {b"a"},
        frozenset({"a"}),
        {"a": 1}.keys(),
    ],
    ids=[
        "object",
        "float",
        "empty-tuple",
        "4-tuple",
        "str-str",
        "status-str",
        "str-status",
        "range",
        "set",
        "frozenset",
        "dict-keys",
    ],
)
def test_bad_return_value_is_500(value: Any, caplog: pytest.LogCaptureFixture) -> None:
    r = fetch(returning(value), "/")
    assert r.status_code == 500
    assert r.text == "Internal server error"
    assert any(rec.name == "junco" and rec.exc_info for rec in caplog.records)


def test_default_content_type_is_per_app() -> None:
    app = returning("<b>x</b>")
    app.default_content_type = "text/html"
    assert fetch(app, "/").headers["content-type"] == "text/html; charset=UTF-8"
    other = Junco(default_content_type="application/xml")

    @other.get("/")
    async def h(request: Request) -> str:
        return "<x/>"

    assert fetch(other, "/").headers["content-type"] == "application/xml"
    assert fetch(returning("x"), "/").headers["content-type"] == "text/plain; charset=UTF-8"


def test_unknown_scope_type_is_ignored() -> None:
    async def main() -> None:
        async def receive() -> dict[str, Any]:
            raise AssertionError("not expected")

        async def send(message: Any) -> None:
            raise AssertionError("not expected")

        await Junco()({"type": "something-else"}, receive, send)

    asyncio.run(main())
