"""Sessions: ``request.session``, kept in a signed cookie or in a server-side store.

Theory of operation
-------------------
One ``SessionData`` object is attached to each request by a before-hook and
committed by an after-hook (also on error responses). The commit decides
everything at the end of the request, from a few flags:

- *accessed*: the app read or wrote the session, so the response depends on
  the ``Cookie`` header: it gets ``Vary: Cookie``.
- *modified* (a write, ``save()``), *deleted* (``delete()``), *regenerate*
  (``regenerate()``): something must be written. Nothing else ever writes,
  except ``sliding``: ``True`` re-issues every valid session to push its
  idle deadline back; a number of seconds re-issues a session the request
  used once its last write is that old.

Invariants:
- An empty session is never stored: no record, no cookie. Emptying a stored
  session deletes its record and clears the cookie.
- A server-side id is only ever created here (``secrets.token_urlsafe(32)``,
  256 bits) and reaches the client signed. An id that is unsigned, badly
  signed, malformed or unknown to the store is never looked up or adopted:
  the request gets a fresh anonymous session, which receives a *new* id only
  if something is written to it. ``regenerate()`` and ``delete()`` retire
  the old record.
- Timeouts are checked on every load, whatever the store: the record (the
  signed cookie payload, or the server record) carries its creation time
  ``c`` and last activity ``a``; server records also get a store TTL.
- Any hostile or stale cookie (bad signature, truncated, oversized, not JSON,
  not an object, expired) yields an anonymous session, never an error.
- With the cookie store nothing is decoded until the app touches the
  session; server stores are read in the before-hook, and only for a request
  whose cookie carries a correctly signed id.
"""

from __future__ import annotations

import base64
import binascii
import functools
import inspect
import logging
import math
import re
import secrets
import time
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    ParamSpec,
    Protocol,
    TypeGuard,
    TypeVar,
    cast,
    overload,
    runtime_checkable,
)

from ..exceptions import ConfigurationError, HTTPException, SessionStoreError
from ..phases import Phase
from ..request import Slot
from ..stores.resolve import resolve_store, startup_check
from ._signing import Signer

if TYPE_CHECKING:
    from ..app import Junco
    from ..request import Request
    from ..response import Response

logger = logging.getLogger("junco")
P = ParamSpec("P")
R = TypeVar("R")

#: ``app.state`` key an app sets when it drew its secret key at random.
RANDOM_KEY_STATE = "junco.random_secret_key"
#: Where a request's session lives; also readable as ``request.session``.
SESSION: Slot[SessionData] = Slot("session")
#: The session key holding the logged-in user's id (``Login`` writes it, ``Audit`` reads it).
SESSION_USER_ID = "_user_id"
#: Largest ``name=value`` a session cookie may have; browsers drop bigger ones.
MAX_COOKIE_BYTES = 4000
#: Record lifetime in server stores when no timeout or ``max_age`` is set.
DEFAULT_STORE_TTL = 14 * 24 * 3600
_MAX_INBOUND = 4096
_ID = re.compile(r"[A-Za-z0-9_-]{43}")
_COOKIE_SALT = "junco.session"
_ID_SALT = "junco.session.id"
#: The shortest secret key junco accepts, in bytes: ``Session`` and ``Login``
#: refuse shorter ones and ``app.check()`` reports them (J004). One rule for all.
MIN_SECRET_BYTES = 32
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_B64URL = re.compile(r"[A-Za-z0-9_-]{1,512}")


class SessionTooLarge(ValueError):
    """The session does not fit in a cookie; keep less in it or use a server store."""


@runtime_checkable
class SessionStore(Protocol):
    """Where server-side sessions live. Implement these three coroutines to add one.

    Records are JSON-serialisable dicts. ``ttl`` is in whole seconds: the
    store may forget the record after that. Raise :class:`SessionStoreError`
    when the backend cannot be reached. A store may also have an async
    ``ping()``, awaited at the app's start-up: if it raises, the start-up fails.
    """

    async def load(self, session_id: str) -> dict[str, Any] | None: ...

    async def save(self, session_id: str, data: dict[str, Any], ttl: int) -> None: ...

    async def delete(self, session_id: str) -> None: ...


