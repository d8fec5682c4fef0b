"""The app the canonical-path e2e tests attack, importable by server processes.

``tests.e2e.paths_app:app`` is what granian and hypercorn load; the uvicorn
tests build their own copy with :func:`attacked_app` to see which handlers ran.
"""

from __future__ import annotations

from junco import CSRF, Junco, Request
from junco.security.ratelimit import RateLimit
from junco.stores.memory import MemoryRateLimitStore


def attacked_app() -> tuple[Junco, list[str]]:
    """CSRF exempting /webhooks, a 2/minute limit on /files/*, and catch-all routes."""
    app = Junco()
    ran: list[str] = []
    CSRF(app, exempt_paths=["/webhooks"])
    RateLimit(app, store=MemoryRateLimitStore()).rule("/files/*", "2/minute")

    @app.post("/admin/<path:rest>")
    async def admin(request: Request, rest: str) -> str:
        ran.append("admin " + rest)
        return "admin"

    @app.post("/webhooks/<path:rest>")
    async def webhook(request: Request, rest: str) -> str:
        ran.append("webhook " + rest)
        return "webhook"

    @app.get("/files/<name>")
    async def files(request: Request, name: str) -> str:
        ran.append("files " + name)
        return "file " + name

    @app.get("/<path:anything>")
    async def anything(request: Request, anything: str) -> str:
        ran.append("anything " + anything)
        return anything

    return app, ran


app, _ = attacked_app()
