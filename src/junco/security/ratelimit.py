"""Rate limits per client: route decorators, path rules and a default, in memory or Redis.

::

    limiter = RateLimit(app, store="redis://127.0.0.1:6379/0")
    limiter.rule("/login", "5/minute;50/hour", methods=["POST"])

    @app.post("/api/items")
    @limiter.limit("100/minute")
    async def create(request): ...

The check runs in a before-hook, so it covers every request, routed or not:
path rules match ``request.path``, the one canonical path the router also
matched (``//login`` or ``/a/../login`` never get this far: the app refuses
them with 400 before routing, see :mod:`junco.paths`), and a rule on
``/login`` also counts ``/login/``, which the router redirects. Route limits
are keyed by the route's pattern, so ``/users/1`` and ``/users/2`` share the
``/users/<int:id>`` quota.
A request is checked against all the limits that apply in one store call and
counted in all of them only if all allow it; a refused request raises
``HTTPException(429)`` with ``Retry-After``, which the error chain renders (so
security headers, CORS and the request id decorate it).

Counting (a sliding window counter) is explained in
:mod:`junco.stores.memory`; docs/rate-limits.md has the measurements
that chose it over the ``limits`` library.
"""

from __future__ import annotations

import hashlib
import inspect
import ipaddress
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..calling import call_callback
from ..exceptions import ConfigurationError, HTTPException
from ..paths import normalize_path
from ..phases import Phase
from ..request import Slot
from ..stores.memory import (
    Check,
    MemoryRateLimitStore,
    Outcome,
    RateLimitStore,
    RefundingStore,
    allows,
    remaining,
    wait_ms,
)
from ..stores.resolve import resolve_store, startup_check
from .proxy import client_ip

if TYPE_CHECKING:
    from ..request import Request
    from ..response import Response

F = TypeVar("F", bound=Callable[..., Any])
KeyFunc = Callable[["Request"], Any]  # returns str, None (exempt) or an awaitable of those
#: ``count_when(request, response) -> bool``: whether a request that was let through counts.
CountWhen = Callable[["Request", "Response"], Any]
logger = logging.getLogger("junco")

_MARK = "_junco_rate_limits"
_STATE: Slot[Any] = Slot("_junco_rate_limit")
_COUNTED: Slot[Any] = Slot("_junco_rate_counted")
_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
}
_RATE = re.compile(r"(\d{1,12})\s*(?:/|per\s)\s*(\d{1,9})?\s*([a-z]+)", re.IGNORECASE)
_LOG_EVERY = 10.0  # seconds between two "store unavailable" log lines
_DEGRADED = "requests pass unlimited until it answers (an error is logged every 10 s)"


@dataclass(frozen=True, slots=True)
class Rate:
    """``limit`` requests per ``window`` milliseconds."""

    limit: int
    window: int

    def __str__(self) -> str:
        return f"{self.limit}/{self.window // 1000}s"


def parse_rates(text: str) -> tuple[Rate, ...]:
    """Parse ``'5/minute'``, ``'100 per hour'``, ``'10/5 seconds'``, ``'5/minute;100/hour'``.

    Units: second, minute, hour, day (singular, plural or ``s``/``m``/``h``/``d``).
    Several rates are separated by ``;`` or ``,``.

    Raises:
        ValueError: the text is not a list of rates, or a count or period is 0.
    """
    rates = []
    for part in re.split(r"[;,]", text):
        if not part.strip():
            continue
        m = _RATE.fullmatch(part.strip())
        unit = _UNITS.get(m.group(3).lower()) if m else None
        if m is None or unit is None:
            raise ConfigurationError(
                f"not a rate: {part.strip()!r} (try '5/minute' or '100 per hour')"
            )
        limit, times = int(m.group(1)), int(m.group(2) or 1)
        if limit < 1 or times < 1:
            raise ConfigurationError(f"a rate needs a count and a period of at least 1: {part!r}")
        rates.append(Rate(limit, times * unit * 1000))
    if not rates:
        raise ConfigurationError(f"no rate in {text!r}")
    return tuple(rates)


