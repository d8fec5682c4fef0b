"""Audit: record fields, users, redaction, hostile bodies, failing and slow sinks."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import pytest

from junco import HTTPException, Junco, Request
from junco.security.audit import MAX_ITEMS, MAX_TEXT, REDACTED, Audit, luhn_valid
from junco.security.proxy import ProxyHeaders
from junco.security.ratelimit import RateLimit
from junco.security.request_id import RequestID
from junco.security.sessions import Session
from junco.testing import TestClient, TestResponse
from tests.middleware.test_security_headers import docs_example

SECRET = "an audit test secret of 32+ bytes!!"
CARD = "4111 1111 1111 1111"  # a Luhn-valid test number
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@dataclass
class User:
    id: int
    email: str


def site(records: list[dict[str, Any]] | None = None, **options: Any) -> tuple[Junco, Audit]:
    app = Junco()
    sink = options.pop("sink", None)
    if sink is None and records is not None:
        sink = records.append
    audit = Audit(app, sink=sink, **options)

    @app.route("/items/<int:n>", methods=["GET", "POST", "DELETE"])
    async def item(request: Request, n: int) -> str:
        return f"item {n}"

    @app.post("/echo")
    async def echo(request: Request) -> str:
        return "ok"

    @app.post("/boom")
    async def boom(request: Request) -> str:
        raise RuntimeError("bug")

    @app.post("/forbidden")
    async def forbidden(request: Request) -> str:
        raise HTTPException(403)

    @app.post("/stream")
    async def stream(request: Request) -> str:
        return str(len(await request.stream.read()))

    return app, audit


def call(app: Junco, method: str, path: str, **kw: Any) -> TestResponse:
    return asyncio.run(TestClient(app).request(method, path, **kw))


# -- records ------------------------------------------------------------------------------


def test_metadata_record() -> None:
    records: list[dict[str, Any]] = []
    app, _ = site(records)
    RequestID(app)
    r = call(app, "POST", "/items/7", headers={"X-Request-ID": "abc-123"})
    assert r.status_code == 200
    (rec,) = records
    assert set(rec) == {
        "timestamp",
        "request_id",
        "client_ip",
        "user_id",
        "method",
        "path",
        "route",
        "status",
        "duration_ms",
    }
    assert TIMESTAMP.fullmatch(rec["timestamp"])
    assert rec["request_id"] == "abc-123"
    assert rec["client_ip"] == "127.0.0.1"
    assert rec["user_id"] is None
    assert (rec["method"], rec["path"], rec["route"], rec["status"]) == (
        "POST",
        "/items/7",
        "/items/<int:n>",
        200,
    )
    assert isinstance(rec["duration_ms"], float)
    assert rec["duration_ms"] >= 0
    json.dumps(rec)  # a plain JSON-able dict


def test_only_the_chosen_methods() -> None:
    records: list[dict[str, Any]] = []
    app, _ = site(records)
    for method in ("GET", "HEAD", "OPTIONS", "POST", "DELETE"):
        call(app, method, "/items/1")
    assert [r["method"] for r in records] == ["POST", "DELETE"]
    everything: list[dict[str, Any]] = []
    app, _ = site(everything, methods=None)
    for method in ("GET", "HEAD", "OPTIONS"):
        call(app, method, "/items/1")
    assert [r["method"] for r in everything] == ["GET", "HEAD", "OPTIONS"]
    deletes: list[dict[str, Any]] = []
    app, _ = site(deletes, methods=["delete"])
    call(app, "POST", "/items/1")
    call(app, "DELETE", "/items/1")
    assert [r["method"] for r in deletes] == ["DELETE"]


def test_errors_and_refusals_are_recorded(caplog: pytest.LogCaptureFixture) -> None:
    records: list[dict[str, Any]] = []
    app = Junco()
    limiter = RateLimit(app)  # added first, yet Audit (OBSERVE) wraps it (GUARD)
    limiter.rule("/echo", "1/minute")
    Audit(app, sink=records.append)

    @app.post("/echo")
    async def echo(request: Request) -> str:
        return "ok"

    @app.post("/boom")
    async def boom(request: Request) -> str:
        raise RuntimeError("bug")

    with caplog.at_level(logging.ERROR, logger="junco"):
        codes = [call(app, "POST", p).status_code for p in ("/echo", "/echo", "/nope", "/boom")]
    assert codes == [200, 429, 404, 500]
    assert [(r["status"], r["route"]) for r in records] == [
        (200, "/echo"),
        (429, "/echo"),
        (404, None),
        (500, "/boom"),
    ]
    # Audit's before-hook ran first every time, the refused request's included.
    assert all(r["duration_ms"] is not None for r in records)


def test_mounted_routes_carry_their_prefix() -> None:
    records: list[dict[str, Any]] = []
    app = Junco()
    Audit(app, sink=records.append)
    sub = Junco()

    @sub.post("/<name>")
    async def thing(request: Request, name: str) -> str:
        return name

    app.mount(sub, "/api")
    call(app, "POST", "/api/x")
    assert records[0]["route"] == "/api/<name>"


def test_the_client_ip_comes_from_a_trusted_proxy() -> None:
    records: list[dict[str, Any]] = []
    app, _ = site(records)
    ProxyHeaders(app, trusted=["10.0.0.0/8"])
    call(
        app,
        "POST",
        "/echo",
        headers={"X-Forwarded-For": "198.51.100.7"},
        scope={"client": ("10.0.0.1", 1)},
    )
    call(
        app,
        "POST",
        "/echo",
        headers={"X-Forwarded-For": "198.51.100.7"},
        scope={"client": ("203.0.113.1", 1)},
    )
    assert [r["client_ip"] for r in records] == ["198.51.100.7", "203.0.113.1"]


def test_default_sink_logs_json_lines(caplog: pytest.LogCaptureFixture) -> None:
    app, _ = site()
    with caplog.at_level(logging.INFO, logger="junco.audit"):
        call(app, "POST", "/items/3?token=x")
    (line,) = [r for r in caplog.records if r.name == "junco.audit"]
    assert "\n" not in line.getMessage()
    rec = json.loads(line.getMessage())
    assert (rec["method"], rec["route"], rec["status"]) == ("POST", "/items/<int:n>", 200)


def test_default_sink_keeps_hostile_paths_on_one_line(caplog: pytest.LogCaptureFixture) -> None:
    app, _ = site()
    with caplog.at_level(logging.INFO, logger="junco.audit"):
        call(app, "POST", "/x", scope={"path": "/x\u2028\u2029\u001b[31m\u0085"})
    (line,) = [r.getMessage() for r in caplog.records if r.name == "junco.audit"]
    assert line.isascii()
    assert line.isprintable()
    assert json.loads(line)["path"] == "/x\u2028\u2029\u001b[31m\u0085"


# -- users --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "expected"),
    [(User(42, "a@b.c"), "42"), ({"id": "u-7"}, "u-7"), ("alice", "alice"), (5, "5"),
     ({"name": "no id"}, None), (object(), None)],
)  # fmt: skip
def test_user_from_g_current_user(user: Any, expected: str | None) -> None:
    records: list[dict[str, Any]] = []
    app, _ = site(records)

    @app.before_request
    async def login(request: Request) -> None:
        request.g.current_user = user

    call(app, "POST", "/echo")
    assert records[0]["user_id"] == expected


def test_user_from_the_session() -> None:
    records: list[dict[str, Any]] = []
    app = Junco()
    Session(app, secret_key=SECRET)
    Audit(app, sink=records.append)

    @app.post("/login")
    async def login(request: Request) -> str:
        request.session["_user_id"] = 99
        return "in"

    @app.post("/act")
    async def act(request: Request) -> str:
        return "done"

    async def main() -> None:
        client = TestClient(app)
        await client.post("/act")
        await client.post("/login")
        await client.post("/act")

    asyncio.run(main())
    assert [r["user_id"] for r in records] == [None, "99", "99"]


def test_user_id_function_and_its_failures(caplog: pytest.LogCaptureFixture) -> None:
    records: list[dict[str, Any]] = []
    app, _ = site(records, user_id=lambda r: r.headers.get("x-user"))
    call(app, "POST", "/echo", headers={"X-User": "bob"})
    call(app, "POST", "/echo")
    assert [r["user_id"] for r in records] == ["bob", None]

    def broken(request: Request) -> str:
        raise KeyError("no user")

    failing: list[dict[str, Any]] = []
    app, _ = site(failing, user_id=broken)
    with caplog.at_level(logging.ERROR, logger="junco"):
        assert call(app, "POST", "/echo").status_code == 200
    assert failing[0]["user_id"] is None
    assert "user_id function failed" in caplog.text


# -- level "request" and redaction --------------------------------------------------------


def full(**kw: Any) -> dict[str, Any]:
    records: list[dict[str, Any]] = []
    options = {k: kw.pop(k) for k in ("redact", "redact_patterns") if k in kw}
    app, _ = site(records, level="request", **options)
    path = kw.pop("path", "/echo")
    assert call(app, "POST", path, **kw).status_code == 200
    return records[0]


def test_query_and_headers_redaction() -> None:
    rec = full(
        path="/echo?q=shoes&token=abc&Access_Token=def&q=boots&API_KEY=k",
        headers={
            "Authorization": "Bearer abc.def",
            "Proxy-Authorization": "Basic Zm9vOmJhcg==",
            "Cookie": "session=s3cret",
            "X-Api-Key": "k1",
            "X-CSRF-Token": "t",
            "User-Agent": "test-agent",
        },
    )
    assert rec["query"] == {
        "q": ["shoes", "boots"],
        "token": REDACTED,
        "Access_Token": REDACTED,
        "API_KEY": REDACTED,
    }
    headers = rec["headers"]
    for name in ("authorization", "proxy-authorization", "cookie", "x-api-key", "x-csrf-token"):
        assert headers[name] == REDACTED, name
    assert headers["user-agent"] == "test-agent"
    assert "s3cret" not in json.dumps(rec)


def test_form_redaction_matrix() -> None:
    rec = full(
        form={
            "username": "ana",
            "password": "hunter2",
            "Password_Confirm": "hunter2",
            "new-passwd": "x",
            "client_secret": "y",
            "cardNumber": "5555555555554444",
            "cvv": "123",
            "ssn": "078-05-1120",
            "comment": f"pay with {CARD} please",
            "order_id": "1234567890123456",  # 16 digits, not Luhn-valid
            "jwt_in_text": "see eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl ok",
            "auth_in_text": "sent bearer abcDEF123 then",
        }
    )
    body = rec["body"]
    assert body["username"] == "ana"
    for name in ("password", "Password_Confirm", "new-passwd", "client_secret", "cardNumber",
                 "cvv", "ssn"):  # fmt: skip
        assert body[name] == REDACTED, name
    assert body["comment"] == f"pay with {REDACTED} please"
    assert body["order_id"] == "1234567890123456"
    assert body["jwt_in_text"] == f"see {REDACTED} ok"
    assert body["auth_in_text"] == f"sent {REDACTED} then"
    assert "hunter2" not in json.dumps(rec)


def test_json_redaction_matrix() -> None:
    rec = full(
        json={
            "user": {"name": "ana", "Password": "p", "tokens": ["a", "b"]},
            "items": [{"secret": 1, "qty": 2}, {"note": CARD.replace(" ", "-")}],
            "card_no": 4111111111111111,
            "amount": 4111111111111111,  # a number that is a card number
            "id": 1234567890123456,
            "ok": True,
            "none": None,
            "ratio": 0.5,
        }
    )
    assert rec["body"] == {
        "user": {"name": "ana", "Password": REDACTED, "tokens": REDACTED},
        "items": [{"secret": REDACTED, "qty": 2}, {"note": REDACTED}],
        "card_no": REDACTED,
        "amount": REDACTED,
        "id": 1234567890123456,
        "ok": True,
        "none": None,
        "ratio": 0.5,
    }


def test_custom_redaction() -> None:
    rec = full(
        form={"password": "kept", "pin_code": "1234", "email": "a@example.com"},
        redact=["pin"],
        redact_patterns=[r"[\w.]+@[\w.]+"],
    )
    assert rec["body"] == {"password": "kept", "pin_code": REDACTED, "email": REDACTED}
    rec = full(form={"password": "x"}, redact=(), redact_patterns=())
    assert rec["body"] == {"password": "x"}


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112")


def test_no_body_for_bodiless_and_other_types() -> None:
    assert full()["body"] is None
    assert (
        full(body=b"raw bytes", headers={"Content-Type": "application/octet-stream"})["body"]
        is None
    )


# -- hostile input ------------------------------------------------------------------------


def test_huge_values_and_many_fields_are_clipped() -> None:
    form = {f"f{i}": "v" for i in range(500)}
    form["big"] = "x" * 100_000
    rec = full(form=form)
    body = rec["body"]
    assert len(body) == MAX_ITEMS + 1
    assert body["[truncated]"] is True
    rec = full(form={"big": "x" * 100_000, "name" * 500: "n"})
    assert len(rec["body"]["big"]) < MAX_TEXT + 20
    assert all(len(k) < MAX_TEXT + 20 for k in rec["body"])
    rec = full(path="/echo?" + "&".join(["a=1"] * 900))
    assert len(rec["query"]["a"]) == MAX_ITEMS
    assert len(json.dumps(full(json=[["x" * 5000] * 500] * 3))) < 400_000


def test_deep_and_broken_json() -> None:
    deep: Any = "bottom"
    for _ in range(40):
        deep = {"d": deep}
    text = json.dumps(full(json=deep)["body"])
    assert "[too deep]" in text
    assert "bottom" not in text
    rec = full(body=b'{"password": "x", broken', headers={"Content-Type": "application/json"})
    assert rec["body"] == "[unparseable]"
    rec = full(path="/echo?a=%ff%fe")
    assert rec["query"] == "[unparseable]"


def test_streamed_bodies_are_never_read() -> None:
    records: list[dict[str, Any]] = []
    app = Junco(max_body_length=64)
    Audit(app, level="request", sink=records.append)

    @app.post("/ignore")
    async def ignore(request: Request) -> str:
        return "ignored"

    @app.post("/read")
    async def read(request: Request) -> str:
        return str(len(await request.stream.read()))

    big = {"password": "p" * 500}
    assert call(app, "POST", "/ignore", form=big).text == "ignored"
    assert call(app, "POST", "/read", form=big).text == str(len("password=") + 500)
    assert [r["body"] for r in records] == ["[not buffered]", "[not buffered]"]


# -- sinks --------------------------------------------------------------------------------


def test_a_failing_sink_never_breaks_the_request(caplog: pytest.LogCaptureFixture) -> None:
    def sink(record: dict[str, Any]) -> None:
        raise OSError("disk full")

    async def async_sink(record: dict[str, Any]) -> None:
        raise OSError("network down")

    async def main(s: Any) -> TestResponse:
        app, audit = site(sink=s)
        r = await TestClient(app).post("/echo")
        await audit.flush()
        return r

    for s in (sink, async_sink):
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="junco"):
            r = asyncio.run(main(s))
        assert (r.status_code, r.text) == (200, "ok")
        assert "audit sink failed" in caplog.text
        assert caplog.records[-1].exc_info is not None


def test_a_slow_sink_does_not_hold_responses(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        never = asyncio.Event()
        delivered: list[dict[str, Any]] = []

        async def sink(record: dict[str, Any]) -> None:
            await never.wait()
            delivered.append(record)

        app, audit = site(sink=sink, timeout=0.05)
        # The guard only keeps a broken build from hanging the suite.
        r = await asyncio.wait_for(TestClient(app).post("/echo"), 10)
        assert r.status_code == 200
        await asyncio.wait_for(audit.flush(), 10)
        assert delivered == []

    with caplog.at_level(logging.ERROR, logger="junco"):
        asyncio.run(main())
    assert "audit sink took over 0.05 s" in caplog.text


def test_pending_sink_calls_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        gate = asyncio.Event()
        delivered: list[str] = []

        async def sink(record: dict[str, Any]) -> None:
            await gate.wait()
            delivered.append(record["path"])

        app, audit = site(sink=sink, max_pending=2)
        client = TestClient(app)
        for i in range(5):
            assert (await client.post(f"/items/{i}")).status_code == 200
        assert audit.dropped == 3
        gate.set()
        await asyncio.wait_for(audit.flush(), 10)
        assert delivered == ["/items/0", "/items/1"]
        assert (await client.post("/items/9")).status_code == 200
        await asyncio.wait_for(audit.flush(), 10)
        assert delivered[-1] == "/items/9"

    with caplog.at_level(logging.WARNING, logger="junco"):
        asyncio.run(main())
    assert caplog.text.count("records dropped") == 1


def test_sync_sink_returning_an_awaitable() -> None:
    delivered: list[dict[str, Any]] = []

    async def store(record: dict[str, Any]) -> None:
        delivered.append(record)

    async def main() -> None:
        app, audit = site(sink=lambda record: store(record))
        await TestClient(app).post("/echo")
        await audit.flush()

    asyncio.run(main())
    assert len(delivered) == 1


def test_pending_records_are_flushed_at_shutdown() -> None:
    delivered: list[dict[str, Any]] = []

    async def sink(record: dict[str, Any]) -> None:
        for _ in range(20):
            await asyncio.sleep(0)
        delivered.append(record)

    async def main() -> None:
        app, _ = site(sink=sink)
        async with TestClient(app) as client:
            await client.post("/echo")
            assert delivered == []  # not yet: it runs after the response
        assert len(delivered) == 1

    asyncio.run(main())


def test_bad_configuration() -> None:
    with pytest.raises(ValueError, match="level"):
        Audit(level="everything")
    with pytest.raises(ValueError, match="positive"):
        Audit(timeout=0)
    with pytest.raises(ValueError, match="positive"):
        Audit(max_pending=0)
    with pytest.raises(TypeError, match="first argument"):
        Audit("request")


def test_docs_example(caplog: pytest.LogCaptureFixture) -> None:
    namespace = docs_example("audit")
    app = namespace["app"]
    records = namespace["records"]
    r = call(app, "POST", "/login", form={"user": "ana", "password": "hunter2"})
    assert r.status_code == 200
    (rec,) = records
    assert rec["body"] == {"user": "ana", "password": REDACTED}
    assert rec["route"] == "/login"


@pytest.mark.parametrize("kind", ["async", "sync returning a coroutine"])
def test_a_loop_ending_with_records_pending_warns_of_nothing(kind: str) -> None:
    async def store(record: dict[str, Any]) -> None:
        await asyncio.sleep(3600)

    sink: Any = store if kind == "async" else (lambda record: store(record))
    app, audit = site(sink=sink)
    # asyncio.run cancels the sink's task before it ever ran: no "never awaited".
    assert call(app, "POST", "/echo").status_code == 200
    assert audit.dropped == 0


# -- the ring of recent records -----------------------------------------------------------


def test_recent_records_newest_first_and_bounded() -> None:
    records: list[dict[str, Any]] = []
    app, audit = site(records, keep=3)
    assert audit.recent() == []

    async def main() -> None:
        client = TestClient(app)
        for n in range(5):
            await client.post(f"/items/{n}")
        await client.get("/items/9")  # not a recorded method
        await client.post("/forbidden")

    asyncio.run(main())
    recent = audit.recent()
    assert [(r["path"], r["status"]) for r in recent] == [
        ("/forbidden", 403),
        ("/items/4", 200),
        ("/items/3", 200),
    ]
    assert recent[0] == records[-1]  # the same record the sink got
    recent[0]["path"] = "/changed"  # a copy: the ring is not changed through it
    assert audit.recent()[0]["path"] == "/forbidden"


def test_keep_zero_keeps_nothing_and_negative_is_refused() -> None:
    app, audit = site([], keep=0)
    call(app, "POST", "/echo")
    assert audit.recent() == []
    with pytest.raises(ValueError, match="keep"):
        Audit(Junco(), keep=-1)
