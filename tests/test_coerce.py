"""make_response: every handler return value Microdot accepts, and the ones it refuses."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from junco import Junco, Request, Response, make_response
from junco.datastructures import Headers
from junco.testing import TestClient, TestResponse


def wire(rv: Any) -> TestResponse:
    """What a client receives when a handler returns ``rv``."""
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> Any:
        return rv

    return asyncio.run(TestClient(app).get("/"))


def test_response_passes_through() -> None:
    resp = Response("x", 201)
    assert make_response(resp) is resp


@pytest.mark.parametrize(
    ("rv", "status", "body", "ctype"),
    [
        ("text", 200, b"text", None),
        (b"bytes", 200, b"bytes", None),
        ({"a": 1}, 200, b'{"a":1}', "application/json; charset=UTF-8"),
        ([1, 2], 200, b"[1,2]", "application/json; charset=UTF-8"),
        (None, 204, b"", None),
        (201, 201, b"", None),
        (("created", 201), 201, b"created", None),
        (({"id": 1}, 201), 201, b'{"id":1}', "application/json; charset=UTF-8"),
        (("body",), 200, b"body", None),
        ((404,), 404, b"", None),
    ],
)
def test_plain_values(rv: Any, status: int, body: bytes, ctype: str | None) -> None:
    resp = make_response(rv)
    assert (resp.status_code, resp.body, resp.headers.get("content-type")) == (
        status,
        body,
        ctype,
    )


def test_body_and_headers() -> None:
    resp = make_response(("x", {"X-A": "1"}))
    assert (resp.status_code, resp.body, resp.headers["x-a"]) == (200, b"x", "1")
    resp = make_response(("x", [("Link", "</a>"), ("Link", "</b>")]))
    assert resp.headers.getlist("link") == ["</a>", "</b>"]
    resp = make_response(("x", Headers({"X-B": "2"})))
    assert resp.headers["x-b"] == "2"


def test_body_status_headers() -> None:
    resp = make_response(({"e": "gone"}, 410, {"X-Reason": "moved"}))
    assert resp.status_code == 410
    assert resp.body == b'{"e":"gone"}'
    assert resp.headers["x-reason"] == "moved"
    assert resp.headers["content-type"] == "application/json; charset=UTF-8"


def test_status_and_headers() -> None:
    resp = make_response((301, {"Location": "/new"}))
    assert (resp.status_code, resp.body, resp.headers["location"]) == (301, b"", "/new")


def test_response_inside_tuple_gets_status_and_headers() -> None:
    inner = Response("x", headers={"X-A": "1"})
    resp = make_response((inner, 202, {"X-A": "2", "X-B": "3"}))
    assert resp is inner
    assert resp.status_code == 202
    assert resp.headers.getlist("x-a") == ["1", "2"]
    assert resp.headers["x-b"] == "3"
    assert make_response((Response("y"), 418)).status_code == 418


def test_generators_are_streamed() -> None:
    def gen() -> Iterator[bytes]:
        yield b"a"

    async def agen() -> AsyncIterator[bytes]:
        yield b"b"

    for body in (gen(), agen(), io.BytesIO(b"c"), iter([b"d"])):
        resp = make_response(body)
        assert resp.is_streamed
        assert resp.body_iter is body
    assert not make_response("x").is_streamed


def test_stream_with_status() -> None:
    resp = make_response((iter([b"x"]), 206))
    assert resp.is_streamed
    assert resp.status_code == 206


@pytest.mark.parametrize(
    ("rv", "message"),
    [
        ((), "tuple of 0 items"),
        (("a", 200, {}, "extra"), "tuple of 4 items"),
        ((200, "body"), r"\(status,\) or \(status, headers\)"),
        ((200, {}, "x"), r"\(status,\) or \(status, headers\)"),
        (("a", "b"), "status or headers"),
        (("a", 2.5), "status or headers"),
        (("a", {}, 200), r"\(body, status, headers\)"),
        (("a", "200", {}), r"\(body, status, headers\)"),
        (("a", 200, "h"), r"\(body, status, headers\)"),
        (object(), "object"),
        (3.14, "float"),
    ],
)
def test_refused_values(rv: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        make_response(rv)


def test_bool_is_not_a_status() -> None:
    # True is an int subclass; it must not become status 1.
    with pytest.raises(TypeError):
        make_response(True)


# -- through the app -----------------------------------------------------------------------


def test_wire_tuple_with_headers() -> None:
    r = wire(("made", 201, {"X-Id": "7"}))
    assert (r.status_code, r.text, r.headers["x-id"]) == (201, "made", "7")
    assert r.headers["content-type"] == "text/plain; charset=UTF-8"
    assert r.headers["content-length"] == "4"


def test_wire_none_is_204_without_length() -> None:
    r = wire(None)
    assert (r.status_code, r.body) == (204, b"")
    assert "content-length" not in r.headers


def test_wire_int_status() -> None:
    r = wire(202)
    assert (r.status_code, r.body, r.headers["content-length"]) == (202, b"", "0")


def test_wire_bad_value_is_500(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="junco"):
        r = wire(object())
    assert (r.status_code, r.text) == (500, "Internal server error")
    assert "cannot use a object as a response body" in caplog.text


def test_wire_sync_handler_tuple() -> None:
    app = Junco()

    @app.get("/")
    def index(request: Request) -> tuple[dict[str, Any], int]:
        return {"sync": True}, 200

    r = asyncio.run(TestClient(app).get("/"))
    assert (r.status_code, r.json) == (200, {"sync": True})