@dataclass(frozen=True, slots=True, eq=False)
class Limit:
    """One ``limit()`` decorator, ``rule()`` or default: rates, key and methods."""

    rates: tuple[Rate, ...]
    key: KeyFunc | None
    methods: frozenset[str] | None
    owner: Any
    scope: str = ""  # "" for route limits: the route supplies it
    count_when: CountWhen | None = None

    def applies(self, method: str) -> bool:
        ms = self.methods
        if ms is None or method in ms:
            return True
        return method == "HEAD" and "GET" in ms


def remote_address(request: Request, ipv6_prefix: int = 64) -> str:
    """The default key: the client's IP address (:func:`client_ip`), IPv6 grouped by /64.

    One IPv6 subscriber usually holds a whole /64 and can pick any address in
    it, so counting each address apart would let one client rotate through
    2**64 quotas. ``ipv6_prefix`` sets the group (``RateLimit(ipv6_prefix=48)``
    for providers that hand out /56 or /48; 128 counts each address).
    """
    ip = client_ip(request)
    if ":" not in ip:
        return ip
    try:
        addr = ipaddress.IPv6Address(ip.partition("%")[0])
    except ValueError:
        return ip
    if addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(ipaddress.IPv6Network((addr, ipv6_prefix), strict=False))


def _digest(value: str) -> str:
    # Bounded, uniform key material whatever the key function returned.
    raw = value.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def _methods(methods: Iterable[str] | None) -> frozenset[str] | None:
    if methods is None:
        return None
    if isinstance(methods, str):
        methods = [methods]
    return frozenset(m.upper() for m in methods)


def _scope_suffix(methods: frozenset[str] | None) -> str:
    return "" if methods is None else "|" + ",".join(sorted(methods))


