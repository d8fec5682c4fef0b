"""HTTP authentication for routes: ``BasicAuth`` and ``TokenAuth`` (Microdot's extension API).

::

    auth = BasicAuth()

    @auth.authenticate
    async def verify(request, username, password):
        user = await find_user(username)
        if await verify_password_async(password, user.password_hash if user else None):
            return user
        return None

    @app.get("/admin")
    @auth
    async def admin(request):
        return f"hello {request.g.current_user.name}"

Credentials are parsed strictly. Anything malformed (a wrong scheme, bad
base64, no colon, bytes that are not UTF-8, control characters, an oversized
or repeated header) is treated as no credentials: the client gets the 401
challenge, never a 500, and the verify callback is not called.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, overload

from ..calling import call_endpoint
from ..coerce import make_response
from ..exceptions import ConfigurationError, HTTPException
from ..response import Response

if TYPE_CHECKING:
    from ..request import Request

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])
Wrapped = Callable[P, Coroutine[Any, Any, R | Response]]

#: Longest ``Authorization`` (or token header) value looked at; longer ones are refused.
MAX_CREDENTIALS_LENGTH = 8192
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_VISIBLE = re.compile(r"[\x21-\x7e]+")
_PARAM = re.compile(r"[^\x00-\x1f\x7f\"\\]*")


class RouteDecorator(Protocol):
    """A decorator that guards a route: sync or async handlers become coroutine functions.

    The guarded handler keeps its parameters; it may now also return the
    :class:`Response` that refused the request.
    """

    @overload
    def __call__(self, f: Callable[P, Coroutine[Any, Any, R]], /) -> Wrapped[P, R]: ...
    @overload
    def __call__(self, f: Callable[P, R], /) -> Wrapped[P, R]: ...


async def _invoke(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a user callback under the endpoint policy (it may block: a thread)."""
    return await call_endpoint(fn, None, *args)


async def _call_route(f: Callable[..., Any], request: Request, args: Any, kwargs: Any) -> Any:
    """Call a route handler the way the app would (sync ones in a thread)."""
    return await call_endpoint(f, None, request, *args, **kwargs)


class BaseAuth:
    """What :class:`BasicAuth` and :class:`TokenAuth` share: the decorators and callbacks."""

    def __init__(self, scheme: str = "Bearer", error_status: int = 401) -> None:
        if not _VISIBLE.fullmatch(scheme):
            raise ConfigurationError(f"invalid authentication scheme {scheme!r}")
        self.scheme = scheme
        self.error_status = error_status
        self.auth_callback: Callable[..., Any] | None = None
        self.error_callback: Callable[..., Any] = self.authentication_error

    def authenticate(self, f: F) -> F:
        """Register the callback that turns credentials into a user (or ``None``)."""
        self.auth_callback = f
        return f

    def errorhandler(self, f: F) -> F:
        """Register ``f(request)`` to build the response when authentication fails.

        Its return value is made into a response; a 401 without a
        ``WWW-Authenticate`` header gets this scheme's challenge added.
        """
        self.error_callback = f
        return f

    def _get_auth(self, request: Request) -> tuple[str, ...] | None:
        raise NotImplementedError

    def challenge(self, request: Request, invalid: bool) -> str:
        """The ``WWW-Authenticate`` value sent with a 401."""
        return self.scheme

    async def authentication_error(self, request: Request) -> Any:
        """The default failure: ``error_status`` with a challenge (when it is a 401).

        Raised as an :class:`HTTPException`, so the app's error handlers and
        ``after_error_request`` hooks see it.
        """
        headers = None
        if self.error_status == 401:
            invalid = request.g.get("_junco_auth_presented", False)
            headers = {"WWW-Authenticate": self.challenge(request, invalid)}
        raise HTTPException(self.error_status, headers=headers)

    async def _user(self, request: Request) -> Any:
        """The user the request's credentials name, or None (also for malformed ones)."""
        credentials = self._get_auth(request)
        if credentials is None:
            return None
        request.g._junco_auth_presented = True
        if self.auth_callback is None:
            name = type(self).__name__
            raise RuntimeError(f"{name} has no verify callback: use @auth.authenticate")
        return await _invoke(self.auth_callback, request, *credentials)

    async def _fail(self, request: Request) -> Response:
        response = make_response(await _invoke(self.error_callback, request))
        if response.status_code == 401 and "www-authenticate" not in response.headers:
            invalid = request.g.get("_junco_auth_presented", False)
            response.headers["WWW-Authenticate"] = self.challenge(request, invalid)
        return response

    @overload
    def __call__(self, f: Callable[P, Coroutine[Any, Any, R]]) -> Wrapped[P, R]: ...
    @overload
    def __call__(self, f: Callable[P, R]) -> Wrapped[P, R]: ...

    def __call__(self, f: Callable[..., Any]) -> Callable[..., Any]:
        """Require valid credentials for the decorated route.

        The user returned by the verify callback is in ``request.g.current_user``.
        """

        @functools.wraps(f)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
            user = await self._user(request)
            request.g.current_user = user or None
            if not user:
                return await self._fail(request)
            return await _call_route(f, request, args, kwargs)

        wrapper._junco_guard = (self, True)  # type: ignore[attr-defined]  # for junco.openapi
        return wrapper

    @overload
    def optional(self, f: Callable[P, Coroutine[Any, Any, R]]) -> Wrapped[P, R]: ...
    @overload
    def optional(self, f: Callable[P, R]) -> Wrapped[P, R]: ...

    def optional(self, f: Callable[..., Any]) -> Callable[..., Any]:
        """Run the route with or without credentials; ``current_user`` is None without."""

        @functools.wraps(f)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
            request.g.current_user = await self._user(request) or None
            return await _call_route(f, request, args, kwargs)

        wrapper._junco_guard = (self, False)  # type: ignore[attr-defined]
        return wrapper


