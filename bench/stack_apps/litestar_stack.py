"""Litestar: its built-ins, plus one small middleware for what it does not ship.

Built in: ``CORSConfig`` (credentials on), ``AllowedHostsConfig``, client-side sessions
(``CookieBackendConfig``: the cookie is AES-GCM encrypted, not only signed) and
``CSRFConfig`` (double-submit token: an HMAC-signed ``csrftoken`` cookie echoed in
``x-csrftoken``). Litestar ships no security headers, CSP nonce or request id:
``SecurityHeadersASGI`` (in ``__init__``) adds them, a pure ASGI middleware.
"""

import hashlib
from typing import Any

from litestar import Litestar, Request, get, post
from litestar.config.allowed_hosts import AllowedHostsConfig
from litestar.config.cors import CORSConfig
from litestar.config.csrf import CSRFConfig
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.response import Response

from . import HOST, ORIGIN, SECRET, USER, SecurityHeadersASGI, page

TOKEN_HEADER = "x-csrftoken"


@get("/", sync_to_thread=False)
def index(request: Request[Any, Any, Any]) -> Response[str]:
    return Response(page(request.scope["csp_nonce"]), media_type="text/html")  # type: ignore[typeddict-item]


@get("/login", sync_to_thread=False)
def login(request: Request[Any, Any, Any]) -> dict[str, Any]:
    request.session["user"] = USER
    return {"token": None}  # the token is the csrftoken cookie's value


@get("/me", sync_to_thread=False)
def me(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return {"user": request.session.get("user")}


@post("/items", sync_to_thread=False, status_code=200)
def items(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return {"user": request.session.get("user"), "saved": True}


app = Litestar(
    route_handlers=[index, login, me, items],
    middleware=[
        lambda app: SecurityHeadersASGI(app, request_id=True),
        CookieBackendConfig(secret=hashlib.sha256(SECRET.encode()).digest()).middleware,
    ],
    cors_config=CORSConfig(allow_origins=[ORIGIN], allow_credentials=True),
    allowed_hosts=AllowedHostsConfig(allowed_hosts=[HOST]),  # matched with the port
    csrf_config=CSRFConfig(secret=SECRET),
)
