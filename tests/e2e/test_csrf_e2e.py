"""CORS preflights, cross-site refusals and session-bound tokens through real uvicorn and httpx."""

from __future__ import annotations

import re

import httpx
import pytest

from junco import Junco, Request
from junco.security.cors import CORS
from junco.security.csrf import CSRF, REFUSAL, csrf_field
from junco.security.sessions import Session
from tests.servers import serve

pytestmark = pytest.mark.e2e
PARTNER = "https://partner.example"


def build() -> Junco:
    app = Junco()
    Session(app, secret_key="e2e-secret-key-0123456789abcdef-012")
    cors = CORS(app, allowed_origins=[PARTNER], allow_credentials=True, max_age=60)
    CSRF(app, cors, tokens=True)

    @app.get("/form")
    async def form(request: Request) -> tuple[str, dict[str, str]]:
        return f"<form method=post>{csrf_field()}</form>", {"Content-Type": "text/html"}

    @app.route("/items", methods=["POST", "DELETE"])
    async def items(request: Request) -> str:
        return f"{request.method} done"

    return app


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_cors_and_csrf_over_a_real_server(http: str) -> None:
    with serve(build(), http=http) as base, httpx.Client(base_url=base) as browser:
        preflight = browser.options(
            "/items",
            headers={
                "Origin": PARTNER,
                "Access-Control-Request-Method": "DELETE",
                "Access-Control-Request-Headers": "x-csrf-token",
            },
        )
        assert preflight.status_code == 403  # x-csrf-token was not allowed
        preflight = browser.options(
            "/items", headers={"Origin": PARTNER, "Access-Control-Request-Method": "DELETE"}
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == PARTNER
        assert preflight.headers["access-control-allow-credentials"] == "true"
        assert preflight.headers["access-control-max-age"] == "60"

        page = browser.get("/form", headers={"Sec-Fetch-Site": "none"})
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match is not None
        token = match.group(1)
        assert "session" in browser.cookies

        forged = browser.post(
            "/items",
            content=f"csrf_token={token}",
            headers={
                "Content-Type": "text/plain",
                "Origin": "https://evil.example",
                "Sec-Fetch-Site": "cross-site",
            },
        )
        assert forged.status_code == 403
        assert forged.text == REFUSAL

        same = browser.post(
            "/items", data={"csrf_token": token}, headers={"Sec-Fetch-Site": "same-origin"}
        )
        assert same.text == "POST done"
        partner = browser.delete(
            "/items",
            headers={"Origin": PARTNER, "Sec-Fetch-Site": "cross-site", "X-CSRF-Token": token},
        )
        assert partner.text == "DELETE done"
        assert partner.headers["access-control-allow-origin"] == PARTNER
        assert partner.headers.get_list("vary") == ["Origin, Cookie"]  # one merged header

        # Another client (no session cookie) cannot replay the token.
        with httpx.Client(base_url=base) as stranger:
            replay = stranger.post("/items", data={"csrf_token": token})
            assert replay.status_code == 403
