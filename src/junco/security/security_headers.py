"""Security headers on every response: CSP, HSTS, framing, sniffing, referrer, features.

::

    SecurityHeaders(app)                                   # the defaults
    SecurityHeaders(app, frame_options="SAMEORIGIN", hsts_preload=True)
    SecurityHeaders(app, content_security_policy=None)     # no CSP at all

Every value is checked and turned into a header once, at construction. Per
response the hook only copies the missing headers in: a header the handler (or
an error handler) already set is left alone. The hook is registered for errors
too, so a 404, 413 or 500 gets the same headers as a 200.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..datastructures import Headers
from ..exceptions import ConfigurationError
from ..phases import Phase

if TYPE_CHECKING:
    from ..request import Request
    from ..response import Response

DEFAULT_CSP = "default-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'self'"
DEFAULT_PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
_REFERRER_POLICIES = frozenset(
    (
        "no-referrer",
        "no-referrer-when-downgrade",
        "origin",
        "origin-when-cross-origin",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    )
)
_SECURE_SCHEMES = frozenset(("https", "wss"))
_PRELOAD_MIN_AGE = 31536000  # one year: the hstspreload.org requirement
_CSP = "content-security-policy"
_HSTS = "strict-transport-security"
_CSP_RAW = _CSP.encode()
_HSTS_RAW = _HSTS.encode()


class SecurityHeaders:
    """Native middleware adding security headers to every response, errors included.

    Pass ``None`` (or ``False``) for any header to leave it out.

    Args:
        app: The app to install on (``app.add_middleware(self)``); or add it later.
        content_security_policy: The ``Content-Security-Policy`` value.
        hsts: Send ``Strict-Transport-Security`` on https requests (``request.scheme``,
            which :class:`~junco.security.proxy.ProxyHeaders` sets behind a proxy).
        hsts_max_age: HSTS ``max-age`` in seconds (two years by default).
        hsts_include_subdomains: Add ``includeSubDomains``.
        hsts_preload: Add ``preload`` (needs ``includeSubDomains`` and a year or more).
        frame_options: ``X-Frame-Options``: ``"DENY"`` or ``"SAMEORIGIN"``.
        referrer_policy: ``Referrer-Policy`` (one policy or a comma-separated fallback list).
        permissions_policy: ``Permissions-Policy``; by default camera, microphone,
            geolocation, payment and USB are switched off.
        cross_origin_opener_policy: ``Cross-Origin-Opener-Policy``.
        content_type_options: Send ``X-Content-Type-Options: nosniff``.
        extra: More headers to add the same way (``{"Cross-Origin-Resource-Policy":
            "same-origin"}``).

    Raises:
        ValueError: a value is not valid for its header (or contains CR/LF).
    """

    #: Inside TRANSPORT: CSPNonce's after-hook finds the complete policy to merge into.
    phase = Phase.GUARD

    def __init__(
        self,
        app: Any = None,
        *,
        content_security_policy: str | None = DEFAULT_CSP,
        hsts: bool = True,
        hsts_max_age: int = 63072000,
        hsts_include_subdomains: bool = True,
        hsts_preload: bool = False,
        frame_options: str | None = "DENY",
        referrer_policy: str | None = "strict-origin-when-cross-origin",
        permissions_policy: str | None = DEFAULT_PERMISSIONS_POLICY,
        cross_origin_opener_policy: str | None = "same-origin",
        content_type_options: bool = True,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        pairs: dict[str, str] = {}
        if content_type_options:
            pairs["X-Content-Type-Options"] = "nosniff"
        if frame_options:
            pairs["X-Frame-Options"] = _frame_options(frame_options)
        if referrer_policy:
            pairs["Referrer-Policy"] = _referrer_policy(referrer_policy)
        if permissions_policy:
            pairs["Permissions-Policy"] = permissions_policy
        if cross_origin_opener_policy:
            pairs["Cross-Origin-Opener-Policy"] = cross_origin_opener_policy
        checked = Headers()  # refuses bad names, CR, LF, NUL and non-latin-1 values
        for name, value in [*pairs.items(), *(extra or {}).items()]:
            checked[name] = value  # so extra replaces a default, whatever its case
        if _CSP in checked or _HSTS in checked:
            raise ConfigurationError("set CSP and HSTS with their own arguments, not in extra")
        self._pairs: tuple[tuple[str, str], ...] = tuple(checked.items())
        self._csp: str | None = None
        self._hsts: str | None = None
        self.content_security_policy = content_security_policy or None
        if hsts:
            self.hsts = _hsts_value(hsts_max_age, hsts_include_subdomains, hsts_preload)
        if app is not None:
            if not hasattr(app, "add_middleware"):
                raise ConfigurationError("the first argument is the app; pass settings by keyword")
            app.add_middleware(self)

    @property
    def content_security_policy(self) -> str | None:
        """The ``Content-Security-Policy`` value (None: none is sent)."""
        return self._csp

    @content_security_policy.setter
    def content_security_policy(self, value: str | None) -> None:
        self._csp = Headers({_CSP: value})[_CSP] if value else None  # checked as a header
        self._encode()

    @property
    def hsts(self) -> str | None:
        """The ``Strict-Transport-Security`` value sent on https (None: not sent)."""
        return self._hsts

    @hsts.setter
    def hsts(self, value: str | None) -> None:
        self._hsts = Headers({_HSTS: value})[_HSTS] if value else None
        self._encode()

    def _encode(self) -> None:
        """Encode the headers once, for responses whose headers are still raw pairs."""
        raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in self._pairs]
        if self._csp is not None:
            raw.append((_CSP_RAW, self._csp.encode("latin-1")))
        self._raw = tuple(raw)
        self._raw_hsts = None if self._hsts is None else self._hsts.encode("latin-1")

    @property
    def headers(self) -> dict[str, str]:
        """The headers added to every response (HSTS only on https)."""
        out = dict(self._pairs)
        if self.content_security_policy:
            out[_CSP] = self.content_security_policy
        if self.hsts:
            out[_HSTS] = self.hsts
        return out

    def after_request(self, request: Request, response: Response) -> None:
        """Add the missing headers to ``response`` (a successful one or an error)."""
        if response._headers is None:
            # Still encoded pairs: append ours, encoded at construction. The
            # pairs added before us (CORS, sessions, request ids) are never
            # ours: CSPNonce, the one that writes a policy, runs after this.
            response._add_raw(self._raw)  # (a no-op on the shared already_handled)
            if self._raw_hsts is not None and request.asgi_scope.get("scheme") in _SECURE_SCHEMES:
                response._add_raw(((_HSTS_RAW, self._raw_hsts),))
            return
        # Straight into the Headers dict: the names are lower-cased and the
        # values were checked once, at construction.
        d = response.headers._data()
        for name, value in self._pairs:
            if name not in d:
                d[name] = [value]
        csp = self.content_security_policy
        if csp is not None and _CSP not in d:
            # CSPNonce (TRANSPORT) runs after this: it merges its nonce into this policy.
            d[_CSP] = [csp]
        if self.hsts is not None and _HSTS not in d and request.scheme in _SECURE_SCHEMES:
            d[_HSTS] = [self.hsts]

    after_error_request = after_request


def _frame_options(value: str) -> str:
    upper = value.strip().upper()
    if upper not in ("DENY", "SAMEORIGIN"):
        raise ConfigurationError(f"frame_options must be 'DENY' or 'SAMEORIGIN', not {value!r}")
    return upper


def _referrer_policy(value: str) -> str:
    tokens = [t.strip().lower() for t in value.split(",")]
    for token in tokens:
        if token not in _REFERRER_POLICIES:
            raise ConfigurationError(f"unknown Referrer-Policy {token!r}")
    return ", ".join(tokens)


def _hsts_value(max_age: int, include_subdomains: bool, preload: bool) -> str:
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
        raise ConfigurationError("hsts_max_age must be a non-negative number of seconds")
    if preload and (not include_subdomains or max_age < _PRELOAD_MIN_AGE):
        raise ConfigurationError(
            "hsts_preload needs hsts_include_subdomains=True and hsts_max_age of a year or more"
        )
    value = f"max-age={max_age}"
    if include_subdomains:
        value += "; includeSubDomains"
    if preload:
        value += "; preload"
    return value


__all__ = ["DEFAULT_CSP", "DEFAULT_PERMISSIONS_POLICY", "SecurityHeaders"]
