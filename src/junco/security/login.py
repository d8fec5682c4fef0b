"""User logins kept in the session, with "remember me" cookies (Microdot's ``Login`` extension).

Theory of operation
-------------------
A login is three session keys: ``_user_id``, ``_fresh`` (the password was
typed in this session, not restored from a remember cookie) and
``_user_version``, the user's *session version* at login time. The version
is whatever the app uses to invalidate logins: an integer it bumps on every
password change, for instance (``user.session_version`` or
:meth:`Login.session_version_loader`). A session or remember cookie whose
version no longer matches the user's is refused and cleared.

- ``login_user`` regenerates the session id (no fixation), stores the keys,
  asks a registered CSRF extension to rotate its token, and redirects to the
  request's ``next`` only when it is a local path (:func:`is_safe_url`).
- The remember cookie (``_remember``) is signed with itsdangerous under
  its own salt and carries the user id, the version, an absolute expiry and
  a single-use token whose record lives in a store (:mod:`junco.security._remember`
  explains the token families). When it restores a login the session is
  regenerated, marked not fresh, and the cookie is re-issued (next token,
  same expiry); the old token is spent. A replayed old token revokes its
  family. Tampered, expired, spent or stale cookies make the request
  anonymous and are cleared.
- ``logout_user`` deletes the whole session, revokes every remember token of
  the user and clears the cookie. A changed session version (a password
  change) refuses every older session and remember token of the user.
- Guards answer a browser with a 302 to ``login_url?next=...`` and an API
  client (JSON preferred in ``Accept``, an ``Authorization`` header, or
  ``X-Requested-With``) with a 401 JSON body; a logged-in user without the
  permission gets 403.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import re
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload
from urllib.parse import quote, urlsplit

from ..calling import call_callback
from ..errors import render_error, wants_json
from ..exceptions import ConfigurationError, HTTPException
from ..request import _current
from ..response import Response
from ..templating import add_context_processor
from ._remember import AtomicStore, RememberTokens
from .auth import P, R, RouteDecorator, Wrapped, _call_route, _invoke
from .redirects import is_safe_url
from .sessions import (
    MIN_SECRET_BYTES,
    SESSION_USER_ID,
    SessionData,
    SessionStoreError,
    _unsign,
    get_session,
)

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from ..request import Request

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
logger = logging.getLogger("junco")
Policy = Callable[..., Any]

_KEYS = (SESSION_USER_ID, "_fresh", "_user_version", "_remember")
_COOKIE_KEYS = {"u", "v", "e", "f", "t"}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SALT = "junco.security.login.remember"
_MAX_COOKIE = 4096
_MAX_DAYS = 400  # browsers cap cookie lifetimes at 400 days
_NO_SWAP = (
    "remember-me tokens need a store with an atomic swap(): MemoryStore, RedisStore, "
    "or pass Login(store=...)"
)


class Login:
    """Session-based user login.

    Args:
        login_url: Where browsers are sent to log in.
        session: The :class:`~junco.security.sessions.Session` extension; found in
            ``app.extensions`` when omitted.
        secret_key: Signs remember cookies; the session's key when omitted.
            A list rotates keys: the first signs, all verify.
        remember_cookie: The remember cookie's name.
        remember_days: Lifetime of ``remember=True`` cookies.
        cookie_path: The remember cookie's ``Path``.
        cookie_domain: The remember cookie's ``Domain`` (this host when None).
        secure: ``None`` marks the cookie ``Secure`` on https requests.
        samesite: The remember cookie's ``SameSite``.
        store: Where remember tokens are recorded: a store with an atomic
            ``swap`` (``MemoryStore``, ``RedisStore``). By default the
            session's store, or, with signed-cookie sessions, a
            ``MemoryStore`` of this process (use Redis with several workers).
        remember_grace: Seconds during which a remember token just rotated
            out still restores a login, without a new token (a browser's
            parallel requests); replayed later, it revokes its family.
        clock: Returns the time in seconds (for tests).

    Raises:
        ConfigurationError: a bad login URL, cookie name or lifetime.
    """

    def __init__(
        self,
        login_url: str = "/login",
        *,
        session: Any = None,
        secret_key: str | bytes | list[str | bytes] | None = None,
        remember_cookie: str = "_remember",
        remember_days: int = 30,
        cookie_path: str = "/",
        cookie_domain: str | None = None,
        secure: bool | None = None,
        samesite: str | None = "Lax",
        store: Any = None,
        remember_grace: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if store is not None and not isinstance(store, AtomicStore):
            raise ConfigurationError(_NO_SWAP)
        if not 0 <= remember_grace <= 300:
            raise ConfigurationError("remember_grace must be between 0 and 300 seconds")
        if not login_url or not login_url.isprintable():
            raise ConfigurationError(f"invalid login_url {login_url!r}")
        if not 0 < remember_days <= _MAX_DAYS:
            raise ConfigurationError(f"remember_days must be between 1 and {_MAX_DAYS}")
        secure = _check_cookie(remember_cookie, cookie_path, cookie_domain, secure, samesite)
        self.login_url = login_url
        self.session = session
        self.secret_key = secret_key
        self.remember_cookie = remember_cookie
        self.remember_days = remember_days
        self.cookie_path = cookie_path
        self.cookie_domain = cookie_domain
        self.secure = secure
        self.samesite = samesite
        self.store = store
        self.remember_grace = remember_grace
        self.clock = clock
        self._tokens: RememberTokens | None = None
        self.user_loader_callback: Callable[..., Any] | None = None
        self.session_version_callback: Callable[..., Any] | None = None
        self._serializers: dict[tuple[bytes, ...], Any] = {}

    def init_app(self, app: Any) -> Login:
        """Register this login on ``app`` (``app.extensions['login']``).

        Optional for logging in and out; it lets ``app.check()`` see the login
        (a login needs a ``Session``, and its route deserves a rate limit),
        and gives the app's templates ``current_user``: the user loaded for
        this request (by a guard such as ``login_required``, or
        ``await login.get_current_user(request)``), else None.

        Raises:
            ConfigurationError: the remember tokens would live in the session's
                store and it has no atomic ``swap()``.
        """
        ext = self.session or app.extensions.get("session")
        store = self.store or getattr(ext, "store", None)
        if store is not None and not isinstance(store, AtomicStore):
            raise ConfigurationError(_NO_SWAP)
        app.extensions["login"] = self
        add_context_processor(app, _template_user)
        return self

    # -- callbacks ---------------------------------------------------------------------

    def user_loader(self, f: F) -> F:
        """Register ``f(user_id)`` (sync or async) returning the user, or None if unknown."""
        self.user_loader_callback = f
        return f

    def session_version_loader(self, f: F) -> F:
        """Register ``f(user)`` (sync or async) returning the user's session version.

        Without it, ``user.session_version`` is used (called if callable), or
        None. Use a str or an int, and change it to end every login of the user.
        """
        self.session_version_callback = f
        return f

    # -- logging in and out ------------------------------------------------------------

    async def login_user(
        self,
        request: Request,
        user: Any,
        remember: bool | int = False,
        redirect_url: str = "/",
    ) -> Response:
        """Log ``user`` in after the app has checked their credentials.

        Args:
            request: The current request.
            user: The user object; its ``id`` (str or int) goes in the session.
            remember: ``True`` for a remember cookie of ``remember_days``, a
                number of days, or ``False`` for none.
            redirect_url: Where to go when the query string has no safe ``next``.

        Returns:
            A 302 redirect to ``next`` (a local path and query) or ``redirect_url``.

        Raises:
            TypeError: the user has no usable ``id`` or session version.
            ValueError: ``remember`` is out of range.
        """
        user_id = _user_id(user)
        version = await self._version(user)
        days = self._remember_days(remember)
        session = get_session(request)
        if session.get(SESSION_USER_ID) not in (None, user_id):
            session.clear()  # another user's data must not carry over
        session.regenerate()
        session.pop("_remember", None)  # typed the password: no longer tied to a token family
        session.update({SESSION_USER_ID: user_id, "_fresh": True, "_user_version": version})
        request.g.current_user = user
        request.g._junco_login_loaded = True
        await _rotate_csrf(request)
        if days:
            expires = math.floor(self.clock()) + days * 86400
            ttl = expires - math.floor(self.clock())
            token = await _call(self._store(request).issue(user_id, ttl))
            self._remember(request, {"u": user_id, "v": version, "e": expires, **token})
        else:
            self._forget(request)
        return Response.redirect(self.next_url(request, redirect_url))

    async def logout_user(self, request: Request) -> None:
        """End the login: delete the session, revoke the user's remember tokens, clear the cookie.

        Every remember cookie of the user (on any device) stops working;
        sessions already open elsewhere stay until they end (change the
        user's session version to end those too).
        """
        session = get_session(request)
        user_id = session.get(SESSION_USER_ID)
        raw = request.cookies.get(self.remember_cookie)
        payload = None if raw is None else self._decode(request, raw)
        if user_id is None and payload is not None:
            user_id = payload["u"]
        if type(user_id) in (str, int):
            await self.revoke_remember_tokens(request, user_id)
        session.delete()
        request.g.current_user = None
        request.g._junco_login_loaded = True
        self._forget(request)
        await _rotate_csrf(request)

    async def revoke_remember_tokens(self, request: Request, user: Any) -> None:
        """Make every remember cookie of ``user`` (a user object or its id) worthless.

        Call it when the password changes (or bump the session version).
        """
        user_id = user if type(user) in (str, int) else _user_id(user)
        await _call(self._store(request).revoke_user(user_id))

    async def get_current_user(self, request: Request) -> Any:
        """The logged-in user (also in ``request.g.current_user``), or None.

        A login restored from the remember cookie happens here.
        """
        g = request.g
        if not g.get("_junco_login_loaded", False):
            user = await self._load(request)
            g.current_user = user
            g._junco_login_loaded = True
        return g.get("current_user")

    def next_url(self, request: Request, default: str = "/") -> str:
        """The request's ``next`` argument if it is a safe local target, else ``default``.

        Only the path and query are kept, and only for URLs on this host
        (https only, on an https request).
        """
        target = request.args.get("next")
        if not target or not is_safe_url(
            target, request.host, require_https=request.scheme == "https"
        ):
            return default
        parts = urlsplit(target)
        local = parts.path + ("?" + parts.query if parts.query else "")
        # "http://host//evil.example" passes as a whole; its path alone must too.
        return local if local.startswith("/") and is_safe_url(local) else default

    # -- route guards ------------------------------------------------------------------

    @overload
    def __call__(self, f: Callable[P, Coroutine[Any, Any, R]]) -> Wrapped[P, R]: ...
    @overload
    def __call__(self, f: Callable[P, R]) -> Wrapped[P, R]: ...

    def __call__(self, f: Callable[..., Any]) -> Callable[..., Any]:
        """Require a logged-in user for the decorated route."""
        return self._guard(f, fresh=False, permissions=None, policy=None)

    login_required = __call__

    @overload
    def fresh(self, f: Callable[P, Coroutine[Any, Any, R]]) -> Wrapped[P, R]: ...
    @overload
    def fresh(self, f: Callable[P, R]) -> Wrapped[P, R]: ...

    def fresh(self, f: Callable[..., Any]) -> Callable[..., Any]:
        """Require a login made in this session, not restored from a remember cookie."""
        return self._guard(f, fresh=True, permissions=None, policy=None)

    def requires(self, *permissions: str, policy: Policy | None = None) -> RouteDecorator:
        """Require a logged-in user who has every one of ``permissions``.

        Without ``policy`` the user decides: ``user.has_permission(name)``
        (sync or async) if it exists, else ``name in user.permissions``;
        a user with neither is refused. ``policy(request, user, permissions)``
        (sync or async) replaces that check. Only ``True`` grants access.
        """

        def decorator(f: Callable[..., Any]) -> Callable[..., Any]:
            return self._guard(f, fresh=False, permissions=permissions, policy=policy)

        return cast(RouteDecorator, decorator)

    def _guard(
        self,
        f: Callable[..., Any],
        fresh: bool,
        permissions: tuple[str, ...] | None,
        policy: Policy | None,
    ) -> Callable[..., Any]:
        @functools.wraps(f)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
            user = await self.get_current_user(request)
            if not user or (fresh and get_session(request).get("_fresh") is not True):
                return self._unauthorized(request)
            if permissions is not None and not await _allowed(request, user, permissions, policy):
                return _forbidden(request)
            return await _call_route(f, request, args, kwargs)

        wrapper._junco_guard = (self, True)  # type: ignore[attr-defined]  # for junco.openapi
        return wrapper

    def _unauthorized(self, request: Request) -> Response:
        if _wants_json(request):
            return render_error(request, HTTPException(401), form="json")
        target = quote(request.root_path + request.path, safe="/")
        query = request.asgi_scope.get("query_string", b"")
        if query:
            target += "%3F" + quote(query, safe="")
        separator = "&" if "?" in self.login_url else "?"
        return Response.redirect(f"{self.login_url}{separator}next={target}")

    # -- loading -----------------------------------------------------------------------

    async def _load(self, request: Request) -> Any:
        session = get_session(request)
        user_id = session.get(SESSION_USER_ID)
        if user_id is None:
            return await self._restore(request, session)
        user = await self._load_user(user_id)
        if user and await self._version(user) == session.get("_user_version"):
            family = session.get("_remember")
            # A login restored from a remember token dies with its token family.
            if not isinstance(family, str) or await _call(
                self._store(request).family_alive(family)
            ):
                return user
        for key in _KEYS:
            session.pop(key, None)
        self._forget(request)
        return None

    async def _restore(self, request: Request, session: SessionData) -> Any:
        """Log in from the remember cookie, if it is valid; clear it if it is not."""
        raw = request.cookies.get(self.remember_cookie)
        if raw is None:
            return None
        payload = self._decode(request, raw)
        user = None if payload is None else await self._load_user(payload["u"])
        if payload is None:
            self._forget(request)
            return None
        tokens = self._store(request)
        if not user or await self._version(user) != payload["v"]:
            await _call(tokens.revoke_family(payload["f"]))
            self._forget(request)
            return None
        ttl = payload["e"] - math.floor(self.clock())
        spent = tokens.consume(payload["u"], payload["f"], payload["t"], self.clock(), ttl)
        token = await _call(spent)
        if token is None:
            self._forget(request)
            return None
        session.regenerate()
        session.update(
            {
                SESSION_USER_ID: payload["u"],
                "_fresh": False,
                "_user_version": payload["v"],
                "_remember": payload["f"],
            }
        )
        await _rotate_csrf(request)
        if isinstance(token, dict):  # True: a parallel request already rotated it
            self._remember(request, {**payload, **token})
        return user

    async def _load_user(self, user_id: Any) -> Any:
        if self.user_loader_callback is None:
            raise RuntimeError("Login has no user loader: decorate one with @login.user_loader")
        return await _invoke(self.user_loader_callback, user_id)

    async def _version(self, user: Any) -> str | int | None:
        if self.session_version_callback is not None:
            version = await _invoke(self.session_version_callback, user)
        else:
            version = getattr(user, "session_version", None)
            if callable(version):
                version = version()
        if version is not None and type(version) not in (str, int):
            raise TypeError("a session version must be a str, an int or None")
        return cast("str | int | None", version)

    def _remember_days(self, remember: bool | int) -> int:
        if remember is True:
            return self.remember_days
        days = int(remember or 0)
        if not 0 <= days <= _MAX_DAYS:
            raise ValueError(f"remember must be between 0 and {_MAX_DAYS} days")
        return days

    # -- the remember cookie -----------------------------------------------------------

    def _serializer(self, request: Request) -> Any:
        secret = self.secret_key
        if secret is None:
            ext = self.session or request.app.extensions.get("session")
            secret = getattr(ext, "secret_key", None)
        keys = _keys(secret)
        serializer = self._serializers.get(keys)
        if serializer is None:
            from itsdangerous import URLSafeSerializer

            # itsdangerous signs with its last key; junco's first key is the current one.
            serializer = self._serializers[keys] = URLSafeSerializer(
                list(reversed(keys)),
                salt=_SALT,
                signer_kwargs={"digest_method": hashlib.sha256},
            )
        return serializer

    def _decode(self, request: Request, raw: str) -> dict[str, Any] | None:
        """The remember cookie's payload if it is authentic, well-formed and unexpired."""
        if len(raw) > _MAX_COOKIE:
            return None
        payload = _unsign(self._serializer(request).loads, raw)
        if not isinstance(payload, dict) or set(payload) != _COOKIE_KEYS:
            return None
        uid, version, expires = payload["u"], payload["v"], payload["e"]
        if type(uid) not in (str, int) or type(version) not in (str, int, type(None)):
            return None
        if not all(type(payload[k]) is str and 0 < len(payload[k]) <= 64 for k in "ft"):
            return None
        if type(expires) is not int or expires <= self.clock():
            return None
        return payload

    def _store(self, request: Request) -> RememberTokens:
        """The remember tokens' records: the given store, the session's, or this process's."""
        store = self.store
        if store is None:
            ext = self.session or request.app.extensions.get("session")
            store = getattr(ext, "store", None)
        tokens = self._tokens
        if store is None and tokens is not None and tokens.own:
            return tokens
        if tokens is None or tokens.store is not store:
            if store is not None and not isinstance(store, AtomicStore):
                raise ConfigurationError(_NO_SWAP)
            own = store is None
            if store is None:
                from ..stores.memory import MemoryStore

                store = MemoryStore()
            tokens = self._tokens = RememberTokens(store, self.remember_grace, own=own)
        return tokens

    def _remember(self, request: Request, payload: dict[str, Any]) -> None:
        value = self._serializer(request).dumps(payload)
        max_age = max(1, payload["e"] - math.floor(self.clock()))
        self._pending(request, (value, max_age))

    def _forget(self, request: Request) -> None:
        if self.remember_cookie in request.cookies or request.g.get("_junco_remember"):
            self._pending(request, ("", 0))

    def _pending(self, request: Request, action: tuple[str, int]) -> None:
        """Record what to do with the cookie; one after-request hook applies the last word."""
        g = request.g
        if g.get("_junco_remember") is None:
            request.after_request(self._apply)
        g._junco_remember = action

    def _apply(self, request: Request, response: Response) -> Response:
        value, max_age = request.g._junco_remember
        secure = self.secure if self.secure is not None else request.scheme == "https"
        options: dict[str, Any] = {
            "path": self.cookie_path,
            "domain": self.cookie_domain,
            "secure": secure,
            "http_only": True,
            "samesite": self.samesite,
        }
        if max_age:
            response.set_cookie(self.remember_cookie, value, max_age=max_age, **options)
        elif self.remember_cookie in request.cookies:
            response.delete_cookie(self.remember_cookie, **options)
        return response


async def _call(call: Coroutine[Any, Any, T]) -> T:
    """Await a token-store call; an unreachable store is a 503, as for sessions."""
    try:
        return await call
    except SessionStoreError as exc:
        logger.warning("remember-me store unavailable: %s", exc)
        raise HTTPException(503, "session store unavailable") from None


async def _allowed(
    request: Request, user: Any, permissions: tuple[str, ...], policy: Policy | None
) -> bool:
    if policy is not None:
        return await _invoke(policy, request, user, permissions) is True
    check = getattr(user, "has_permission", None)
    if callable(check):
        for name in permissions:
            result = await call_callback(check, name)
            if result is not True:
                return False
        return True
    granted = getattr(user, "permissions", None)
    if isinstance(granted, Collection) and not isinstance(granted, (str, bytes)):
        return all(name in granted for name in permissions)
    return False


def _forbidden(request: Request) -> Response:
    if _wants_json(request):
        return render_error(request, HTTPException(403), form="json")
    raise HTTPException(403)


def _template_user() -> dict[str, Any]:
    request = _current.get()
    if request is None or request.finished:
        return {"current_user": None}
    return {"current_user": request.g.get("current_user")}


def _wants_json(request: Request) -> bool:
    """Whether the client is an API client rather than a browser navigating."""
    headers = request.headers
    if "authorization" in headers or "x-requested-with" in headers:
        return True
    return wants_json(request)


async def _rotate_csrf(request: Request) -> None:
    """Ask a CSRF extension registered on the app (if any) for a new token."""
    csrf = request.app.extensions.get("csrf")
    rotate = getattr(csrf, "rotate", None)
    if callable(rotate):
        await call_callback(rotate, request)


def _check_cookie(
    name: str, path: str, domain: str | None, secure: bool | None, samesite: str | None
) -> bool | None:
    """Validate the remember cookie's settings; returns ``secure`` as prefixes demand it."""
    if not _TOKEN.fullmatch(name):
        raise ConfigurationError(f"invalid remember cookie name {name!r}")
    for label, value in (("path", path), ("domain", domain or "")):
        if not value.isprintable() or ";" in value or not value.isascii():
            raise ConfigurationError(f"invalid cookie {label} {value!r}")
    if samesite is not None and samesite.lower() not in ("lax", "strict", "none"):
        raise ConfigurationError(f"invalid samesite {samesite!r}")
    if name.startswith(("__Host-", "__Secure-")):
        if secure is False:
            raise ConfigurationError(f"{name} needs secure cookies")
        if name.startswith("__Host-") and (domain is not None or path != "/"):
            raise ConfigurationError("__Host- cookies need path='/' and no domain")
        return True
    return secure


def _user_id(user: Any) -> str | int:
    user_id = getattr(user, "id", None)
    if type(user_id) not in (str, int):
        raise TypeError("login_user() needs a user with an 'id' that is a str or an int")
    return cast("str | int", user_id)


def _keys(secret: Any) -> tuple[bytes, ...]:
    if secret is None or (isinstance(secret, (str, bytes)) and not secret):
        raise ConfigurationError(
            "remember cookies need a secret: install Session(app, secret_key=...) "
            "or pass Login(secret_key=...)"
        )
    items = [secret] if isinstance(secret, (str, bytes)) else list(secret)
    keys = tuple(k.encode() if isinstance(k, str) else k for k in items)
    if not keys or not all(isinstance(k, bytes) and len(k) >= MIN_SECRET_BYTES for k in keys):
        raise ConfigurationError(
            f"remember-cookie secret keys need at least {MIN_SECRET_BYTES} bytes each"
        )
    return keys


__all__ = ["Login"]
