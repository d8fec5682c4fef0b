"""Cross-site request forgery protection: Fetch Metadata and Origin checks, optional tokens.

::

    cors = CORS(app, allowed_origins=["https://app.example.com"])
    csrf = CSRF(app, cors)                      # Microdot's call

    @app.post("/webhook")
    @csrf.exempt
    async def webhook(request): ...

Theory of operation
-------------------
The check follows Go 1.25's ``CrossOriginProtection``. A request with a safe
method (GET, HEAD, OPTIONS, TRACE) passes. For any other method:

1. ``Sec-Fetch-Site`` (sent by every browser since 2023, to https and
   localhost): ``same-origin`` and ``none`` (the user typed the URL) pass;
   ``same-site`` passes only with ``allow_subdomains``; anything else passes
   only if the request's ``Origin`` is trusted.
2. No ``Sec-Fetch-Site``: an ``Origin`` must be the request's own origin
   (``request.scheme`` + ``Host``, after a trusted proxy's rewrite) or a
   trusted one; ``Origin: null`` never passes.
3. Neither header: not something a browser sends cross-site, so it passes
   (unless tokens are on).

Trusted origins are the ``trusted_origins`` given plus the allowed origins
of the :class:`~junco.security.cors.CORS` object passed in, or else of the ``CORS``
installed on the app (found by type, whenever it was installed; never its
``"*"``). There
is no exemption by content type: a cross-site ``text/plain`` form is refused
like any other.

With ``tokens=True`` every protected request must *also* carry a token bound
to the session: a random 32-byte secret kept in the session (created on the
first :meth:`CSRF.generate_token`), sent as ``mask || (mask XOR secret)`` in
base64url with a fresh mask each time, so the page bytes change on every
render (BREACH) while each rendered token stays valid. Refusals are 403 with
a generic body, logged on the ``junco`` logger.

Marks made by :meth:`CSRF.exempt` and :meth:`CSRF.protect` are kept by
function identity for the whole ``__wrapped__`` chain of what was
decorated, and looked up along the chain of the route's handler at request
time, so they work above or below ``@app.route`` and other decorators.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import html
import logging
import os
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from ..exceptions import ConfigurationError, HTTPException
from ..origins import normalize_origin, own_origin, request_origin
from ..paths import normalize_path
from ..phases import Phase
from ..request import Slot, current_request
from .cors import CORS
from .sessions import SESSION, Session, get_session

if TYPE_CHECKING:
    from ..app import Junco
    from ..request import Request
    from ..response import Response
    from ..routing import Route
    from .sessions import SessionData

F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger("junco")

SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))
REFUSAL = "Forbidden: cross-site request refused"
#: Session key of the token secret.
SESSION_KEY = "_csrf"
MAX_TOKEN_LENGTH = 200
_SECRET_BYTES = 32
_RELOAD = "; reload the page and submit it again"
_CROSS_SITE = ("csrf_cross_site", REFUSAL)
#: ``check_token`` reasons → (code, the message the client sees).
_TOKEN_REFUSALS = {
    "token missing": (
        "csrf_token_missing",
        "Forbidden: the form's security token is missing" + _RELOAD,
    ),
    "token malformed": (
        "csrf_token_invalid",
        "Forbidden: the form's security token is damaged" + _RELOAD,
    ),
    "no token issued for this session": (
        "csrf_session_expired",
        "Forbidden: your session expired since this page was loaded" + _RELOAD,
    ),
    "token does not match the session": (
        "csrf_token_mismatch",
        "Forbidden: the form's security token belongs to another session "
        "(did you log in or out in another tab?)" + _RELOAD,
    ),
}
_TOKEN = re.compile(r"[A-Za-z0-9_-]{86}")  # 64 bytes in unpadded base64url
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 bytes in unpadded base64url
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_ROTATED: Slot[bool] = Slot("_junco_csrf_rotated")  # the secret was replaced
_EXEMPT, _PROTECT = "exempt", "protect"
_CHAIN_LIMIT = 32


class CSRF:
    """Cross-site request forgery protection for an app (Microdot's ``CSRF``).

    Args:
        app: The app to protect; or call :meth:`init_app` later.
        cors: A :class:`~junco.security.cors.CORS` whose allowed origins are trusted;
            by default the one installed on the app, if any.
        protect_all: Check every request with an unsafe method, except routes
            marked :meth:`exempt` and ``exempt_paths``. ``False``: check only
            routes marked :meth:`protect`.
        allow_subdomains: Also trust ``Sec-Fetch-Site: same-site`` and, from
            browsers without it, origins on subdomains of the request's host
            or of a trusted origin (same scheme).
        tokens: Also require a session-bound token (needs a
            :class:`~junco.security.sessions.Session` on the app, in any order).
        trusted_origins: More origins whose cross-site requests are allowed.
        exempt_paths: Path prefixes never checked (``"/webhooks"`` covers
            ``/webhooks/x``), compared with ``request.path``, the one canonical
            path the router also matched (paths with ``..``, ``//``, encoded
            ``/`` ... are refused with 400 before any of this runs).
        field_name: The urlencoded form field carrying the token.
        header_name: The header carrying the token (the only way for
            multipart and JSON bodies).

    Raises:
        ConfigurationError: a malformed origin, path or header name.
    """

    def __init__(
        self,
        app: Junco | None = None,
        cors: Any = None,
        protect_all: bool = True,
        allow_subdomains: bool = False,
        *,
        tokens: bool = False,
        trusted_origins: Iterable[str] = (),
        exempt_paths: Iterable[str] = (),
        field_name: str = "csrf_token",
        header_name: str = "X-CSRF-Token",
    ) -> None:
        self.cors = cors
        self.protect_all = protect_all
        self.allow_subdomains = allow_subdomains
        self.tokens = tokens
        self._trusted_origins = tuple(_origin_list(trusted_origins))
        self._trusted = frozenset(self._trusted_origins)
        self.exempt_paths = tuple(_prefix(p) for p in _strings(exempt_paths, "exempt path"))
        if not field_name or not isinstance(field_name, str):
            raise ConfigurationError("field_name must be a non-empty string")
        if not isinstance(header_name, str) or not _HEADER_NAME.fullmatch(header_name):
            raise ConfigurationError(f"invalid header name {header_name!r}")
        self.field_name = field_name
        self.header_name = header_name
        self._exempt: dict[int, Any] = {}  # id -> function, kept alive so ids stay unique
        self._protected: dict[int, Any] = {}
        self._app: Junco | None = None
        if app is not None:
            self.init_app(app, cors)

    # -- setup -------------------------------------------------------------------------

    def init_app(self, app: Junco, cors: Any = None) -> None:
        """Install the checks on ``app``.

        With ``tokens=True`` the app needs a
        :class:`~junco.security.sessions.Session`, added before or after: the
        phases run it first. Without one, the app's start (or, at the latest,
        its first request) is a ``ConfigurationError`` saying to add it.
        """
        if cors is not None:
            self.cors = cors
        self._app = app
        app.extensions["csrf"] = self
        if self.tokens:
            from ..templating import add_template_global

            add_template_global(app, "csrf_token", self.csrf_token)
            add_template_global(app, "csrf_field", self.csrf_field)
            app.add_middleware(_TokenHooks(self))
        else:
            app.add_middleware(_Hooks(self))

    def initialize(self, app: Junco, cors: Any = None) -> None:
        """Microdot's spelling of :meth:`init_app`."""
        self.init_app(app, cors)

    # -- decorators --------------------------------------------------------------------

    def exempt(self, f: F) -> F:
        """Never check the decorated route (above or below ``@app.route``)."""
        self._mark(f, self._exempt, self._protected)
        return f

    def protect(self, f: F) -> F:
        """Always check the decorated route, with ``protect_all=False`` and for GET too."""
        self._mark(f, self._protected, self._exempt)
        return f

    def _mark(self, f: Any, into: dict[int, Any], other: dict[int, Any]) -> None:
        for fn in _chain(f):
            key = id(fn)
            if key in other:
                raise ConfigurationError(f"{f!r} is marked both exempt and protected")
            into[key] = fn

    def _marked(self, route: Route | None) -> str | None:
        if route is None or not (self._exempt or self._protected):
            return None
        for fn in _chain(route.handler):
            key = id(fn)
            if key in self._exempt:
                return _EXEMPT
            if key in self._protected:
                return _PROTECT
        return None

    # -- the decision ------------------------------------------------------------------

    def is_protected(self, request: Request) -> bool:
        """Whether ``request`` must pass the checks (its method, route marks, path)."""
        method = request.method
        if method in SAFE_METHODS:
            if not self._protected or method == "OPTIONS":  # preflights must reach CORS
                return False
            return self._marked(request.route) == _PROTECT
        mark = self._marked(request.route)
        if mark is not None:
            return mark == _PROTECT
        if not self.protect_all:
            return False
        if self.exempt_paths:
            path = request.path  # canonical, decided once before routing (junco.paths)
            for prefix in self.exempt_paths:
                if prefix == "/" or path == prefix or path.startswith(prefix + "/"):
                    return False
        return True

    def check_origin(self, request: Request) -> str | None:
        """Why ``request`` looks cross-site (a short reason), or None if it passes."""
        origin = request_origin(request)
        if origin == "":
            return "more than one Origin header"
        sites, _ = _raw_values(request, b"sec-fetch-site", None)
        site = sites[0] if sites else None
        if site:
            if site == "same-origin" or site == "none":
                return None
            if site == "same-site" and self.allow_subdomains:
                return None
            if origin is not None and self._trusts(origin):
                return None
            return f"Sec-Fetch-Site {site[:20]!r}"
        if origin is None:
            return None
        if origin == "null":
            return "Origin null"
        own = own_origin(request)
        if own is not None and (
            origin == own or (self.allow_subdomains and _subdomain(origin, own))
        ):
            return None
        if self._trusts(origin):
            return None
        return "Origin does not match the host"

    @property
    def trusted_origins(self) -> tuple[str, ...]:
        """The origins given as ``trusted_origins``, normalised (read-only)."""
        return self._trusted_origins

    def _trusts(self, origin: str) -> bool:
        cors = self.cors
        if cors is None and self._app is not None:
            cors = self._app.component(CORS)
        from_cors = _cors_origins(cors)
        if origin in self._trusted or origin in from_cors:
            return True
        return self.allow_subdomains and any(
            _subdomain(origin, t) for t in (*self._trusted, *from_cors)
        )

    def refuse(self, request: Request, reason: str) -> HTTPException:
        """Log the refusal of ``request``; return the 403 to raise.

        The 403 says what the person can do: a cross-site request gets
        :data:`REFUSAL` (code ``csrf_cross_site``); a token problem says which
        (``csrf_token_missing``, ``csrf_token_invalid``, ``csrf_session_expired``,
        ``csrf_token_mismatch``) and to reload the page.
        """
        logger.warning("CSRF: refused %s %r: %s", request.method, request.path, reason)
        code, message = _TOKEN_REFUSALS.get(reason.partition(" (")[0], _CROSS_SITE)
        return HTTPException(403, message, code=code)

    # -- tokens ------------------------------------------------------------------------

    def generate_token(self, request: Request | None = None) -> str:
        """A fresh masked token for the session of ``request`` (the current one if None)."""
        request = request or current_request()
        session = get_session(request)
        self._rotate_if_regenerated(request, session)
        secret = _secret(session)
        if secret is None:
            secret = os.urandom(_SECRET_BYTES)
            session[SESSION_KEY] = _b64(secret)
        mask = os.urandom(_SECRET_BYTES)
        return _b64(mask + _xor(mask, secret))

    def csrf_token(self) -> str:
        """A token for the current request (the ``csrf_token()`` template global)."""
        return self.generate_token(current_request())

    def csrf_field(self) -> str:
        """A hidden ``<input>`` carrying a token, safe to put in HTML unescaped."""
        name = html.escape(self.field_name, quote=True)
        return _markup(f'<input type="hidden" name="{name}" value="{self.csrf_token()}">')

    def rotate(self, request: Request | None = None) -> None:
        """Replace the session's token secret (at login): earlier tokens stop working.

        Does nothing without ``tokens=True`` (the login module calls it regardless).
        """
        if not self.tokens:
            return
        request = request or current_request()
        session = get_session(request)
        session.pop(SESSION_KEY, None)
        _ROTATED.set(request, True)

    def _rotate_if_regenerated(self, request: Request, session: SessionData) -> None:
        if not _ROTATED.is_set(request) and _regenerated(session):
            self.rotate(request)

    def check_token(self, request: Request, session: SessionData) -> str | None:
        """Why the token of ``request`` is not valid for ``session``, or None if it is."""
        tokens, _ = _raw_values(request, self.header_name.lower().encode("latin-1"), None)
        token = tokens[0] if tokens else None
        if token is None:
            mimetype = request.mimetype
            if mimetype == "application/x-www-form-urlencoded":
                form = request.form
                token = form.get(self.field_name) if form is not None else None
            elif mimetype == "multipart/form-data":
                return f"token missing (multipart bodies must send {self.header_name})"
        if token is None:
            return "token missing"
        if len(token) > MAX_TOKEN_LENGTH or not _TOKEN.fullmatch(token):
            return "token malformed"
        raw = _b64decode(token)
        secret = _secret(session)
        if secret is None:
            return "no token issued for this session"
        candidate = _xor(raw[:_SECRET_BYTES], raw[_SECRET_BYTES:])
        if not hmac.compare_digest(candidate, secret):
            return "token does not match the session"
        return None


