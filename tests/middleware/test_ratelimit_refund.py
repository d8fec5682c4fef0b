"""Limits that count only some requests: ``count_when`` and ``RateLimit.refund``, both stores."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import pytest

from junco import HTTPException, Junco, Request, Response
from junco.exceptions import ConfigurationError
from junco.security.ratelimit import RateLimit
from junco.stores.memory import Check, MemoryRateLimitStore, Outcome
from junco.stores.redis import RedisRateLimitStore
from junco.testing import TestClient


def failed(request: Request, response: Response) -> bool:
    return response.status_code >= 400


def login_app(store: Any, rate: str = "3/minute") -> tuple[Junco, RateLimit]:
    """``POST /login``: the password "right" succeeds (303), anything else is a 401."""
    app = Junco()
    limiter = RateLimit(app, store=store)

    @app.post("/login")
    @limiter.limit(rate, count_when=failed)
    async def login(request: Request) -> Response:
        if request.args.get("password") == "right":
            return Response.redirect("/home", 303)
        return Response("wrong user name or password", 401)

    return app, limiter


async def codes(client: TestClient, password: str, n: int) -> list[int]:
    return [(await client.post(f"/login?password={password}")).status_code for _ in range(n)]


async def successes_never_count(app: Junco) -> None:
    client = TestClient(app)
    assert set(await codes(client, "right", 40)) == {303}
    # Failures still do: three, then 429s (with Retry-After), successes included.
    assert await codes(client, "wrong", 4) == [401, 401, 401, 429]
    refused = await client.post("/login?password=right")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1


async def concurrent_failures_are_exact(app: Junco) -> None:
    client = TestClient(app)
    got = await asyncio.gather(*(client.post("/login?password=wrong") for _ in range(30)))
    statuses = sorted(r.status_code for r in got)
    assert statuses.count(401) == 3
    assert statuses.count(429) == 27


def test_successful_logins_never_count_in_memory() -> None:
    app, _ = login_app(MemoryRateLimitStore())
    asyncio.run(successes_never_count(app))


def test_concurrent_failures_stop_at_the_limit_in_memory() -> None:
    app, _ = login_app(MemoryRateLimitStore())
    asyncio.run(concurrent_failures_are_exact(app))


def patient_store(url: str) -> RedisRateLimitStore:
    return RedisRateLimitStore(url, socket_timeout=30, socket_connect_timeout=30)


def test_successful_logins_never_count_on_redis(redis_db: str) -> None:
    async def main() -> None:
        store = patient_store(redis_db)
        app, _ = login_app(store)
        await successes_never_count(app)
        await store.close()

    asyncio.run(main())


def test_two_workers_on_redis_stop_concurrent_failures_at_the_limit(redis_db: str) -> None:
    async def main() -> None:
        one, two = patient_store(redis_db), patient_store(redis_db)
        (app1, _), (app2, _) = login_app(one), login_app(two)
        c1, c2 = TestClient(app1), TestClient(app2)
        mixed = await asyncio.gather(
            *((c1 if i % 2 else c2).post("/login?password=right") for i in range(20)),
            *((c1 if i % 2 else c2).post("/login?password=wrong") for i in range(20)),
        )
        statuses = [r.status_code for r in mixed]
        # Successes and failures raced, each counted up front: never more than
        # three failures got through, whatever the interleaving.
        assert statuses.count(401) <= 3
        assert statuses.count(303) + statuses.count(401) >= 3
        # Once the racing is over, the successes have all been given back.
        keys = await one.client.keys("junco:rl:*")
        assert len(keys) == 1
        assert int(await one.client.hget(keys[0], "c") or 0) == statuses.count(401)
        await one.close()
        await two.close()

    asyncio.run(main())


def test_an_error_response_is_judged_too() -> None:
    app = Junco()
    limiter = RateLimit(app)

    @app.get("/item/<int:n>")
    @limiter.limit("2/minute", count_when=lambda request, response: response.status_code != 404)
    async def item(request: Request, n: int) -> str:
        if n == 0:
            raise HTTPException(404)
        if n == 1:
            raise HTTPException(500)
        return "item"

    async def main() -> None:
        client = TestClient(app)
        assert {(await client.get("/item/0")).status_code for _ in range(10)} == {404}
        assert [(await client.get("/item/1")).status_code for _ in range(3)] == [500, 500, 429]

    asyncio.run(main())


def test_a_rule_with_count_when_and_an_async_predicate() -> None:
    app = Junco()
    limiter = RateLimit(app)

    async def only_posts_that_failed(request: Request, response: Response) -> bool:
        await asyncio.sleep(0)
        return response.status_code >= 400

    limiter.rule("/api/*", "2/minute", count_when=only_posts_that_failed)

    @app.get("/api/ok")
    async def ok(request: Request) -> str:
        return "ok"

    @app.get("/api/bad")
    async def bad(request: Request) -> Response:
        return Response("no", 400)

    async def main() -> None:
        client = TestClient(app)
        assert {(await client.get("/api/ok")).status_code for _ in range(10)} == {200}
        assert [(await client.get("/api/bad")).status_code for _ in range(3)] == [400, 400, 429]
        assert (await client.get("/api/ok")).status_code == 429  # one counter for the prefix
        # An unrouted path under the prefix: a 404 counts too.
        assert (await client.get("/api/nothing")).status_code == 429

    asyncio.run(main())


def test_only_the_count_when_limit_gives_back() -> None:
    app = Junco()
    limiter = RateLimit(app, default="4/minute")

    @app.post("/login")
    @limiter.limit("2/minute", count_when=failed)
    async def login(request: Request) -> str:
        return "welcome"

    async def main() -> None:
        client = TestClient(app)
        got = [(await client.post("/login")).status_code for _ in range(5)]
        # The login limit gives every success back; the default limit counts them.
        assert got == [200, 200, 200, 200, 429]
        assert got.count(429) == 1

    asyncio.run(main())


def test_refund_from_a_handler() -> None:
    app = Junco()
    limiter = RateLimit(app, default="100/minute")

    @app.post("/login")
    @limiter.limit("2/minute")
    async def login(request: Request) -> str:
        if request.args.get("password") == "right":
            await limiter.refund(request)
            await limiter.refund(request)  # a second call does nothing
            return "welcome"
        return "wrong"

    @app.get("/free")
    async def free(request: Request) -> str:
        await limiter.refund(request)
        return "free"

    async def main() -> None:
        client = TestClient(app)
        assert {(await client.post("/login?password=right")).status_code for _ in range(8)} == {200}
        assert [(await client.post("/login")).status_code for _ in range(3)] == [200, 200, 429]
        # The default counts /free apart; each request gives its count back.
        for _ in range(3):
            assert (await client.get("/free")).headers["RateLimit-Remaining"] == "99"

    asyncio.run(main())


def test_a_refund_without_a_limit_does_nothing() -> None:
    app = Junco()
    limiter = RateLimit(app)

    @app.get("/")
    async def index(request: Request) -> str:
        await limiter.refund(request)
        return "ok"

    assert asyncio.run(TestClient(app).get("/")).status_code == 200


def test_a_failing_predicate_keeps_the_count(caplog: pytest.LogCaptureFixture) -> None:
    app = Junco()
    limiter = RateLimit(app)

    def broken(request: Request, response: Response) -> bool:
        raise RuntimeError("oops")

    @app.get("/")
    @limiter.limit("2/minute", count_when=broken)
    async def index(request: Request) -> str:
        return "ok"

    async def main() -> list[int]:
        client = TestClient(app)
        return [(await client.get("/")).status_code for _ in range(3)]

    with caplog.at_level(logging.ERROR, logger="junco"):
        assert asyncio.run(main()) == [200, 200, 429]
    assert "count_when failed" in caplog.text


class HitOnly:
    """A third-party store that cannot give counts back."""

    async def hit(self, checks: Sequence[Check]) -> Outcome:
        return Outcome(True, 0, [(0, 1) for _ in checks])


def test_count_when_needs_a_store_that_refunds() -> None:
    app = Junco()
    limiter = RateLimit(app, store=HitOnly())
    with pytest.raises(ConfigurationError, match="refund"):
        limiter.limit("1/minute", count_when=failed)
    with pytest.raises(ConfigurationError, match="refund"):
        limiter.rule("/x", "1/minute", count_when=failed)
