"""RateLimit through the real ASGI path: rules, decorators, keys, headers, 429s, Redis."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from junco import HTTPException, Junco, Request, Response
from junco.security.proxy import ProxyHeaders
from junco.security.ratelimit import Rate, RateLimit, parse_rates, remote_address
from junco.security.security_headers import SecurityHeaders
from junco.stores.memory import MemoryRateLimitStore
from junco.stores.redis import RedisRateLimitStore
from junco.testing import TestClient, TestResponse, WebSocketRejected
from junco.websocket import WebSocket, with_websocket
from tests.middleware.test_security_headers import docs_example
from tests.redis_server import RedisServer

Handler = Callable[..., Awaitable[str]]


class Clock:
    """A fake monotonic clock for the memory store."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limited_app(clock: Clock | None = None, **options: Any) -> tuple[Junco, RateLimit]:
    app = Junco()
    store = MemoryRateLimitStore(clock=clock or Clock())
    limiter = RateLimit(app, store=store, **options)

    @app.route("/login", methods=["GET", "POST"])
    async def login(request: Request) -> str:
        return "login"

    @app.get("/users/<int:uid>")
    async def user(request: Request, uid: int) -> str:
        return f"user {uid}"

    return app, limiter


def run(app: Junco, method: str, path: str, **kw: Any) -> TestResponse:
    return asyncio.run(TestClient(app).request(method, path, **kw))


def statuses(app: Junco, calls: list[tuple[str, str]], **kw: Any) -> list[int]:
    async def main() -> list[int]:
        client = TestClient(app)
        return [(await client.request(m, p, **kw)).status_code for m, p in calls]

    return asyncio.run(main())


def burst(app: Junco, n: int, path: str = "/login", method: str = "POST") -> list[TestResponse]:
    async def main() -> list[TestResponse]:
        client = TestClient(app)
        return list(await asyncio.gather(*(client.request(method, path) for _ in range(n))))

    return asyncio.run(main())


# -- rates --------------------------------------------------------------------------------


def test_parse_rates() -> None:
    assert parse_rates("5/minute") == (Rate(5, 60_000),)
    assert parse_rates("100/hour") == (Rate(100, 3_600_000),)
    assert parse_rates("10/second") == (Rate(10, 1000),)
    assert parse_rates("1000/day") == (Rate(1000, 86_400_000),)
    assert parse_rates("5 per minute") == (Rate(5, 60_000),)
    assert parse_rates(" 5 PER Minutes ") == (Rate(5, 60_000),)
    assert parse_rates("10/5 seconds") == (Rate(10, 5000),)
    assert parse_rates("5/minute;100/hour") == (Rate(5, 60_000), Rate(100, 3_600_000))
    assert parse_rates("5/m, 7/h;") == (Rate(5, 60_000), Rate(7, 3_600_000))
    assert str(Rate(5, 60_000)) == "5/60s"