class RateLimit:
    """Native middleware enforcing per-client request rates.

    Args:
        app: The app to install on; or later, ``init_app(app)``.
        store: Where counters live: ``"memory"`` (the default: per process),
            a Redis URL (``redis://``, ``rediss://``, ``unix://``: shared by
            every process using it), or a store object
            (:class:`~junco.stores.memory.MemoryRateLimitStore`,
            :class:`~junco.stores.redis.RedisRateLimitStore`, yours).
        default: A rate applied to every request, per route pattern (requests
            that match no route share one counter).
        key: ``key(request) -> str`` naming the client (sync or async);
            :func:`remote_address` by default. Returning ``None`` exempts the
            request from the limits using this key.
        headers: Add ``RateLimit-Limit``, ``RateLimit-Remaining`` and
            ``RateLimit-Reset`` to limited responses (``Retry-After`` is
            always on a 429).
        fail_open: When the store fails (Redis down), let requests through
            and log an error (the default), or answer 503. A Redis that does
            not answer at start-up is logged once with ``fail_open``, and
            fails the app's start-up without it.
        prefix: Put before every counter's key in the store.
        ipv6_prefix: With the default key, IPv6 clients are counted per
            network of this prefix length (64: one subscriber's /64).

    Raises:
        ValueError: ``default`` is not a rate; ``ipv6_prefix`` is not 1 to 128;
            a string ``store`` that is neither ``"memory"`` nor a Redis URL.
        TypeError: a ``store`` that is not a rate-limit store.
    """

    #: Refuses before sessions are loaded; after TRANSPORT, so the client address is the proxy's.
    phase = Phase.GUARD

    def __init__(
        self,
        app: Any = None,
        store: RateLimitStore | str | None = None,
        default: str | None = None,
        key: KeyFunc | None = None,
        headers: bool = True,
        *,
        fail_open: bool = True,
        prefix: str = "junco:rl:",
        ipv6_prefix: int = 64,
    ) -> None:
        if not 1 <= ipv6_prefix <= 128:
            raise ValueError("ipv6_prefix must be between 1 and 128")
        self.store: RateLimitStore = _counter_store("memory" if store is None else store)
        self.ipv6_prefix = ipv6_prefix
        self.key = key or self._remote_address
        self.headers = headers
        self.fail_open = fail_open
        self.prefix = prefix
        self.default = None if default is None else Limit(parse_rates(default), None, None, self)
        self._exact: dict[str, list[Limit]] = {}
        self._prefixes: list[tuple[str, Limit]] = []
        self._routes: dict[Any, tuple[Limit, ...]] = {}
        self._errors: tuple[type[BaseException], ...] = getattr(self.store, "errors", (OSError,))
        self._last_log = -_LOG_EVERY
        self._suppressed = 0
        if app is not None:
            if not hasattr(app, "add_middleware"):
                raise ConfigurationError("the first argument is the app; pass settings by keyword")
            self.init_app(app)

    def init_app(self, app: Any) -> None:
        """Install the hooks on ``app`` (and close the store at its shutdown)."""
        app.add_middleware(self)
        check = startup_check(self.store, "RateLimit", fail_open=self.fail_open, degraded=_DEGRADED)
        if check is not None:
            app.on_startup(check)
        close = getattr(self.store, "close", None)
        if close is not None and inspect.iscoroutinefunction(close):
            app.on_shutdown(close)

    def _remote_address(self, request: Request) -> str:
        return remote_address(request, self.ipv6_prefix)

    # -- configuration -----------------------------------------------------------------

    def limit(
        self,
        rate: str,
        key: KeyFunc | None = None,
        methods: Iterable[str] | None = None,
        *,
        count_when: CountWhen | None = None,
    ) -> Callable[[F], F]:
        """Limit the decorated handler; put it above or below ``@app.route``.

        The counter is per client and per route pattern. Other decorators in
        between are fine as long as they use ``functools.wraps``.

        Args:
            rate: e.g. ``'5/minute'`` or ``'10/second;200/hour'``.
            key: Overrides the limiter's key function for this limit.
            methods: Count only these methods (all of the route's by default).
            count_when: ``count_when(request, response) -> bool``, called once
                the response is made: a request it says does not count is
                given back to the limit (e.g. successful logins, with
                ``lambda request, response: response.status_code >= 400``).
                Every request is counted up front, so the limit stays exact
                under concurrency; see :meth:`refund`.

        Raises:
            ValueError: ``rate`` is not a rate, or ``count_when`` is given with
                a store that cannot give counts back.
        """
        spec = Limit(parse_rates(rate), key, _methods(methods), self, "", self._when(count_when))

        def decorator(f: F) -> F:
            try:
                setattr(f, _MARK, (*getattr(f, _MARK, ()), spec))
            except AttributeError:
                raise ConfigurationError(
                    f"cannot mark {f!r}; decorate the function itself"
                ) from None
            self._routes.clear()
            return f

        return decorator

    def rule(
        self,
        path: str,
        rate: str,
        methods: Iterable[str] | None = None,
        key: KeyFunc | None = None,
        *,
        count_when: CountWhen | None = None,
    ) -> None:
        """Limit requests to ``path``, whether or not a route matches.

        ``'/api/*'`` covers ``/api`` and everything below it with one counter
        per client; any other path matches itself only. ``count_when`` is as
        for :meth:`limit`.

        Raises:
            ValueError: ``rate`` is not a rate, ``path`` does not start with
                ``/``, or ``count_when`` is given with a store that cannot
                give counts back.
        """
        if not path.startswith("/"):
            raise ConfigurationError(f"a rule's path must start with '/': {path!r}")
        ms = _methods(methods)
        rates = parse_rates(rate)
        when = self._when(count_when)
        if path.endswith("/*"):
            base = normalize_path(path[:-2] or "/")
            spec = Limit(rates, key, ms, self, f"p:{base}/*{_scope_suffix(ms)}", when)
            self._prefixes.append((base, spec))
        else:
            base = normalize_path(path)
            spec = Limit(rates, key, ms, self, f"p:{base}{_scope_suffix(ms)}", when)
            self._exact.setdefault(base, []).append(spec)

    def _when(self, count_when: CountWhen | None) -> CountWhen | None:
        if count_when is not None and not isinstance(self.store, RefundingStore):
            raise ConfigurationError(
                f"count_when needs a store that can give counts back (a refund() method);"
                f" {type(self.store).__name__} has none"
            )
        return count_when

    # -- hooks -------------------------------------------------------------------------

    async def before_request(self, request: Request) -> None:
        """Count the request; raise a 429 if any limit is exhausted."""
        found = self._applicable(request)
        if not found:
            return
        checks, whens = await self._checks(request, found)
        if not checks:
            return
        try:
            outcome = await self.store.hit(checks)
        except self._errors as exc:
            self._store_failed(exc)
            return
        if outcome.allowed:
            if self.headers:
                _STATE.set(request, _headers(checks, outcome, None))
            _COUNTED.set(request, (checks, outcome.now, whens))
            if any(whens):
                request.after_request(self._settle)
            return
        refused = _headers(checks, outcome, _refusal(checks, outcome))
        if self.headers:
            _STATE.set(request, refused)
        else:
            refused = {"Retry-After": refused["Retry-After"]}
        raise HTTPException(429, headers=refused)

    def after_request(self, request: Request, response: Response) -> None:
        """Put the ``RateLimit-*`` headers on the response, if this request was limited."""
        values = _STATE.get(request)
        if values is not None:
            d = response.headers._data()
            for name, value in values.items():
                d[name.lower()] = [value]

    async def after_error_request(self, request: Request, response: Response) -> None:
        """As :meth:`after_request`; also settles ``count_when`` on error responses."""
        self.after_request(request, response)
        if _COUNTED.is_set(request):
            await self._settle(request, response)

    async def refund(self, request: Request) -> None:
        """Give back every count this limiter made for ``request``: it costs nothing.

        Call it from a handler that knows its request should not count (a
        successful login). The request was counted when it was let through, so
        concurrent requests never pass more than the limit; this only lowers
        the counts afterwards. A second call, or a call for a request that
        was not counted (no limit applied, the store was down), does nothing.
        A store failure is logged, not raised.

        Raises:
            ConfigurationError: the store cannot give counts back.
        """
        counted = _COUNTED.pop(request)
        if counted is not None:
            await self._give_back(counted[0], counted[1])

    async def _settle(self, request: Request, response: Response) -> None:
        """Give back the counts of the ``count_when`` limits that say this request is free."""
        counted = _COUNTED.pop(request)
        if counted is None:
            return
        checks, now, whens = counted
        back: list[Check] = []
        for check, when in zip(checks, whens, strict=True):
            if when is None:
                continue
            try:
                counts = when(request, response)
                if inspect.isawaitable(counts):
                    counts = await counts
            except Exception:
                logger.exception("count_when failed; the request stays counted")
                continue
            if not counts:
                back.append(check)
        if back:
            await self._give_back(back, now)

    async def _give_back(self, checks: Sequence[Check], now: int) -> None:
        refund = getattr(self.store, "refund", None)
        if refund is None:
            name = type(self.store).__name__
            raise ConfigurationError(f"{name} cannot give counts back (no refund())")
        try:
            await refund(checks, now)
        except self._errors as exc:
            self._log_store_failure(exc)

    # -- internals ---------------------------------------------------------------------

    def _applicable(self, request: Request) -> list[tuple[Limit, str]]:
        """``(limit, scope)`` for each limit of this request's route, path and default."""
        method = request.method
        found: list[tuple[Limit, str]] = []
        route = request.route
        route_scope = "*"
        if route is not None:
            route_scope = request.url_prefix + route.url_pattern
            for spec in self._route_limits(route):
                if spec.applies(method):
                    found.append((spec, f"r:{route_scope}{_scope_suffix(spec.methods)}"))
        if self._exact or self._prefixes:
            path = request.path  # canonical, decided once before routing (junco.paths)
            if len(path) > 1 and path[-1] == "/":
                path = path[:-1]  # a rule on /login covers its trailing-slash twin
            for spec in self._exact.get(path, ()):
                if spec.applies(method):
                    found.append((spec, spec.scope))
            for base, spec in self._prefixes:
                if spec.applies(method) and (
                    base == "/" or path == base or path.startswith(base + "/")
                ):
                    found.append((spec, spec.scope))
        if self.default is not None:
            found.append((self.default, "d:" + route_scope))
        return found

    def _route_limits(self, route: Any) -> tuple[Limit, ...]:
        specs = self._routes.get(route)
        if specs is None:
            collected: list[Limit] = []
            seen: set[int] = set()
            f: Any = route.handler
            for _ in range(64):  # a __wrapped__ cycle must not hang the request
                if f is None or id(f) in seen:
                    break
                seen.add(id(f))
                for spec in getattr(f, _MARK, ()):
                    if spec.owner is self and spec not in collected:
                        collected.append(spec)
                f = getattr(f, "__wrapped__", None) or getattr(f, "func", None)
            specs = self._routes[route] = tuple(collected)
        return specs

    async def _checks(
        self, request: Request, found: list[tuple[Limit, str]]
    ) -> tuple[list[Check], list[CountWhen | None]]:
        """The store's checks for ``found``, and each one's ``count_when``."""
        checks: list[Check] = []
        whens: list[CountWhen | None] = []
        seen: set[str] = set()
        keys: dict[Any, str | None] = {}
        for spec, scope in found:
            fn = spec.key or self.key
            if fn in keys:
                client = keys[fn]
            else:
                value = await call_callback(fn, request)
                client = keys[fn] = None if value is None else _digest(str(value))
            if client is None:
                continue
            for rate in spec.rates:
                # The braces make a Redis Cluster hash tag: one client, one slot.
                name = f"{self.prefix}{{{client}}}:{scope}:{rate.limit}/{rate.window}"
                if name not in seen:
                    seen.add(name)
                    checks.append((name, rate.limit, rate.window))
                    whens.append(spec.count_when)
        return checks, whens

    def _store_failed(self, exc: BaseException) -> None:
        self._log_store_failure(exc)
        if not self.fail_open:
            raise HTTPException(
                503,
                "rate-limit store unavailable",
                {"Retry-After": "1"},
                code="rate_limit_store_unavailable",
            )

    def _log_store_failure(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last_log >= _LOG_EVERY:
            extra = f" ({self._suppressed} more since the last report)" if self._suppressed else ""
            verdict = "letting requests through" if self.fail_open else "refusing requests (503)"
            logger.error("rate-limit store unavailable, %s: %r%s", verdict, exc, extra)
            self._last_log = now
            self._suppressed = 0
        else:
            self._suppressed += 1


def _counter_store(spec: RateLimitStore | str) -> RateLimitStore:
    """The store that ``RateLimit(store=spec)`` names (see :mod:`junco.stores.resolve`)."""

    def redis(url: str) -> RateLimitStore:
        from ..stores.redis import RedisRateLimitStore

        return RedisRateLimitStore(url)

    store: RateLimitStore = resolve_store(
        spec, "RateLimit", memory=MemoryRateLimitStore, redis=redis, methods=("hit",)
    )
    return store


def _refusal(checks: Sequence[Check], outcome: Outcome) -> tuple[int, int]:
    """``(wait_ms, index)``: the longest wait among the limits that refused."""
    now = outcome.now
    worst, index = 0, 0
    for i, ((_, limit, window), (prev, cur)) in enumerate(zip(checks, outcome.counts, strict=True)):
        elapsed = now - now // window * window
        if not allows(prev, cur, elapsed, window, limit):
            w = wait_ms(prev, cur, elapsed, window, limit)
            if w >= worst:
                worst, index = w, i
    return worst, index


def _headers(
    checks: Sequence[Check], outcome: Outcome, refused: tuple[int, int] | None
) -> dict[str, str]:
    """The ``RateLimit-*`` values of the tightest limit (and ``Retry-After`` if refused)."""
    now = outcome.now
    if refused is not None:
        retry = max(1, -(-refused[0] // 1000))
        limit = checks[refused[1]][1]
        return {
            "Retry-After": str(retry),
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(retry),
        }
    candidates = []  # (remaining, -reset seconds, limit): the smallest is the tightest
    for (_, limit, window), (prev, cur) in zip(checks, outcome.counts, strict=True):
        elapsed = now - now // window * window
        left = remaining(prev, cur, elapsed, window, limit)
        reset_ms = wait_ms(prev, cur, elapsed, window, limit) if left == 0 else window - elapsed
        candidates.append((left, -max(1, -(-reset_ms // 1000)), limit))
    best = min(candidates)
    return {
        "RateLimit-Limit": str(best[2]),
        "RateLimit-Remaining": str(best[0]),
        "RateLimit-Reset": str(-best[1]),
    }


__all__ = ["CountWhen", "Limit", "Rate", "RateLimit", "parse_rates", "remote_address"]
