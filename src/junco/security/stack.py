"""``secure_stack``: the secure-by-default components, in one call.

The order they run in is not this function's business: each component
declares its phase (:mod:`junco.phases`), and the hooks run phase by phase
(after-hooks in reverse), so adding the same components by hand, in any
order, gives the same stack:

- ``OBSERVE``: ``Audit`` (when asked for), around everything, so it times the
  whole request and records the final response, refusals included.
- ``TRANSPORT``: ``ProxyHeaders`` (the real client, scheme and host, when
  ``trusted_proxies`` is given), ``RequestID``, ``CSPNonce`` (merged last,
  into the finished policy).
- ``HOST``: ``AllowedHosts`` refuses foreign Host headers before any work.
- ``GUARD``: ``RateLimit`` and ``SecurityHeaders``: cheap refusals and
  static headers before the session is loaded.
- ``SESSION``: ``Session``; then ``AUTH``: ``CORS`` and ``CSRF`` (its tokens
  live in the session; it trusts the CORS origins).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .allowed_hosts import AllowedHosts
from .csp_nonce import CSPNonce
from .proxy import ProxyHeaders
from .request_id import RequestID
from .security_headers import SecurityHeaders

#: ``secure_stack``'s session timeouts: a stolen cookie dies after 2 hours
#: unused, and after 7 days whatever happens.
SESSION_IDLE_TIMEOUT = 2 * 3600
SESSION_ABSOLUTE_TIMEOUT = 7 * 86400
#: An active session is re-written at most this often to move its idle deadline.
SESSION_REFRESH = 5 * 60


@dataclass
class Stack:
    """The components ``secure_stack`` installed (``None`` for those left out)."""

    proxy: ProxyHeaders | None
    hosts: AllowedHosts | None
    request_id: RequestID
    limiter: Any
    headers: SecurityHeaders
    nonce: CSPNonce | None
    session: Any
    cors: Any
    csrf: Any
    audit: Any


def secure_stack(
    app: Any,
    *,
    secret_key: str | bytes | list[str | bytes] | None = None,
    allowed_hosts: Iterable[str] | None = None,
    cors_origins: Iterable[str] | None = None,
    cors_credentials: bool = False,
    csrf: bool = True,
    csrf_tokens: bool = False,
    rate_limits: Mapping[str, str] | None = None,
    session_store: Any = None,
    trusted_proxies: Iterable[str] | None = None,
    csp_nonce: bool = True,
    audit: bool | Callable[[dict[str, Any]], Any] = False,
    rate_limit_store: Any = None,
    session_idle_timeout: float | None = SESSION_IDLE_TIMEOUT,
    session_absolute_timeout: float | None = SESSION_ABSOLUTE_TIMEOUT,
    **security_headers: Any,
) -> Stack:
    """Install junco's security components on ``app`` (their phases order them).

    Args:
        app: The application.
        secret_key: Signs sessions (and CSRF tokens); a list rotates keys.
            Required unless the app has ``debug=True`` (then a random key;
            see :class:`~junco.security.sessions.Session`).
        allowed_hosts: Host names the app answers to (see ``AllowedHosts``).
        cors_origins: Origins allowed to make cross-origin requests.
        cors_credentials: Let those origins send cookies.
        csrf: Install CSRF protection (turn it off only for an API that no
            browser reaches with cookies).
        csrf_tokens: Require a session-bound token as well as the
            Fetch-Metadata/Origin check.
        rate_limits: ``{path: rate}`` rules, e.g. ``{"/login": "5/minute"}``
            (counted for unsafe methods).
        session_store: Where sessions live, in any form ``Session(store=...)``
            takes: ``"memory"``, a Redis URL or a store object. When None:
            the Redis of ``JUNCO_REDIS_URL`` if that is set, else signed cookies.
        trusted_proxies: Addresses of reverse proxies whose ``X-Forwarded-*``
            headers are believed.
        csp_nonce: Add a per-request CSP nonce (``csp_nonce()`` in templates).
        audit: ``True`` logs mutating requests to ``junco.audit``; a callable
            receives each record instead.
        rate_limit_store: Where rate-limit counters live, in any form
            ``RateLimit(store=...)`` takes. When None: the Redis of
            ``JUNCO_REDIS_URL`` if that is set, else this process's memory.
        session_idle_timeout: Seconds of inactivity after which a session
            ends (2 hours; ``None`` for none, which ``app.check()`` flags).
            Requests that use the session count as activity: it is re-written
            at most every 5 minutes to move the deadline.
        session_absolute_timeout: Seconds after login (or creation) after
            which a session ends however active (7 days; ``None`` for none).
        security_headers: Options for ``SecurityHeaders``.

    Returns:
        The installed components.

    Raises:
        ValueError: ``JUNCO_REDIS_URL`` is set to something that is not a Redis URL.
    """
    from ..stores.resolve import redis_url_from_env
    from .audit import Audit
    from .cors import CORS
    from .csrf import CSRF
    from .ratelimit import RateLimit
    from .sessions import Session

    # One variable moves every store to Redis; an explicit store still wins.
    shared = redis_url_from_env()
    session_store = shared if session_store is None else session_store
    rate_limit_store = shared if rate_limit_store is None else rate_limit_store
    recorder = None
    if audit:
        recorder = Audit(app, sink=None if audit is True else audit)
    proxy = ProxyHeaders(app, trusted=trusted_proxies) if trusted_proxies else None
    hosts = AllowedHosts(app, hosts=allowed_hosts) if allowed_hosts else None
    request_id = RequestID(app)
    limiter = None
    if rate_limits:
        limiter = RateLimit(app, store=rate_limit_store)
        for path, rate in rate_limits.items():
            limiter.rule(path, rate, methods=["POST", "PUT", "PATCH", "DELETE"])
    nonce = CSPNonce(app) if csp_nonce else None
    headers = SecurityHeaders(app, **security_headers)
    session = Session(
        app,
        secret_key=secret_key,
        store=session_store,
        idle_timeout=session_idle_timeout,
        absolute_timeout=session_absolute_timeout,
        sliding=SESSION_REFRESH if session_idle_timeout else False,
    )
    cors = None
    if cors_origins:
        cors = CORS(app, allowed_origins=list(cors_origins), allow_credentials=cors_credentials)
    guard = CSRF(app, cors, tokens=csrf_tokens) if csrf else None
    return Stack(proxy, hosts, request_id, limiter, headers, nonce, session, cors, guard, recorder)
