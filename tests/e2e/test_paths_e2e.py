"""The canonical-path attacks against a real uvicorn, over raw sockets.

Clients such as httpx and browsers resolve ``..`` before sending (browsers
keep ``..%2f`` as is); a raw socket sends exactly what an attacker would.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from junco import CSRF, Junco, Request
from junco.middleware.ratelimit import RateLimit
from junco.stores.ratelimit_memory import MemoryRateLimitStore
from tests.e2e.test_files_e2e import raw_request
from tests.servers import serve

pytestmark = pytest.mark.e2e
CROSS_SITE_FORM = (
    b"Origin: https://evil.example\r\nSec-Fetch-Site: cross-site\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 8\r\n"
)


def attacked_app() -> tuple[Junco, list[str]]:
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


@pytest.fixture(params=["httptools", "h11"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[str]]]:
    app, ran = attacked_app()
    with serve(app, http=request.param) as base:
        yield base, ran


def post_form(base: str, target: bytes) -> tuple[int, bytes, bytes]:
    return raw_request(base, b"POST " + target + b" HTTP/1.1", CROSS_SITE_FORM, b"amount=1")


@pytest.mark.parametrize(
    "target",
    [
        b"/admin/..%2fwebhooks",
        b"/admin/..%2Fwebhooks/x",
        b"/admin/%2e%2e%2fwebhooks",
        b"/admin//..//../webhooks/x",
        b"/admin/../webhooks/x",
        b"//webhooks/x",
    ],
)
def test_csrf_exemption_cannot_be_borrowed(server: tuple[str, list[str]], target: bytes) -> None:
    base, ran = server
    status, head, body = post_form(base, target)
    assert status == 400, (status, head, body)
    assert b"admin" not in body
    assert ran == []


def test_the_exemption_and_the_protection_still_work(server: tuple[str, list[str]]) -> None:
    base, ran = server
    assert post_form(base, b"/webhooks/x")[0] == 200
    assert post_form(base, b"/admin/x")[0] == 403
    assert ran == ["webhook x"]


def test_rate_limit_rule_cannot_be_skipped(server: tuple[str, list[str]]) -> None:
    base, ran = server
    for target in (b"/files/%2e%2e", b"/files/%2E%2E", b"/files/.%2e", b"/files/..", b"//x"):
        status, head, _ = raw_request(base, b"GET " + target + b" HTTP/1.1")
        assert status == 400, (target, head)
    assert ran == []
    statuses = [raw_request(base, b"GET /files/a HTTP/1.1")[0] for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert ran == ["files a", "files a"]