class SessionData(MutableMapping[str, Any]):
    """The session of one request: a dict-like object that knows when it changed.

    Values must be JSON-serialisable. Changing a nested value in place
    (``session['cart'].append(x)``) is not seen: assign it again, call
    :meth:`save`, or set ``session.modified = True``.
    """

    # Class-level defaults: attaching a session to a request sets two attributes.
    _data: dict[str, Any] | None = None  # None: not decoded yet
    _raw: str | None = None  # the incoming cookie
    _valid = False  # a live session came in
    _sid: str | None = None  # its server-side id
    _created = _active = 0.0
    _accessed = _modified = _deleted = _regen = _done = False

    def __init__(self, ext: Session, request: Request) -> None:
        self._ext = ext
        self._request = request

    def _ensure(self) -> dict[str, Any]:
        self._accessed = True
        data = self._data
        if data is None:
            data = self._ext._decode(self)
        return data

    def __getitem__(self, key: str) -> Any:
        return self._ensure()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._ensure()[key] = value
        self._modified = True

    def __delitem__(self, key: str) -> None:
        del self._ensure()[key]
        self._modified = True

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._ensure()))

    def __len__(self) -> int:
        return len(self._ensure())

    def __contains__(self, key: object) -> bool:
        return key in self._ensure()

    def __repr__(self) -> str:
        return f"SessionData({self._ensure()!r})"

    def clear(self) -> None:
        data = self._ensure()
        if data:
            data.clear()
            self._modified = True

    @property
    def modified(self) -> bool:
        """Whether the session will be written at the end of the request."""
        return self._modified or self._deleted or self._regen

    @modified.setter
    def modified(self, value: bool) -> None:
        self._ensure()
        self._modified = value

    @property
    def regenerated(self) -> bool:
        """True once ``regenerate()`` was called in this request (a new id is pending)."""
        return self._regen

    @property
    def new(self) -> bool:
        """True unless the request came with a valid, unexpired session."""
        self._ensure()
        return not self._valid

    def save(self) -> None:
        """Write the session at the end of the request, even if unchanged.

        Raises:
            SessionTooLarge: with the cookie store, the data no longer fits.
        """
        self._ensure()
        self._modified = True
        if self._ext.store is None and self._data:
            now = self._ext.clock()
            self._ext._encode(self._data, now, now)

    def delete(self) -> None:
        """End the session: clear the data, drop the record, clear the cookie.

        Anything written afterwards starts a new session with a new id.
        """
        self._ensure().clear()
        self._deleted = True

    def regenerate(self) -> None:
        """Keep the data under a new id and retire the old one (call it at login).

        The new session starts a new lifetime: both timeouts restart.
        """
        self._ensure()
        self._regen = True


