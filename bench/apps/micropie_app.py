"""MicroPie: class-based routing (public methods of an ``App`` subclass are routes, extra
path segments become positional arguments) and ``HttpMiddleware`` subclasses.

MicroPie's router has no typed segments, so ``/users/42`` arrives as ``"42"`` and the
handler converts it with ``int()``. Handlers return ``(status, body, headers)`` to get a
text/plain content type (MicroPie's default is text/html).
"""

import uuid
from typing import Any

from micropie import App, HttpMiddleware, Request

from . import ALLOWED_ORIGIN, MESSAGE, MW_TEXT, SECURITY_HEADERS, TEXT

TEXT_TYPE = ("Content-Type", "text/plain; charset=UTF-8")
TextResponse = tuple[int, str, list[tuple[str, str]]]
Headers = list[tuple[str, str]]


class SecurityHeadersMiddleware(HttpMiddleware):
    async def before_request(self, request: Request) -> None:
        return None

    async def after_request(
        self, request: Request, status_code: int, response_body: Any, extra_headers: Headers
    ) -> None:
        extra_headers.extend(SECURITY_HEADERS.items())


class RequestIdMiddleware(HttpMiddleware):
    async def before_request(self, request: Request) -> None:
        return None

    async def after_request(
        self, request: Request, status_code: int, response_body: Any, extra_headers: Headers
    ) -> None:
        extra_headers.append(("X-Request-ID", uuid.uuid4().hex))


class CorsOriginMiddleware(HttpMiddleware):
    async def before_request(self, request: Request) -> None:
        return None

    async def after_request(
        self, request: Request, status_code: int, response_body: Any, extra_headers: Headers
    ) -> None:
        if request.headers.get("origin") == ALLOWED_ORIGIN:
            extra_headers.append(("Access-Control-Allow-Origin", ALLOWED_ORIGIN))
            extra_headers.append(("Vary", "Origin"))


class Bench(App):
    async def index(self) -> TextResponse:
        return 200, TEXT, [TEXT_TYPE]

    async def json(self) -> dict[str, str]:
        return MESSAGE

    async def users(self, id: str) -> dict[str, int]:
        return {"id": int(id)}

    async def echo(self) -> Any:
        return self.request.json()

    async def mw(self) -> TextResponse:
        return 200, MW_TEXT, [TEXT_TYPE]


def build(middleware: bool) -> Bench:
    app = Bench()
    if middleware:
        app.middlewares.extend(
            [SecurityHeadersMiddleware(), RequestIdMiddleware(), CorsOriginMiddleware()]
        )
    return app


app = build(middleware=False)
app_mw = build(middleware=True)
