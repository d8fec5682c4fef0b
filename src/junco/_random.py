"""Random values for per-request use (request ids, CSP nonces), cheaply.

``os.urandom`` is a system call (~0.45 µs here) however few bytes it returns;
a request that needs an id and a nonce would pay it twice, and formatting
each value costs as much again. So bytes are drawn from the OS a page at a
time and handed out in order, never twice, and a forked child starts afresh
(it must not repeat its parent's values).

Values of a fixed size come from a shared page indexed by an atomic counter
(``itertools.count``): each call gets its own number, so two calls never
get the same slice of the same page, whatever the threads do; a call whose
number is past the page makes a new page (under a lock). Long-lived secrets
(session ids, signing keys, CSRF secrets) do not come from here: they are
drawn with ``secrets`` directly.
"""

from __future__ import annotations

import base64
import itertools
import os
import threading
from collections.abc import Callable
from functools import partial

_PAGE = 4096
_lock = threading.Lock()
# Byte 6 carries the version (4) in its high nibble, byte 8 the variant (10xx).
_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))


class _Pages:
    """Pages of ``size``-long values, handed out once each."""

    __slots__ = ("counter", "make", "size", "state")

    def __init__(self, size: int, make: Callable[[], str | bytes]) -> None:
        self.size = size
        self.make = make
        self.counter = itertools.count()
        self.state: tuple[str | bytes, int] = ("", 0)  # (page, number of its first value)

    def refill(self, i: int) -> str | bytes:
        with _lock:
            page, first = self.state
            at = (i - first) * self.size
            if not 0 <= at <= len(page) - self.size:
                page = self.make()
                self.state = (page, i)
                at = 0
        return page[at : at + self.size]

    def forget(self) -> None:
        self.counter = itertools.count()
        self.state = ("", 0)


def _uuid_page() -> str:
    page = bytearray(os.urandom(_PAGE))
    page[6::16] = page[6::16].translate(_VERSION_4)
    page[8::16] = page[8::16].translate(_VARIANT)
    return page.hex()


def _token_page() -> str:
    # 16 random bytes are 22 base64url characters (128 bits), so a page of
    # 4096 bytes encodes to 5461 characters: 248 whole tokens.
    return base64.urlsafe_b64encode(os.urandom(_PAGE + 2)).decode("ascii")


_uuids = _Pages(32, _uuid_page)
_tokens = _Pages(22, _token_page)


def _forget() -> None:
    for pages in (_uuids, _tokens):
        pages.forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)


def _take(pages: _Pages) -> str:
    i = next(pages.counter)
    page, first = pages.state
    size = pages.size
    at = (i - first) * size
    if 0 <= at <= len(page) - size:
        return page[at : at + size]  # type: ignore[return-value]
    return pages.refill(i)  # type: ignore[return-value]


# Bound with functools.partial (a C call) rather than wrapped in a function:
# these run on every request and a Python frame costs as much as the work.
random_uuid_hex: Callable[[], str] = partial(_take, _uuids)
"""A random version 4 UUID as 32 hex digits (what ``uuid.uuid4().hex`` gives)."""

random_token: Callable[[], str] = partial(_take, _tokens)
"""128 random bits as 22 base64url characters (what ``secrets.token_urlsafe(16)`` gives)."""
