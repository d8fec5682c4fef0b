"""Insert a snippet (analytics, a live-reload script, a banner) into every HTML page.

::

    CSPNonce(app)
    HTMLInject('<script src="/static/reload.js"></script>', app)

The snippet goes in front of the *last* ``</body>`` (matched case-insensitively;
``before`` picks another marker), so a ``</body>`` quoted earlier in a page
cannot pull it up. Only responses that can be rewritten safely are touched:
a buffered body (not streamed, not a file), ``Content-Type: text/html`` in an
ASCII-compatible charset, no ``Content-Encoding``, no ``Content-Range``, a
status that carries a body. A page without the marker is left alone unless
``append_if_missing=True``: HTML fragments (htmx, Turbo) have no ``</body>``
and injecting a script into every fragment would run it again at each swap.

When the app has a :class:`~junco.security.CSPNonce`, each ``<script`` and
``<style`` tag of the snippet that has no ``nonce`` gets the request's nonce,
and the nonce is merged into the response's policy, so the snippet runs under
a strict ``Content-Security-Policy``. ``Content-Length`` is recomputed when
sending; if the handler set one explicitly it is corrected.
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError
from .csp_nonce import CSPNonce, csp_nonce

if TYPE_CHECKING:
    from ..request import Request
    from ..response import Response

_TAG = re.compile(r"<(script|style)\b[^>]*>", re.IGNORECASE)
_HAS_NONCE = re.compile(r"\snonce\s*=", re.IGNORECASE)


class HTMLInject:
    """Native middleware inserting ``snippet`` into HTML responses.

    Args:
        snippet: The HTML to insert.
        app: The app to install on; or add it later with ``app.add_middleware``.
        before: The marker the snippet goes in front of (its last occurrence).
        append_if_missing: Append the snippet to pages without the marker.

    Raises:
        ValueError: ``before`` is empty or not ASCII.
    """

    def __init__(
        self,
        snippet: str,
        app: Any = None,
        before: str = "</body>",
        *,
        append_if_missing: bool = False,
    ) -> None:
        if not before or not before.isascii():
            raise ConfigurationError("before must be a non-empty ASCII marker such as '</body>'")
        self.snippet = snippet
        self.before = before
        self.append_if_missing = append_if_missing
        self._marker = before.lower().encode("ascii")
        # The snippet split where a nonce attribute goes: parts[0] + n + parts[1] + n + ...
        self._parts: list[str] = []
        pos = 0
        for m in _TAG.finditer(snippet):
            if _HAS_NONCE.search(m.group(0)) is None:
                at = m.start() + 1 + len(m.group(1))
                self._parts.append(snippet[pos:at])
                pos = at
        self._parts.append(snippet[pos:])
        if app is not None:
            if not hasattr(app, "add_middleware"):
                raise ConfigurationError("the first argument is the snippet, the second the app")
            app.add_middleware(self)

    def after_request(self, request: Request, response: Response) -> None:
        """Insert the snippet if ``response`` is a buffered HTML page."""
        charset = self._html_charset(request, response)
        if charset is None:
            return
        body = response.body
        at = body.lower().rfind(self._marker)
        if at < 0:
            if not self.append_if_missing:
                return
            at = len(body)
        data = self._render(request, response).encode(charset, "xmlcharrefreplace")
        response.body = body[:at] + data + body[at:]
        headers = response.headers
        if "content-length" in headers:
            headers["Content-Length"] = str(len(response.body))

    after_error_request = after_request

    def _html_charset(self, request: Request, response: Response) -> str | None:
        """The body's charset if the snippet may go in, else None."""
        status = response.status_code
        if response.body_iter is not None or status < 200 or status in (204, 304):
            return None
        headers = response.headers
        if headers.get("content-encoding", "identity").strip().lower() != "identity":
            return None
        if "content-range" in headers:
            return None
        ctype = headers.get("content-type") or request.app.default_content_type
        mime, _, params = ctype.partition(";")
        if mime.strip().lower() != "text/html":
            return None
        charset = "utf-8"
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                charset = value.strip().strip('"').lower()
        return charset if _ascii_compatible(charset) else None

    def _render(self, request: Request, response: Response) -> str:
        parts = self._parts
        if len(parts) == 1:
            return parts[0]
        nonce_hook = _csp_nonce_hook(request)
        if nonce_hook is None:
            return "".join(parts)
        # The nonce may be new: CSPNonce merges it into the policy after this, its
        # phase (TRANSPORT) being outside ours (APP), whichever was added first.
        return f' nonce="{csp_nonce(request)}"'.join(parts)


def _csp_nonce_hook(request: Request) -> CSPNonce | None:
    apps = [request.app]
    if request.subapp is not None:
        apps.append(request.subapp)
    for app in apps:
        for middleware in app.middleware:
            if isinstance(middleware, CSPNonce):
                return middleware
    return None


@lru_cache(maxsize=32)
def _ascii_compatible(charset: str) -> bool:
    try:
        codecs.lookup(charset)
        return "</body>".encode(charset) == b"</body>"
    except (LookupError, UnicodeError):
        return False


__all__ = ["HTMLInject"]
