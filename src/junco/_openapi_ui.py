"""The ``/docs`` page: Swagger UI 5 from the installed ``swagger-ui-py`` package.

Nothing is loaded from another origin, and nothing is inline: the page is
markup plus three same-origin files (the bundle, its CSS and a small start-up
script that reads the document's URL from a ``data-`` attribute), each
``<script>`` carrying the request's CSP nonce. So the page works offline and
under a policy as strict as ``script-src 'nonce-…' 'strict-dynamic'``.
"""

from __future__ import annotations

import asyncio
import html
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .exceptions import HTTPException
from .response import Response
from .security.csp_nonce import csp_nonce

_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=UTF-8",
    "swagger-ui.css": "text/css; charset=UTF-8",
    "index.css": "text/css; charset=UTF-8",
    "favicon-32x32.png": "image/png",
}
_START = b"""(function () {
  var el = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: el.getAttribute("data-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();
"""
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{base}/swagger-ui.css">
<link rel="stylesheet" href="{base}/index.css">
<link rel="icon" type="image/png" href="{base}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-url="{url}"></div>
<script nonce="{nonce}" src="{base}/swagger-ui-bundle.js"></script>
<script nonce="{nonce}" src="{base}/init.js"></script>
</body>
</html>
"""


def static_dir() -> Path:
    """The folder of Swagger UI's files inside the installed ``swagger-ui-py``.

    Raises:
        ImportError: the package is missing, naming the extra that installs it.
    """
    spec = importlib.util.find_spec("swagger_ui")  # located, not imported
    if spec is None or spec.origin is None:
        raise ImportError('the /docs page needs swagger-ui-py: pip install "junco[openapi]"')
    folder = Path(spec.origin).parent / "static"
    if not (folder / "swagger-ui-bundle.js").is_file():
        raise ImportError(f"swagger-ui-py is installed but {folder} has no swagger-ui-bundle.js")
    return folder


def docs_routes(api: Any, docs_path: str) -> list[tuple[str, Callable[..., Any]]]:
    """``(pattern, handler)`` pairs for the page and its files."""
    folder = static_dir()
    cache: dict[str, bytes] = {"init.js": _START}
    base_path = docs_path.rstrip("/")

    async def docs_page(request: Any) -> Response:
        prefix = request.root_path + request.url_prefix
        page = _PAGE.format(
            title=html.escape(api.title),
            base=html.escape(prefix + base_path, quote=True),
            url=html.escape(prefix + (api.path or ""), quote=True),
            nonce=csp_nonce(request),
        )
        return Response(page, headers={"Content-Type": "text/html; charset=UTF-8"})

    async def docs_asset(request: Any, asset: str) -> Response:
        if asset != "init.js" and asset not in _TYPES:
            raise HTTPException(404)
        body = cache.get(asset)
        if body is None:
            body = cache[asset] = await asyncio.to_thread((folder / asset).read_bytes)
        ctype = _TYPES.get(asset, "text/javascript; charset=UTF-8")
        return Response(
            body, headers={"Content-Type": ctype, "Cache-Control": "public, max-age=3600"}
        )

    return [(base_path or "/", docs_page), (base_path + "/<asset>", docs_asset)]
