"""BlackSheep: its built-ins, plus one small middleware for what it does not ship.

Built in: ``app.use_cors(..., allow_credentials=True)``, ``TrustedHostsMiddleware``
(allowed hosts), ``app.use_sessions(secret)`` (itsdangerous-signed cookie sessions) and
``use_anti_forgery(app)`` (double-submit tokens: an itsdangerous-signed cookie plus a
control value in the ``RequestVerificationToken`` header). BlackSheep ships no security
headers beyond HSTS, no CSP nonce and no request id: ``security`` below adds them, as a
BlackSheep middleware function with pre-encoded header bytes.
"""

import secrets

from blacksheep import Application, Request, Response, json
from blacksheep.server.csrf import AntiForgeryHandler, use_anti_forgery
from blacksheep.server.remotes.hosts import TrustedHostsMiddleware
from blacksheep.server.rendering.jinja2 import JinjaRenderer
from blacksheep.server.responses import html
from blacksheep.server.routing import Router
from blacksheep.settings.html import html_settings
from essentials.secrets import Secret
from jinja2 import DictLoader

from . import CSP, HEADERS, HOST, ORIGIN, OWN_ORIGIN, SECRET, USER, page

TOKEN_HEADER = "RequestVerificationToken"
_HEADERS = [(k.encode(), v.encode()) for k, v in HEADERS.items()]
_CSP_HEAD = f"{CSP}; script-src 'self' 'nonce-".encode()


async def security(request: Request, handler):  # type: ignore[no-untyped-def]
    nonce = secrets.token_urlsafe(16)
    request.scope["csp_nonce"] = nonce
    response: Response = await handler(request)
    for name, value in _HEADERS:
        response.add_header(name, value)
    response.add_header(b"Content-Security-Policy", _CSP_HEAD + nonce.encode() + b"'")
    response.add_header(b"X-Request-ID", secrets.token_hex(16).encode())
    return response


# Its token helpers bind to the HTML renderer: give it one with no template folder.
html_settings.use(JinjaRenderer(loader=DictLoader({})))
app = Application(router=Router())
app.middlewares.append(TrustedHostsMiddleware([HOST]))
app.middlewares.append(security)
# BlackSheep's CORS answers 400 to any request whose Origin is not listed, and browsers send
# Origin on same-origin POSTs: the site's own origin must be listed too.
app.use_cors(allow_origins=[ORIGIN, OWN_ORIGIN], allow_credentials=True, allow_methods="GET POST")
app.use_sessions(SECRET)
antiforgery = use_anti_forgery(
    app, AntiForgeryHandler(secret_keys=[Secret(SECRET, direct_value=True)])
)
router = app.router


@router.get("/")
async def index(request: Request) -> Response:
    return html(page(request.scope["csp_nonce"]))


@router.get("/login")
async def login(request: Request) -> Response:
    request.session["user"] = USER
    _, control = antiforgery.get_tokens(request)
    return json({"token": control})


@router.get("/me")
async def me(request: Request) -> Response:
    return json({"user": request.session.get("user")})


@router.post("/items")
async def items(request: Request) -> Response:
    return json({"user": request.session.get("user"), "saved": True})
