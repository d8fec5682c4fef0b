"""RequestID: one id per request, on every response, in the logs; hostile ids replaced."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from junco import Junco, Request, Response
from junco.security.request_id import RequestID, RequestIDLogFilter, new_request_id
from junco.testing import TestClient, TestResponse
from tests.middleware.test_security_headers import docs_example

FRESH = re.compile(r"[0-9a-f]{32}")
log = logging.getLogger("tests.request_id")


def fetch(app: Junco, path: str = "/", method: str = "GET", **kw: Any) -> TestResponse:
    return asyncio.run(TestClient(app).request(method, path, **kw))


def site(**options: Any) -> Junco:
    app = Junco(max_content_length=16)
    RequestID(app, **options)

    @app.get("/")
    async def index(request: Request) -> str:
        return request.request_id  # type: ignore[attr-defined, no-any-return]

    @app.post("/upload")
    async def upload(request: Request) -> str:
        return "ok"

    @app.get("/boom")
    async def boom(request: Request) -> str:
        raise RuntimeError("broken")

    @app.get("/own")
    async def own(request: Request) -> Response:
        return Response("x", headers={"X-Request-ID": "set-by-handler"})

    return app


@pytest.fixture(autouse=True)
def quiet_junco_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="junco")


def test_fresh_ids_are_uuid4_hex_and_unique() -> None:
    app = site()
    ids = set()
    for _ in range(50):
        response = fetch(app)
        rid = response.headers["X-Request-ID"]
        assert FRESH.fullmatch(rid)
        assert response.text == rid  # request.request_id is what the response carries
        ids.add(rid)
    assert len(ids) == 50


def test_new_request_id_is_a_version_4_uuid() -> None:
    for _ in range(200):
        parsed = uuid.UUID(new_request_id())
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)


@pytest.mark.parametrize(
    "incoming", ["abc", "A-Z_a.z-0.9", "x" * 64, "9f1c0b7e-3a55-4d2e-b1f0-6c2d8e4a7b90"]
)
def test_well_formed_incoming_id_is_kept(incoming: str) -> None:
    response = fetch(site(), headers={"X-Request-ID": incoming})
    assert (response.text, response.headers["X-Request-ID"]) == (incoming, incoming)


@pytest.mark.parametrize(
    "raw",
    [
        b"x" * 65,
        b"x" * 10_000,
        b"abc\ndef",
        b"abc\r\nSet-Cookie: a=b",
        b"abc def",
        b"abc;def",
        b"../../etc/passwd",
        b"<script>",
        b"",
        "caf\u00e9".encode(),
        "\u0661\u0662".encode(),
        b"abc\x00",
    ],
)
def test_hostile_incoming_id_is_replaced(raw: bytes) -> None:
    headers = [(b"host", b"localhost"), (b"x-request-id", raw)]
    response = fetch(site(), scope={"headers": headers})
    assert response.status_code == 200
    rid = response.headers["X-Request-ID"]
    assert FRESH.fullmatch(rid)
    assert rid.encode() != raw


def test_trust_incoming_off() -> None:
    response = fetch(site(trust_incoming=False), headers={"X-Request-ID": "client-chosen"})
    assert FRESH.fullmatch(response.headers["X-Request-ID"])


def test_custom_header() -> None:
    response = fetch(site(header="X-Correlation-ID"), headers={"X-Correlation-ID": "corr-1"})
    assert response.headers["X-Correlation-ID"] == "corr-1"
    assert "X-Request-ID" not in response.headers


@pytest.mark.parametrize(
    ("method", "path", "kw", "status"),
    [
        ("GET", "/nowhere", {}, 404),
        ("POST", "/", {}, 405),
        ("POST", "/upload", {"body": b"x" * 100}, 413),
        ("GET", "/boom", {}, 500),
        ("GET", "/", {"headers": {"X-Filler": "f" * 40_000}}, 431),
        ("GET", "/", {"headers": [("Host", "a.test"), ("Host", "b.test")]}, 400),
        ("GET", "/own", {}, 200),
    ],
)
def test_id_on_every_response(method: str, path: str, kw: dict[str, Any], status: int) -> None:
    response = fetch(site(), path, method, **kw)
    assert response.status_code == status
    assert FRESH.fullmatch(response.headers["X-Request-ID"])
    assert response.headers.getlist("X-Request-ID") == [response.headers["X-Request-ID"]]


def test_incoming_id_echoed_on_errors_before_the_hooks() -> None:
    response = fetch(
        site(), "/upload", "POST", body=b"x" * 100, headers={"X-Request-ID": "trace-413"}
    )
    assert (response.status_code, response.headers["X-Request-ID"]) == (413, "trace-413")


def test_id_on_a_short_circuited_response() -> None:
    app = site()

    @app.before_request
    async def closed(request: Request) -> tuple[str, int]:
        return "closed", 503

    response = fetch(app, headers={"X-Request-ID": "abc"})
    assert (response.status_code, response.headers["X-Request-ID"]) == (503, "abc")


def test_bad_header_name() -> None:
    with pytest.raises(ValueError, match="header name"):
        RequestID(header="X Request ID")
    with pytest.raises(TypeError, match="the app"):
        RequestID("X-Request-ID")


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RequestIDLogFilter())
        self.setFormatter(logging.Formatter("[%(request_id)s] %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def collected() -> Iterator[Collect]:
    handler = Collect()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        log.removeHandler(handler)


def test_log_filter(collected: Collect) -> None:
    app = site()

    @app.get("/log")
    async def logs(request: Request) -> str:
        log.info("async handler")
        log.info("explicit", extra={"request_id": "given"})
        return "ok"

    @app.get("/log-sync")
    def logs_in_a_thread(request: Request) -> str:
        log.info("sync handler")
        return "ok"

    log.info("before any request")
    first = fetch(app, "/log", headers={"X-Request-ID": "req-1"})
    second = fetch(app, "/log-sync")
    log.info("after the requests")
    assert collected.lines == [
        "[-] before any request",
        "[req-1] async handler",
        "[given] explicit",
        f"[{second.headers['X-Request-ID']}] sync handler",
        "[-] after the requests",
    ]
    assert first.headers["X-Request-ID"] == "req-1"


def test_log_filter_after_a_request_finished_in_this_context(collected: Collect) -> None:
    app = site()

    async def scenario() -> None:
        # Same task: the finished request is still the context's last one.
        await TestClient(app).get("/", headers={"X-Request-ID": "gone"})
        log.info("later")

    asyncio.run(scenario())
    assert collected.lines == ["[-] later"]


def test_log_filter_without_request_id_middleware(collected: Collect) -> None:
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> str:
        log.info("no middleware")
        return "ok"

    fetch(app)
    assert collected.lines == ["[-] no middleware"]


def test_docs_example() -> None:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        namespace = docs_example("request-id")
    finally:  # the example configures the root logger: undo that for the other tests
        root.handlers[:] = before
        root.setLevel(level)
    handler: logging.StreamHandler[Any] = namespace["handler"]
    stream = io.StringIO()
    handler.setStream(stream)
    shop = logging.getLogger("shop")
    shop.addHandler(handler)
    shop.setLevel(logging.INFO)
    try:
        response = fetch(namespace["app"], "/orders/7")
    finally:
        shop.removeHandler(handler)
    rid = response.headers["X-Request-ID"]
    assert FRESH.fullmatch(rid)
    assert response.json == {"id": 7, "request": rid}
    assert stream.getvalue() == f"INFO [{rid}] shop: looking up order 7\n"


def test_a_repeated_incoming_id_is_replaced() -> None:
    # One policy for repeated single-valued headers (datastructures.single_header):
    # ambiguous, so not trusted — as a repeated Origin or Host is refused.
    headers = [("X-Request-ID", "first"), ("X-Request-ID", "second")]
    response = fetch(site(), headers=headers)
    assert FRESH.fullmatch(response.text)
    assert fetch(site(), headers=[("X-Request-ID", "only")]).text == "only"
