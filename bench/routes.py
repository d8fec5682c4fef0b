#!/usr/bin/env python
"""Router scaling: CPU microseconds per request as the number of dynamic routes grows.

Every app has N routes ``/r{i}/items/<int:id>``; we request the last one registered
(a linear scan's worst case) and a path that matches nothing (a 404). In-process, on
one event loop, frameworks interleaved within each round; the median of the rounds.

    python bench/routes.py                          # 10, 1000, 5000 routes, all frameworks
    python bench/routes.py --counts 10,1000 --frameworks junco,falcon --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from inprocess import BASE_HEADERS, CLIENT, SERVER, Exchange, Lifespan

ASGI = Callable[..., Any]


def junco_app(n: int) -> ASGI:
    from junco import Junco

    app = Junco()
    for i in range(n):

        async def item(request: Any, id: int) -> str:
            return "ok"

        app.route(f"/r{i}/items/<int:id>", methods=["GET"])(item)
    return app


def falcon_app(n: int) -> ASGI:
    import falcon.asgi

    class Item:
        async def on_get(self, req: Any, resp: Any, id: int) -> None:
            resp.text = "ok"
            resp.content_type = falcon.MEDIA_TEXT

    app = falcon.asgi.App()
    for i in range(n):
        app.add_route(f"/r{i}/items/{{id:int}}", Item())
    return app


def starlette_app(n: int) -> ASGI:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def item(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route(f"/r{i}/items/{{id:int}}", item) for i in range(n)])


def litestar_app(n: int) -> ASGI:
    from litestar import Litestar, get

    handlers = []
    for i in range(n):

        @get(f"/r{i}/items/{{id:int}}", sync_to_thread=False)
        def item(id: int) -> str:
            return "ok"

        handlers.append(item)
    return Litestar(route_handlers=handlers, openapi_config=None)


FRAMEWORKS: dict[str, Callable[[int], ASGI]] = {
    "junco": junco_app,
    "falcon": falcon_app,
    "litestar": litestar_app,
    "starlette": starlette_app,
}


def scope(path: str, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": list(BASE_HEADERS),
        "client": CLIENT,
        "server": SERVER,
        "state": state.copy(),
    }


async def cpu_us(app: ASGI, path: str, state: dict[str, Any], requests: int) -> float:
    """CPU microseconds per request for ``requests`` sequential requests."""
    start = time.process_time()
    for _ in range(requests):
        exchange = Exchange(b"")
        await app(scope(path, state), exchange.receive, exchange.send)
    return (time.process_time() - start) / requests * 1e6


async def main_async(args: argparse.Namespace) -> None:
    print("| routes | framework | last route (µs) | 404 (µs) |")
    print("|---|---|---|---|")
    for n in args.counts:
        apps: dict[str, tuple[ASGI, dict[str, Any]]] = {}
        lifespans = []
        for name in args.frameworks:
            app = FRAMEWORKS[name](n)
            lifespan = Lifespan(app)
            await lifespan.startup()
            lifespans.append(lifespan)
            apps[name] = (app, lifespan.state)
        last = f"/r{n - 1}/items/7"
        missing = "/nowhere/items/7"
        for name, (app, state) in apps.items():
            exchange = Exchange(b"")
            await app(scope(last, state), exchange.receive, exchange.send)
            assert exchange.status == 200, (name, exchange.status)
        results: dict[str, tuple[list[float], list[float]]] = {a: ([], []) for a in apps}
        requests = max(50, args.requests // max(1, n // 100))
        for _ in range(args.rounds):
            for name, (app, state) in apps.items():
                results[name][0].append(await cpu_us(app, last, state, requests))
                results[name][1].append(await cpu_us(app, missing, state, requests))
        for name, (hits, misses) in results.items():
            print(
                f"| {n:,} | {name} | {statistics.median(hits):.1f} "
                f"| {statistics.median(misses):.1f} |"
            )
        for lifespan in lifespans:
            await lifespan.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="10,1000,5000")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    args.counts = [int(c) for c in args.counts.split(",")]
    args.frameworks = args.frameworks.split(",")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
