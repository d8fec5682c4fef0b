"""Random bytes for per-request values (request ids, CSP nonces, CSRF masks), cheaply.

``os.urandom`` is a system call (~0.45 µs here) however few bytes it returns; a
request that needs an id and a nonce would pay it twice. So bytes are drawn
from the OS a page at a time and handed out in order, never twice: each thread
has its own page (no locking, no two threads handing out the same bytes) and a
forked child starts with none (it must not repeat its parent's bytes).
Long-lived secrets (session ids, signing keys, CSRF secrets) do not come from
here: they are drawn with ``secrets`` directly.
"""

from __future__ import annotations

import os
import threading

_PAGE = 4096


class _Pool(threading.local):
    buf = b""
    pos = 0


_pool = _Pool()


def _forget() -> None:
    global _pool
    _pool = _Pool()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)


def random_bytes(n: int) -> bytes:
    """``n`` (at most 4096) bytes from the operating system's CSPRNG."""
    pool = _pool
    pos = pool.pos
    end = pos + n
    if end > len(pool.buf):
        pool.buf = os.urandom(_PAGE)
        pos, end = 0, n
    pool.pos = end
    return pool.buf[pos:end]
