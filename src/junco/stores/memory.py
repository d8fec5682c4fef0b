"""An in-process session store: bounded, for development and single-process apps."""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


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