@pytest.mark.parametrize(
    "text",
    ["", ";", "5", "five/minute", "5/fortnight", "0/minute", "5/0 minutes", "-1/minute",
     "5/minute/hour", "5 minute", "9" * 13 + "/second"],
)  # fmt: skip
def test_bad_rates_are_refused_at_configuration(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rates(text)
    limiter = RateLimit()
    with pytest.raises(ValueError, match="rate"):
        limiter.rule("/x", text)
    with pytest.raises(ValueError, match="rate"):
        limiter.limit(text)
    with pytest.raises(ValueError, match="rate"):
        RateLimit(default=text)


def test_rule_path_must_be_absolute_and_app_must_come_first() -> None:
    with pytest.raises(ValueError, match="start with"):
        RateLimit().rule("login", "5/minute")
    with pytest.raises(TypeError, match="first argument"):
        RateLimit(MemoryRateLimitStore())


# -- path rules ---------------------------------------------------------------------------


def test_rule_counts_the_path_the_router_sees() -> None:
    app, limiter = limited_app()
    limiter.rule("/login", "3/minute", methods=["POST"])
    calls = [
        ("POST", "/login/"),
        ("POST", "//login"),
        ("POST", "/x/../login"),
        ("POST", "/./login"),
        ("POST", "/%2e/login"),
    ]
    # The router redirects /login/ (308, counted: its trailing-slash twin); the
    # others are not canonical, refused with 400 before routing and before the
    # limiter, so they neither reach the handler nor cost the client anything.
    assert statuses(app, calls) == [308, 400, 400, 400, 400]
    assert statuses(app, [("POST", "/login"), ("POST", "/login"), ("POST", "/login/")]) == [
        200,
        200,
        429,
    ]
    assert statuses(app, [("GET", "/login"), ("GET", "/login")]) == [200, 200]  # not POST


def test_rule_without_methods_counts_every_method() -> None:
    app, limiter = limited_app()
    limiter.rule("/login", "2/minute")
    assert statuses(app, [("GET", "/login"), ("POST", "/login"), ("HEAD", "/login")]) == [
        200,
        200,
        429,
    ]


def test_head_counts_as_get() -> None:
    app, limiter = limited_app()
    limiter.rule("/login", "1/minute", methods=["get"])
    assert statuses(app, [("HEAD", "/login"), ("GET", "/login"), ("POST", "/login")]) == [
        200,
        429,
        200,
    ]


def test_prefix_rule_shares_one_counter_below_the_prefix() -> None:
    app, limiter = limited_app()
    limiter.rule("/users/*", "3/minute")
    calls = [("GET", "/users/1"), ("GET", "/users/2"), ("GET", "/users"), ("GET", "/users/3")]
    assert statuses(app, calls) == [200, 200, 404, 429]
    assert statuses(app, [("GET", "/usersx"), ("GET", "/login")]) == [404, 200]


def test_root_prefix_rule_covers_everything() -> None:
    app, limiter = limited_app()
    limiter.rule("/*", "2/minute")
    assert statuses(app, [("GET", "/login"), ("GET", "/nope"), ("GET", "/users/1")]) == [
        200,
        404,
        429,
    ]


# -- route limits -------------------------------------------------------------------------


def passthrough(f: Handler) -> Handler:
    @functools.wraps(f)
    async def wrapper(request: Request, **kw: Any) -> str:
        return await f(request, **kw)

    return wrapper


def test_decorator_works_in_any_order_and_through_wrappers() -> None:
    app = Junco()
    limiter = RateLimit(app)

    @limiter.limit("1/minute")
    @app.get("/above")
    async def above(request: Request) -> str:
        return "a"

    @app.get("/below")
    @limiter.limit("1/minute")
    async def below(request: Request) -> str:
        return "b"

    @app.get("/wrapped")
    @passthrough
    @limiter.limit("1/minute")
    async def wrapped(request: Request) -> str:
        return "w"

    @limiter.limit("1/minute")
    @passthrough
    async def inner(request: Request) -> str:
        return "i"

    app.get("/outer")(passthrough(inner))
    for path in ("/above", "/below", "/wrapped", "/outer"):
        assert statuses(app, [("GET", path), ("GET", path)]) == [200, 429], path


def test_a_route_limit_is_per_pattern_and_can_pick_methods() -> None:
    app = Junco()
    limiter = RateLimit(app)

    @app.route("/items/<int:n>", methods=["GET", "POST"])
    @limiter.limit("2/minute", methods=["POST"])
    async def item(request: Request, n: int) -> str:
        return str(n)

    calls = [("POST", "/items/1"), ("POST", "/items/2"), ("POST", "/items/3"), ("GET", "/items/4")]
    assert statuses(app, calls) == [200, 200, 429, 200]


def test_only_the_limiter_that_marked_a_handler_applies_it() -> None:
    app = Junco()
    mine = RateLimit(app)
    other = RateLimit()

    @app.get("/")
    @other.limit("1/minute")
    @mine.limit("2/minute")
    async def index(request: Request) -> str:
        return "x"

    assert statuses(app, [("GET", "/")] * 3) == [200, 200, 429]


def test_a_marked_handler_added_later_is_found() -> None:
    app = Junco()
    limiter = RateLimit(app)

    @app.get("/a")
    async def a(request: Request) -> str:
        return "a"

    assert statuses(app, [("GET", "/a")] * 3) == [200, 200, 200]

    @app.get("/b")
    @limiter.limit("1/minute")
    async def b(request: Request) -> str:
        return "b"

    assert statuses(app, [("GET", "/b")] * 2) == [200, 429]


def test_mounted_routes_are_keyed_with_their_prefix() -> None:
    app = Junco()
    limiter = RateLimit(app)
    sub = Junco()

    @sub.get("/x")
    @limiter.limit("1/minute")
    async def x(request: Request) -> str:
        return "x"

    app.mount(sub, "/one")
    app.mount(sub, "/two")
    calls = [("GET", "/one/x"), ("GET", "/two/x"), ("GET", "/one/x")]
    assert statuses(app, calls) == [200, 200, 429]


def test_websocket_handshakes_are_limited() -> None:
    app = Junco()
    limiter = RateLimit(app)

    @app.route("/ws")
    @limiter.limit("1/minute")
    @with_websocket
    async def ws(request: Request, socket: WebSocket) -> None:
        await socket.send("hi")

    async def main() -> TestResponse:
        client = TestClient(app)
        async with client.websocket("/ws") as session:
            assert await session.receive() == "hi"
        with pytest.raises(WebSocketRejected) as refused:
            async with client.websocket("/ws"):
                pass
        return refused.value.response

    response = asyncio.run(main())
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1


def test_marking_something_that_takes_no_attributes_fails_loudly() -> None:
    with pytest.raises(TypeError, match="cannot mark"):
        RateLimit().limit("1/minute")(len)


def test_default_limit_is_per_route_and_unrouted_requests_share_one() -> None:
    app, _ = limited_app(default="2/minute")
    calls = [("GET", "/users/1"), ("GET", "/users/2"), ("GET", "/users/3"), ("GET", "/login")]
    assert statuses(app, calls) == [200, 200, 429, 200]
    calls = [("GET", "/a"), ("GET", "/b"), ("GET", "/c"), ("GET", "/login")]
    assert statuses(app, calls) == [404, 404, 429, 200]


def test_every_limit_of_a_request_must_allow_it_and_refusals_cost_nothing() -> None:
    clock = Clock()
    app, limiter = limited_app(clock, default="3/minute")
    limiter.rule("/login", "2/minute")
    assert statuses(app, [("GET", "/login")] * 3) == [200, 200, 429]
    # The refused request was not counted by the default limit: one left there.
    clock.now += 3600
    assert statuses(app, [("GET", "/login")] * 3) == [200, 200, 429]


# -- headers and the 429 ------------------------------------------------------------------


def test_headers_on_allowed_and_refused_responses() -> None:
    clock = Clock(600.0)  # the start of a minute window
    app, limiter = limited_app(clock)
    limiter.rule("/login", "2/minute;10/hour")
    clock.now += 15
    first, second, third = (run(app, "GET", "/login") for _ in range(3))
    assert (first.headers["RateLimit-Limit"], first.headers["RateLimit-Remaining"]) == ("2", "1")
    assert first.headers["RateLimit-Reset"] == "45"  # the minute window ends in 45 s
    assert "Retry-After" not in first.headers
    assert second.headers["RateLimit-Remaining"] == "0"
    assert third.status_code == 429
    retry = third.headers["Retry-After"]
    assert retry.isdigit()
    assert int(retry) >= 1
    assert third.headers["RateLimit-Reset"] == retry
    assert third.headers["RateLimit-Limit"] == "2"
    assert third.headers["RateLimit-Remaining"] == "0"
    assert third.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert third.text == "Too many requests"


@pytest.mark.parametrize(
    "schedule",
    [
        [0.5, 10.25, 30.125],  # fills the window: wait for the next one
        [50.5, 59.75, 65.25],  # two in the previous window still weigh
        [59.875, 60.5, 61.0, 119.5, 120.25],
        [1.0, 2.0, 130.0],
    ],
)
def test_retry_after_is_when_the_next_request_fits(schedule: list[float]) -> None:
    clock = Clock()
    app, limiter = limited_app(clock)
    limiter.rule("/login", "3/minute")
    base = 60 * 10_000  # a window boundary; the offsets are exact binary fractions
    for offset in schedule:
        clock.now = base + offset
        run(app, "GET", "/login")
    refusals = 0
    for _ in range(6):
        response = run(app, "GET", "/login")
        if response.status_code == 200:
            continue
        refusals += 1
        wait = int(response.headers["Retry-After"])
        assert wait >= 1
        clock.now += wait - 1
        assert run(app, "GET", "/login").status_code == 429
        clock.now += 1
        assert run(app, "GET", "/login").status_code == 200
    assert refusals > 0


def test_headers_off_leaves_only_retry_after() -> None:
    app, limiter = limited_app(headers=False)
    limiter.rule("/login", "1/minute")
    ok, refused = run(app, "GET", "/login"), run(app, "GET", "/login")
    assert not any(name.lower().startswith("ratelimit") for name in ok.headers)
    assert refused.status_code == 429
    assert [n for n in refused.headers if n.lower().startswith(("ratelimit", "retry"))] == [
        "retry-after"
    ]


def test_429_goes_through_the_error_chain() -> None:
    app, limiter = limited_app()
    SecurityHeaders(app)
    limiter.rule("/login", "1/minute")
    seen: list[int] = []

    @app.after_error_request
    async def mark(request: Request, response: Response) -> None:
        seen.append(response.status_code)
        response.headers["X-Decorated"] = "yes"

    run(app, "GET", "/login")
    refused = run(app, "GET", "/login")
    assert refused.status_code == 429
    assert seen == [429]
    assert refused.headers["X-Decorated"] == "yes"
    assert refused.headers["X-Content-Type-Options"] == "nosniff"
    assert refused.headers["Retry-After"].isdigit()


def test_a_custom_429_page_keeps_the_headers() -> None:
    app, limiter = limited_app()
    limiter.rule("/login", "1/minute")

    @app.errorhandler(429)
    async def slow_down(request: Request) -> tuple[str, int, dict[str, str]]:
        return "<h1>Slow down</h1>", 429, {"Content-Type": "text/html"}

    run(app, "GET", "/login")
    refused = run(app, "GET", "/login")
    assert refused.text == "<h1>Slow down</h1>"
    assert refused.headers["Retry-After"].isdigit()
    assert refused.headers["RateLimit-Remaining"] == "0"


def test_headers_also_on_error_responses_of_limited_requests() -> None:
    app = Junco()
    limiter = RateLimit(app)

    @app.get("/fail")
    @limiter.limit("5/minute")
    async def fail(request: Request) -> str:
        raise HTTPException(400)

    response = run(app, "GET", "/fail")
    assert response.status_code == 400
    assert response.headers["RateLimit-Remaining"] == "4"


# -- concurrency --------------------------------------------------------------------------


def test_exactly_n_pass_under_concurrency_in_memory() -> None:
    app, limiter = limited_app()
    limiter.rule("/login", "10/minute")
    responses = burst(app, 50)
    assert [r.status_code for r in responses].count(200) == 10
    assert [r.status_code for r in responses].count(429) == 40
    assert all(int(r.headers["Retry-After"]) >= 1 for r in responses if r.status_code == 429)


def test_sync_handlers_and_concurrency() -> None:
    app = Junco()
    limiter = RateLimit(app)

    @app.post("/login")
    @limiter.limit("10/minute")
    def login(request: Request) -> str:  # runs in a thread; the hook does not
        return "ok"

    assert [r.status_code for r in burst(app, 50)].count(200) == 10


# -- keys ---------------------------------------------------------------------------------


def test_custom_keys_sync_async_and_exempt() -> None:
    def by_token(request: Request) -> str | None:
        token = request.headers.get("x-token")
        return None if token == "admin" else token or "anonymous"

    async def by_user(request: Request) -> str:
        await asyncio.sleep(0)
        return request.headers.get("x-user", "-")

    app, limiter = limited_app(key=by_token)
    limiter.rule("/login", "1/minute")
    limiter.rule("/users/*", "1/minute", key=by_user)
    a, b, admin = {"X-Token": "a"}, {"X-Token": "b"}, {"X-Token": "admin"}
    assert [run(app, "GET", "/login", headers=h).status_code for h in (a, b, a, b)] == [
        200,
        200,
        429,
        429,
    ]
    assert {run(app, "GET", "/login", headers=admin).status_code for _ in range(3)} == {200}
    users = [run(app, "GET", "/users/1", headers={"X-User": u}).status_code for u in "xyx"]
    assert users == [200, 200, 429]


def test_default_key_is_the_client_ip() -> None:
    app, limiter = limited_app()
    limiter.rule("/login", "1/minute")

    def status(peer: str) -> int:
        return run(app, "GET", "/login", scope={"client": (peer, 1)}).status_code

    assert [status(p) for p in ("192.0.2.1", "192.0.2.2", "192.0.2.1")] == [200, 200, 429]


def test_ipv6_clients_are_grouped_by_64() -> None:
    app, limiter = limited_app()
    limiter.rule("/login", "1/minute")

    def status(peer: str) -> int:
        return run(app, "GET", "/login", scope={"client": (peer, 1)}).status_code

    assert status("2001:db8:1:2::1") == 200
    assert status("2001:db8:1:2:ffff::9") == 429  # same /64
    assert status("2001:db8:1:3::1") == 200  # another /64
    assert status("::ffff:192.0.2.7") == 200
    assert status("192.0.2.7") == 429  # the mapped IPv4 address is the same client


def test_the_ipv6_prefix_is_configurable() -> None:
    for prefix, same_client in [(48, "2001:db8:1:ff::1"), (128, None), (64, "2001:db8:1:2::2")]:
        app, limiter = limited_app(ipv6_prefix=prefix)
        limiter.rule("/login", "1/minute")

        def status(peer: str, app: Junco = app) -> int:
            return run(app, "GET", "/login", scope={"client": (peer, 1)}).status_code

        assert status("2001:db8:1:2::1") == 200
        assert status("2001:db8:1:2::1") == 429
        if same_client:
            assert status(same_client) == 429, prefix
        assert status("2001:db8:1:2::3") == (200 if prefix == 128 else 429), prefix
        assert status("2001:db8:2::1") == 200, prefix
    for bad in (0, 129, -1):
        with pytest.raises(ValueError, match="ipv6_prefix"):
            RateLimit(ipv6_prefix=bad)


def test_a_client_at_its_limit_cannot_flush_its_counter_with_new_addresses() -> None:
    """The attack: refused, the client sends from ever new IPv6 networks to push its own
    counter out of the memory store, then tries again from its first address."""
    clock = Clock()
    app = Junco()
    store = MemoryRateLimitStore(max_keys=50, clock=clock)
    limiter = RateLimit(app, store=store)
    limiter.rule("/login", "3/minute")

    @app.post("/login")
    async def login(request: Request) -> str:
        return "login"

    async def main() -> None:
        client = TestClient(app)

        async def post(peer: str) -> int:
            r = await client.post("/login", scope={"client": (peer, 1)})
            return r.status_code

        assert [await post("2001:db8:0:1::1") for _ in range(4)] == [200, 200, 200, 429]
        # Addresses inside its own /64 share its counter: all refused, nothing stored.
        assert {await post(f"2001:db8:0:1::{i:x}") for i in range(2, 500)} == {429}
        assert len(store) == 1
        # 1,001 other /64s (each a new counter, 20 times the store's size).
        assert {await post(f"2001:db8:{i >> 16:x}:{i & 0xFFFF:x}::1") for i in range(2, 1003)} == {
            200
        }
        assert len(store) <= 50
        assert await post("2001:db8:0:1::1") == 429  # still refused
        clock.now += 120  # ... until its counter expires, and then on time
        assert await post("2001:db8:0:1::1") == 200

    asyncio.run(main())


def test_remote_address_values() -> None:
    app = Junco()
    seen: list[str] = []

    @app.get("/")
    async def index(request: Request) -> str:
        seen.append(remote_address(request))
        return "ok"

    for peer in ("192.0.2.1", "2001:db8::1", "fe80::1%eth0", "::ffff:10.1.2.3", "not-an-ip"):
        run(app, "GET", "/", scope={"client": (peer, 1)})
    run(app, "GET", "/", scope={"client": None})
    assert seen == ["192.0.2.1", "2001:db8::/64", "fe80::/64", "10.1.2.3", "not-an-ip", ""]


def test_trusted_proxy_addresses_are_the_key() -> None:
    app, limiter = limited_app()
    ProxyHeaders(app, trusted=["10.0.0.0/8"])
    limiter.rule("/login", "1/minute")

    def status(peer: str, forwarded: str) -> int:
        headers = {"X-Forwarded-For": forwarded}
        r = run(app, "GET", "/login", headers=headers, scope={"client": (peer, 1)})
        return r.status_code

    assert status("10.0.0.1", "198.51.100.1") == 200
    assert status("10.0.0.2", "198.51.100.2") == 200
    assert status("10.0.0.1", "198.51.100.1") == 429
    # From an untrusted peer the header is ignored: forging it changes nothing.
    assert status("203.0.113.5", "198.51.100.3") == 200
    assert status("203.0.113.5", "198.51.100.4") == 429


def counters(limiter: RateLimit) -> int:
    """How many counters the memory store holds (each a fixed-size digest and int)."""
    store = limiter.store
    assert isinstance(store, MemoryRateLimitStore)
    return len(store)


@pytest.mark.parametrize(
    "peer", ["9" * 100_000, "\u0661.\u0662.\u0663.\u0664", "\x00\r\n", "\udcff", "[::1]:80"]
)
def test_hostile_client_addresses_stay_bounded(peer: str) -> None:
    app, limiter = limited_app()
    limiter.rule("/login", "1/minute")
    codes = statuses(app, [("GET", "/login")] * 2, scope={"client": (peer, 1)})
    assert codes == [200, 429]
    assert counters(limiter) == 1


def test_hostile_key_function_values_stay_bounded() -> None:
    app, limiter = limited_app(key=lambda r: r.headers.get("x-key", "") * 10_000)
    limiter.rule("/login", "1/minute")
    for raw in (b"a" * 8000, "\xe9\u202e\U0001f600".encode(), b"\x7f\xff"):
        scope = {"headers": [(b"host", b"localhost"), (b"x-key", raw)]}
        codes = statuses(app, [("GET", "/login")] * 2, scope=scope)
        assert codes == [200, 429]
    assert counters(limiter) == 3


def test_unicode_keys_from_a_key_function() -> None:
    app, limiter = limited_app(key=lambda r: "\u0627\u0644\udcff" + r.headers.get("x-k", ""))
    limiter.rule("/login", "1/minute")
    assert statuses(app, [("GET", "/login")] * 2) == [200, 429]


# -- the memory store through the limiter -------------------------------------------------


def test_memory_store_is_bounded() -> None:
    clock = Clock()
    app = Junco()
    store = MemoryRateLimitStore(max_keys=5, clock=clock)
    limiter = RateLimit(app, store=store)
    limiter.rule("/*", "2/minute")
    for i in range(50):
        run(app, "GET", "/", scope={"client": (f"192.0.2.{i}", 1)})
    assert len(store) == 5


# -- Redis --------------------------------------------------------------------------------


def patient_store(url: str) -> RedisRateLimitStore:
    """A store whose timeouts survive a loaded test machine (the tests count, not time)."""
    return RedisRateLimitStore(url, socket_timeout=30, socket_connect_timeout=30)


def redis_app(url: str, rate: str = "10/minute", **options: Any) -> tuple[Junco, RateLimit]:
    app = Junco()
    limiter = RateLimit(app, store=patient_store(url), **options)

    @app.post("/login")
    @limiter.limit(rate)
    async def login(request: Request) -> str:
        return "ok"

    return app, limiter


async def close(*limiters: RateLimit) -> None:
    for limiter in limiters:
        store = limiter.store
        assert isinstance(store, RedisRateLimitStore)
        await store.close()


def test_two_workers_sharing_redis_let_exactly_n_through(redis_db: str) -> None:
    async def main() -> None:
        (app1, lim1), (app2, lim2) = redis_app(redis_db), redis_app(redis_db)
        one, two = TestClient(app1), TestClient(app2)
        responses = await asyncio.gather(
            *((one if i % 2 else two).post("/login") for i in range(50))
        )
        codes = [r.status_code for r in responses]
        assert codes.count(200) == 10
        assert codes.count(429) == 40
        for r in responses:
            if r.status_code == 429:
                assert r.headers["Retry-After"].isdigit()
                assert int(r.headers["Retry-After"]) >= 1
        store = lim1.store
        assert isinstance(store, RedisRateLimitStore)
        keys = await store.client.keys("junco:rl:*")
        assert len(keys) == 1
        assert 0 < await store.client.pttl(keys[0]) <= 120_000
        await close(lim1, lim2)

    asyncio.run(main())


def test_redis_counts_the_normalised_path(redis_db: str) -> None:
    async def main() -> None:
        app, limiter = redis_app(redis_db)
        limiter.rule("/login", "3/minute", methods=["POST"])
        client = TestClient(app)
        codes = [(await client.post(p)).status_code for p in ("/login/", "//login", "/login")]
        assert codes == [308, 400, 200]  # the 400 is refused before the limiter
        assert (await client.post("/login")).status_code == 200
        assert (await client.post("/login")).status_code == 429
        await close(limiter)

    asyncio.run(main())


def test_redis_keys_stay_bounded_for_hostile_clients(redis_db: str) -> None:
    async def main() -> None:
        app, limiter = redis_app(redis_db, "1/minute")
        client = TestClient(app)
        for peer in ("9" * 100_000, "\u0661\u0662\udcff", "\x00\r\n"):
            codes = [
                (await client.post("/login", scope={"client": (peer, 1)})).status_code
                for _ in range(2)
            ]
            assert codes == [200, 429]
        store = limiter.store
        assert isinstance(store, RedisRateLimitStore)
        keys = await store.client.keys("*")
        assert len(keys) == 3
        assert all(len(k) < 80 for k in keys)
        await close(limiter)

    asyncio.run(main())


def test_redis_window_passes_in_real_time(redis_db: str) -> None:
    async def main() -> None:
        app, limiter = redis_app(redis_db, "1/second")
        client = TestClient(app)
        assert (await client.post("/login")).status_code == 200
        refused = await client.post("/login")
        assert refused.status_code == 429
        await asyncio.sleep(int(refused.headers["Retry-After"]))
        assert (await client.post("/login")).status_code == 200
        await close(limiter)

    asyncio.run(main())


def test_redis_down_fails_open_and_logs(
    redis_db: str, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        app, limiter = redis_app(redis_db, "2/minute")
        client = TestClient(app)
        assert (await client.post("/login")).status_code == 200
        redis_server.stop()
        with caplog.at_level(logging.ERROR, logger="junco"):
            codes = [(await client.post("/login")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 200]
        errors = [r for r in caplog.records if "rate-limit store unavailable" in r.getMessage()]
        assert len(errors) == 1  # throttled: one line, not one per request
        assert "letting requests through" in errors[0].getMessage()
        redis_server.start()  # back, and empty
        codes = [(await client.post("/login")).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        await close(limiter)

    asyncio.run(main())


def test_redis_down_fails_closed_when_asked(redis_db: str, redis_server: RedisServer) -> None:
    async def main() -> None:
        app, limiter = redis_app(redis_db, fail_open=False)
        client = TestClient(app)
        redis_server.stop()
        try:
            refused = await client.post("/login")
        finally:
            redis_server.start()
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert (await client.post("/login")).status_code == 200
        await close(limiter)

    asyncio.run(main())


def test_store_closed_at_shutdown(redis_db: str) -> None:
    async def main() -> None:
        app, limiter = redis_app(redis_db)
        store = limiter.store
        assert isinstance(store, RedisRateLimitStore)
        assert store.close in app.shutdown_handlers
        async with TestClient(app) as client:
            assert (await client.post("/login")).status_code == 200
        # Closed: the next use opens a new connection, which works.
        assert await store.client.ping() is True
        await store.close()

    asyncio.run(main())


# -- docs ---------------------------------------------------------------------------------


def test_docs_example() -> None:
    app = docs_example("rate-limits")["app"]
    codes = statuses(app, [("POST", "/login")] * 6, form={"user": "a", "password": "b"})
    assert codes == [200, 200, 200, 200, 200, 429]
    codes = statuses(app, [("GET", "/search?q=x")] * 31)
    assert codes[:30] == [200] * 30
    assert codes[30] == 429
