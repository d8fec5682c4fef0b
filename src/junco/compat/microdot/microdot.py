"""Microdot's ``microdot.microdot``: its classes and the helpers it defines beside them.

The helpers are written for junco; :mod:`junco.compat.microdot` re-exports every name.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from ...app import Junco as Microdot
from ...datastructures import MultiDict as _MultiDict
from ...exceptions import HTTPException, abort
from ...request import Request
from ...response import Response, redirect, send_file
from ...routing import URLPattern

__all__ = [
    "AsyncBytesIO",
    "HTTPException",
    "Microdot",
    "MultiDict",
    "NoCaseDict",
    "Request",
    "Response",
    "URLPattern",
    "abort",
    "iscoroutine",
    "redirect",
    "send_file",
    "urldecode",
    "urlencode",
]

# Characters Microdot leaves alone when encoding (it only escapes the few that
# would change a query string's structure).
_SAFE = "/:@!$'()*,;~"


def urlencode(s: str) -> str:
    """Quote ``s`` for a query string (``+`` for a space; ``&=?#%`` escaped)."""
    return quote_plus(s, safe=_SAFE)


def urldecode(s: str | bytes) -> str:
    """Decode a query-string value: ``+`` is a space, ``%XX`` a byte (UTF-8)."""
    if isinstance(s, bytes):
        s = s.decode("latin-1")
    return unquote_plus(s, errors="replace")


def iscoroutine(obj: Any) -> bool:
    """Microdot's export of :func:`inspect.iscoroutine`."""
    return inspect.iscoroutine(obj)


class NoCaseDict(dict[str, Any]):
    """A dict whose keys are case-insensitive, keeping the spelling first used.

    ``d["Content-Type"]``, ``d["content-type"]`` and ``"CONTENT-TYPE" in d``
    all find the same entry, as in Microdot.
    """

    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self._spelling: dict[str, str] = {}
        if initial:
            self.update(initial)

    def _key(self, key: str) -> str:
        return self._spelling.get(key.lower(), key)

    def __setitem__(self, key: str, value: Any) -> None:
        stored = self._spelling.setdefault(key.lower(), key)
        super().__setitem__(stored, value)

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(self._key(key))

    def __delitem__(self, key: str) -> None:
        stored = self._key(key)
        super().__delitem__(stored)
        self._spelling.pop(key.lower(), None)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(self._key(key))

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(self._key(key), default)

    def pop(self, key: str, *default: Any) -> Any:
        stored = self._key(key)
        if super().__contains__(stored):
            self._spelling.pop(key.lower(), None)
        return super().pop(stored, *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        items = other.items() if isinstance(other, Mapping) else other
        for key, value in (*items, *kwargs.items()):
            self[key] = value


class MultiDict(_MultiDict):
    """junco's :class:`~junco.datastructures.MultiDict` with Microdot's assignment.

    ``d[key] = value`` *adds* a value, as Microdot's does (junco's own
    ``MultiDict`` replaces, as a mapping does; ``add`` appends there).
    """

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        self.add(key, value)


class AsyncBytesIO:
    """An in-memory byte stream with Microdot's async ``read``/``readline``/``awrite``."""

    def __init__(self, data: bytes) -> None:
        self.stream = io.BytesIO(data)

    async def read(self, n: int = -1) -> bytes:
        return self.stream.read(n)

    async def readline(self) -> bytes:
        return self.stream.readline()

    async def readexactly(self, n: int) -> bytes:
        return self.stream.read(n)

    async def awrite(self, data: bytes) -> int:
        return self.stream.write(data)

    async def aclose(self) -> None:
        return None

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.stream)
