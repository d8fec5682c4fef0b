"""Deciding whether a URL taken from a request is safe to redirect to.

A login form's ``next`` parameter, a ``return_to`` field, a ``Referer``: any
URL that came from a client may point off-site (an open redirect, the start
of many phishing and OAuth token-theft chains). :func:`is_safe_url` accepts
only relative references and absolute http(s) URLs on hosts the caller
trusts, and refuses anything a browser could read differently from Python's
``urlsplit``.

The rules follow Django's ``url_has_allowed_host_and_scheme`` and go a little
further: the URL is refused, rather than trimmed, when it has surrounding
whitespace; control and format characters are refused anywhere (browsers
silently drop tabs and newlines inside URLs); userinfo (``user@host``) is
never accepted; and the URL must also pass once backslashes are read as
slashes (as browsers do) and once Unicode compatibility forms are folded
(two fullwidth solidi, U+FF0F, become ``//``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from urllib.parse import urlsplit

#: URLs longer than this are refused outright (no browser sends them as ``next``).
MAX_URL_LENGTH = 4096


def is_safe_url(
    url: str | None,
    allowed_hosts: str | Iterable[str] | None = None,
    require_https: bool = False,
) -> bool:
    """Whether redirecting to ``url`` keeps the user on a trusted site.

    Relative references (``/account``, ``page?x=1``) are safe. An absolute
    or scheme-relative URL (``//host/path``) is safe only when its scheme is
    http or https and its host (with the port, if it has one) is one of
    ``allowed_hosts``, compared case-insensitively.

    Args:
        url: The candidate URL, typically from the query string or a form.
        allowed_hosts: Host names (``"example.com"``, ``"example.com:8443"``)
            that absolute URLs may point to; ``None`` allows relative URLs only.
        require_https: Refuse absolute ``http://`` (and scheme-relative) URLs.

    Returns:
        ``True`` when the redirect is safe; ``False`` for anything else,
        including ``None``, the empty string and values that are not strings.
    """
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        return False
    if url[0].isspace() or url[-1].isspace() or not _printable(url):
        return False
    if isinstance(allowed_hosts, str):
        hosts = {allowed_hosts.lower()}
    else:
        hosts = {h.lower() for h in allowed_hosts or ()}
    folded = unicodedata.normalize("NFKC", url)
    candidates = {url, url.replace("\\", "/"), folded, folded.replace("\\", "/")}
    return all(_check(candidate, hosts, require_https) for candidate in candidates)


def _printable(url: str) -> bool:
    """No control, format, unassigned or line-breaking characters, no odd spaces."""
    if url.isascii():
        return url.isprintable()
    for c in url:
        if c == " ":
            continue
        category = unicodedata.category(c)
        if category[0] == "C" or category in ("Zl", "Zp") or c.isspace():
            return False
    return True


def _check(url: str, hosts: set[str], require_https: bool) -> bool:
    # Browsers read three or more leading slashes as "//" plus a host.
    if url.startswith("///"):
        return False
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        scheme = parts.scheme.lower()
        # Parsing the port validates it (a non-number raises ValueError).
        _ = parts.port
    except ValueError:
        return False
    if scheme and not netloc:
        # javascript:..., data:..., mailto:..., and http:evil.example or
        # http:/evil.example, which browsers complete with a host.
        return False
    if not netloc:
        return not scheme
    if "@" in netloc or not netloc.isascii():
        return False
    if netloc.lower() not in hosts:
        return False
    allowed_schemes = ("https",) if require_https else ("http", "https")
    return (scheme or "http") in allowed_schemes


__all__ = ["MAX_URL_LENGTH", "is_safe_url"]
