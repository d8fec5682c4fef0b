"""What junco's error renderer costs, in-process: a hit, then a 404 in each form.

    python bench/error_pages.py

Raw ASGI calls (no test client), best of three runs of 20,000 requests each.
The plain path (a route that matches) never reaches the renderer.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from junco import Junco, Request

app = Junco()


@app.get("/")
async def index(request: Request) -> str:
    return "hi"


def make_scope(path: str, accept: bytes | None) -> dict[str, Any]:
    headers = [(b"host", b"bench")]
    if accept is not None:
        headers.append((b"accept", accept))
    return {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "scheme": "http",
        "root_path": "",
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: dict[str, Any]) -> None:
    return None


async def per_request(path: str, accept: bytes | None, n: int = 20_000) -> float:
    """Microseconds per request."""
    scope = make_scope(path, accept)
    for _ in range(2_000):
        await app(dict(scope), receive, send)
    start = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - start) / n * 1e6


CASES = [
    ("GET / (a route)", "/", None),
    ("404 text/plain", "/missing", None),
    ("404 JSON", "/missing", b"application/json"),
    ("404 HTML page", "/missing", b"text/html,application/xhtml+xml,*/*;q=0.8"),
]

if __name__ == "__main__":
    for label, path, accept in CASES:
        best = min(asyncio.run(per_request(path, accept)) for _ in range(3))
        print(f"{label:18s} {best:6.1f} us")
