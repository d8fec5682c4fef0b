"""Turning whatever a handler returns into a ``Response``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .datastructures import Headers
from .response import Response


def make_response(rv: Any) -> Response:
    """Coerce a handler's return value into a :class:`Response`.

    Accepted: a ``Response``; ``str``/``bytes``; ``dict``/``list`` (JSON);
    ``None`` (204); an ``int`` status; a generator, async generator, iterator
    or file-like object (streamed); or a tuple ``(body, status)``,
    ``(body, headers)``, ``(body, status, headers)``, ``(status,)`` or
    ``(status, headers)``.

    Raises:
        TypeError: for anything else (a bug in the handler, so a 500).
    """
    if isinstance(rv, Response):
        return rv
    if type(rv) is tuple:
        if len(rv) == 2 and type(rv[1]) is dict and type(rv[0]) is str:
            return Response(rv[0], 200, rv[1])  # (body, headers), the common tuple
        return _from_tuple(rv)
    if rv is None:
        return Response(status_code=204)
    if type(rv) is int:
        return Response(status_code=rv)
    return Response(rv)


def _is_headers(x: Any) -> bool:
    return type(x) is dict or isinstance(x, (Mapping, Headers, list))


def _from_tuple(rv: tuple[Any, ...]) -> Response:
    n = len(rv)
    first = rv[0] if n else None
    if n == 0 or n > 3:
        raise TypeError(f"a handler returned a tuple of {n} items")
    if type(first) is int:  # (status,) or (status, headers)
        if n == 1:
            return Response(status_code=first)
        if n == 2 and _is_headers(rv[1]):
            return Response(status_code=first, headers=rv[1])
        raise TypeError("a tuple starting with a status must be (status,) or (status, headers)")
    if n == 1:
        return Response(first)
    if n == 2:
        if type(rv[1]) is int:
            return _with(first, rv[1], None)
        if _is_headers(rv[1]):
            return _with(first, 200, rv[1])
        raise TypeError("the second item of a (body, x) tuple must be a status or headers")
    if type(rv[1]) is not int or not _is_headers(rv[2]):
        raise TypeError("a 3-tuple must be (body, status, headers)")
    return _with(first, rv[1], rv[2])


def _with(body: Any, status: int, headers: Any) -> Response:
    if isinstance(body, Response):
        body.status_code = status
        if headers:
            for k, v in Headers(headers).items_all():
                body.headers.add(k, v)
        return body
    return Response(body, status, headers)
