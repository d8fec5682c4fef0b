"""The in-memory backends: sessions, rate limits and pub/sub, for one process.

Everything here lives in this process's memory: every worker process has its
own, and a restart forgets it. Use :mod:`junco.stores.redis` when either
matters. This module also holds the counting rule that every rate-limit store
follows.

Rate limits: theory of operation
--------------------------------
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
- A refund (``refund(checks, now)``) takes back one count that a hit made at
  ``now``: from the current count if the counter is still in that window,
  from the previous one if it has moved on by one, not at all later (the
  count no longer weighs). Counts never go below zero and a refund never
  creates a counter. So a limit that counts only failures reserves a count
  up front (the check stays exact under concurrency) and gives it back once
  the request turned out not to count.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..pubsub import Deliver

# -- sessions -------------------------------------------------------------------------


class MemoryStore:
    """Sessions kept in this process's memory (a :class:`~junco.security.sessions.SessionStore`).

    Records are held as JSON text, so what comes back is a copy and values
    must be JSON-serialisable, exactly as with the other stores. The store is
    bounded: when a save would exceed ``max_entries`` it drops the least
    recently saved records (expired ones among them first). Every worker process has
    its own store, and restarting forgets everything: use
    :class:`~junco.stores.redis.RedisStore` when either matters.

    Args:
        max_entries: Most records kept at once.
        clock: Monotonic time in seconds, for record TTLs (for tests).
    """

    #: State of this process only, unseen by other workers (:func:`junco.stores.in_memory`).
    process_local = True

    def __init__(
        self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.clock = clock
        self._records: OrderedDict[str, tuple[float, str]] = OrderedDict()

    async def load(self, session_id: str) -> dict[str, Any] | None:
        """The record saved under ``session_id``, or None if missing or expired."""
        entry = self._records.get(session_id)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            del self._records[session_id]
            return None
        data = json.loads(entry[1])
        return data if isinstance(data, dict) else None

    async def save(self, session_id: str, data: dict[str, Any], ttl: int) -> None:
        """Keep ``data`` under ``session_id`` for ``ttl`` seconds.

        Raises:
            TypeError: a value is not JSON-serialisable.
        """
        text = json.dumps(data, separators=(",", ":"))
        self._records[session_id] = (self.clock() + ttl, text)
        self._records.move_to_end(session_id)
        if len(self._records) > self.max_entries:
            # The oldest saves sit in front: drop expired ones there, then the
            # oldest live ones. Constant time per save, however full the store.
            now = self.clock()
            records = self._records
            while records and (
                len(records) > self.max_entries or next(iter(records.values()))[0] <= now
            ):
                records.popitem(last=False)

    async def swap(self, session_id: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """Replace the record under ``session_id`` only if there is one; return the old record.

        Atomic (no await in between), keeps the record's expiry. Remember-me
        tokens use it so that one token is spent exactly once.
        """
        entry = self._records.get(session_id)
        if entry is None or entry[0] <= self.clock():
            return None
        self._records[session_id] = (entry[0], json.dumps(data, separators=(",", ":")))
        old = json.loads(entry[1])
        return old if isinstance(old, dict) else None

    async def delete(self, session_id: str) -> None:
        """Forget ``session_id`` (no error if unknown)."""
        self._records.pop(session_id, None)

    def _purge(self) -> None:
        now = self.clock()
        for key in [k for k, (expires, _) in self._records.items() if expires <= now]:
            del self._records[key]

    def __len__(self) -> int:
        """How many unexpired records the store holds."""
        self._purge()
        return len(self._records)

    def __contains__(self, session_id: object) -> bool:
        entry = self._records.get(session_id) if isinstance(session_id, str) else None
        return entry is not None and entry[0] > self.clock()


# -- pub/sub --------------------------------------------------------------------------


class MemoryBackend:
    """Delivers each published message straight to this process's subscribers.

    Use it for a single process and for tests; with several workers each has
    its own subscribers and sees only its own messages (use Redis then).
    """

    #: State of this process only, unseen by other workers (:func:`junco.stores.in_memory`).
    process_local = True

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    async def connect(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def disconnect(self) -> None:
        self._deliver = None

    async def subscribe(self, channel: str) -> None:
        """Nothing to do: :class:`~junco.pubsub.Broadcast` keeps the subscribers."""

    async def unsubscribe(self, channel: str) -> None:
        """Nothing to do."""

    async def publish(self, channel: str, payload: bytes) -> None:
        if self._deliver is not None:
            self._deliver(channel, payload)


# -- rate limits ----------------------------------------------------------------------

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


@runtime_checkable
class RefundingStore(RateLimitStore, Protocol):
    """A store that can also give a count back (both of junco's stores can).

    Limits with ``count_when`` and :meth:`RateLimit.refund
    <junco.security.ratelimit.RateLimit.refund>` need it.
    """

    async def refund(self, checks: Sequence[Check], now: int) -> None:
        """Take back one count from each of ``checks``, made by a hit at ``Outcome.now == now``.

        A count that no longer weighs (two windows later), or a counter that is gone, is left alone.
        """
        ...


def refunded(state: tuple[int, int, int], now: int, window: int) -> tuple[int, int, int] | None:
    """``state`` (``(index, prev, cur)``) less one count made at ``now``; None if nothing changes.

    The Lua script of the Redis store does the same.
    """
    last, prev, cur = state
    index = now // window
    if last == index and cur > 0:
        return last, prev, cur - 1
    if last == index + 1 and prev > 0:
        return last, prev - 1, cur
    return None


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
    to ``n`` times its limit; use :class:`~junco.stores.redis.RedisRateLimitStore`
    to share counters.

    The store is bounded, and a client cannot flush its own counter by
    filling it with new keys (new addresses):

    - past ``max_keys`` counters, expired ones go first, then the least
      recently counted ones, but never a counter that is refusing requests
      right now: it stays until it expires;
    - when refusing counters alone fill ``2 * max_keys`` places, a request
      that needs a new counter is refused (429) rather than evicting one.

    A counter costs about 150 bytes (``bench/ratelimit_memory.py``): keys are
    kept as 64-bit digests, the three counts packed in one integer.

    Args:
        max_keys: Counters kept at once before eviction starts.
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
        # window -> key digest -> packed (index, prev, cur, limit), least recently
        # counted first. One window per table keeps each table in expiry order too.
        self._tables: dict[int, OrderedDict[int, int]] = {}
        self._size = 0
        # A lock, not just the event loop: one app may be served from several
        # loops in several threads (test clients, embedded servers).
        self._lock = threading.Lock()

    async def hit(self, checks: Sequence[Check]) -> Outcome:
        """Check and count atomically (see :class:`RateLimitStore`)."""
        with self._lock:
            return self._hit(checks)

    def _hit(self, checks: Sequence[Check]) -> Outcome:
        now = int(self.clock() * 1000)
        counts: list[tuple[int, int]] = []
        found: list[tuple[OrderedDict[int, int], int]] = []
        allowed = True
        new = 0
        for key, limit, window in checks:
            table = self._tables.get(window)
            if table is None:
                table = self._tables[window] = OrderedDict()
            digest = _digest(key)
            packed = table.get(digest)
            new += packed is None
            index = now // window
            prev, cur = roll(None if packed is None else _unpack(packed)[:3], index)
            if not allows(prev, cur, now - index * window, window, limit):
                allowed = False
            counts.append((prev, cur))
            found.append((table, digest))
        if allowed and new and self._size + new > self.max_keys:
            self._evict(now, new)
            if self._size + new > 2 * self.max_keys:
                return Outcome(False, now, counts)  # only refusing counters left
        if allowed:
            for i, ((table, digest), (_, limit, window)) in enumerate(
                zip(found, checks, strict=True)
            ):
                prev, cur = counts[i]
                counts[i] = (prev, cur + 1)
                self._size += digest not in table
                table[digest] = _pack(now // window, prev, cur + 1, limit)
                table.move_to_end(digest)
        return Outcome(allowed, now, counts)

    async def refund(self, checks: Sequence[Check], now: int) -> None:
        """Give back one count per check (see :class:`RefundingStore`)."""
        with self._lock:
            for key, _, window in checks:
                table = self._tables.get(window)
                digest = _digest(key)
                packed = None if table is None else table.get(digest)
                if table is None or packed is None:
                    continue  # evicted meanwhile: it restarts from zero anyway
                last, prev, cur, limit = _unpack(packed)
                changed = refunded((last, prev, cur), now, window)
                if changed is not None:
                    table[digest] = _pack(*changed, limit)

    def _evict(self, now: int, room: int) -> None:
        """Make ``room`` places under ``max_keys``: expired counters, then idle ones."""
        for window, table in self._tables.items():
            # Same window, so the least recently counted expires first.
            while table and _unpack(next(iter(table.values())))[0] <= now // window - 2:
                table.popitem(last=False)
                self._size -= 1
        kept = 0  # refusing counters moved to the back; each is looked at once
        while self._size + room > self.max_keys and kept < self._size:
            window, table = min(
                ((w, t) for w, t in self._tables.items() if t),
                key=lambda item: _unpack(next(iter(item[1].values())))[0] * item[0],
            )
            digest, packed = table.popitem(last=False)
            index = now // window
            last, prev, cur, limit = _unpack(packed)
            prev, cur = roll((last, prev, cur), index)
            if not allows(prev, cur, now - index * window, window, limit):
                table[digest] = packed  # refusing right now: never evicted early
                kept += 1
            else:
                self._size -= 1

    def clear(self) -> None:
        """Forget every counter."""
        with self._lock:
            self._tables.clear()
            self._size = 0

    def __len__(self) -> int:
        """How many counters are held (expired ones not yet dropped included)."""
        return self._size

    def __contains__(self, key: object) -> bool:
        """Whether a counter named ``key`` is held (for tests and debugging)."""
        if not isinstance(key, str):
            return False
        digest = _digest(key)
        return any(digest in table for table in self._tables.values())


def _digest(key: str) -> int:
    """A 64-bit digest of ``key``: ~36 bytes instead of a ~110-byte string per counter."""
    raw = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(raw, "little")


_BITS = 42  # counts and window indexes below 2**42 (limits have at most 12 digits)
_MASK = (1 << _BITS) - 1


def _pack(index: int, prev: int, cur: int, limit: int) -> int:
    return (index << (3 * _BITS)) | (prev << (2 * _BITS)) | (cur << _BITS) | limit


def _unpack(packed: int) -> tuple[int, int, int, int]:
    """``(index, prev, cur, limit)``."""
    return (
        packed >> (3 * _BITS),
        (packed >> (2 * _BITS)) & _MASK,
        (packed >> _BITS) & _MASK,
        packed & _MASK,
    )


__all__ = [
    "Check",
    "MemoryBackend",
    "MemoryRateLimitStore",
    "MemoryStore",
    "Outcome",
    "RateLimitStore",
    "RefundingStore",
    "allows",
    "refunded",
    "remaining",
    "roll",
    "wait_ms",
]
