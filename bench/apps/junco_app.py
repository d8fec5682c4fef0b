"""junco: the framework under test.

Handlers return plain values (``str`` -> text/plain, ``dict`` -> JSON); the three middleware
are junco's real components: ``SecurityHeaders`` (limited to the benchmark's three
headers), ``RequestID`` and ``CORS``.
"""

from typing import Any

from junco import CORS, Junco
from junco.security import RequestID, SecurityHeaders

from . import ALLOWED_ORIGIN, MESSAGE, MW_TEXT, TEXT


def build(middleware: bool) -> Junco:
    app = Junco()

    @app.get("/")
    async def index(request: Any) -> str:
        return TEXT

    @app.get("/json")
    async def json(request: Any) -> dict[str, str]:
        return MESSAGE

    @app.get("/users/<int:id>")
    async def user(request: Any, id: int) -> dict[str, int]:
        return {"id": id}

    @app.post("/echo")
    async def echo(request: Any) -> Any:
        return request.json

    @app.get("/mw")
    async def mw(request: Any) -> str:
        return MW_TEXT

    if middleware:
        # Exactly the benchmark's headers: nosniff, DENY, the referrer policy.
        SecurityHeaders(
            app,
            content_security_policy=None,
            hsts=False,
            permissions_policy=None,
            cross_origin_opener_policy=None,
        )
        RequestID(app)
        CORS(app, allowed_origins=[ALLOWED_ORIGIN])
    return app


app = build(middleware=False)
app_mw = build(middleware=True)