class _Hooks:
    """The origin check and, with ``tokens=True``, the token: synchronous.

    In the ``AUTH`` phase: after ``TRANSPORT`` (the host and scheme the origin
    is compared with are the proxy's) and after ``SESSION`` (the session is
    attached, and loaded from a server store, before the token is checked).
    """

    __slots__ = ("csrf",)
    phase = Phase.AUTH

    def __init__(self, csrf: CSRF) -> None:
        self.csrf = csrf

    def before_request(self, request: Request) -> None:
        csrf = self.csrf
        if csrf.is_protected(request):
            reason = csrf.check_origin(request)
            if reason is None and csrf.tokens:
                reason = csrf.check_token(request, get_session(request))
            if reason is not None:
                raise csrf.refuse(request, reason)


class _TokenHooks(_Hooks):
    """The same, needing a session; rotation follows ``session.regenerate()``."""

    __slots__ = ()
    requires = (Session,)
    label = "CSRF(tokens=True)"

    def after_request(self, request: Request, response: Response) -> None:
        # In AUTH, so it runs before the session (SESSION) commits what it rotated.
        session = SESSION.get(request)
        if session is not None and _regenerated(session):
            self.csrf._rotate_if_regenerated(request, session)

    after_error_request = after_request


# -- module-level helpers -------------------------------------------------------------


