"""One waiter slot per object, for the many long-lived objects of a fan-out.

A WebSocket or a pub/sub subscription waits for "something changed" (a message
arrived, room freed up) far more often than anything else, and thousands of them
wait at once. An ``asyncio.Event`` (a deque, plus a list of futures) or a
list of waiters per object is a few garbage-collector-tracked objects each, and a
full collection walks every one of them; so the object keeps a single
``_waiter`` slot instead. The rare second waiter at the same time gets its own
future, chained to the slot's, so cancelling one waiter never cancels another
(a cancelled first waiter wakes the rest, who look again and wait anew).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Protocol


class Waitable(Protocol):
    _waiter: asyncio.Future[None] | None


def park(owner: Waitable, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
    """A future that :func:`wake` resolves; await it, then look again."""
    future = loop.create_future()
    slot = owner._waiter
    if slot is None or slot.done():
        owner._waiter = future
    else:  # someone is waiting already: wake together
        slot.add_done_callback(functools.partial(_resolve, future))
    return future


def wake(owner: Waitable) -> None:
    """Wake every waiter of ``owner`` (none is fine)."""
    slot = owner._waiter
    if slot is not None:
        owner._waiter = None
        if not slot.done():
            slot.set_result(None)


def _resolve(future: asyncio.Future[None], _: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
