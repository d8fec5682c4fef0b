"""One request cycle for both protocols: the HTTP dispatcher and the WebSocket handshake
share their steps (prepare → before → handler → after → render error), so a guard
refuses both with the same response."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from junco import Junco, Request, Response, WebSocket, abort, with_websocket
from junco.testing import TestClient, TestResponse, WebSocketRejected


def guarded() -> Junco:
    app = Junco()
    sub = Junco()

    @app.before_request
    def guard(request: Request) -> Any:
        token = request.args.get("token")
        if token == "none":
            return "login first", 401, {"WWW-Authenticate": "Bearer"}
        if token == "banned":
            abort(403, "banned")
        if token == "bug":
            raise RuntimeError("a bug in a guard")
        return None

    @app.after_request
    def stamp(request: Request, response: Response) -> None:
        response.headers["X-Stamp"] = "after"

    @app.after_error_request
    def stamp_error(request: Request, response: Response) -> None:
        response.headers["X-Stamp"] = "after-error"

    @app.errorhandler(403)
    def forbidden(request: Request) -> Any:
        return {"refused": True, "route": request.route is not None}, 403

    @sub.before_request
    def local_guard(request: Request) -> Any:
        return ("sub says no", 409) if request.args.get("token") == "sub" else None

    for target in (app, sub):

        @target.get("/page")
        async def page(request: Request) -> str:
            return "page"

        @target.route("/ws")
        @with_websocket
        async def ws(request: Request, ws: WebSocket) -> None:
            await ws.send("welcome")

    app.mount(sub, "/sub", local=True)
    return app


async def both(app: Junco, query: str, headers: Any = None, prefix: str = "") -> Any:
    client = TestClient(app)
    http = await client.get(f"{prefix}/page?{query}", headers=headers)
    with pytest.raises(WebSocketRejected) as info:
        async with client.websocket(f"{prefix}/ws?{query}", headers=headers):
            pass
    return http, info.value.response


def same(http: TestResponse, ws: TestResponse) -> None:
    assert ws.status_code == http.status_code
    assert ws.body == http.body
    drop = {"content-length"}  # ASGI's websocket.http.response carries no HEAD difference
    assert [h for h in ws.headers.items_all() if h[0] not in drop] == [
        h for h in http.headers.items_all() if h[0] not in drop
    ]


@pytest.mark.parametrize(
    ("query", "status"),
    [("token=none", 401), ("token=banned", 403), ("token=bug", 500)],
)
def test_a_guard_refuses_http_and_websocket_with_the_same_response(query: str, status: int) -> None:
    http, ws = asyncio.run(both(guarded(), query))
    assert http.status_code == status
    same(http, ws)


def test_a_mounted_apps_local_guard_refuses_both_alike() -> None:
    http, ws = asyncio.run(both(guarded(), "token=sub", prefix="/sub"))
    assert http.status_code == 409
    same(http, ws)


@pytest.mark.parametrize(
    "headers",
    [[("Host", "a"), ("Host", "b")], [("X-Big", "x" * 40_000)]],
)
def test_the_header_checks_refuse_both_alike(headers: Any) -> None:
    http, ws = asyncio.run(both(guarded(), "token=ok", headers=headers))
    assert http.status_code in (400, 431)
    same(http, ws)
