"""Hosts and origins: the one place that parses them, for CORS, CSRF and WebSocket.

- :func:`split_host` parses a ``Host`` value;
- :func:`normalize_origin` gives the canonical ``scheme://host[:port]`` of a
  configured origin (at construction time: a malformed one is refused);
- :func:`request_origin` is the request's ``Origin`` header under one policy:
  absent is ``None``; sent more than once is ``""``, which matches no origin,
  so every component refuses it where an origin must match;
- :func:`own_origin` is the request's own origin, from its scheme and ``Host``
  (``ws``/``wss`` count as ``http``/``https``, as browsers send them).

A request's ``Origin`` is compared *as sent* with canonical origins: browsers
always send the canonical form, so anything else (case, a path, a trailing
``/``, a default port) is simply not that origin.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from .request import Request

#: Default ports, dropped from canonical origins.
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_WEB_SCHEMES = {"ws": "http", "wss": "https"}
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_MAX_HOST = 300  # a 253-character name, brackets and a port fit
_MAX_ORIGIN = 2048
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_NAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")


def split_host(raw: bytes) -> tuple[str, int | None] | None:
    """Split a ``Host`` value into a lower-case host and a port, or None if malformed.

    IPv6 literals keep their brackets, in compressed form (``[::1]``); a
    trailing dot is dropped from names.
    """
    if not raw or len(raw) > _MAX_HOST or not raw.isascii():
        return None
    text = raw.decode("ascii").lower()
    if text[0] == "[":
        close = text.find("]")
        literal = text[1:close]
        if close < 0 or "%" in literal:
            return None
        try:
            host = f"[{ipaddress.IPv6Address(literal).compressed}]"
        except ValueError:
            return None
        rest = text[close + 1 :]
    else:
        host, sep, port = text.partition(":")
        rest = sep + port
        if host.endswith("."):
            host = host[:-1]
        if len(host) > 253 or _NAME.fullmatch(host) is None:
            return None
    if not rest:
        return host, None
    digits = rest[1:]
    if rest[0] != ":" or not 0 < len(digits) <= 5 or not digits.isdigit():
        return None
    number = int(digits)
    return (host, number) if number <= 65535 else None


def host_from_text(text: str) -> tuple[str, int | None] | None:
    """:func:`split_host` for configured text: an IDN name becomes its ASCII form first."""
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return split_host(text.encode("ascii"))


def normalize_origin(origin: str) -> str:
    """Return the canonical ``scheme://host[:port]`` form of an origin.

    The scheme and host are lower-cased, an IDN host is converted to its
    ASCII form, a default port (80 for http/ws, 443 for https/wss) and a
    trailing ``/`` are dropped.

    Args:
        origin: e.g. ``"https://Example.com:443/"``.

    Returns:
        e.g. ``"https://example.com"``.

    Raises:
        ValueError: ``origin`` is not a plain origin: no scheme or host, a
            path, query, fragment or user name, a bad port, ``null`` or ``*``.
    """
    text = origin.strip() if isinstance(origin, str) else ""
    if not text or len(text) > _MAX_ORIGIN or any(c in text for c in "?#@\\"):
        raise ValueError(f"not an origin: {origin!r}")
    try:
        parts = urlsplit(text)
    except ValueError:
        raise ValueError(f"not an origin: {origin!r}") from None
    scheme = parts.scheme.lower()
    if not _SCHEME.fullmatch(scheme) or not parts.netloc or parts.path not in ("", "/"):
        raise ValueError(f"not an origin (scheme://host[:port]): {origin!r}")
    parsed = host_from_text(parts.netloc)
    if parsed is None:
        raise ValueError(f"not an origin: {origin!r}")
    return _origin(scheme, *parsed)


def request_origin(request: Request) -> str | None:
    """The request's ``Origin`` header as sent: None if absent, ``""`` if sent twice.

    ``""`` is never an allowed, trusted or same origin, so a repeated header
    is refused wherever an origin has to match.
    """
    found = None
    for name, value in request.asgi_scope.get("headers", ()):
        if name == b"origin":
            if found is not None:
                return ""
            found = value
    return None if found is None else found.decode("latin-1")


def own_origin(request: Request) -> str | None:
    """The request's own origin, ``scheme://host[:port]`` from its scheme and ``Host``.

    ``ws``/``wss`` requests have the ``http``/``https`` origin. Returns None
    when the ``Host`` header is missing or malformed.
    """
    raw = None
    for name, value in request.asgi_scope.get("headers", ()):
        if name == b"host":
            raw = value
            break
    parsed = split_host(raw) if raw else None
    if parsed is None:
        return None
    scheme = request.scheme
    return _origin(_WEB_SCHEMES.get(scheme, scheme), *parsed)


def _origin(scheme: str, host: str, port: int | None) -> str:
    if port is None or port == DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


__all__ = [
    "DEFAULT_PORTS",
    "host_from_text",
    "own_origin",
    "request_origin",
    "split_host",
]
