"""Rate-limit counters in this process's memory, and the counting rule every store follows.

Theory of operation
-------------------
A limit is ``limit`` requests per ``window`` milliseconds. Time is cut into
fixed windows (``index = now // window``) and each counter keeps three numbers:
the index of the window it last counted in, the count of the window before
that (``prev``) and its own count (``cur``). The load at ``now`` is the
*sliding window counter* estimate::

    load = prev * (window - elapsed) / window + cur      (elapsed = now - index * window)

that is, the previous window's requests are assumed evenly spread and only
the part of them still inside the last ``window`` milliseconds counts. A
request is let through when ``load + 1 <= limit``. This smooths the burst
that plain fixed windows allow at each boundary (up to ``2 * limit`` requests
in a moment) while keeping two integers per counter, instead of one timestamp
per request as an exact sliding log needs.

Invariants:
- A request is checked against all its limits at once, and counted in all of
  them only if every one allows it: a refused request consumes nothing, so a
  client hammering a limit regains its quota on time.
- Within a window that starts empty, exactly ``limit`` requests pass, however
  many arrive concurrently: the check and the increment happen without an
  await between them here, and in one Lua script in Redis.
- The memory store is bounded (``max_keys``); the Redis store gives each key a
  TTL of two windows, after which the counter could no longer matter.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

#: ``(key, limit, window_ms)``: one counter to check and count.
Check = tuple[str, int, int]


class Outcome(NamedTuple):
    """What a store decided for one request.

    Attributes:
        allowed: Every limit let the request through (and it was counted).
        now: The store's clock, in milliseconds, when it decided.
        counts: ``(prev, cur)`` for each checked limit, in order: after
            counting when allowed, as found when refused.
    """

    allowed: bool
    now: int
    counts: list[tuple[int, int]]


@runtime_checkable
class RateLimitStore(Protocol):
    """Where rate-limit counters live. Implement ``hit`` to add a backend.

    An async ``ping()``, if the store has one, is awaited at the app's start-up.
    """

    async def hit(self, checks: Sequence[Check]) -> Outcome:
        """Check ``checks`` together; count the request in all of them if all allow it."""
        ...


def roll(state: tuple[int, int, int] | None, index: int) -> tuple[int, int]:
    """``(prev, cur)`` of a counter stored as ``(index, prev, cur)``, seen from window ``index``."""
    if state is None:
        return 0, 0
    last, prev, cur = state
    if last == index:
        return prev, cur
    if last == index - 1:
        return cur, 0
    return 0, 0


def load(prev: int, cur: int, elapsed: int, window: int) -> float:
    """The sliding estimate of requests in the last ``window`` ms (see the module doc)."""
    return prev * (window - elapsed) / window + cur


def allows(prev: int, cur: int, elapsed: int, window: int, limit: int) -> bool:
    """Whether one more request fits. The Lua script in the Redis store does the same sum."""
    return load(prev, cur, elapsed, window) + 1 <= limit


def remaining(prev: int, cur: int, elapsed: int, window: int, limit: int) -> int:
    """How many more requests would fit right now."""
    return max(0, int(limit - load(prev, cur, elapsed, window)))


def wait_ms(prev: int, cur: int, elapsed: int, window: int, limit: int) -> int:
    """Milliseconds until one more request fits (0 if it fits now).

    Assumes no other request is counted meanwhile. Inside the current window
    only the previous window's weight falls; past its end, this window's count
    becomes the one that fades.
    """
    left = window - elapsed
    room = limit - 1 - cur
    if room >= 0:
        if prev <= room:
            return 0
        d = left - room * window / prev  # when prev's weight falls to room / prev
        if d < left:
            return max(0, _ceil(d))
    fade = window - (limit - 1) * window / cur if cur > 0 else 0.0
    return left + max(0, _ceil(fade))


def _ceil(x: float) -> int:
    n = int(x)
    return n + 1 if n < x else n


class MemoryRateLimitStore:
    """Counters in this process's memory (a :class:`RateLimitStore`).

    Each worker process counts alone, so with ``n`` workers a client gets up
    to ``n`` times its limit; use :class:`~junco.stores.ratelimit_redis.RedisRateLimitStore`
    to share counters. The store is bounded: past ``max_keys`` counters it
    drops the least recently used ones, expired ones first. A dropped counter
    restarts at zero, so a client able to create ``max_keys`` fresh keys (that
    many addresses) could reset its own counters; size ``max_keys`` for your
    traffic (a counter costs about 200 bytes).

    Args:
        max_keys: Most counters kept at once.
        clock: Time in seconds (monotonic by default; a fake one for tests).
    """

    #: State of this process only, unseen by other workers (:func:`junco.stores.in_memory`).
    process_local = True

    def __init__(
        self, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.max_keys = max_keys
        self.clock = clock
        # key -> [index, prev, cur, expires_ms], least recently counted first
        self._counters: OrderedDict[str, list[int]] = OrderedDict()
        # A lock, not just the event loop: one app may be served from several
        # loops in several threads (test clients, embedded servers).
        self._lock = threading.Lock()

    async def hit(self, checks: Sequence[Check]) -> Outcome:
        """Check and count atomically (see :class:`RateLimitStore`)."""
        with self._lock:
            return self._hit(checks)

    def _hit(self, checks: Sequence[Check]) -> Outcome:
        now = int(self.clock() * 1000)
        counters = self._counters
        counts: list[tuple[int, int]] = []
        allowed = True
        for key, limit, window in checks:
            index = now // window
            entry = counters.get(key)
            state = None
            if entry is not None and entry[3] > now:
                state = (entry[0], entry[1], entry[2])
            prev, cur = roll(state, index)
            if not allows(prev, cur, now - index * window, window, limit):
                allowed = False
            counts.append((prev, cur))
        if allowed:
            for i, (key, _, window) in enumerate(checks):
                prev, cur = counts[i]
                counts[i] = (prev, cur + 1)
                counters[key] = [now // window, prev, cur + 1, now + 2 * window]
                counters.move_to_end(key)
            if len(counters) > self.max_keys:
                self._evict(now)
        return Outcome(allowed, now, counts)

    def _evict(self, now: int) -> None:
        # Least recently counted first: expired ones there go, then the oldest
        # live ones while over the bound. Constant time per counted request.
        counters = self._counters
        while counters and (
            len(counters) > self.max_keys or next(iter(counters.values()))[3] <= now
        ):
            counters.popitem(last=False)

    def clear(self) -> None:
        """Forget every counter."""
        with self._lock:
            self._counters.clear()

    def __len__(self) -> int:
        """How many counters are held (expired ones not yet dropped included)."""
        return len(self._counters)


__all__ = [
    "Check",
    "MemoryRateLimitStore",
    "Outcome",
    "RateLimitStore",
    "allows",
    "remaining",
    "roll",
    "wait_ms",
]
