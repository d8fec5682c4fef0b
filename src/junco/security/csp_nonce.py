"""Per-request CSP nonces for inline ``<script>`` (and optionally ``<style>``) elements.

::

    SecurityHeaders(app)
    CSPNonce(app)

    @app.get("/")
    async def index(request):
        return f"<script nonce='{csp_nonce()}'>go()</script>", {"Content-Type": "text/html"}

The nonce is made lazily: the first ``csp_nonce()`` call of a request draws
16 random bytes and stores them, URL-safe base64, as ``request.csp_nonce``;
later calls return the same value. Responses whose handler never asked for
one carry no nonce, so JSON and plain pages cost nothing. A streamed response
(a template rendered while it is sent, say) gets a nonce before its headers
go out even if nothing asked yet, since the body is produced afterwards.

The after hook merges ``'nonce-…'`` into the ``Content-Security-Policy`` of
the response, whichever middleware set it, and never weakens it:

- an existing ``script-src`` gets the nonce appended (and ``script-src-elem``
  too, when present); an explicit ``'none'`` is left as it is;
- no ``script-src``: one is added with ``default-src``'s sources (or
  ``'self'`` when there is no ``default-src`` either) plus the nonce.

The order of registration does not matter: :class:`CSPNonce` is in the
``TRANSPORT`` phase (:mod:`junco.phases`), so its after-hook runs after those
of ``SecurityHeaders`` (``GUARD``) and of the app (``HTMLInject``, handlers'
hooks): the policy is complete, and every nonce drawn, when it merges. A
response with no policy at all gets ``script-src 'self' 'nonce-…'``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .._random import random_token
from ..exceptions import ConfigurationError
from ..phases import Phase
from ..request import CSP_NONCE, current_request

if TYPE_CHECKING:
    from ..request import Request
    from ..response import Response

_PLACEHOLDER = "\x00"  # never in a header value: safe to substitute
_CSP = "content-security-policy"
_CSP_REPORT_ONLY = "content-security-policy-report-only"
_CSP_RAW = _CSP.encode()
_CSP_REPORT_ONLY_RAW = _CSP_REPORT_ONLY.encode()
_DIRECTIVES = frozenset(("script-src", "style-src"))


def csp_nonce(request: Request | None = None) -> str:
    """The CSP nonce of ``request`` (default: the current one), made on first use.

    Use it in handlers and, as ``{{ csp_nonce() }}``, in templates.

    Raises:
        RuntimeError: no request given and none is being handled.
    """
    if request is None:
        request = current_request()
    nonce = CSP_NONCE.get(request)
    if nonce is None:
        nonce = CSP_NONCE.set(request, random_token())
    return nonce


def merge_nonce(policy: str, nonce: str, directives: tuple[str, ...]) -> str:
    """``policy`` with ``'nonce-<nonce>'`` allowed in each of ``directives``.

    Args:
        policy: A ``Content-Security-Policy`` value (may be empty).
        nonce: The nonce, as :func:`csp_nonce` returns it.
        directives: ``("script-src",)`` or ``("script-src", "style-src")``.
    """
    return _template(policy, directives).replace(_PLACEHOLDER, nonce)


@lru_cache(maxsize=128)
def _template(policy: str, directives: tuple[str, ...]) -> str:
    """The merged policy with a placeholder for the nonce (parsed once per policy)."""
    parts = [p.strip() for p in policy.split(";") if p.strip()]
    index: dict[str, int] = {}
    for i, part in enumerate(parts):
        index.setdefault(part.split(None, 1)[0].lower(), i)  # the first one counts
    token = f"'nonce-{_PLACEHOLDER}'"
    for directive in directives:
        for name in (directive, directive + "-elem"):
            at = index.get(name)
            if at is not None and _sources(parts[at]) != ["'none'"]:
                parts[at] += " " + token
        if directive not in index:
            default = index.get("default-src")
            sources = _sources(parts[default]) if default is not None else ["'self'"]
            if sources == ["'none'"]:
                sources = []
            parts.append(" ".join([directive, *sources, token]))
    return "; ".join(parts)


@lru_cache(maxsize=128)
def _raw_template(policy: bytes, directives: tuple[str, ...]) -> bytes:
    """:func:`_template` for an encoded policy."""
    return _template(policy.decode("latin-1"), directives).encode("latin-1")


def _sources(part: str) -> list[str]:
    return [s.lower() if s.lower() == "'none'" else s for s in part.split()[1:]]


class CSPNonce:
    """Native middleware merging the request's nonce into its response's CSP.

    Args:
        app: The app to install on; ``csp_nonce`` also becomes a global of its
            templates. (With ``app.add_middleware(CSPNonce())`` register the
            global yourself: ``add_template_global(app, "csp_nonce", csp_nonce)``.)
        directive: The directive the nonce goes into: ``"script-src"`` or ``"style-src"``.
        style: Also add the nonce to ``style-src``.

    Raises:
        ValueError: an unknown directive.
    """

    #: Its after-hook runs after those of every later phase: SecurityHeaders (GUARD) has
    #: set the policy, and app hooks (HTMLInject) have drawn any nonce, before it merges.
    phase = Phase.TRANSPORT

    def __init__(self, app: Any = None, *, directive: str = "script-src", style: bool = False):
        directive = directive.strip().lower()
        if directive not in _DIRECTIVES:
            raise ConfigurationError(
                f"directive must be 'script-src' or 'style-src', not {directive!r}"
            )
        names = [directive]
        if style and "style-src" not in names:
            names.append("style-src")
        self.directives: tuple[str, ...] = tuple(names)
        # (policy bytes, directives, template) of the last merge into raw pairs.
        self._last: tuple[bytes | None, tuple[str, ...], bytes] = (None, (), b"")
        if app is not None:
            if not hasattr(app, "add_middleware"):
                raise ConfigurationError("the first argument is the app; pass settings by keyword")
            app.add_middleware(self)
            _add_template_global(app)

    def after_request(self, request: Request, response: Response) -> None:
        """Put the nonce (if this request made one) into the response's policy."""
        nonce = CSP_NONCE.get(request)
        if nonce is None:
            if response.body_iter is None:
                return
            nonce = csp_nonce(request)  # the body is rendered after the headers are sent
        if response._headers is None and self._merge_raw(request, response, nonce):
            return
        d = response.headers._data()
        current = d.get(_CSP)
        if current is None:
            d[_CSP] = [merge_nonce("", nonce, self.directives)]
        else:
            d[_CSP] = self._merged(current, nonce)
        report_only = d.get(_CSP_REPORT_ONLY)
        if report_only is not None:
            d[_CSP_REPORT_ONLY] = self._merged(report_only, nonce)

    after_error_request = after_request

    def _merge_raw(self, request: Request, response: Response, nonce: str) -> bool:
        """The same on a response with only encoded pairs (False: let the general path do it)."""
        extra = response._extra
        at = -1
        if extra is not None:
            for i, (name, _) in enumerate(extra):
                if name == _CSP_RAW:
                    if at >= 0:
                        return False  # several policies
                    at = i
                elif name == _CSP_REPORT_ONLY_RAW:
                    return False
        if at < 0:
            value = merge_nonce("", nonce, self.directives)
            response._add_raw(((_CSP_RAW, value.encode("latin-1")),))
            return True
        assert extra is not None
        policy = extra[at][1]
        raw_nonce = nonce.encode("latin-1")
        last = self._last
        if last[0] is policy and last[1] == self.directives:
            # The same policy object as before (SecurityHeaders' constant one),
            # so it cannot hold this request's nonce yet: no search, no lookup.
            extra[at] = (_CSP_RAW, last[2].replace(b"\x00", raw_nonce))
        elif b"'nonce-" + raw_nonce + b"'" not in policy:
            template = _raw_template(policy, self.directives)
            self._last = (policy, self.directives, template)
            extra[at] = (
                _CSP_RAW,
                template.replace(b"\x00", raw_nonce),
            )
        return True

    def _merged(self, values: list[str], nonce: str) -> list[str]:
        marker = f"'nonce-{nonce}'"
        return [v if marker in v else merge_nonce(v, nonce, self.directives) for v in values]


def _add_template_global(app: Any) -> None:
    from ..templating import add_template_global  # (Jinja2 itself is not needed for this)

    add_template_global(app, "csp_nonce", csp_nonce)


__all__ = ["CSPNonce", "csp_nonce", "merge_nonce"]
