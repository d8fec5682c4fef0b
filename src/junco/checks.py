"""``app.check()``: what a production deployment of this app is missing.

Each check looks at the app as configured (its settings, middleware and
extensions, found by type, so subclasses count) and reports a
:class:`Finding`. Components can add their own by defining
``check(app) -> list[Finding]``; they are called too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .security import AllowedHosts, HTMLInject, RateLimit, SecurityHeaders
from .security.auth import BasicAuth, TokenAuth
from .security.cors import CORS
from .security.csrf import CSRF
from .security.login import Login
from .security.sessions import MIN_SECRET_BYTES, Session
from .stores.memory import MemoryStore

if TYPE_CHECKING:
    from .app import Junco

Severity = Literal["error", "warning"]
UNSAFE_METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE"))


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found by ``app.check()``.

    Attributes:
        code: A stable identifier (``"J001"`` ...), for silencing or grepping.
        severity: ``"error"`` (unsafe as configured) or ``"warning"`` (missing
            protection that most deployments want).
        message: What is wrong.
        hint: What to do about it.
    """

    code: str
    severity: Severity
    message: str
    hint: str

    def __str__(self) -> str:
        return f"{self.code} {self.severity}: {self.message} ({self.hint})"


def _components(app: Junco) -> list[Any]:
    seen: dict[int, Any] = {}
    for obj in [*app.middleware, *app.extensions.values()]:
        seen.setdefault(id(obj), obj)
    return list(seen.values())


def _find(components: Iterable[Any], *kinds: type) -> Any:
    """The first component that is one of ``kinds`` (subclasses count)."""
    for obj in components:
        if isinstance(obj, kinds):
            return obj
    return None


def _secret_length(secret: Any) -> int:
    keys = secret if isinstance(secret, (list, tuple)) else [secret]
    lengths = [len(k.encode() if isinstance(k, str) else k) for k in keys if k]
    return min(lengths) if lengths else 0


def _core(app: Junco, parts: list[Any]) -> Iterator[Finding]:
    if app.debug:
        yield Finding(
            "J001",
            "error",
            "debug mode is on: tracebacks reach clients",
            "create the app with debug=False in production",
        )
    if app.max_content_length > 1024**3 or app.max_body_length > 64 * 1024**2:
        yield Finding(
            "J009",
            "warning",
            "request body limits above 1 GiB (or 64 MiB buffered)",
            "keep max_content_length and max_body_length as low as the app allows",
        )
    if _find(parts, SecurityHeaders) is None:
        yield Finding(
            "J002",
            "warning",
            "no security headers (CSP, nosniff, frame options)",
            "add SecurityHeaders(app) or use secure_stack()",
        )
    if _find(parts, AllowedHosts) is None:
        yield Finding(
            "J007",
            "warning",
            "any Host header is accepted",
            "add AllowedHosts(app, hosts=[...]) with your domain names",
        )


def _csrf(app: Junco, parts: list[Any]) -> Iterator[Finding]:
    unsafe = sorted(
        {path for path, route in app.router.iter_routes() if UNSAFE_METHODS & set(route.methods)}
    )
    if unsafe and _find(parts, CSRF) is None:
        shown = ", ".join(unsafe[:5]) + (" ..." if len(unsafe) > 5 else "")
        yield Finding(
            "J003",
            "error",
            f"state-changing routes without CSRF protection: {shown}",
            "add CSRF(app) or use secure_stack()",
        )


def _sessions(parts: list[Any]) -> Iterator[Finding]:
    session = _find(parts, Session)
    if session is None:
        return
    if _secret_length(getattr(session, "secret_key", None)) < MIN_SECRET_BYTES:
        yield Finding(
            "J004",
            "error",
            f"session secret shorter than {MIN_SECRET_BYTES} bytes",
            "use secrets.token_urlsafe(32) or longer, from the environment",
        )
    if getattr(session, "secure", None) is False:
        yield Finding(
            "J005",
            "warning",
            "session cookies are sent over plain http too",
            "leave secure=None (Secure on https) or set secure=True",
        )
    timeouts = ("idle_timeout", "absolute_timeout", "max_age")
    if all(getattr(session, name, None) is None for name in timeouts):
        yield Finding(
            "J012",
            "warning",
            "sessions never time out: a stolen session cookie stays valid for ever",
            "set Session(idle_timeout=..., absolute_timeout=...); secure_stack() does",
        )
    if isinstance(getattr(session, "store", None), MemoryStore):
        yield Finding(
            "J008",
            "warning",
            "sessions live in one process's memory",
            "use RedisStore with several workers or machines",
        )


