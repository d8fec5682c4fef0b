"""The canonical-path decision, the redirects junco makes, and a safe directory join.

Everything that decides by path (the router, static files, the rate limiter,
CSRF exemptions, auth exclusions, the audit trail) must see the same path, or
a request can be allowed by one layer and routed differently by another
(``/admin/..%2fwebhooks``, ``/admin//..//../webhooks/x``). So the dispatcher
asks :func:`path_problem` once per request, before routing, and answers 400
to any path that is not already canonical; it never rewrites one. What is
left in ``request.path`` is then the one path every layer reads, and no layer
parses it again. Canonical means: it starts with ``/``; no ``.`` or ``..``
segment (whether sent plain or as ``%2e``); no empty segment (``//``) except a
final one (``/guide/`` differs from ``/guide``, see the trailing-slash
redirect); no backslash, plain or encoded; no encoded ``/`` (``%2f``), which
would hide a segment boundary; no control character.

These functions are pure: strings in, strings out, no filesystem access, no
percent-decoding (the server decoded ``path`` once already; decoding again
would turn ``%252e`` into ``.``); only ``raw_path``, the bytes as sent, is
searched for encoded separators.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from .exceptions import HTTPException
from .response import Response

if TYPE_CHECKING:
    from .request import Request
    from .types import Scope

_SEPARATORS = tuple(s for s in {"/", "\\", os.sep, os.altsep} if s)
_ENCODED_SEPARATOR = re.compile(rb"%(?:2f|5c)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LONE_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")
# RFC 3986: what may stand unencoded in a path (pchar, "/") and in a query (pchar, "/", "?").
_PATH_SAFE = "/!$&'()*+,;=:@-._~"
_QUERY_SAFE = _PATH_SAFE + "?%"


def path_problem(path: str, raw_path: bytes | None = None) -> str | None:
    """Why a request path is not canonical, or ``None`` when it is.

    See the module docstring for what canonical means. The common case (a
    short printable path with no ``/.``, ``//``, ``\\`` or ``%``) costs a few
    C-level scans.

    Args:
        path: The decoded path (``request.path``: ``scope["path"]`` less ``root_path``).
        raw_path: ``scope["raw_path"]``, the path as sent, when the server gives it;
            only there can ``%2f`` and ``%5c`` be told from ``/`` and ``\\``.

    Returns:
        A short reason for a 400 (fixed text, never the path itself), or ``None``.
    """
    # 37 is "%": an int membership test is a plain memchr (b"%" uses the buffer API).
    if raw_path and 37 in raw_path and _ENCODED_SEPARATOR.search(raw_path.partition(b"?")[0]):
        return "encoded '/' or '\\' in the path"
    if not path.startswith("/"):
        return "the path must start with '/'"
    if "//" in path:
        return "empty segment ('//') in the path"
    if "/." in path and _has_dot_segment(path):
        return "'.' or '..' segment in the path"
    if "\\" in path:
        return "backslash in the path"
    if not path.isprintable() and _CONTROL.search(path):
        return "invalid character in path"
    return None


def _has_dot_segment(path: str) -> bool:
    return any(segment == "." or segment == ".." for segment in path.split("/"))


def app_path(scope: Scope) -> str:
    """``scope["path"]`` less ``root_path``: the path the app routes (``request.path``)."""
    path: str = scope["path"]
    root = scope.get("root_path")
    return strip_root(path, root) if root else path


def strip_root(path: str, root: str) -> str:
    """``path`` less the prefix ``root`` (an ASGI ``root_path``), by whole segments.

    ``/api`` is stripped from ``/api`` and ``/api/x``, never from ``/apifoo``:
    that path is not below the mount point, and is returned unchanged (as is
    any path that does not start with ``root``; some servers leave the prefix
    out of ``path``). A ``root`` with a trailing slash counts as without it.
    """
    base = root.rstrip("/")
    if not base or not path.startswith(base):
        return path
    rest = path[len(base) :]
    if not rest:
        return "/"
    return rest if rest[0] == "/" else path


def check_path(path: str, raw_path: bytes | None = None) -> None:
    """Raise a 400 unless ``path`` is canonical (see :func:`path_problem`).

    Raises:
        HTTPException: 400, with the reason as its text.
    """
    problem = path_problem(path, raw_path)
    if problem is not None:
        raise HTTPException(400, problem)


def redirect_location(path: str, query_string: bytes = b"") -> str:
    """A ``Location`` value for a decoded ``path`` plus a raw query string.

    The path is percent-encoded (``%`` too, so it round-trips); the query is
    kept as the client sent it where that is valid, and every byte that may
    not stand in a URL (controls, spaces, raw UTF-8, ``#``, a ``%`` not
    followed by two hex digits) is percent-encoded, so nothing is encoded
    twice and the header value is always plain printable ASCII. A path that
    would start with ``//`` (another host, to a browser) keeps one slash.
    """
    location = quote(path, safe=_PATH_SAFE)
    if location.startswith("//"):
        location = "/" + location.lstrip("/")
    if query_string:
        location += "?" + quote(_LONE_PERCENT.sub(b"%25", query_string), safe=_QUERY_SAFE)
    return location


def slash_redirect(request: Request, path: str) -> Response:
    """The 308 that sends a client to ``path``, keeping its query string.

    The one redirect junco makes on its own: the router's trailing-slash
    redirect and :class:`~junco.staticfiles.StaticFiles`' directory redirect
    both use it, so both encode the same way (:func:`redirect_location`).

    Args:
        request: The request being redirected (its query string is kept).
        path: The decoded target path, ``root_path`` included.
    """
    query = request.asgi_scope.get("query_string", b"")
    return Response.redirect(redirect_location(path, query), 308)


def normalize_path(path: str) -> str:
    """Return the canonical form of a path given in configuration.

    For paths an app is configured with (CSRF exempt paths, rate-limit rules,
    a static prefix). Request paths are never normalised: a request whose path
    is not canonical is refused with 400 before routing (:func:`path_problem`).

    Duplicate slashes collapse, ``.`` segments vanish, ``..`` removes the
    segment before it but never climbs above the root, and a trailing slash
    is dropped (``"/"`` stays ``"/"``). The result always starts with ``/``.
    Backslashes are ordinary characters here: in a URL they separate nothing.

    Args:
        path: A decoded URL path.

    Returns:
        The normalised path; ``normalize_path(normalize_path(p)) == normalize_path(p)``.

    Raises:
        HTTPException: 400 when the path contains NUL, CR or LF.
    """
    if "\x00" in path or "\r" in path or "\n" in path:
        raise HTTPException(400, "invalid character in path")
    if (
        path.startswith("/")
        and "//" not in path
        and "/." not in path
        and (len(path) == 1 or not path.endswith("/"))
    ):
        return path  # already canonical: the common case costs a few scans
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "" or segment == ".":
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return "/" + "/".join(segments)


def is_under(path: str, prefix: str) -> bool:
    """Whether normalised ``path`` is ``prefix`` itself or lies below it.

    Compares whole segments, so ``/static-secret`` is not under ``/static``.
    Both arguments are normalised first.

    Raises:
        HTTPException: 400 when either contains NUL, CR or LF.
    """
    path = normalize_path(path)
    prefix = normalize_path(prefix)
    if prefix == "/":
        return True
    return path == prefix or path.startswith(prefix + "/")


def url_segments(relative: str) -> list[str] | None:
    """Split a decoded URL path into file name segments, or ``None`` if any is unsafe.

    Empty and ``.`` segments are skipped. A segment is unsafe if it is ``..``,
    contains a backslash or another path separator, a colon (drive letters such
    as ``C:``, NTFS streams), NUL or any other control character.
    """
    segments: list[str] = []
    for segment in relative.split("/"):
        if segment == "" or segment == ".":
            continue
        if segment == ".." or ":" in segment:
            return None
        if any(sep in segment for sep in _SEPARATORS):
            return None
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in segment):
            return None
        segments.append(segment)
    return segments


def safe_join(root: str | os.PathLike[str], relative: str) -> Path | None:
    """Join a decoded URL path below ``root`` without ever leaving it.

    Nothing is resolved or decoded: a path with a ``..`` segment, a
    separator other than ``/``, a drive letter or a control character is
    refused outright rather than repaired. The check is lexical; symbolic
    links are the caller's business (see :class:`junco.staticfiles.StaticFiles`).

    Args:
        root: The directory everything must stay in.
        relative: The decoded URL path below it (a leading ``/`` is fine).

    Returns:
        ``root`` joined with the path's segments, or ``None`` if the path is unsafe.
    """
    segments = url_segments(relative)
    if segments is None:
        return None
    base = Path(root)
    candidate = base.joinpath(*segments)
    # Belt and braces: no segment can be absolute or climb, but prove it.
    if not candidate.is_relative_to(base):  # pragma: no cover - unreachable by construction
        return None
    return candidate


__all__ = [
    "app_path",
    "check_path",
    "is_under",
    "normalize_path",
    "path_problem",
    "redirect_location",
    "safe_join",
    "slash_redirect",
    "strip_root",
    "url_segments",
]
