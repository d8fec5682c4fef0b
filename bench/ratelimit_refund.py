"""What a limit that gives counts back costs, in-process: a plain limit vs ``count_when``.

    python bench/ratelimit_refund.py

Raw ASGI calls (no test client), best of three runs of 20,000 requests each,
memory store, one client. ``count_when`` adds a per-request after hook and,
for a request that does not count, one more store call (the refund).
"""

from __future__ import annotations

import asyncio
import time

from error_pages import make_scope, receive, send

from junco import Junco, Request, Response
from junco.security.ratelimit import RateLimit

app = Junco()
limiter = RateLimit(app)
RATE = "1000000000/minute"


def failed(request: Request, response: Response) -> bool:
    return response.status_code >= 400


@app.post("/plain")
@limiter.limit(RATE)
async def plain(request: Request) -> str:
    return "ok"


@app.post("/refunded")
@limiter.limit(RATE, count_when=failed)
async def refunded(request: Request) -> str:
    return "ok"  # a success: given back every time


@app.post("/kept")
@limiter.limit(RATE, count_when=failed)
async def kept(request: Request) -> Response:
    return Response("no", 401)  # a failure: stays counted


@app.post("/unlimited")
async def unlimited(request: Request) -> str:
    return "ok"


async def per_request(path: str, n: int = 20_000) -> float:
    """Microseconds per request."""
    scope = {**make_scope(path, None), "method": "POST"}
    for _ in range(2_000):
        await app(dict(scope), receive, send)
    start = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - start) / n * 1e6


async def main() -> None:
    for path in ("/unlimited", "/plain", "/refunded", "/kept"):
        best = min([await per_request(path) for _ in range(3)])
        print(f"{path:<12} {best:6.1f} us")


if __name__ == "__main__":
    asyncio.run(main())
