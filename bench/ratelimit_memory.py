#!/usr/bin/env python
"""Memory of the in-memory rate-limit store per 100,000 counters, and its speed when full.

Counts with keys exactly as ``RateLimit`` makes them (a rule on ``/login`` for
distinct IPv6 /64 clients), measures what the store holds with ``tracemalloc``
(bytes allocated and still alive after filling it, the store's own objects
only: the key strings are made before tracing starts and dropped after), then
times hits on a full store: new keys (each evicts one) and a refused client.

    python bench/ratelimit_memory.py
    python bench/ratelimit_memory.py --keys 200000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc

from junco.stores.memory import MemoryRateLimitStore

MINUTE = 60_000


def key(i: int) -> str:
    # The shape of RateLimit's keys: prefix, hashed client, scope, rate.
    return f"junco:rl:{{{i:024x}}}:p:/login|POST:5/{MINUTE}"


async def fill(store: MemoryRateLimitStore, keys: list[str]) -> None:
    for k in keys:
        await store.hit([(k, 5, MINUTE)])


def measure(n: int) -> float:
    """Bytes per counter held by a store of ``n`` counters."""
    keys = [key(i) for i in range(n)]
    gc.collect()
    tracemalloc.start()
    store = MemoryRateLimitStore(max_keys=n)
    asyncio.run(fill(store, keys))
    del keys
    gc.collect()
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(store) == n
    return used / n


def speed(n: int, rounds: int) -> tuple[float, float]:
    """Hits per second on a full store: new keys (evicting), and a refused key."""
    store = MemoryRateLimitStore(max_keys=n)
    asyncio.run(fill(store, [key(i) for i in range(n)]))
    fresh = [key(n + i) for i in range(rounds)]
    start = time.perf_counter()
    asyncio.run(fill(store, fresh))
    evicting = rounds / (time.perf_counter() - start)
    victim = "junco:rl:{victim}:p:/login|POST:5/60000"

    async def refused() -> None:
        for _ in range(5):
            await store.hit([(victim, 5, MINUTE)])
        for _ in range(rounds):
            assert not (await store.hit([(victim, 5, MINUTE)])).allowed

    start = time.perf_counter()
    asyncio.run(refused())
    return evicting, rounds / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=100_000)
    args = parser.parse_args()
    per_key = measure(args.keys)
    print(f"{args.keys:,} counters: {per_key * args.keys / 1e6:.1f} MB ({per_key:.0f} bytes each)")
    print(f"per 100,000 counters: {per_key * 100_000 / 1e6:.1f} MB")
    evicting, refused = speed(args.keys, args.rounds)
    print(f"full store, new keys (one eviction each): {evicting:,.0f} hits/s")
    print(f"full store, a refused client: {refused:,.0f} hits/s")


if __name__ == "__main__":
    main()