class BasicAuth(BaseAuth):
    """HTTP Basic authentication (RFC 7617).

    The verify callback is ``f(request, username, password)``, sync or async,
    and returns the user or ``None``.

    Args:
        realm: Shown by browsers in their login prompt.
        charset: Announced in the challenge; credentials are decoded as UTF-8.
        scheme: The scheme name (``"Basic"``).
        error_status: The status when authentication fails.

    Raises:
        ConfigurationError: a realm or charset with quotes, backslashes or
            control characters.
    """

    def __init__(
        self,
        realm: str = "Please login",
        charset: str = "UTF-8",
        scheme: str = "Basic",
        error_status: int = 401,
    ) -> None:
        super().__init__(scheme, error_status)
        for label, value in (("realm", realm), ("charset", charset)):
            if not _PARAM.fullmatch(value) or not value.isascii():
                raise ConfigurationError(f"invalid {label} {value!r}")
        self.realm = realm
        self.charset = charset

    def challenge(self, request: Request, invalid: bool) -> str:
        return f'{self.scheme} realm="{self.realm}", charset="{self.charset}"'

    def _get_auth(self, request: Request) -> tuple[str, str] | None:
        token = _credentials(request, "Authorization", self.scheme)
        if token is None:
            return None
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        username, colon, password = decoded.partition(":")
        if not colon or not (username or password) or _CONTROL.search(decoded):
            return None
        return username, password


class TokenAuth(BaseAuth):
    """Token authentication: ``Authorization: Bearer <token>`` (RFC 6750) or a custom header.

    The verify callback is ``f(request, token)``, sync or async, and returns
    the user or ``None``. Tokens must be visible ASCII without spaces.

    Args:
        header: The header carrying the token. For ``Authorization`` the
            value must start with ``scheme``; any other header (``X-API-Key``)
            holds the bare token.
        scheme: The scheme name (``"Bearer"``), matched case-insensitively.
        error_status: The status when authentication fails.
    """

    def __init__(
        self, header: str = "Authorization", scheme: str = "Bearer", error_status: int = 401
    ) -> None:
        super().__init__(scheme, error_status)
        if not _VISIBLE.fullmatch(header):
            raise ConfigurationError(f"invalid header name {header!r}")
        self.header = header

    def challenge(self, request: Request, invalid: bool) -> str:
        # RFC 6750: no error code when no credentials came, invalid_token otherwise.
        return f'{self.scheme} error="invalid_token"' if invalid else self.scheme

    def _get_auth(self, request: Request) -> tuple[str] | None:
        if self.header.lower() == "authorization":
            token = _credentials(request, self.header, self.scheme)
        else:
            token = _single_header(request, self.header)
        if token is None or not _VISIBLE.fullmatch(token):
            return None
        return (token,)


def _single_header(request: Request, name: str) -> str | None:
    """The header's value when it appears exactly once and is not oversized."""
    values = request.headers.getlist(name)
    if len(values) != 1 or len(values[0]) > MAX_CREDENTIALS_LENGTH:
        return None
    return values[0].strip(" \t") or None


def _credentials(request: Request, header: str, scheme: str) -> str | None:
    """The credentials after ``scheme`` in ``header``, or None if absent or malformed."""
    value = _single_header(request, header)
    if value is None:
        return None
    given, _, rest = value.partition(" ")
    if given.lower() != scheme.lower():
        return None
    return rest.strip(" \t") or None


__all__ = ["MAX_CREDENTIALS_LENGTH", "BaseAuth", "BasicAuth", "TokenAuth"]
