#!/usr/bin/env python
"""Rate-limit counting: junco's sliding window counter against the ``limits`` library.

Each contender counts hits for ``--keys`` clients in turn (every hit allowed:
the limit is far above what a run reaches), in memory and on a real Redis,
and reports operations per second, median of ``--rounds`` rounds:

- ``seq``: one hit at a time, awaited (one request's cost);
- ``conc``: ``--tasks`` coroutines hitting at once (Redis round trips overlap).

``limits`` is timed two ways: ``hit`` alone, and ``hit`` followed by
``get_window_stats``, which a limiter needs for the ``RateLimit-Remaining``
and ``RateLimit-Reset`` headers; junco's store returns what the headers need
from its one call. Exactness is checked too: ``--tasks`` concurrent hits on
one key against a limit of 10 must let exactly 10 through.

    python bench/ratelimit_algos.py                 # starts a redis-server of its own
    python bench/ratelimit_algos.py --redis-url redis://127.0.0.1:6379/15 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from limits import RateLimitItemPerMinute  # noqa: E402
from limits.aio import storage as lstorage  # noqa: E402
from limits.aio import strategies  # noqa: E402

from junco.stores.memory import MemoryRateLimitStore  # noqa: E402
from junco.stores.redis import RedisRateLimitStore  # noqa: E402

Hit = Callable[[str], Awaitable[Any]]
BIG = 10**9
WINDOW_MS = 60_000


def junco_hit(store: Any, limit: int = BIG) -> Hit:
    async def hit(key: str) -> bool:
        outcome = await store.hit([(key, limit, WINDOW_MS)])
        return bool(outcome.allowed)

    return hit


def limits_hit(limiter: Any, stats: bool, limit: int = BIG) -> Hit:
    item = RateLimitItemPerMinute(limit)

    async def hit(key: str) -> bool:
        ok = bool(await limiter.hit(item, key))
        if stats:
            await limiter.get_window_stats(item, key)
        return ok

    return hit


async def run_seq(hit: Hit, n: int, keys: int) -> float:
    names = [f"client-{i}" for i in range(keys)]
    t0 = time.perf_counter()
    for i in range(n):
        await hit(names[i % keys])
    return n / (time.perf_counter() - t0)


async def run_conc(hit: Hit, n: int, keys: int, tasks: int) -> float:
    names = [f"client-{i}" for i in range(keys)]
    per = n // tasks

    async def worker(w: int) -> None:
        for i in range(per):
            await hit(names[(w * per + i) % keys])

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(tasks)))
    return per * tasks / (time.perf_counter() - t0)


async def exact(hit: Hit, tasks: int) -> int:
    results = await asyncio.gather(*(hit("one-key") for _ in range(tasks)))
    return sum(results)


def contenders(redis_url: str | None) -> dict[str, Callable[[int], Any]]:
    """name -> factory(limit) returning (hit, cleanup)."""

    def jm(limit: int) -> Any:
        return junco_hit(MemoryRateLimitStore(), limit), None

    def lm(kind: Any, stats: bool) -> Callable[[int], Any]:
        def make(limit: int) -> Any:
            return limits_hit(kind(lstorage.MemoryStorage()), stats, limit), None

        return make

    out: dict[str, Callable[[int], Any]] = {
        "memory junco sliding-counter": jm,
        "memory limits fixed (hit)": lm(strategies.FixedWindowRateLimiter, False),
        "memory limits fixed (hit+stats)": lm(strategies.FixedWindowRateLimiter, True),
        "memory limits sliding (hit+stats)": lm(strategies.SlidingWindowCounterRateLimiter, True),
        "memory limits moving (hit+stats)": lm(strategies.MovingWindowRateLimiter, True),
    }
    if redis_url is None:
        return out

    def jr(limit: int) -> Any:
        store = RedisRateLimitStore(redis_url, socket_timeout=10)
        return junco_hit(store, limit), store.close

    def lr(kind: Any, stats: bool) -> Callable[[int], Any]:
        def make(limit: int) -> Any:
            uri = "async+" + redis_url
            st = lstorage.RedisStorage(uri, implementation="redispy")
            return limits_hit(kind(st), stats, limit), None

        return make

    out.update(
        {
            "redis junco sliding-counter": jr,
            "redis limits fixed (hit)": lr(strategies.FixedWindowRateLimiter, False),
            "redis limits fixed (hit+stats)": lr(strategies.FixedWindowRateLimiter, True),
            "redis limits sliding (hit+stats)": lr(
                strategies.SlidingWindowCounterRateLimiter, True
            ),
            "redis limits moving (hit+stats)": lr(strategies.MovingWindowRateLimiter, True),
        }
    )
    return out


async def flush(redis_url: str | None) -> None:
    if redis_url is None:
        return
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    await client.aclose()


async def measure(args: argparse.Namespace, redis_url: str | None) -> None:
    makers = contenders(redis_url)
    seq: dict[str, list[float]] = {name: [] for name in makers}
    conc: dict[str, list[float]] = {name: [] for name in makers}
    # Contenders take turns within each round, so a change in machine load
    # between rounds weighs on all of them alike.
    for _ in range(args.rounds):
        for name, make in makers.items():
            n = args.n if name.startswith("memory") else args.n_redis
            await flush(redis_url)
            hit, cleanup = make(BIG)
            seq[name].append(await run_seq(hit, n, args.keys))
            conc[name].append(await run_conc(hit, n, args.keys, args.tasks))
            if cleanup is not None:
                await cleanup()
    print(f"| {'contender':36} | {'seq ops/s':>9} | {'conc ops/s':>10} | exact |")
    print(f"| {'-' * 36} | {'-' * 8}: | {'-' * 9}: | ----: |")
    for name, make in makers.items():
        await flush(redis_url)
        hit, cleanup = make(10)
        passed = await exact(hit, args.tasks)
        if cleanup is not None:
            await cleanup()
        print(
            f"| {name:36} | {statistics.median(seq[name]):9,.0f} "
            f"| {statistics.median(conc[name]):10,.0f} | {passed:>2}/10 |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--redis-url", help="an existing Redis (its database is flushed)")
    parser.add_argument("--no-redis", action="store_true", help="memory stores only")
    parser.add_argument("--n", type=int, default=20_000, help="hits per memory sample")
    parser.add_argument("--n-redis", type=int, default=4000, help="hits per Redis sample")
    parser.add_argument("--keys", type=int, default=1000, help="distinct clients")
    parser.add_argument("--tasks", type=int, default=50, help="concurrent coroutines")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.no_redis:
        asyncio.run(measure(args, None))
    elif args.redis_url:
        asyncio.run(measure(args, args.redis_url))
    else:
        from tests.redis_server import RedisServer

        with RedisServer() as server:
            asyncio.run(measure(args, server.url))


if __name__ == "__main__":
    main()
