"""Telling long-lived streams that the server is stopping.

A server stops gracefully by waiting for the responses in flight. An SSE
stream or a WebSocket never finishes by itself, so without this the server
waits out its whole graceful timeout and then cancels those tasks mid-write.
junco's server integration calls :func:`begin` as soon as a stop starts; each
open stream has registered a callback that ends it cleanly at once (SSE: a
final comment, then the end of the body). Callbacks run on the event loop's
thread, from the server's own shutdown code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

logger = logging.getLogger("junco")

_callbacks: set[Callable[[], None]] = set()
_stopping = [False]


def begin() -> None:
    """The server is stopping: end every registered stream (idempotent)."""
    if _stopping[0]:
        return
    _stopping[0] = True
    for callback in list(_callbacks):
        try:
            callback()
        except Exception:  # one failing stream must not keep the others open
            logger.exception("ending a stream at shutdown failed")


def reset() -> None:
    """A server starts (or has stopped) in this process: streams may run again."""
    _stopping[0] = False


def stopping() -> bool:
    """True between :func:`begin` and the next :func:`reset`."""
    return _stopping[0]


def on_every_stop(callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever a stop begins, for good (a module's one callback
    that ends all its open streams: no registration per stream)."""
    _callbacks.add(callback)


@contextmanager
def on_stop(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback`` when the server starts stopping, while the block runs.

    If the server is already stopping, ``callback`` runs at once.
    """
    _callbacks.add(callback)
    try:
        if _stopping[0]:
            callback()
        yield
    finally:
        _callbacks.discard(callback)