class Session:
    """Session support for an app (Microdot's ``Session`` extension).

    Args:
        app: The app; or call :meth:`init_app` later.
        secret_key: A key of at least 32 bytes, or a list of keys: the first
            signs, all verify (to rotate, put the new key first). Without
            one, an app made with ``debug=True`` gets a random key (see
            :func:`random_secret_key`: sessions end with the process, and
            ``junco run`` says so); any other app raises.
        store: ``None`` keeps the data in a signed cookie. Server side, with
            only a signed id in the cookie: ``"memory"`` (this process), a
            Redis URL (``redis://``, ``rediss://``, ``unix://``; every
            process using it), or a :class:`SessionStore` object
            (``MemoryStore``, ``RedisStore``, yours). A Redis that does not
            answer fails the app's start-up.
        cookie_name: The cookie's name (``__Host-`` and ``__Secure-`` prefixes
            imply ``secure``).
        max_age: The cookie's ``Max-Age``; ``None`` ends it with the browser.
            A session is also refused once this long has passed since it
            was last written.
        idle_timeout: Seconds without a write (see ``sliding``) after which
            the session is void.
        absolute_timeout: Seconds after creation after which it is void.
        sliding: ``True`` re-issues valid sessions on every request, moving
            the idle deadline (and the cookie's ``Max-Age``) forward; a
            number of seconds re-issues a session that the request used
            once its last write is at least that old (activity counts, at
            the cost of one write per that many seconds); ``False``: only
            writes count.
        cookie_path: The cookie's ``Path``.
        cookie_domain: The cookie's ``Domain`` (``None``: this host only).
        samesite: ``"Lax"``, ``"Strict"``, ``"None"`` or ``None`` (no attribute).
        secure: ``None`` sets ``Secure`` on https requests; ``True`` always;
            ``False`` never.
        cookie_options: Microdot's dict of cookie options (``path``,
            ``domain``, ``secure``, ``samesite``, ``max_age``); mapped onto
            the arguments above.
        clock: Returns the time in seconds (for tests).

    Raises:
        ConfigurationError: a weak key or a bad cookie setting; a string
            ``store`` that is neither ``"memory"`` nor a Redis URL (a ``ValueError``).
        TypeError: a ``store`` that is not a :class:`SessionStore`.
    """

    def __init__(
        self,
        app: Junco | None = None,
        secret_key: str | bytes | Sequence[str | bytes] | None = None,
        *,
        store: SessionStore | str | None = None,
        cookie_name: str = "session",
        max_age: int | None = None,
        idle_timeout: float | None = None,
        absolute_timeout: float | None = None,
        sliding: bool | float = False,
        cookie_path: str = "/",
        cookie_domain: str | None = None,
        samesite: str | None = "Lax",
        secure: bool | None = None,
        cookie_options: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store: SessionStore | None = None if store is None else _server_store(store)
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self.sliding = sliding
        self.cookie_path = cookie_path
        self.cookie_domain = cookie_domain
        self.samesite = samesite
        self.secure = secure
        self.clock = clock
        self.secret_key = secret_key
        # Made by init_app, before any hook of this session can run.
        self._signer = cast("Signer", None)
        self._apply_cookie_options(cookie_options)
        self._check_settings()
        if app is not None:
            self.init_app(app)

    # -- setup -------------------------------------------------------------------------

    def init_app(self, app: Junco) -> None:
        """Install the session hooks on ``app`` (needs the secret key by now).

        Raises:
            ConfigurationError: no secret key (and the app is not in debug
                mode), or one that is too short.
        """
        if self.secret_key is None and getattr(app, "debug", False) is True:
            self.secret_key = random_secret_key(app)
            logger.warning(
                "Session has no secret_key: using a random one (debug mode), so sessions "
                "end when the process does; pass secret_key=os.environ['SECRET_KEY']"
            )
        self._signer = _make_signer(self.secret_key, self.store is not None)
        hooks = _CookieHooks(self) if self.store is None else _StoreHooks(self)
        app.extensions["session"] = self
        app.add_middleware(hooks)
        check = startup_check(self.store, "Session")
        if check is not None:
            app.on_startup(check)
        close = getattr(self.store, "close", None)
        if close is not None and inspect.iscoroutinefunction(close):
            app.on_shutdown(close)

    def initialize(
        self,
        app: Junco,
        secret_key: str | bytes | Sequence[str | bytes] | None = None,
        cookie_options: dict[str, Any] | None = None,
    ) -> None:
        """Microdot's spelling of :meth:`init_app`."""
        if secret_key is not None:
            self.secret_key = secret_key
        self._apply_cookie_options(cookie_options)
        self._check_settings()
        self.init_app(app)

    def _apply_cookie_options(self, options: dict[str, Any] | None) -> None:
        for name, value in (options or {}).items():
            if name == "http_only":
                if not value:
                    raise ConfigurationError("session cookies are always HttpOnly")
            elif name in ("path", "domain"):
                setattr(self, "cookie_" + name, value)
            elif name in ("secure", "samesite", "max_age"):
                setattr(self, name, value)
            else:
                raise ConfigurationError(f"unsupported session cookie option {name!r}")

    def _check_settings(self) -> None:
        if not _TOKEN.fullmatch(self.cookie_name):
            raise ConfigurationError(f"invalid cookie name {self.cookie_name!r}")
        if self.cookie_name.startswith(("__Host-", "__Secure-")):
            if self.secure is False:
                raise ConfigurationError(f"{self.cookie_name} needs secure cookies")
            self.secure = True
        if self.cookie_name.startswith("__Host-") and (
            self.cookie_domain is not None or self.cookie_path != "/"
        ):
            raise ConfigurationError("__Host- cookies need path='/' and no domain")
        if self.samesite is not None:
            if self.samesite.lower() not in ("lax", "strict", "none"):
                raise ConfigurationError(f"invalid samesite {self.samesite!r}")
            if self.samesite.lower() == "none" and self.secure is False:
                raise ConfigurationError("SameSite=None cookies must be secure")
        for name in ("max_age", "idle_timeout", "absolute_timeout"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigurationError(f"{name} must be a positive number of seconds")
        if type(self.sliding) is not bool and not self.sliding > 0:
            raise ConfigurationError("sliding must be True, False or a positive number of seconds")

    # -- Microdot's API ----------------------------------------------------------------

    def get(self, request: Request) -> SessionData:
        """The session of ``request`` (same as ``request.session``)."""
        return get_session(request)

    def update(self, request: Request, session: MutableMapping[str, Any]) -> None:
        """Replace the session's data with ``session`` and save it."""
        current = get_session(request)
        if session is not current:
            data = dict(session)
            current.clear()
            current.update(data)
        current.save()

    def delete(self, request: Request) -> None:
        """End the session of ``request`` (see :meth:`SessionData.delete`)."""
        get_session(request).delete()

    async def load(self, request: Request) -> SessionData:
        """Attach and load the session of ``request`` now; idempotent.

        The session's own before-hook does this in the ``SESSION`` phase, so
        hooks of the ``AUTH`` and ``APP`` phases find it loaded; a hook of an
        earlier phase (a ``GUARD``) that needs the session calls this first.

        Raises:
            HTTPException: 503 when the store is unreachable.
        """
        s = self._attach(request)
        if s._data is None and self.store is not None:
            await self._load_record(s)
        return s

    def _attach(self, request: Request) -> SessionData:
        """The session attached to ``request``, attaching one first if needed."""
        s = _attached(request)
        if s is None:
            s = SESSION.set(request, SessionData(self, request))
        return s

    # -- loading -----------------------------------------------------------------------

    def _decode(self, s: SessionData) -> dict[str, Any]:
        """Decode the cookie of ``s`` (cookie store); an empty session if unusable."""
        if self.store is not None:
            raise RuntimeError(
                "the session was used before it was loaded: create Session(app, ...) "
                "before the extensions that use it, or await its load(request) first"
            )
        s._data = {}
        raw = s._raw = s._request.cookies.get(self.cookie_name)
        if raw is None or len(raw) > _MAX_INBOUND:
            return s._data
        data = self._accept(s, self._signer.loads(raw))
        if data is not None:
            s._data = data
        return s._data

    async def _load_record(self, s: SessionData) -> None:
        s._data = {}
        raw = s._raw = s._request.cookies.get(self.cookie_name)
        if raw is None or len(raw) > _MAX_INBOUND:
            return
        sid = self._signer.unsign(raw)
        if sid is None or not _ID.fullmatch(sid):
            return
        store = self.store
        assert store is not None
        record = await self._store_call(store.load(sid))
        data = self._accept(s, record)
        if data is not None:
            s._sid = sid
            s._data = data
        elif record is not None:
            await self._store_call(store.delete(sid))

    def _accept(self, s: SessionData, record: Any) -> dict[str, Any] | None:
        """The data of ``record`` if it is a well-formed, unexpired session (noting its times)."""
        if not isinstance(record, dict):
            return None
        data, created, active = record.get("d"), record.get("c"), record.get("a")
        if not (isinstance(data, dict) and _is_time(created) and _is_time(active)):
            return None
        now = self.clock()
        absolute, idle, max_age = self.absolute_timeout, self.idle_timeout, self.max_age
        if (
            (absolute is not None and now >= created + absolute)
            or (idle is not None and now >= active + idle)
            or (max_age is not None and now >= active + max_age)
        ):
            return None
        s._created = created
        s._active = active
        s._valid = bool(data)
        return data

    # -- committing --------------------------------------------------------------------

    def _plan(
        self, request: Request, response: Response, s: SessionData | None = None
    ) -> SessionData | None:
        """The session to write at the end of ``request``, or None; adds ``Vary``.

        ``s``: the request's session, when the caller has already looked it up.
        """
        if s is None:
            s = _attached(request)
        if s is None or s._done:
            return None
        s._done = True
        sliding = self.sliding
        if s._data is None:
            if not (sliding is True and self.store is None and self.cookie_name in request.cookies):
                return None
            self._decode(s)
        write = s._modified or s._deleted or s._regen
        if not write and sliding and s._valid:
            write = sliding is True or self.clock() - s._active >= sliding
        if s._accessed or write:
            response._add_vary("Cookie")
        return s if write else None

    def _commit_cookie(
        self, request: Request, response: Response, s: SessionData | None = None
    ) -> None:
        s = self._plan(request, response, s)
        if s is None:
            return
        data = s._data or {}
        if not data:
            if s._raw is not None:
                self._clear_cookie(request, response)
            return
        now = self.clock()
        fresh = not s._valid or s._deleted or s._regen
        value = self._encode(data, now if fresh else s._created, now)
        self._set_cookie(request, response, value)

    async def _commit_store(self, request: Request, response: Response) -> None:
        s = self._plan(request, response)
        store = self.store
        if s is None or store is None:
            return
        data = s._data or {}
        old = s._sid
        fresh = old is None or s._deleted or s._regen
        if old is not None and (fresh or not data):
            await self._store_call(store.delete(old))
        if not data:
            if s._raw is not None:
                self._clear_cookie(request, response)
            return
        now = self.clock()
        created = now if fresh else s._created
        sid = secrets.token_urlsafe(32) if fresh else old
        assert sid is not None
        record = {"d": data, "c": created, "a": now}
        await self._store_call(store.save(sid, record, self._ttl(created, now)))
        if sid != old or self.max_age is not None:
            self._set_cookie(request, response, self._signer.sign(sid))

    async def _store_call(self, call: Any) -> Any:
        try:
            return await call
        except SessionStoreError as exc:
            logger.warning("session store unavailable: %s", exc)
            raise HTTPException(
                503, "session store unavailable", code="session_store_unavailable"
            ) from None

    def _ttl(self, created: float, now: float) -> int:
        limits = [t for t in (self.idle_timeout, self.max_age) if t is not None]
        if self.absolute_timeout is not None:
            limits.append(created + self.absolute_timeout - now)
        ttl = min(limits) if limits else DEFAULT_STORE_TTL
        return max(1, math.ceil(ttl))

    def _encode(self, data: dict[str, Any], created: float, now: float) -> str:
        value = self._signer.dumps({"d": data, "c": created, "a": now})
        if len(self.cookie_name) + 1 + len(value) > MAX_COOKIE_BYTES:
            raise SessionTooLarge(
                f"the session cookie would be {len(value)} bytes; browsers drop cookies "
                f"over about {MAX_COOKIE_BYTES}: store less, or use a server-side store"
            )
        return value

    def _secure(self, request: Request) -> bool:
        if self.secure is None:
            return request.scheme in ("https", "wss")
        return self.secure

    def _set_cookie(self, request: Request, response: Response, value: str) -> None:
        response.set_cookie(
            self.cookie_name,
            value,
            path=self.cookie_path,
            domain=self.cookie_domain,
            max_age=self.max_age,
            secure=self._secure(request),
            http_only=True,
            samesite=self.samesite,
        )

    def _clear_cookie(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            self.cookie_name,
            path=self.cookie_path,
            domain=self.cookie_domain,
            secure=self._secure(request),
            http_only=True,
            samesite=self.samesite,
        )


class _CookieHooks:
    """Hooks for the cookie store: all synchronous, nothing decoded up front."""

    __slots__ = ("ext",)
    #: After the guards (nothing is decoded for a refused request), before AUTH
    #: and the app's hooks, which read the session; committed after they wrote it.
    phase = Phase.SESSION

    def __init__(self, ext: Session) -> None:
        self.ext = ext

    def before_request(self, request: Request) -> None:
        SESSION.set(request, SessionData(self.ext, request))

    def after_request(self, request: Request, response: Response) -> None:
        s = SESSION.get(request)
        if type(s) is SessionData:
            if s._data is None and self.ext.sliding is not True:
                s._done = True  # never looked at: nothing to write, nothing to vary on
                return
            self.ext._commit_cookie(request, response, s)
            return
        self.ext._commit_cookie(request, response)

    after_error_request = after_request


class _StoreHooks:
    """Hooks for server stores: the record is fetched before the handler runs."""

    __slots__ = ("ext",)
    phase = Phase.SESSION  # as _CookieHooks

    def __init__(self, ext: Session) -> None:
        self.ext = ext

    async def before_request(self, request: Request) -> None:
        await self.ext.load(request)

    async def after_request(self, request: Request, response: Response) -> None:
        await self.ext._commit_store(request, response)

    async def after_error_request(self, request: Request, response: Response) -> None:
        await self.ext._commit_store(request, response)


def get_session(request: Request) -> SessionData:
    """The session of ``request`` (``request.session``).

    Raises:
        RuntimeError: no :class:`Session` is installed on the app.
    """
    s = _attached(request)
    if s is None:
        raise RuntimeError("no session here: install Session(app, secret_key=...) first")
    return s


@overload
def with_session(
    f: Callable[Concatenate[Request, SessionData, P], R],
) -> Callable[Concatenate[Request, P], R]: ...
@overload
def with_session(f: Callable[..., R]) -> Callable[..., R]: ...


def with_session(f: Callable[..., Any]) -> Callable[..., Any]:
    """Pass the session to a handler after the request, as Microdot does.

    A handler with a ``session`` parameter elsewhere than second (after URL
    arguments, or keyword-only) gets it by keyword instead.
    """
    params = inspect.signature(f).parameters
    second = list(params.values())[1:2]
    by_name = "session" in params and (
        not second
        or second[0].name != "session"
        or second[0].kind is inspect.Parameter.KEYWORD_ONLY
    )

    def arguments(request: Request, args: Any, kwargs: Any) -> tuple[Any, Any]:
        if by_name:
            return (request, *args), {**kwargs, "session": get_session(request)}
        return (request, get_session(request), *args), kwargs

    if inspect.iscoroutinefunction(f):

        @functools.wraps(f)
        async def async_wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
            a, kw = arguments(request, args, kwargs)
            return await f(*a, **kw)

        return async_wrapper

    @functools.wraps(f)
    def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
        a, kw = arguments(request, args, kwargs)
        return f(*a, **kw)

    return wrapper


def _server_store(spec: SessionStore | str) -> SessionStore:
    """The store that ``Session(store=spec)`` names (see :mod:`junco.stores.resolve`)."""

    def memory() -> SessionStore:
        from ..stores.memory import MemoryStore

        return MemoryStore()

    def redis(url: str) -> SessionStore:
        from ..stores.redis import RedisStore

        return RedisStore(url)

    store: SessionStore = resolve_store(
        spec, "Session", memory=memory, redis=redis, methods=("load", "save", "delete")
    )
    return store


def _attached(request: Request) -> SessionData | None:
    s = SESSION.get(request)
    return s if isinstance(s, SessionData) else None


def _is_time(value: Any) -> TypeGuard[float]:
    return type(value) in (int, float) and math.isfinite(value)


def _unsign(fn: Callable[[str], Any], raw: str) -> Any:
    """``fn(raw)``, or None for anything that fails to verify, decode, or is not canonical."""
    from itsdangerous import BadData

    if not _canonical_signature(raw):
        return None
    try:
        return fn(raw)
    except (BadData, ValueError, TypeError):
        return None


def _canonical_signature(raw: str) -> bool:
    """Whether the signature after the last ``.`` of ``raw`` is canonical unpadded base64url.

    itsdangerous decodes leniently: ``=`` padding appended, or other values of
    the unused low bits of the last character, verify too. Accepting them
    would give one session several valid cookie strings.
    """
    sig = raw.rpartition(".")[2]
    if not _B64URL.fullmatch(sig):
        return False
    try:
        decoded = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    except (binascii.Error, ValueError):
        return False
    return base64.urlsafe_b64encode(decoded).rstrip(b"=") == sig.encode()


def _make_signer(secret_key: Any, ids_only: bool) -> Signer:
    """The signer of session ids (server stores) or of the cookie's data."""
    return Signer(_keys(secret_key), _ID_SALT if ids_only else _COOKIE_SALT)


def random_secret_key(app: Any = None) -> str:
    """A fresh random secret key (32 bytes), remembered on ``app`` as random.

    For development: a key drawn at each start means every session and
    signed token dies with the process. ``junco run`` warns about it in its
    banner ("the secret key is random") when ``app`` is given. ``Session``
    uses this by itself when an app in debug mode gives no key.

    Args:
        app: The app the key is for (its ``state`` records that the key is random).
    """
    if app is not None:
        app.state[RANDOM_KEY_STATE] = True
    return secrets.token_urlsafe(32)


def _keys(secret_key: Any) -> list[bytes]:
    if secret_key is None or (isinstance(secret_key, (str, bytes)) and not secret_key):
        raise ConfigurationError("Session needs a secret_key (secrets.token_urlsafe(32))")
    items = [secret_key] if isinstance(secret_key, (str, bytes)) else list(secret_key)
    if not items:
        raise ConfigurationError("Session needs at least one secret key")
    if not all(isinstance(k, (str, bytes)) for k in items):
        raise ConfigurationError("session secret keys must be str or bytes")
    keys = [k.encode() if isinstance(k, str) else k for k in items]
    if any(len(k) < MIN_SECRET_BYTES for k in keys):
        short = next(k for k in keys if len(k) < MIN_SECRET_BYTES)
        raise ConfigurationError(
            f"session secret keys need at least {MIN_SECRET_BYTES} bytes, and this one has "
            f"{len(short)}: a short key can be guessed and then every session forged. "
            "Generate one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'` "
            "and pass it in, e.g. Session(app, secret_key=os.environ['SECRET_KEY']) "
            "(Microdot's examples use 'top-secret!', which junco refuses)"
        )
    return keys


__all__ = [
    "DEFAULT_STORE_TTL",
    "MAX_COOKIE_BYTES",
    "MIN_SECRET_BYTES",
    "SESSION",
    "Session",
    "SessionData",
    "SessionStore",
    "SessionStoreError",
    "SessionTooLarge",
    "get_session",
    "random_secret_key",
    "with_session",
]
