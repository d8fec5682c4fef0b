"""Security headers, CSP nonce, host check and request id through a real uvicorn and httpx."""

from __future__ import annotations

import re

import httpx
import pytest

from junco import Junco, Request
from junco.security.allowed_hosts import AllowedHosts
from junco.security.csp_nonce import CSPNonce, csp_nonce
from junco.security.proxy import ProxyHeaders, client_ip
from junco.security.request_id import RequestID
from junco.security.security_headers import DEFAULT_CSP, SecurityHeaders
from tests.servers import serve

pytestmark = pytest.mark.e2e


def secured_app() -> Junco:
    app = Junco()
    ProxyHeaders(app)  # uvicorn's peer is 127.0.0.1: trusted by default
    AllowedHosts(app, ["127.0.0.1", "localhost"])
    SecurityHeaders(app)
    CSPNonce(app)
    RequestID(app)

    @app.get("/")
    async def index(request: Request) -> tuple[str, dict[str, str]]:
        page = f'<script nonce="{csp_nonce()}">1</script>{client_ip(request)} {request.scheme}'
        return page, {"Content-Type": "text/html; charset=UTF-8"}

    return app


def test_headers_over_a_real_server() -> None:
    # uvicorn's own proxy-header handling is off, so junco's ProxyHeaders does the work.
    with serve(secured_app(), proxy_headers=False) as base, httpx.Client(base_url=base) as http:
        ok = http.get(
            "/", headers={"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"}
        )
        assert ok.status_code == 200
        nonce = re.search(r'nonce="([^"]+)"', ok.text)
        assert nonce is not None
        assert ok.text.endswith("198.51.100.7 https")
        assert ok.headers["content-security-policy"] == (
            f"{DEFAULT_CSP}; script-src 'self' 'nonce-{nonce.group(1)}'"
        )
        assert ok.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
        assert ok.headers["x-frame-options"] == "DENY"
        assert ok.headers["x-content-type-options"] == "nosniff"
        assert re.fullmatch(r"[0-9a-f]{32}", ok.headers["x-request-id"])

        missing = http.get("/nowhere", headers={"X-Request-ID": "e2e-trace"})
        assert missing.status_code == 404
        assert missing.headers["x-request-id"] == "e2e-trace"
        assert missing.headers["content-security-policy"] == DEFAULT_CSP
        assert missing.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "strict-transport-security" not in missing.headers

        evil = http.get("/", headers={"Host": "evil.example"})
        assert (evil.status_code, evil.text) == (400, "Invalid Host header")
        assert "evil.example" not in evil.text
        assert evil.headers["x-frame-options"] == "DENY"
