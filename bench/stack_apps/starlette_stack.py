"""Starlette: its built-ins plus the two packages Nori wires in, and one small middleware.

Built in: ``CORSMiddleware`` (credentials on), ``TrustedHostMiddleware`` and
``SessionMiddleware`` (itsdangerous-signed cookie sessions). From PyPI: ``starlette-csrf``
(double-submit token: a signed ``csrftoken`` cookie echoed in ``x-csrftoken``) and
``asgi-correlation-id`` (request ids). Starlette ships no security headers or CSP nonce:
``SecurityHeadersASGI`` (in ``__init__``) adds them, a pure ASGI middleware.
"""

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

from . import ORIGIN, SECRET, USER, SecurityHeadersASGI, page

TOKEN_HEADER = "x-csrftoken"


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
        Middleware(SecurityHeadersASGI),
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
