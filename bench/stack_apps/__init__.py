"""Apps for bench/secure_stack.py: one "secure stack" per framework, each from its own parts.

Every module exposes ``app`` (an ASGI app) and ``TOKEN_HEADER`` (the request header its CSRF
protection reads the token from), and serves the same four routes:

- ``GET /``: an HTML page with an inline script carrying the request's CSP nonce (a first
  visit: no cookie, the session is not touched);
- ``GET /login``: puts ``user=alice`` in the session and answers ``{"token": ...}``, the
  value to send in ``TOKEN_HEADER`` (the harness calls it once, to get the cookies);
- ``GET /me``: ``{"user": <the session's user or null>}`` (a logged-in read);
- ``POST /items``: ``{"user": ..., "saved": true}``, behind the CSRF check.

The components, as each framework ships them: security headers with a CSP nonce, a request id,
CORS with credentials for ``ORIGIN``, allowed hosts, signed (or encrypted) cookie sessions and
CSRF tokens. Where a framework ships no such component, the module writes the smallest one in
the framework's own middleware style (and says so at its top).
"""

import importlib
import os
import secrets
from types import ModuleType
from typing import Any

#: framework -> module name in this package (table order).
STACKS: dict[str, str] = {
    "junco": "junco_stack",
    "blacksheep": "blacksheep_stack",
    "starlette": "starlette_stack",
    "litestar": "litestar_stack",
}

# The loopback run serves each stack on its own port and says which here.
HOST = os.environ.get("BENCH_STACK_HOST", "127.0.0.1:8000")
OWN_ORIGIN = f"http://{HOST}"
ORIGIN = "https://app.example.com"  # the cross-origin front end allowed by CORS
SECRET = "bench-secret-key-0123456789abcdef0123456789abcdef"
USER = "alice"

#: Security headers every stack sends (the CSP gets the nonce; HSTS is for https only).
CSP = "default-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'self'"
HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def page(nonce: str) -> str:
    """The HTML of ``GET /``."""
    return f'<!doctype html><title>home</title><script nonce="{nonce}">start()</script>'


def csp_with_nonce(nonce: str) -> str:
    return f"{CSP}; script-src 'self' 'nonce-{nonce}'"


def load(name: str) -> ModuleType:
    return importlib.import_module(f".{STACKS[name]}", __name__)


_RAW_HEADERS = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
_CSP_HEAD = f"{CSP}; script-src 'self' 'nonce-".encode()


class SecurityHeadersASGI:
    """Security headers, a CSP nonce (``scope["csp_nonce"]``) and optionally a request id,
    as a pure ASGI middleware with pre-encoded bytes: for the stacks that ship none."""

    def __init__(self, app: Any, request_id: bool = False) -> None:
        self.app = app
        self.request_id = request_id

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope["csp_nonce"] = nonce
        extra = [*_RAW_HEADERS, (b"content-security-policy", _CSP_HEAD + nonce.encode() + b"'")]
        if self.request_id:
            extra.append((b"x-request-id", secrets.token_hex(16).encode()))

        async def wrapped(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, wrapped)
