"""secure_stack(): every component installed, in an order that works, in one call."""

from __future__ import annotations

from typing import Any

from junco import Junco, Request, csrf_field
from junco.security.stack import Stack, secure_stack
from junco.testing import TestClient

SECRET = "k" * 48
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def build(**options: Any) -> tuple[Junco, Stack]:
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> str:
        request.session["seen"] = True
        return "home"

    @app.get("/form")
    async def form(request: Request) -> str:
        return str(csrf_field())

    @app.post("/login")
    async def login(request: Request) -> str:
        return "tried"

    stack = secure_stack(app, secret_key=SECRET, allowed_hosts=["example.com"], **options)
    return app, stack


def test_installs_every_component_and_check_finds_no_error() -> None:
    app, stack = build(
        cors_origins=["https://app.example.com"],
        rate_limits={"/login": "2/minute"},
        audit=True,
        trusted_proxies=["127.0.0.1"],
    )
    assert all(
        part is not None
        for part in (stack.proxy, stack.hosts, stack.limiter, stack.cors, stack.audit, stack.nonce)
    )
    assert [f for f in app.check() if f.severity == "error"] == []


def test_headers_request_id_and_session_on_a_page() -> None:
    app, _ = build()
    response = TestClient(app, host="example.com").sync.get("/")
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert len(response.headers["x-request-id"]) == 32
    [cookie] = response.headers["set-cookie"]  # a list, as Microdot's client gives it
    assert "session=" in cookie
    assert "HttpOnly" in cookie


def test_errors_are_decorated_and_foreign_hosts_refused() -> None:
    app, _ = build()
    client = TestClient(app, host="example.com").sync
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.headers["x-frame-options"] == "DENY"
    assert "x-request-id" in missing.headers
    refused = TestClient(app, host="evil.test").sync.get("/")
    assert refused.status_code == 400
    assert "evil.test" not in refused.text
    assert refused.headers["x-content-type-options"] == "nosniff"


def test_cross_site_post_is_refused_and_same_origin_passes() -> None:
    app, _ = build()
    client = TestClient(app, host="example.com").sync
    forged = client.post(
        "/login", headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.test"}
    )
    assert forged.status_code == 403
    assert client.post("/login", headers=SAME_ORIGIN).text == "tried"


def test_csrf_tokens_mode_uses_the_session() -> None:
    app, _ = build(csrf_tokens=True)
    client = TestClient(app, host="example.com").sync
    page = client.get("/form").text
    token = page.split('value="')[1].split('"')[0]
    assert client.post("/login", headers=SAME_ORIGIN).status_code == 403
    accepted = client.post("/login", headers=SAME_ORIGIN, form={"csrf_token": token})
    assert accepted.text == "tried"


def test_rate_limit_rule_applies_to_unsafe_methods() -> None:
    app, _ = build(rate_limits={"/login": "2/minute"})
    client = TestClient(app, host="example.com").sync
    statuses = [client.post("/login", headers=SAME_ORIGIN).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = client.post("/login", headers=SAME_ORIGIN)
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["x-content-type-options"] == "nosniff"
    assert client.get("/").status_code == 200  # GETs are not counted


def test_cors_origin_is_echoed_only_when_listed() -> None:
    app, _ = build(cors_origins=["https://app.example.com"])
    client = TestClient(app, host="example.com").sync
    allowed = client.get("/", headers={"Origin": "https://app.example.com"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    other = client.get("/", headers={"Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in other.headers
    assert "Origin" in other.headers["vary"]


def test_csrf_can_be_left_out_and_check_then_says_so() -> None:
    app, stack = build(csrf=False)
    assert stack.csrf is None
    client = TestClient(app, host="example.com").sync
    forged = client.post(
        "/login", headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.test"}
    )
    assert forged.status_code == 200
    assert "J003" in [f.code for f in app.check()]


def test_audit_sees_refusals_with_a_duration_and_the_final_status() -> None:
    records: list[dict[str, Any]] = []
    app, _ = build(audit=records.append, rate_limits={"/login": "1/minute"})
    client = TestClient(app, host="example.com").sync
    assert client.post("/login", headers=SAME_ORIGIN).status_code == 200
    assert client.post("/login", headers=SAME_ORIGIN).status_code == 429
    forged = client.post("/login", headers={"Sec-Fetch-Site": "cross-site"})
    assert forged.status_code in (403, 429)
    assert [r["status"] for r in records] == [200, 429, forged.status_code]
    assert all(r["duration_ms"] is not None for r in records)