def csrf_token() -> str:
    """A token for the current request, from its app's :class:`CSRF`.

    Raises:
        RuntimeError: outside a request, or the app has no ``CSRF(tokens=True)``.
    """
    return _current_csrf().csrf_token()


def csrf_field() -> str:
    """The hidden form field carrying :func:`csrf_token` (HTML-safe)."""
    return _current_csrf().csrf_field()


def _raw_values(request: Request, name: bytes, other: bytes | None) -> tuple[list[str], str | None]:
    """Every value of header ``name`` and the first of ``other``, in one pass over the scope.

    (Cheaper than ``request.headers`` for the few headers a check reads.)
    """
    found: list[str] = []
    first = None
    n, m = len(name), -1 if other is None else len(other)
    for key, value in request.asgi_scope.get("headers", ()):
        size = len(key)
        if size == n and (key == name or key.lower() == name):
            found.append(value.decode("latin-1"))
        elif size == m and first is None and (key == other or key.lower() == other):
            first = value.decode("latin-1")
    return found, first


def _current_csrf() -> CSRF:
    request = current_request()
    for app in (request.subapp, request.app):
        found = getattr(app, "extensions", {}).get("csrf")
        if isinstance(found, CSRF) and found.tokens:
            return found
    raise RuntimeError("no CSRF(app, tokens=True) is installed on this app")


