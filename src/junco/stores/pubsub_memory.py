"""The in-process pub/sub backend (``Broadcast("memory://")``): one process, no I/O."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..pubsub import Deliver


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
