"""Cross-Origin Resource Sharing: which other origins may read responses, and how.

::

    CORS(app, allowed_origins=["https://app.example.com"], allow_credentials=True)

Origins are compared exactly. The configured ones are normalised once, at
construction (lower case, default port dropped, a trailing ``/`` removed) and
anything that is not a plain ``scheme://host[:port]`` is refused. A request's
``Origin`` header is then looked up as it came: browsers always send the
canonical form, so a header that differs from it in any way (case, a path, a
trailing slash, a second ``Origin`` header) is simply not an allowed origin and
is never echoed.

Preflights (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``)
are answered by the before-hook, before routing can answer 404 or 405, and
nothing else sees them. Every other response, errors included, gets the
actual-request headers from the after-hooks, plus one merged ``Vary: Origin``
whenever the answer depends on the origin.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..datastructures import single_header
from ..exceptions import ConfigurationError, HTTPException
from ..origins import normalize_origin, request_origin
from ..phases import Phase
from ..request import Slot
from ..response import Response

if TYPE_CHECKING:
    from ..app import Junco
    from ..request import Request

#: Request headers a preflight may always name (the Fetch standard's safelisted names).
SAFELISTED_HEADERS = frozenset(
    ("accept", "accept-language", "content-language", "content-type", "range")
)
PREFLIGHT_REFUSAL = "CORS preflight refused"
PREFLIGHT_VARY = ("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VARY_ORIGIN = ((b"vary", b"Origin"),)
_ANSWERED: Slot[bool] = Slot("_junco_cors_preflight")  # the preflight was ours


#: The request's ``Origin`` (see :func:`junco.origins.request_origin`): a repeated
#: header is ``""``, never an allowed origin.
origin_header = request_origin


class CORS:
    """Native middleware adding CORS headers and answering preflights (Microdot's ``CORS``).

    Args:
        app: The app to install on; or call :meth:`init_app` later.
        allowed_origins: The origins allowed to make cross-origin requests
            (``["https://app.example.com"]``), or ``"*"`` for any origin
            (refused together with ``allow_credentials``). None allows none.
        allow_credentials: Let the allowed origins send cookies and HTTP
            authentication (``Access-Control-Allow-Credentials: true``).
        allowed_methods: Methods a preflight may ask for. ``None``: the
            methods the requested path has routes for.
        allowed_headers: Request headers a preflight may ask for, beyond the
            safelisted ``Accept``, ``Accept-Language``, ``Content-Language``,
            ``Content-Type`` and ``Range``. ``["*"]`` allows any. Compared
            case-insensitively.
        expose_headers: Response headers the browser may show to scripts
            (``Access-Control-Expose-Headers``).
        max_age: Seconds a browser may cache a preflight (``Access-Control-Max-Age``).
        handle_cors: Install the hooks. ``False`` only registers the object
            (``app.extensions['cors']``), for :class:`~junco.security.csrf.CSRF` to
            trust its origins, and leaves the headers to the app
            (:meth:`get_cors_headers`).

    Raises:
        ConfigurationError: an origin or header name is malformed, ``null`` is
            listed, or ``"*"`` is combined with ``allow_credentials``.
    """

    #: Cross-origin policy, with CSRF. (Preflights carry no cookies, so the session
    #: phase before it costs them nothing.) Its after-hook runs before the session
    #: commits: its headers still go in as encoded pairs, the cheap way.
    phase = Phase.AUTH

    def __init__(
        self,
        app: Junco | None = None,
        allowed_origins: str | Iterable[str] | None = None,
        allow_credentials: bool = False,
        allowed_methods: Iterable[str] | None = None,
        allowed_headers: Iterable[str] | None = None,
        expose_headers: Iterable[str] | None = None,
        max_age: int | None = None,
        handle_cors: bool = True,
    ) -> None:
        credentials = bool(allow_credentials)
        origins = _origins(allowed_origins)
        if origins == "*" and credentials:
            raise ConfigurationError(
                "CORS cannot allow any origin ('*') with credentials: list the trusted origins"
            )
        expose = None if expose_headers is None else _tokens(expose_headers, "header", True)
        if expose and "*" in expose and credentials:
            raise ConfigurationError("expose_headers='*' means nothing with credentials")
        if max_age is not None and (type(max_age) is not int or max_age < 0):
            raise ConfigurationError("max_age must be a whole number of seconds, or None")
        # Settings are fixed at construction (the headers are precomputed from
        # them): read-only properties and tuples say so. Build a new CORS to change.
        self._allow_credentials = credentials
        self._allowed_origins = origins
        self._origins = frozenset(() if origins == "*" else origins)
        self._allowed_methods = (
            None if allowed_methods is None else _tokens(allowed_methods, "method", upper=True)
        )
        self._allowed_headers = (
            None if allowed_headers is None else _tokens(allowed_headers, "header", True)
        )
        self._expose_headers = expose
        self._max_age = max_age
        self.handle_cors = handle_cors
        self._precompute()
        if app is not None:
            self.init_app(app)

    @property
    def allow_credentials(self) -> bool:
        """Whether the allowed origins may send credentials (read-only)."""
        return self._allow_credentials

    @property
    def allowed_origins(self) -> str | tuple[str, ...]:
        """The allowed origins, normalised, or ``"*"`` (read-only)."""
        return self._allowed_origins

    @property
    def any_origin(self) -> bool:
        """Whether any origin is allowed (``"*"``)."""
        return self._allowed_origins == "*"

    @property
    def origins(self) -> frozenset[str]:
        """The allowed origins as a set (empty for ``"*"``)."""
        return self._origins

    @property
    def allowed_methods(self) -> tuple[str, ...] | None:
        """Methods a preflight may ask for; None: the path's routes decide (read-only)."""
        return self._allowed_methods

    @property
    def allowed_headers(self) -> tuple[str, ...] | None:
        """Request headers a preflight may ask for, beyond the safelisted ones (read-only)."""
        return self._allowed_headers

    @property
    def expose_headers(self) -> tuple[str, ...] | None:
        """Response headers scripts may read (read-only)."""
        return self._expose_headers

    @property
    def max_age(self) -> int | None:
        """Seconds a browser may cache a preflight (read-only)."""
        return self._max_age

    def _precompute(self) -> None:
        extra: list[tuple[str, str]] = []
        if self.allow_credentials:
            extra.append(("Access-Control-Allow-Credentials", "true"))
        preflight = list(extra)
        if self.expose_headers:
            extra.append(("Access-Control-Expose-Headers", ", ".join(self.expose_headers)))
        if self.max_age is not None:
            preflight.append(("Access-Control-Max-Age", str(self.max_age)))
        self._extra = tuple(extra)
        self._raw_extra = tuple((n.lower().encode(), v.encode("latin-1")) for n, v in extra)
        # The actual-request headers, encoded once: for "*", and per allowed
        # origin keyed by the Origin bytes as sent (an exact match, as ``origins``).
        self._raw_any = ((b"access-control-allow-origin", b"*"), *self._raw_extra)
        self._raw_answers = {
            o.encode("latin-1"): (
                (b"vary", b"Origin"),
                (b"access-control-allow-origin", o.encode("latin-1")),
                *self._raw_extra,
            )
            for o in self._origins
        }
        self._preflight_extra = tuple(preflight)
        self._methods = frozenset(self.allowed_methods or ())
        self._methods_value = ", ".join(self.allowed_methods) if self.allowed_methods else None
        headers = self.allowed_headers or ()
        self._any_header = "*" in headers
        self._headers = SAFELISTED_HEADERS | {h.lower() for h in headers}

    # -- setup -------------------------------------------------------------------------

    def init_app(self, app: Junco) -> None:
        """Register on ``app`` (``app.extensions['cors']``) and, with ``handle_cors``, hook in."""
        app.extensions["cors"] = self
        if self.handle_cors:
            app.add_middleware(self)

    def initialize(self, app: Junco, handle_cors: bool = True) -> None:
        """Microdot's spelling of :meth:`init_app`."""
        self.handle_cors = handle_cors
        self.init_app(app)

    def allows_origin(self, origin: str | None) -> bool:
        """Whether ``origin`` (a request's ``Origin`` value, as sent) is allowed."""
        if not origin:  # absent, or sent twice
            return False
        return self.any_origin or origin in self.origins

    # -- hooks -------------------------------------------------------------------------

    def before_request(self, request: Request) -> Response | None:
        """Answer CORS preflights; every other request goes on."""
        if request.method != "OPTIONS":
            return None
        headers = request.headers
        origin = headers.get("origin")
        method = headers.get("access-control-request-method")
        if origin is None or method is None:
            return None  # a plain OPTIONS request: routing answers it
        _ANSWERED.set(request, True)
        cors = self.preflight_headers(request)
        if not cors:
            # Rendered like any error (the app's handler, else junco's renderer).
            vary = {"Vary": ", ".join(PREFLIGHT_VARY)}
            if cors is None:
                raise HTTPException(403, PREFLIGHT_REFUSAL, vary, code="cors_preflight_refused")
            raise HTTPException(404, headers=vary)
        response = Response(status_code=204, headers=cors)
        response.headers.add_vary(*PREFLIGHT_VARY)
        return response

    def after_request(self, request: Request, response: Response) -> None:
        """Add the actual-request headers (and ``Vary: Origin``) to ``response``."""
        if _ANSWERED.is_set(request):
            return
        if response._headers is None and self._after_raw(request, response):
            return
        headers = response.headers
        if self.any_origin:
            # The same answer for every origin: nothing to vary on.
            if "access-control-allow-origin" not in headers:
                headers["Access-Control-Allow-Origin"] = "*"
                for name, value in self._extra:
                    headers[name] = value
            return
        if "vary" in headers:
            headers.add_vary("Origin")
        else:
            headers["Vary"] = "Origin"
        origin = origin_header(request)
        if (
            origin is not None
            and origin in self.origins
            and "access-control-allow-origin" not in headers
        ):
            headers["Access-Control-Allow-Origin"] = origin
            for name, value in self._extra:
                headers[name] = value

    after_error_request = after_request

    def _after_raw(self, request: Request, response: Response) -> bool:
        """:meth:`after_request` on a response whose headers are still encoded pairs.

        Returns False (nothing done) when one of ours is already there.
        """
        extra = response._extra
        if extra is not None:
            for name, _ in extra:
                if name == b"vary" or name == b"access-control-allow-origin":
                    return False
        if self._allowed_origins == "*":
            response._add_raw(self._raw_any)
            return True
        # b"" (sent twice) and None (absent) are no allowed origin.
        origin = single_header(request.asgi_scope, b"origin")
        response._add_raw(self._raw_answers.get(origin, _VARY_ORIGIN) if origin else _VARY_ORIGIN)
        return True

    # -- header computation ------------------------------------------------------------

    def get_cors_headers(self, request: Request) -> dict[str, str]:
        """The CORS headers for ``request``, for apps that add them themselves.

        For a preflight these are the preflight headers (empty if refused);
        otherwise the actual-request headers, with ``Vary`` when the answer
        depends on the origin.
        """
        headers = request.headers
        if request.method == "OPTIONS" and "access-control-request-method" in headers:
            return self.preflight_headers(request) or {}
        out: dict[str, str] = {}
        if self.any_origin:
            out["Access-Control-Allow-Origin"] = "*"
        else:
            out["Vary"] = "Origin"
            origin = origin_header(request)
            if origin is None or origin not in self.origins:
                return out
            out["Access-Control-Allow-Origin"] = origin
        out.update(self._extra)
        return out

    def preflight_headers(self, request: Request) -> dict[str, str] | None:
        """The headers answering a preflight: None if refused, ``{}`` if no such path.

        Refused: an origin not allowed, a method not allowed (or with no
        route at the path), or a requested header not allowed.
        """
        headers = request.headers
        origin = origin_header(request)
        if not self.allows_origin(origin):
            return None
        method = headers.get("access-control-request-method", "")
        if not _TOKEN.fullmatch(method) or (self._methods and method not in self._methods):
            return None
        match = request.app.router.match(method, request.path)
        if match.route is None:
            found = bool(match.allow) or match.redirect is not None or match.foreign is not None
            return None if found else {}
        requested = ", ".join(headers.getlist("access-control-request-headers"))
        names = self._requested_headers(requested)
        if names is None:
            return None
        out = {
            "Access-Control-Allow-Origin": "*" if self.any_origin else str(origin),
            "Access-Control-Allow-Methods": self._methods_value or method,
        }
        if names:
            out["Access-Control-Allow-Headers"] = ", ".join(names)
        out.update(self._preflight_extra)
        return out

    def _requested_headers(self, value: str) -> list[str] | None:
        """The lower-cased names a preflight asks for; None if one is not allowed."""
        names: list[str] = []
        for item in value.split(","):
            name = item.strip().lower()
            if not name:
                continue
            if not _TOKEN.fullmatch(name):
                return None
            if not self._any_header and name not in self._headers:
                return None
            if name not in names:
                names.append(name)
        return names


def _origins(value: str | Iterable[str] | None) -> str | tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ConfigurationError(f"origins are strings, not {item!r}")
        text = item.strip()
        if text == "*":
            if len(items) > 1:
                raise ConfigurationError("'*' allows any origin: list no others with it")
            return "*"
        if text.lower() == "null":
            raise ConfigurationError(
                "the 'null' origin is shared by sandboxed frames, file: pages and "
                "redirects: it cannot be trusted"
            )
        try:
            origin = normalize_origin(text)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        if origin not in out:
            out.append(origin)
    return tuple(out)


def _tokens(
    values: Iterable[str], what: str, wildcard: bool = False, upper: bool = False
) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        text = value.strip() if isinstance(value, str) else ""
        if not _TOKEN.fullmatch(text) or (text == "*" and not wildcard):
            raise ConfigurationError(f"invalid {what} name: {value!r}")
        text = text.upper() if upper else text
        if text.lower() not in (t.lower() for t in out):
            out.append(text)
    return tuple(out)


__all__ = ["CORS", "PREFLIGHT_REFUSAL", "SAFELISTED_HEADERS", "normalize_origin", "origin_header"]
