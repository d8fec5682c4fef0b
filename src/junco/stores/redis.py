"""A Redis session store (redis-py's asyncio client), shared by every worker and machine."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .. import _redis
from ..sessions import SessionStoreError

if TYPE_CHECKING:
    from redis.asyncio import Redis


class RedisStore(_redis.RedisClientStore):
    """Sessions kept in Redis, one key per session with a TTL (a ``SessionStore``).

    The client reconnects by itself when Redis restarts; while Redis is
    unreachable, store calls raise :class:`~junco.sessions.SessionStoreError`
    (requests that need the session get a 503). ``Session(app, store=url)``
    makes one of these.

    Args:
        url_or_client: A ``redis://`` URL, or a ``redis.asyncio.Redis`` client
            (which stays yours: :meth:`close` leaves it open). A URL without
            options shares one client per event loop with the other stores of
            that URL; commands give up after 1 second without an answer.
        prefix: Put before each session id to make the key.
        **options: For a URL, passed to ``Redis.from_url`` (``password``,
            ``socket_timeout``, ...).

    Raises:
        ImportError: redis-py is missing (``pip install "junco[redis]"``).
    """

    def __init__(
        self,
        url_or_client: str | Redis = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "junco:session:",
        **options: Any,
    ) -> None:
        super().__init__(url_or_client, **options)
        self.prefix = prefix
        self._errors = _redis.errors()

    async def load(self, session_id: str) -> dict[str, Any] | None:
        """The record under ``session_id``, or None (missing, expired or unreadable)."""
        try:
            raw = await self.client.get(self.prefix + session_id)
        except self._errors as exc:
            raise SessionStoreError(f"redis: {exc}") from exc
        return _record(raw)

    async def save(self, session_id: str, data: dict[str, Any], ttl: int) -> None:
        """Store ``data`` for ``ttl`` seconds (``SET ... EX``).

        Raises:
            TypeError: a value is not JSON-serialisable.
            SessionStoreError: Redis is unreachable.
        """
        text = json.dumps(data, separators=(",", ":"))
        try:
            await self.client.set(self.prefix + session_id, text, ex=ttl)
        except self._errors as exc:
            raise SessionStoreError(f"redis: {exc}") from exc

    async def swap(self, session_id: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """Replace the record only if there is one, keeping its TTL; return the old record.

        One atomic command (``SET ... XX GET KEEPTTL``, Redis 6.2+), so
        concurrent callers (any worker, any machine) each see a different
        old record. Remember-me tokens use it to be spent exactly once.

        Raises:
            SessionStoreError: Redis is unreachable.
        """
        text = json.dumps(data, separators=(",", ":"))
        try:
            raw = await self.client.set(
                self.prefix + session_id, text, xx=True, get=True, keepttl=True
            )
        except self._errors as exc:
            raise SessionStoreError(f"redis: {exc}") from exc
        return _record(raw)

    async def delete(self, session_id: str) -> None:
        """Remove the record (no error if it is already gone).

        Raises:
            SessionStoreError: Redis is unreachable.
        """
        try:
            await self.client.delete(self.prefix + session_id)
        except self._errors as exc:
            raise SessionStoreError(f"redis: {exc}") from exc


def _record(raw: Any) -> dict[str, Any] | None:
    """The dict stored as JSON in ``raw``, or None (missing or unreadable)."""
    if not isinstance(raw, (str, bytes)):
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
