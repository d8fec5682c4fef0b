"""Starlette: its built-ins plus the two packages Nori wires in, and one small middleware.

Built in: ``CORSMiddleware`` (credentials on), ``TrustedHostMiddleware`` and
``SessionMiddleware`` (itsdangerous-signed cookie sessions). From PyPI: ``starlette-csrf``
(double-submit token: a signed ``csrftoken`` cookie echoed in ``x-csrftoken``) and
``asgi-correlation-id`` (request ids). Starlette ships no security headers or CSP nonce:
``SecurityHeaders`` below adds them, as a pure ASGI middleware with pre-encoded bytes.
"""

import secrets
from typing import Any

from asgi_correlation_id import CorrelationIdMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route
from starlette_csrf import CSRFMiddleware

from . import CSP, HEADERS, ORIGIN, SECRET, USER, page

TOKEN_HEADER = "x-csrftoken"
_HEADERS = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
_CSP_HEAD = f"{CSP}; script-src 'self' 'nonce-".encode()


class SecurityHeaders:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope["csp_nonce"] = nonce
        csp = _CSP_HEAD + nonce.encode() + b"'"

        async def wrapped(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", ()),
                    *_HEADERS,
                    (b"content-security-policy", csp),
                ]
            await send(message)

        await self.app(scope, receive, wrapped)


async def index(request: Request) -> HTMLResponse:
    return HTMLResponse(page(request.scope["csp_nonce"]))


async def login(request: Request) -> JSONResponse:
    request.session["user"] = USER
    # starlette-csrf sets its cookie on the response; the token is that cookie's value.
    return JSONResponse({"token": None})


async def me(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.session.get("user")})


async def items(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.session.get("user"), "saved": True})


app = Starlette(
    routes=[
        Route("/", index),
        Route("/login", login),
        Route("/me", me),
        Route("/items", items, methods=["POST"]),
    ],
    middleware=[
        Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1"]),
        Middleware(CorrelationIdMiddleware),
        Middleware(SecurityHeaders),
        Middleware(
            CORSMiddleware,
            allow_origins=[ORIGIN],
            allow_credentials=True,
            allow_methods=["GET", "POST"],
        ),
        Middleware(SessionMiddleware, secret_key=SECRET),
        Middleware(CSRFMiddleware, secret=SECRET),
    ],
)
