"""Pages that need no login: the start page and the CSP demonstration.

Error pages (404, 429, 413, ...) are junco's, rendered with ``templates/error.html``.
"""

from __future__ import annotations

from typing import Any

from junco import Junco, Request, Response, Templates

from .realtime import MAX_CHAT
from .services import MAX_PASSWORD, MAX_USERNAME, MIN_PASSWORD, Services


def register(app: Junco, s: Services) -> None:
    """Add the public pages to ``app``."""
    templates = Templates.of(app)

    @templates.context_processor
    def limits() -> dict[str, Any]:
        # What the forms tell the browser; the handlers check the same limits again.
        return {
            "max_title": s.config.max_title,
            "max_body": s.config.max_body,
            "max_username": MAX_USERNAME,
            "min_password": MIN_PASSWORD,
            "max_password": MAX_PASSWORD,
            "max_chat": MAX_CHAT,
        }

    @app.get("/")
    async def index(request: Request) -> Response:
        return await s.render(request, "index.html")

    @app.get("/csp")
    async def csp(request: Request) -> Response:
        return await s.render(request, "csp.html")
