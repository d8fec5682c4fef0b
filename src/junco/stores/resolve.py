"""One way to say where state lives: ``store=`` as an object, ``"memory"`` or a Redis URL.

``Session``, ``RateLimit`` and ``Broadcast`` (and any later store user) pass
what the user gave them through :func:`resolve_store`, with their own memory
and Redis factories, so all accept the same forms and refuse the same
mistakes at construction, before any request can meet them:

- a store object (anything with the component's methods): used as it is;
- ``"memory"`` (or ``"memory://"``): this process only;
- a ``redis://``, ``rediss://`` or ``unix://`` URL: shared by every process
  using it; one client per URL and event loop, shared by the stores of that
  URL and closed at the app's shutdown.

:func:`redis_url_from_env` reads ``JUNCO_REDIS_URL``, the one variable that
moves every store of an app to Redis (``secure_stack`` honours it), and
:func:`startup_check` makes an unreachable Redis fail the app's start-up
instead of every request. This module knows nothing of its users: it imports
only the standard library and :mod:`junco.exceptions`.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ..exceptions import ConfigurationError, StoreUnavailable

T = TypeVar("T")
logger = logging.getLogger("junco")

#: The environment variable that moves every store of an app to Redis.
REDIS_URL_ENV = "JUNCO_REDIS_URL"
REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
ACCEPTED = (
    'a store object, "memory", or a Redis URL '
    "(redis://host:6379/0, rediss:// for TLS, unix:///path/to/redis.sock)"
)
_OUT_OF_SCOPE = (
    "Redis Sentinel and Cluster URLs are not supported: build the client yourself "
    "and pass a store made from it (docs/scale-out.md#your-own-redis-client)"
)


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and logs)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
        netloc = f"{user}:***@{host}{port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    except ValueError:
        return url.partition("://")[0] + "://***"


def url_kind(url: str, component: str = "store") -> str:
    """``"memory"`` or ``"redis"`` for a store URL.

    Raises:
        ValueError: the string is neither (the message lists the accepted forms).
    """
    text = url.strip()
    if text.lower() in ("memory", "memory://"):
        return "memory"
    scheme, sep, _ = text.partition("://")
    scheme = scheme.lower()
    if sep and scheme in REDIS_SCHEMES:
        try:
            urlsplit(text).port  # noqa: B018 - parsing the port is the check
        except ValueError as exc:
            raise ConfigurationError(
                f"{component}: {redact(text)!r} is not a valid Redis URL ({exc})"
            ) from None
        return "redis"
    hint = f"; {_OUT_OF_SCOPE}" if "sentinel" in scheme or "cluster" in scheme else ""
    raise ConfigurationError(
        f"{component}: store={redact(text)!r} is not a store; accepted: {ACCEPTED}{hint}"
    )


def resolve_store(
    spec: object,
    component: str,
    *,
    memory: Callable[[], T],
    redis: Callable[[str], T],
    methods: tuple[str, ...],
) -> Any:
    """The store that ``spec`` names, for ``component``.

    Args:
        spec: A store object, ``"memory"`` or a Redis URL.
        component: Named in error messages (``"Session"``).
        memory: Makes the component's memory store.
        redis: Makes the component's Redis store for a URL.
        methods: What a store object must have (``("load", "save", "delete")``).

    Raises:
        TypeError: ``spec`` is neither a string nor an object with ``methods``
            (a class instead of an instance included).
        ValueError: a string that is neither ``"memory"`` nor a Redis URL
            (:class:`~junco.exceptions.ConfigurationError`).
    """
    if isinstance(spec, str):
        return memory() if url_kind(spec, component) == "memory" else redis(spec.strip())
    if isinstance(spec, type):
        raise TypeError(
            f"{component}: store={spec.__name__} is a class; pass an instance "
            f"({spec.__name__}(...)); accepted: {ACCEPTED}"
        )
    missing = [name for name in methods if not callable(getattr(spec, name, None))]
    if missing:
        needs = ", ".join(f"{name}()" for name in missing)
        shown = repr(spec) if isinstance(spec, (bytes, int, float, bool)) else type(spec).__name__
        raise TypeError(
            f"{component}: store={shown[:80]} is not a store (it has no {needs}); "
            f"accepted: {ACCEPTED}"
        )
    return spec


def redis_url_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """The Redis URL in ``JUNCO_REDIS_URL``, or None when it is unset or empty.

    Args:
        environ: Where to read it (``os.environ`` by default).

    Raises:
        ValueError: the variable is set to something that is not a Redis URL
            (:class:`~junco.exceptions.ConfigurationError`).
    """
    value = (os.environ if environ is None else environ).get(REDIS_URL_ENV, "").strip()
    if not value:
        return None
    try:
        kind = url_kind(value, REDIS_URL_ENV)
    except ConfigurationError:
        kind = "memory"
    if kind != "redis":
        raise ConfigurationError(
            f"{REDIS_URL_ENV}={redact(value)!r} is not a Redis URL: use redis://host:6379/0, "
            "rediss:// or unix://, or unset it to keep state in memory"
        )
    return value


def in_memory(obj: object) -> bool:
    """Whether ``obj`` keeps its state in this process only.

    ``obj`` is a store, or a component holding one (``Session``, ``RateLimit``
    through ``.store``, ``Broadcast`` through ``.backend``). Such state is not
    seen by other worker processes: with several workers, use Redis. A
    cookie-backed ``Session`` (no store) is not in memory: the cookie carries it.
    """
    for attribute in ("store", "backend"):
        inner = getattr(obj, attribute, None)
        if inner is not None and not isinstance(obj, type):
            return in_memory(inner)
    return getattr(obj, "process_local", False) is True


def describe(store: object) -> str:
    """A name for ``store`` in messages: its URL (password hidden) or its class."""
    url = getattr(store, "url", None)
    if isinstance(url, str):
        return f"Redis at {redact(url)}"
    return type(store).__name__


def startup_check(
    store: object, component: str, *, fail_open: bool = False, degraded: str = ""
) -> Callable[[], Awaitable[None]] | None:
    """A start-up handler that pings ``store``, or None if it has no async ``ping()``.

    Args:
        store: The store to check.
        component: Named in the message (``"Session"``).
        fail_open: Log an error once and let the app start, instead of failing.
        degraded: What the app does meanwhile, for that log line.

    The handler raises :class:`~junco.exceptions.StoreUnavailable` when the
    store does not answer (unless ``fail_open``), so the server reports a
    failed start-up instead of answering every request with an error.
    """
    ping = getattr(store, "ping", None)
    if ping is None or not inspect.iscoroutinefunction(ping):
        return None

    async def check_store() -> None:
        try:
            await ping()
        except Exception as exc:
            where = describe(store)
            if fail_open:
                logger.error(
                    "%s: cannot reach %s at start-up (%s); fail_open=True, so %s",
                    component,
                    where,
                    exc,
                    degraded or "the app starts anyway",
                )
                return
            raise StoreUnavailable(
                f"{component}: cannot reach {where} at start-up ({exc}). Start Redis, "
                f"or correct the URL (store=... or {REDIS_URL_ENV})"
            ) from exc

    return check_store


__all__ = [
    "ACCEPTED",
    "REDIS_SCHEMES",
    "REDIS_URL_ENV",
    "describe",
    "in_memory",
    "redact",
    "redis_url_from_env",
    "resolve_store",
    "startup_check",
    "url_kind",
]
