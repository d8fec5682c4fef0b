"""Rate-limit stores: the counting rule, the memory store's bounds, the Redis script."""

from __future__ import annotations

import asyncio
import itertools

import pytest
import redis.asyncio as aioredis

from junco.stores.memory import (
    MemoryRateLimitStore,
    Outcome,
    RateLimitStore,
    RefundingStore,
    allows,
    refunded,
    remaining,
    roll,
    wait_ms,
)
from junco.stores.redis import RedisRateLimitStore
from tests.redis_server import RedisServer

MINUTE = 60_000
DAY = 86_400_000


class Clock:
    def __init__(self, now: float = 600.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def state_at(now: int, window: int, prev: int, cur: int, later: int) -> tuple[int, int, int]:
    """``(prev, cur, elapsed)`` seen ``later`` ms after ``now``, nothing counted meanwhile."""
    t = now + later
    p, c = roll((now // window, prev, cur), t // window)
    return p, c, t - t // window * window


def patient_store(url: str) -> RedisRateLimitStore:
    """A store whose timeouts survive a loaded test machine (the tests count, not time)."""
    return RedisRateLimitStore(url, socket_timeout=30, socket_connect_timeout=30)


# -- the counting rule --------------------------------------------------------------------


def test_roll() -> None:
    assert roll(None, 5) == (0, 0)
    assert roll((5, 2, 3), 5) == (2, 3)
    assert roll((4, 2, 3), 5) == (3, 0)
    assert roll((3, 2, 3), 5) == (0, 0)


@pytest.mark.parametrize("limit", [1, 2, 3, 10])
def test_wait_ms_is_the_first_moment_a_request_fits(limit: int) -> None:
    window = 1000
    for prev, cur, elapsed in itertools.product(
        range(limit + 1), range(limit + 1), (0, 1, 250, 500, 999)
    ):
        now = 50 * window + elapsed
        d = wait_ms(prev, cur, elapsed, window, limit)
        assert d >= 0
        assert allows(*state_at(now, window, prev, cur, d), window, limit), (prev, cur, elapsed)
        if d > 0:
            assert not allows(*state_at(now, window, prev, cur, d - 1), window, limit)
        assert (d == 0) == allows(prev, cur, elapsed, window, limit)


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_remaining_is_how_many_fit_now(limit: int) -> None:
    window = 1000
    for prev, cur, elapsed in itertools.product(range(limit + 1), range(limit + 1), (0, 400)):
        left = remaining(prev, cur, elapsed, window, limit)
        for i in range(left):
            assert allows(prev, cur + i, elapsed, window, limit)
        assert not allows(prev, cur + left, elapsed, window, limit)


def test_sliding_estimate_smooths_the_boundary() -> None:
    clock = Clock(60.0)  # a window boundary
    store = MemoryRateLimitStore(clock=clock)

    def burst() -> int:
        return sum(asyncio.run(store.hit([("k", 10, MINUTE)])).allowed for _ in range(20))

    clock.now = 60.0 + 59.0  # 10 at the end of one window...
    assert burst() == 10
    clock.now = 120.0 + 1.0  # ...still weigh 59/60 of themselves just after the boundary
    assert burst() == 0
    clock.now = 120.0 + 6.0  # 9 now: room for one
    assert burst() == 1
    clock.now = 120.0 + 30.0  # half of them (5) plus that one
    assert burst() == 4


# -- the memory store ---------------------------------------------------------------------


def test_memory_store_is_a_store() -> None:
    assert isinstance(MemoryRateLimitStore(), RateLimitStore)
    with pytest.raises(ValueError, match="max_keys"):
        MemoryRateLimitStore(max_keys=0)


def test_memory_store_exact_under_concurrency() -> None:
    store = MemoryRateLimitStore()

    async def main() -> list[Outcome]:
        return list(await asyncio.gather(*(store.hit([("k", 10, MINUTE)]) for _ in range(50))))

    outcomes = asyncio.run(main())
    assert sum(o.allowed for o in outcomes) == 10


def test_memory_store_all_or_nothing() -> None:
    clock = Clock()
    store = MemoryRateLimitStore(clock=clock)
    both = [("tight", 1, MINUTE), ("loose", 100, MINUTE)]
    first = asyncio.run(store.hit(both))
    assert first.allowed
    assert first.counts == [(0, 1), (0, 1)]
    second = asyncio.run(store.hit(both))
    assert not second.allowed
    assert second.counts == [(0, 1), (0, 1)]
    third = asyncio.run(store.hit([("loose", 100, MINUTE)]))
    assert third.counts == [(0, 2)]  # the refused request was not counted


def test_memory_store_forgets_after_two_windows() -> None:
    clock = Clock()
    store = MemoryRateLimitStore(clock=clock)
    asyncio.run(store.hit([("k", 1, MINUTE)]))
    clock.now += 60
    assert asyncio.run(store.hit([("k", 5, MINUTE)])).counts == [(1, 1)]
    clock.now += 120
    assert asyncio.run(store.hit([("k", 5, MINUTE)])).counts == [(0, 1)]


def hit(store: MemoryRateLimitStore, key: str, limit: int = 5, window: int = MINUTE) -> bool:
    return asyncio.run(store.hit([(key, limit, window)])).allowed


def test_memory_store_evicts_expired_then_least_recent() -> None:
    clock = Clock()
    store = MemoryRateLimitStore(max_keys=3, clock=clock)
    hit(store, "short", window=1000)
    hit(store, "a")
    hit(store, "b")
    clock.now += 5  # "short" has expired
    hit(store, "a")  # "a" is now the most recent
    hit(store, "c")
    assert ("short" in store, "a" in store, "b" in store, "c" in store) == (False, True, True, True)
    hit(store, "d")
    assert ("a" in store, "b" in store, "c" in store, "d" in store) == (True, False, True, True)
    assert len(store) == 3
    # A forgotten counter starts again: the documented cost of the bound.
    assert asyncio.run(store.hit([("b", 5, MINUTE)])).counts == [(0, 1)]
    store.clear()
    assert len(store) == 0


def test_expired_counters_go_first_whatever_their_place() -> None:
    """An expired counter of a short window is evicted before older live ones of long windows."""
    clock = Clock()
    store = MemoryRateLimitStore(max_keys=3, clock=clock)
    hit(store, "old-live-1", window=DAY)
    hit(store, "old-live-2", window=DAY)
    clock.now += 1
    hit(store, "recent-short", window=1000)  # counted last, but expires in 2 s
    clock.now += 3
    hit(store, "new")
    assert "recent-short" not in store
    assert {"old-live-1", "old-live-2", "new"} <= {
        k for k in ("old-live-1", "old-live-2", "new") if k in store
    }


def test_a_refusing_counter_is_never_evicted_before_it_expires() -> None:
    clock = Clock()
    store = MemoryRateLimitStore(max_keys=3, clock=clock)
    assert [hit(store, "attacker", limit=2) for _ in range(3)] == [True, True, False]
    for i in range(1000):  # the oldest counter, flooded past many times over
        assert hit(store, f"other-{i}")
        assert "attacker" in store
        assert len(store) <= 3
    assert hit(store, "attacker", limit=2) is False
    clock.now += 120  # two windows later the counter has expired: evicted, or rolled to 0
    hit(store, "one-more")
    assert hit(store, "attacker", limit=2) is True


def test_refusing_counters_alone_are_bounded_and_then_new_keys_are_refused() -> None:
    clock = Clock()
    store = MemoryRateLimitStore(max_keys=10, clock=clock)
    for i in range(20):  # limit 1: every counter refuses after its first request
        assert hit(store, f"k{i}", limit=1)
    assert len(store) == 20  # twice max_keys: refusing counters are kept ...
    assert hit(store, "new", limit=1) is False  # ... and a new key waits for room
    assert hit(store, "new-lenient") is False
    assert all(f"k{i}" in store for i in range(20))
    clock.now += 120
    assert hit(store, "new", limit=1) is True  # expired ones make room
    assert len(store) <= 10


def test_the_100k_flood_from_new_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's numbers, at the store: 100,001 new keys against the default bound."""
    clock = Clock()
    store = MemoryRateLimitStore(clock=clock)
    victim = "junco:rl:{2001:db8::/64}:p:/login:3/60000"
    assert [hit(store, victim, limit=3) for _ in range(4)] == [True, True, True, False]

    async def flood() -> None:
        for i in range(100_001):
            await store.hit([(f"junco:rl:{{2001:db8:{i:x}::/64}}:p:/login:3/60000", 3, MINUTE)])

    asyncio.run(flood())
    assert len(store) == 100_000
    assert victim in store
    assert hit(store, victim, limit=3) is False


def test_memory_store_is_bounded_under_a_flood() -> None:
    store = MemoryRateLimitStore(max_keys=100)

    async def main() -> None:
        for i in range(5000):
            await store.hit([(f"client-{i}", 2, MINUTE)])

    asyncio.run(main())
    assert len(store) == 100


# -- the Redis store ----------------------------------------------------------------------


def test_redis_store_is_a_store_with_a_short_read_timeout(redis_db: str) -> None:
    store = RedisRateLimitStore(redis_db)
    assert isinstance(store, RateLimitStore)

    async def main() -> None:
        assert store.client.connection_pool.connection_kwargs["socket_timeout"] == 1.0
        await store.close()

    asyncio.run(main())


def test_redis_store_exact_across_two_stores(redis_db: str) -> None:
    async def main() -> None:
        one, two = patient_store(redis_db), patient_store(redis_db)
        outcomes = await asyncio.gather(
            *((one if i % 2 else two).hit([("{c}:k", 10, MINUTE)]) for i in range(50))
        )
        assert sum(o.allowed for o in outcomes) == 10
        assert {sum(o.counts[0]) for o in outcomes if not o.allowed} <= {10}
        await one.close()
        await two.close()

    asyncio.run(main())


def test_redis_store_all_or_nothing_and_ttls(redis_db: str) -> None:
    async def main() -> None:
        store = patient_store(redis_db)
        both = [("{c}:tight", 1, DAY), ("{c}:loose", 100, MINUTE)]
        first = await store.hit(both)
        assert first.allowed
        assert [sum(c) for c in first.counts] == [1, 1]
        second = await store.hit(both)
        assert not second.allowed
        assert [sum(c) for c in second.counts] == [1, 1]
        loose = await store.hit([("{c}:loose", 100, MINUTE)])
        assert sum(loose.counts[0]) == 2  # nothing counted for the refusal
        assert 0 < await store.client.pttl("{c}:loose") <= 2 * MINUTE
        assert 2 * MINUTE < await store.client.pttl("{c}:tight") <= 2 * DAY
        t, _ = await store.client.time()
        assert abs(first.now // 1000 - t) <= 5  # Redis's clock, in ms
        await store.close()

    asyncio.run(main())


def test_redis_store_matches_the_memory_store_within_a_window(redis_db: str) -> None:
    async def main() -> None:
        store = patient_store(redis_db)
        memory = MemoryRateLimitStore()
        for _ in range(8):
            got = await store.hit([("k", 5, DAY)])
            want = await memory.hit([("k", 5, DAY)])
            if got.counts[0][0] or want.counts[0][0]:
                continue  # a window boundary passed (UTC midnight): skip the comparison
            assert (got.allowed, got.counts) == (want.allowed, want.counts)
        await store.close()

    asyncio.run(main())


def test_redis_keys_expire(redis_db: str, redis_server: RedisServer) -> None:
    async def main() -> None:
        store = patient_store(redis_db)
        await store.hit([("short", 3, 100)])
        assert redis_server.dbsize() == 1
        await asyncio.sleep(0.3)  # two windows of 100 ms have passed
        assert await store.client.exists("short") == 0
        await store.close()

    asyncio.run(main())


def test_redis_store_reloads_a_forgotten_script(redis_db: str) -> None:
    async def main() -> None:
        store = patient_store(redis_db)
        assert (await store.hit([("k", 5, MINUTE)])).allowed
        await store.client.script_flush()
        assert (await store.hit([("k", 5, MINUTE)])).allowed
        await store.close()

    asyncio.run(main())


def test_redis_store_raises_its_errors_when_down(redis_db: str, redis_server: RedisServer) -> None:
    async def main() -> None:
        store = RedisRateLimitStore(redis_db)
        redis_server.stop()
        try:
            with pytest.raises(store.errors):
                await store.hit([("k", 5, MINUTE)])
        finally:
            redis_server.start()
        assert (await store.hit([("k", 5, MINUTE)])).allowed
        await store.close()

    asyncio.run(main())


def test_a_client_passed_in_stays_open(redis_db: str) -> None:
    async def main() -> None:
        client = aioredis.Redis.from_url(redis_db)
        store = RedisRateLimitStore(client)
        assert (await store.hit([("k", 5, MINUTE)])).allowed
        await store.close()
        assert await client.ping() is True
        await client.aclose()
        with pytest.raises(TypeError, match="options"):
            RedisRateLimitStore(client, socket_timeout=1)

    asyncio.run(main())


# -- refunds ------------------------------------------------------------------------------


def test_refunded_takes_the_count_from_the_window_it_was_made_in() -> None:
    w = MINUTE
    now = 10 * w + 5
    assert refunded((10, 4, 3), now, w) == (10, 4, 2)  # same window: from cur
    assert refunded((11, 3, 1), now, w) == (11, 2, 1)  # moved on by one: from prev
    assert refunded((12, 3, 1), now, w) is None  # no longer weighs
    assert refunded((10, 4, 0), now, w) is None  # never below zero
    assert refunded((11, 0, 1), now, w) is None


async def _refund_cycle(store: RefundingStore, key: str) -> None:
    """Count, then give back: what a request that does not count does."""
    checks = [(key, 5, DAY)]
    outcome = await store.hit(checks)
    if outcome.allowed:
        await store.refund(checks, outcome.now)


async def _refund_behaviour(store: RefundingStore) -> None:
    key = "{c}:k"
    checks = [(key, 3, DAY)]
    for _ in range(50):  # many requests that are all given back never run out
        await _refund_cycle(store, key)
    first = await store.hit(checks)
    assert first.allowed
    assert sum(first.counts[0]) == 1
    outcomes = [await store.hit(checks) for _ in range(3)]
    assert [o.allowed for o in outcomes] == [True, True, False]
    # Concurrent counted requests still stop at the limit: counting comes first.
    await store.refund(checks, first.now)
    racing = await asyncio.gather(*(store.hit(checks) for _ in range(20)))
    assert sum(o.allowed for o in racing) == 1
    # A refund of a counter that does not exist creates nothing; counts stay >= 0.
    await store.refund([("{c}:other", 3, DAY)], first.now)
    again = [await store.hit([("{c}:other", 3, DAY)]) for _ in range(4)]
    assert [o.allowed for o in again] == [True, True, True, False]


def test_memory_store_refunds() -> None:
    store = MemoryRateLimitStore()
    assert isinstance(store, RefundingStore)
    asyncio.run(_refund_behaviour(store))
    assert "{c}:other" in store


def test_memory_store_refund_after_the_window_moved() -> None:
    clock = Clock()
    store = MemoryRateLimitStore(clock=clock)
    checks = [("k", 2, MINUTE)]
    first = asyncio.run(store.hit(checks))
    clock.now += 60  # the next window: the first count now weighs as "previous"
    assert asyncio.run(store.hit(checks)).counts == [(1, 1)]
    asyncio.run(store.refund(checks, first.now))
    assert asyncio.run(store.hit(checks)).counts == [(0, 2)]
    clock.now += 120  # two windows on: a refund of an old count changes nothing
    asyncio.run(store.refund(checks, first.now))
    assert asyncio.run(store.hit(checks)).counts == [(0, 1)]


def test_memory_store_refund_of_an_evicted_counter_creates_nothing() -> None:
    store = MemoryRateLimitStore(max_keys=1)
    one = asyncio.run(store.hit([("a", 5, MINUTE)]))
    asyncio.run(store.hit([("b", 5, MINUTE)]))  # evicts "a"
    asyncio.run(store.refund([("a", 5, MINUTE)], one.now))
    assert "a" not in store
    assert len(store) == 1


def test_memory_store_concurrent_refunds_are_exact() -> None:
    store = MemoryRateLimitStore()

    async def main() -> Outcome:
        await asyncio.gather(*(_refund_cycle(store, "k") for _ in range(200)))
        return await store.hit([("k", 5, DAY)])

    assert sum(asyncio.run(main()).counts[0]) == 1


def test_redis_store_refunds(redis_db: str) -> None:
    async def main() -> None:
        store = patient_store(redis_db)
        assert isinstance(store, RefundingStore)
        await _refund_behaviour(store)
        # Two stores (two workers) giving back concurrently lose no update.
        other = patient_store(redis_db)
        await asyncio.gather(
            *(_refund_cycle(other if i % 2 else store, "{c}:shared") for i in range(100))
        )
        assert sum((await store.hit([("{c}:shared", 5, DAY)])).counts[0]) == 1
        await store.close()
        await other.close()

    asyncio.run(main())


def test_redis_store_refund_after_the_window_moved(redis_db: str) -> None:
    """The script's window arithmetic, driven with a hit time one window back."""

    async def main() -> None:
        store = patient_store(redis_db)
        window = 1000
        checks = [("{c}:w", 100, window)]
        now = (await store.hit(checks)).now
        await store.client.hset("{c}:w", mapping={"i": now // window, "p": 4, "c": 2})
        await store.refund(checks, now - window)  # a hit made in the previous window
        assert await store.client.hmget("{c}:w", ["p", "c"]) == [b"3", b"2"]
        await store.refund(checks, now)
        assert await store.client.hmget("{c}:w", ["p", "c"]) == [b"3", b"1"]
        await store.refund(checks, now - 2 * window)  # too old: no change
        await store.refund([("{c}:gone", 5, window)], now)
        assert await store.client.hmget("{c}:w", ["p", "c"]) == [b"3", b"1"]
        assert not await store.client.exists("{c}:gone")
        await store.close()

    asyncio.run(main())
