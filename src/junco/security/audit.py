"""An audit trail: one record per state-changing request, errors and refusals included.

::

    Audit(app)                                   # JSON lines on the "junco.audit" logger
    Audit(app, level="request", sink=ship)       # with query, form/JSON fields, headers

A record is a flat dict (see :class:`Audit`); the default sink logs it as one
line of JSON to the ``junco.audit`` logger at INFO. At ``level="request"`` the
query, the request headers and the form or JSON body (only if it was already
buffered; a streamed body is never read) are added, with credentials taken
out: any field, header or JSON key whose name contains one of ``redact``
(case-insensitively) is replaced by ``"[REDACTED]"``, and so is any part of a
value matching one of ``redact_patterns`` (card numbers, JSON web tokens,
bearer credentials by default). Values, lists and nesting are clipped, so a
hostile request cannot make a huge record.

Sinks never break requests: a sink that raises is logged and the response
goes out. A synchronous sink runs inline and must be quick (logging is; for
slow I/O use an async sink or a ``logging.handlers.QueueHandler``). An async
sink runs as a task after the response, with ``timeout`` seconds to finish;
at most ``max_pending`` such tasks run at once, and records beyond that are
dropped and counted (``audit.dropped``) with a warning, so a stuck sink costs
bounded memory instead of stalling every response. ``await audit.flush()``
waits for the pending ones (done at app shutdown).

The last ``keep`` records (100 by default) also stay in a ring in this
process's memory, for an admin page: :meth:`Audit.recent`. The ring is
bounded whatever the traffic; each worker process has its own.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..calling import is_async_callable
from ..exceptions import ConfigurationError, HTTPException
from ..phases import Phase
from ..request import REQUEST_ID, Slot
from .proxy import client_ip
from .sessions import SESSION, SESSION_USER_ID

if TYPE_CHECKING:
    from ..request import Request
    from ..response import Response

Sink = Callable[[dict[str, Any]], Any]
audit_logger = logging.getLogger("junco.audit")
logger = logging.getLogger("junco")

REDACTED = "[REDACTED]"
DEFAULT_REDACT = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "session",
    "csrf",
    "api_key",
    "api-key",
    "apikey",
    "card",
    "cvv",
    "cvc",
    "ssn",
)
#: 13 to 19 digits, optionally grouped by spaces or dashes; only runs that pass
#: the Luhn check are redacted, so long ids and timestamps mostly survive.
CARD_NUMBER = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
BEARER = re.compile(r"\b(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
DEFAULT_PATTERNS: tuple[re.Pattern[str], ...] = (CARD_NUMBER, JWT, BEARER)

MAX_TEXT = 1000  # characters kept of any one value
MAX_ITEMS = 100  # fields, keys or list items kept per container
MAX_DEPTH = 8
_START: Slot[float] = Slot("_junco_audit_start")
_WARN_EVERY = 10.0


def log_sink(record: dict[str, Any]) -> None:
    """The default sink: ``record`` as one line of JSON on the ``junco.audit`` logger."""
    if audit_logger.isEnabledFor(logging.INFO):
        audit_logger.info("%s", json.dumps(record, separators=(",", ":"), default=str))


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum (as card numbers do)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = text.replace(" ", "").replace("-", "")
    return REDACTED if luhn_valid(digits) else text


class Audit:
    """Native middleware recording who changed what, and how it ended.

    Each record has ``timestamp`` (UTC, ISO 8601), ``request_id`` (from
    :class:`~junco.security.RequestID`, else ``None``), ``client_ip``
    (:func:`~junco.security.client_ip`), ``user_id``, ``method``, ``path``,
    ``route`` (the matched pattern, ``None`` for a 404), ``status`` and
    ``duration_ms`` (until the response was ready; ``None`` when an earlier
    hook refused the request before this one ran: register ``Audit`` first
    to time those too). ``level="request"`` adds ``query``, ``headers`` and
    ``body``.

    The user id is ``user_id(request)`` if given, else the ``id`` of
    ``request.g.current_user`` (an attribute or a key), else the session's
    ``_user_id`` (where junco's and Microdot's ``Login`` keep it).

    Args:
        app: The app to install on; or add it later with ``app.add_middleware``.
        level: ``"metadata"`` or ``"request"``.
        sink: ``sink(record)``, sync or async; :func:`log_sink` by default.
        methods: The methods recorded; ``None`` for all.
        redact: Name fragments whose fields, keys and headers are blanked.
        redact_patterns: Regular expressions (text or compiled) whose matches
            in values are blanked.
        user_id: ``user_id(request) -> str | None``, to find the user yourself.
        timeout: Seconds an async sink may take per record.
        max_pending: Most async sink calls running at once.
        keep: How many of the latest records :meth:`recent` returns (0: none kept).

    Raises:
        ValueError: an unknown level, a non-positive timeout or max_pending,
            or a negative ``keep``.
    """

    #: Its before-hook runs first (the duration covers everything) and its after-hook
    #: last (the record shows the final response, refusals by any component included).
    phase = Phase.OBSERVE

    def __init__(
        self,
        app: Any = None,
        level: str = "metadata",
        sink: Sink | None = None,
        methods: Iterable[str] | None = ("POST", "PUT", "PATCH", "DELETE"),
        redact: Iterable[str] = DEFAULT_REDACT,
        redact_patterns: Iterable[str | re.Pattern[str]] = DEFAULT_PATTERNS,
        *,
        user_id: Callable[[Request], Any] | None = None,
        timeout: float = 5.0,
        max_pending: int = 1000,
        keep: int = 100,
    ) -> None:
        if level not in ("metadata", "request"):
            raise ConfigurationError("level must be 'metadata' or 'request'")
        if timeout <= 0 or max_pending < 1:
            raise ConfigurationError("timeout and max_pending must be positive")
        if keep < 0:
            raise ConfigurationError("keep must be 0 or more")
        self._recent: deque[dict[str, Any]] | None = deque(maxlen=keep) if keep else None
        self.level = level
        self.sink: Sink = sink or log_sink
        self._sink_async = is_async_callable(self.sink)
        self.methods = None if methods is None else frozenset(m.upper() for m in methods)
        words = [re.escape(w) for w in redact if w]
        self._names = re.compile("|".join(words), re.IGNORECASE) if words else None
        self._patterns = tuple(re.compile(p) if isinstance(p, str) else p for p in redact_patterns)
        self.user_id = user_id
        self.timeout = timeout
        self.max_pending = max_pending
        self.dropped = 0
        self._pending: set[asyncio.Future[Any]] = set()
        self._expired: set[asyncio.Future[Any]] = set()
        self._last_warning = -_WARN_EVERY
        if app is not None:
            if not hasattr(app, "add_middleware"):
                raise ConfigurationError("the first argument is the app; pass settings by keyword")
            app.add_middleware(self)
            app.on_shutdown(self.flush)

    # -- hooks -------------------------------------------------------------------------

    def before_request(self, request: Request) -> None:
        """Note when the request started (only for the recorded methods)."""
        if self.methods is None or request.method in self.methods:
            _START.set(request, time.perf_counter())

    def after_request(self, request: Request, response: Response) -> None:
        """Build the record for this request and hand it to the sink."""
        if self.methods is not None and request.method not in self.methods:
            return
        try:
            record = self.record(request, response)
        except Exception:
            logger.exception("building the audit record failed")
            return
        if self._recent is not None:
            self._recent.append(record)  # deque: thread-safe, the oldest falls out
        self._emit(record)

    def recent(self) -> list[dict[str, Any]]:
        """The latest records of this process, newest first (at most ``keep``).

        For an admin page; copies, so whoever shows them cannot change the ring.
        """
        if self._recent is None:
            return []
        return [dict(record) for record in reversed(self._recent)]

    after_error_request = after_request

    # -- records -----------------------------------------------------------------------

    def record(self, request: Request, response: Response) -> dict[str, Any]:
        """The audit record of ``request`` answered by ``response``."""
        start = _START.get(request)
        route = request.route
        record: dict[str, Any] = {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            "request_id": REQUEST_ID.get(request),
            "client_ip": _clip(client_ip(request)),
            "user_id": self._user(request),
            "method": request.method,
            "path": self._text(request.path),
            "route": None if route is None else request.url_prefix + route.url_pattern,
            "status": response.status_code,
            "duration_ms": None
            if start is None
            else round((time.perf_counter() - start) * 1000, 3),
        }
        if self.level == "request":
            record["query"] = self._fields(lambda: request.args)
            record["headers"] = self._pairs(request.headers.items_all())
            record["body"] = self._body(request)
        return record

    def _user(self, request: Request) -> str | None:
        if self.user_id is not None:
            try:
                uid = self.user_id(request)
            except Exception:
                logger.exception("audit user_id function failed")
                return None
            return None if uid is None else _clip(str(uid))
        user = request.g.get("current_user")
        if user is not None:
            uid = user.get("id") if isinstance(user, Mapping) else getattr(user, "id", None)
            if uid is None and isinstance(user, (str, int)):
                uid = user
            if uid is not None:
                return _clip(str(uid))
        session = SESSION.get(request)
        if session is not None:
            try:
                uid = session.get(SESSION_USER_ID)
            except Exception:  # a session that cannot be read has no user for us
                uid = None
            if uid is not None:
                return _clip(str(uid))
        return None

    def _body(self, request: Request) -> Any:
        try:
            form = request.form
            if form is not None:
                return self._pairs(form.items_all())
            data = request.json
        except HTTPException as exc:
            return "[not buffered]" if exc.status_code == 413 else "[unparseable]"
        return None if data is None else self._value(data, 0)

    def _fields(self, get: Callable[[], Any]) -> Any:
        try:
            fields = get()
        except HTTPException:
            return "[unparseable]"
        return self._pairs(fields.items_all())

    # -- redaction ---------------------------------------------------------------------

    def _sensitive(self, name: str) -> bool:
        return self._names is not None and self._names.search(name) is not None

    def _pairs(self, pairs: list[tuple[str, str]]) -> dict[str, Any]:
        """Multi-valued fields as ``{name: value}`` or ``{name: [values]}``, redacted."""
        out: dict[str, Any] = {}
        for name, value in pairs:
            key = _clip(name)
            if key not in out and len(out) >= MAX_ITEMS:
                out["[truncated]"] = True
                break
            clean = REDACTED if self._sensitive(name) else self._text(value)
            if key in out:
                have = out[key]
                if not isinstance(have, list):
                    have = out[key] = [have]
                if len(have) < MAX_ITEMS:
                    have.append(clean)
            else:
                out[key] = clean
        return out

    def _value(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)):
            text = str(value)
            return REDACTED if self._text(text) != text else value
        if depth >= MAX_DEPTH:
            return "[too deep]"
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for i, (k, v) in enumerate(value.items()):
                if i >= MAX_ITEMS:
                    out["[truncated]"] = True
                    break
                name = str(k)
                out[_clip(name)] = REDACTED if self._sensitive(name) else self._value(v, depth + 1)
            return out
        if isinstance(value, list):
            return [self._value(v, depth + 1) for v in value[:MAX_ITEMS]]
        return self._text(str(value))

    def _text(self, text: str) -> str:
        text = text[: MAX_TEXT * 4]  # patterns see a little more than is kept
        for pattern in self._patterns:
            text = pattern.sub(_card if pattern is CARD_NUMBER else REDACTED, text)
        return _clip(text)

    # -- sinks -------------------------------------------------------------------------

    def _emit(self, record: dict[str, Any]) -> None:
        if self._sink_async:
            if self._full():
                return
            self._spawn(self.sink(record))
            return
        try:
            rv = self.sink(record)
        except Exception:
            logger.exception("audit sink failed; the record is lost")
            return
        if inspect.isawaitable(rv):
            if self._full():
                if inspect.iscoroutine(rv):
                    rv.close()
                return
            self._spawn(rv)

    def _full(self) -> bool:
        if len(self._pending) < self.max_pending:
            return False
        self.dropped += 1
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY:
            self._last_warning = now
            logger.warning(
                "audit sink is behind (%d calls pending): records dropped, %d so far",
                len(self._pending),
                self.dropped,
            )
        return True

    def _spawn(self, awaitable: Any) -> None:
        # A task straight away (no wrapper coroutine): cancelled before it
        # starts, a task still closes the sink's coroutine cleanly.
        task: asyncio.Future[Any] = asyncio.ensure_future(awaitable)
        self._pending.add(task)
        timer = task.get_loop().call_later(self.timeout, self._expire, task)
        task.add_done_callback(lambda t: self._done(t, timer))

    def _expire(self, task: asyncio.Future[Any]) -> None:
        if not task.done():
            self._expired.add(task)
            task.cancel()

    def _done(self, task: asyncio.Future[Any], timer: asyncio.TimerHandle) -> None:
        timer.cancel()
        self._pending.discard(task)
        if task in self._expired:
            self._expired.discard(task)
            logger.error("audit sink took over %s s; the record is lost", self.timeout)
        elif not task.cancelled() and task.exception() is not None:
            logger.error("audit sink failed; the record is lost", exc_info=task.exception())

    async def flush(self) -> None:
        """Wait for the async sink calls still running in this event loop."""
        loop = asyncio.get_running_loop()
        tasks = [t for t in self._pending if t.get_loop() is loop]
        if tasks:
            await asyncio.wait(tasks)


def _clip(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + "...[truncated]"


__all__ = ["CARD_NUMBER", "DEFAULT_PATTERNS", "DEFAULT_REDACT", "Audit", "log_sink", "luhn_valid"]