def _cors(parts: list[Any]) -> Iterator[Finding]:
    cors = _find(parts, CORS)
    if cors is None:
        return
    origins = getattr(cors, "allowed_origins", None) or ()
    if getattr(cors, "allow_credentials", False) and ("*" in origins or origins == "*"):
        yield Finding(
            "J006",
            "error",
            "CORS allows any origin with credentials",
            "list the trusted origins explicitly",
        )


def _login(parts: list[Any]) -> Iterator[Finding]:
    if _find(parts, Login, BasicAuth, TokenAuth) is not None:
        if _find(parts, RateLimit) is None:
            yield Finding(
                "J010",
                "warning",
                "logins are not rate-limited",
                "add RateLimit with a rule for the login route",
            )
        if _find(parts, Login) is not None and _find(parts, Session) is None:
            yield Finding("J011", "error", "Login needs a Session", "add Session(app, ...)")


def _requirements(app: Junco) -> Iterator[Finding]:
    """A component missing what it ``requires`` (the check the app's start makes)."""
    from ._hooks import build_all
    from .exceptions import ConfigurationError

    try:
        build_all(app)
    except ConfigurationError as exc:
        yield Finding("J015", "error", str(exc), "the app would not start: add what is named")


def _foreign(app: Junco, parts: list[Any]) -> Iterator[Finding]:
    """Foreign ASGI apps get the hooks and response headers, never the body handling."""
    prefixes = sorted(prefix for prefix, mount in _mounts(app, "") if not mount.native)
    if not prefixes:
        return
    csrf = _find(parts, CSRF)
    if (csrf is not None and csrf.tokens) or _find(parts, HTMLInject) is not None:
        yield Finding(
            "J013",
            "warning",
            f"foreign ASGI apps at {', '.join(prefixes)} get junco's hooks and response "
            "headers, but not its body handling: CSRF tokens in form fields and HTML "
            "injection do not reach them",
            "send the CSRF token in its header to those apps, or serve them from junco routes",
        )


def _mounts(app: Junco, outer: str) -> Iterator[tuple[str, Any]]:
    for mount in app.router.mounts:
        yield outer + mount.prefix, mount
        if mount.native:
            yield from _mounts(mount.app, outer + mount.prefix)


def memory_state(app: Any) -> list[str]:
    """What of ``app``'s state lives in one process's memory: sessions, rate limits, ..."""
    found = set()
    for part in _components(app):
        name = type(part).__name__
        if name == "Session" and type(getattr(part, "store", None)).__name__ == "MemoryStore":
            found.add("sessions")
        elif name == "RateLimit" and "Memory" in type(getattr(part, "store", None)).__name__:
            found.add("rate limits")
        elif name == "Broadcast" and "Memory" in type(getattr(part, "backend", None)).__name__:
            found.add("Broadcast messages")
    return sorted(found)


def workers_from_environment() -> int:
    """``WEB_CONCURRENCY`` (read by uvicorn and gunicorn) as a number of workers, else 1."""
    value = os.environ.get("WEB_CONCURRENCY", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else 1


def _workers(app: Junco, workers: int) -> Iterator[Finding]:
    memory = memory_state(app)
    if workers > 1 and memory:
        yield Finding(
            "J014",
            "error",
            f"{', '.join(memory)} kept in one process's memory, but {workers} workers "
            "each have their own",
            "use Redis stores (JUNCO_REDIS_URL / store='redis://...') or one worker",
        )


def check_app(app: Junco, workers: int | None = None) -> list[Finding]:
    """Every finding for ``app``, errors first, then by code.

    Args:
        app: The app.
        workers: The number of worker processes it will run in; by default
            ``WEB_CONCURRENCY``, else 1.
    """
    parts = _components(app)
    findings = [
        *_core(app, parts),
        *_csrf(app, parts),
        *_sessions(parts),
        *_cors(parts),
        *_login(parts),
        *_workers(app, workers or workers_from_environment()),
        *_foreign(app, parts),
        *_requirements(app),
    ]
    for part in parts:
        extra = getattr(part, "check", None)
        if callable(extra) and part is not app:
            findings.extend(extra(app))
    findings.sort(key=lambda f: (f.severity != "error", f.code))
    return findings
