"""Rate-limit counters in Redis: one atomic Lua script per request, shared by every worker.

The script does what :class:`~junco.stores.ratelimit_memory.MemoryRateLimitStore`
does (read the module doc there for the counting rule), with Redis's own
clock (``TIME``), so workers on machines whose clocks differ still agree on
the windows. One round trip per request whatever the number of limits; the
script is sent once and then called by its SHA (``EVALSHA``), and sent again
by itself if Redis restarted and forgot it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import _redis
from .ratelimit_memory import Check, Outcome

if TYPE_CHECKING:
    from redis.asyncio import Redis

# KEYS: one hash per limit. ARGV: limit, window (ms) for each key, in order.
# Each hash holds i (window index), p (previous window's count), c (this one's).
# Returns {allowed, now_ms, p1, c1, p2, c2, ...}.
SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
local idx, prev, cur = {}, {}, {}
local allowed = 1
for k = 1, n do
  local limit = tonumber(ARGV[2 * k - 1])
  local window = tonumber(ARGV[2 * k])
  local i = math.floor(now / window)
  local v = redis.call('HMGET', KEYS[k], 'i', 'p', 'c')
  local last = tonumber(v[1])
  local p, c = 0, 0
  if last == i then
    p, c = tonumber(v[2]) or 0, tonumber(v[3]) or 0
  elseif last == i - 1 then
    p = tonumber(v[3]) or 0
  end
  if p * (window - (now - i * window)) / window + c + 1 > limit then
    allowed = 0
  end
  idx[k], prev[k], cur[k] = i, p, c
end
if allowed == 1 then
  for k = 1, n do
    cur[k] = cur[k] + 1
    redis.call('HSET', KEYS[k], 'i', string.format('%d', idx[k]), 'p', prev[k], 'c', cur[k])
    redis.call('PEXPIRE', KEYS[k], 2 * tonumber(ARGV[2 * k]))
  end
end
local out = {allowed, now}
for k = 1, n do
  out[2 * k + 1] = prev[k]
  out[2 * k + 2] = cur[k]
end
return out
"""

# KEYS: the hashes a hit counted in. ARGV: the hit's now (ms), then each key's window.
# Takes one count back, as ``refunded`` in the memory store does: from c if the
# hash is still in the hit's window, from p if it has moved on by one.
REFUND_SCRIPT = """
local now = tonumber(ARGV[1])
for k = 1, #KEYS do
  local window = tonumber(ARGV[k + 1])
  local i = math.floor(now / window)
  local v = redis.call('HMGET', KEYS[k], 'i', 'p', 'c')
  local last = tonumber(v[1])
  if last == i then
    local c = tonumber(v[3]) or 0
    if c > 0 then redis.call('HSET', KEYS[k], 'c', c - 1) end
  elseif last == i + 1 then
    local p = tonumber(v[2]) or 0
    if p > 0 then redis.call('HSET', KEYS[k], 'p', p - 1) end
  end
end
return 0
"""


class RedisRateLimitStore(_redis.RedisClientStore):
    """Counters in Redis (a :class:`~junco.stores.ratelimit_memory.RateLimitStore`).

    Every worker and machine pointed at the same Redis shares the counters,
    so a limit holds for the whole deployment. Keys expire two windows after
    their last count. Keys passed to one :meth:`hit` share a hash tag (the
    limiter puts the client's digest in braces), so the script also runs on
    Redis Cluster.

    Args:
        url_or_client: A ``redis://`` URL, or a ``redis.asyncio.Redis`` client
            (which stays yours: :meth:`close` leaves it open). A URL without
            options shares one client per event loop with the other stores of
            that URL (``RateLimit(app, store=url)`` makes this store).
        **options: For a URL, passed to ``Redis.from_url``. Unless given,
            ``socket_timeout`` is 1 second: a limiter waiting on a stuck Redis
            would hold every request.

    Raises:
        ImportError: redis-py is missing (``pip install "junco[redis]"``).
    """

    def __init__(self, url_or_client: str | Redis = "redis://127.0.0.1:6379/0", **options: Any):
        super().__init__(url_or_client, **options)
        self._script: Any = None  # registered on first use, with that loop's client
        self._refund_script: Any = None
        #: What a failing Redis raises; the limiter catches these.
        self.errors: tuple[type[BaseException], ...] = _redis.errors()

    async def hit(self, checks: Sequence[Check]) -> Outcome:
        """Check and count atomically in one ``EVALSHA``.

        Raises:
            redis.exceptions.RedisError: Redis is unreachable or failed
                (``OSError`` too); see :attr:`errors`.
        """
        args: list[int] = []
        for _, limit, window in checks:
            args += (limit, window)
        client = self.client
        if self._script is None:
            self._script = client.register_script(SCRIPT)
        keys = [key for key, _, _ in checks]
        reply = await self._script(keys=keys, args=args, client=client)
        counts = [(int(reply[i]), int(reply[i + 1])) for i in range(2, len(reply), 2)]
        return Outcome(bool(reply[0]), int(reply[1]), counts)

    async def refund(self, checks: Sequence[Check], now: int) -> None:
        """Give back one count per check, atomically in one ``EVALSHA``.

        ``now`` is the ``Outcome.now`` of the hit that counted (Redis's clock).

        Raises:
            redis.exceptions.RedisError: as :meth:`hit`.
        """
        client = self.client
        if self._refund_script is None:
            self._refund_script = client.register_script(REFUND_SCRIPT)
        keys = [key for key, _, _ in checks]
        args = [now, *(window for _, _, window in checks)]
        await self._refund_script(keys=keys, args=args, client=client)


__all__ = ["REFUND_SCRIPT", "SCRIPT", "RedisRateLimitStore"]