def _regenerated(session: Any) -> bool:
    # Duck-typed: a user's own session object may lack the flag.
    return bool(getattr(session, "regenerated", False))


def _secret(session: SessionData) -> bytes | None:
    value = session.get(SESSION_KEY)
    return _decode_secret(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=256)
def _decode_secret(value: str) -> bytes | None:
    # Cached: a session sends the same secret with each of its requests.
    if not _SECRET.fullmatch(value):
        return None
    return _b64decode(value)


def _b64decode(text: str) -> bytes:
    """Unpadded base64url that a ``_TOKEN``/``_SECRET`` pattern already matched."""
    data = text.encode("ascii").translate(_FROM_URLSAFE)
    return binascii.a2b_base64(data + b"=" * (-len(data) % 4))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _markup(text: str) -> str:
    try:
        from markupsafe import Markup
    except ImportError:  # pragma: no cover - markupsafe comes with Jinja2
        return _HTML(text)
    return Markup(text)  # noqa: S704 - built from escaped parts and a base64url token


class _HTML(str):
    """Text that is already HTML (the ``__html__`` protocol Jinja and MarkupSafe honour)."""

    __slots__ = ()

    def __html__(self) -> str:
        return self


def _chain(f: Any) -> list[Any]:
    """``f`` and what it wraps (``__wrapped__``, partials, bound methods' functions)."""
    out: list[Any] = []
    for _ in range(_CHAIN_LIMIT):
        if f is None or any(f is seen for seen in out):
            break
        out.append(f)
        inner = getattr(f, "__func__", None)
        if inner is not None:
            out.append(inner)
            f = inner
        f = getattr(f, "__wrapped__", None) or getattr(f, "func", None)
    return out


