"""junco: everything from ``secure_stack(app, ..., csrf_tokens=True)``.

Security headers (``SecurityHeaders``), CSP nonces (``CSPNonce``, ``csp_nonce()``), request
ids (``RequestID``), CORS with credentials (``CORS``), allowed hosts (``AllowedHosts``),
signed-cookie sessions (``Session``) and session-bound, masked CSRF tokens (``CSRF``) on top
of the Fetch-Metadata/Origin check.
"""

from typing import Any

from junco import Junco, Request
from junco.security import csp_nonce, secure_stack

from . import ORIGIN, SECRET, USER, page

TOKEN_HEADER = "X-CSRF-Token"

app = Junco()
stack = secure_stack(
    app,
    secret_key=SECRET,
    allowed_hosts=["127.0.0.1"],
    cors_origins=[ORIGIN],
    cors_credentials=True,
    csrf_tokens=True,
)


@app.get("/")
async def index(request: Request) -> Any:
    return page(csp_nonce(request)), {"Content-Type": "text/html; charset=utf-8"}


@app.get("/login")
async def login(request: Request) -> dict[str, str]:
    request.session["user"] = USER
    return {"token": stack.csrf.generate_token(request)}


@app.get("/me")
async def me(request: Request) -> dict[str, Any]:
    return {"user": request.session.get("user")}


@app.post("/items")
async def items(request: Request) -> dict[str, Any]:
    return {"user": request.session.get("user"), "saved": True}