def _subdomain(origin: str, parent: str) -> bool:
    """Whether ``origin`` is on a subdomain of ``parent``'s host, with the same scheme.

    ``origin`` must be canonical (as browsers send it); IP literals have no subdomains.
    """
    try:
        if normalize_origin(origin) != origin:
            return False
    except ValueError:
        return False
    scheme, _, rest = origin.partition("://")
    parent_scheme, _, parent_rest = parent.partition("://")
    if scheme != parent_scheme or parent_rest.startswith("["):
        return False
    host = rest.partition(":")[0]
    parent_host = parent_rest.partition(":")[0]
    if parent_host.replace(".", "").isdigit():
        return False
    return host.endswith("." + parent_host)


def _strings(values: Iterable[str], what: str) -> list[str]:
    items = [values] if isinstance(values, str) else list(values)
    for item in items:
        if not isinstance(item, str):
            raise ConfigurationError(f"invalid {what}: {item!r}")
    return items


def _origin_list(values: Iterable[str]) -> list[str]:
    out = []
    for item in _strings(values, "origin"):
        if item.strip() in ("*", "null"):
            raise ConfigurationError(f"cannot trust the origin {item!r}")
        try:
            out.append(normalize_origin(item))
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
    return out


def _cors_origins(cors: Any) -> frozenset[str]:
    if cors is None:
        return frozenset()
    origins = getattr(cors, "origins", None)
    if isinstance(origins, frozenset):
        return origins
    allowed = getattr(cors, "allowed_origins", None)
    if not allowed or allowed == "*":
        return frozenset()
    return frozenset(_origin_list(o for o in allowed if o != "*"))


def _prefix(path: str) -> str:
    if not path.startswith("/"):
        raise ConfigurationError(f"exempt paths start with '/': {path!r}")
    try:
        return normalize_path(path)
    except HTTPException:
        raise ConfigurationError(f"invalid exempt path {path!r}") from None


__all__ = [
    "CSRF",
    "MAX_TOKEN_LENGTH",
    "REFUSAL",
    "SAFE_METHODS",
    "SESSION_KEY",
    "csrf_field",
    "csrf_token",
    "own_origin",
]
