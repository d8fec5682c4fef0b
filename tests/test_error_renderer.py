"""junco's one error renderer: every status x every kind of client, escaping, headers."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from junco import HTTPException, Junco, Request, abort
from junco.errors import PAGE_CSP, format_seconds, format_size, negotiate
from junco.security.cors import CORS
from junco.security.csp_nonce import CSPNonce
from junco.security.csrf import CSRF
from junco.security.ratelimit import RateLimit
from junco.security.request_id import RequestID
from junco.security.security_headers import SecurityHeaders
from junco.security.sessions import Session
from junco.templating import Templates
from junco.testing import TestClient, TestResponse

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
KINDS: dict[str, dict[str, str]] = {
    "browser": {"Accept": BROWSER},
    "api": {"Accept": "application/json"},
    "json-request": {"Content-Type": "application/json"},
    "no-accept": {},
    "wildcard": {"Accept": "*/*"},
    "plain": {"Accept": "text/plain"},
}
FORM_OF = {
    "browser": "html",
    "api": "json",
    "json-request": "json",
    "no-accept": "text",
    "wildcard": "text",
    "plain": "text",
}
SECRET = "k" * 32


def make_app(debug: bool = False) -> Junco:
    """An app that reaches each status junco makes through its real path."""
    app = Junco(debug=debug, max_content_length=1024, max_header_bytes=4096)
    Session(app, SECRET)
    CSRF(app, tokens=True)
    limiter = RateLimit(app)

    @app.route("/x", methods=["GET", "POST"])
    async def x(request: Request) -> str:
        request.args.get("q")
        return "ok"

    @app.post("/upload")
    async def upload(request: Request) -> str:
        return str(len(request.body))

    @limiter.limit("1/minute")
    @app.get("/limited")
    async def limited(request: Request) -> str:
        return "ok"

    @app.get("/raise/<int:status>")
    async def raise_status(request: Request, status: int) -> str:
        headers = {"Retry-After": "120"} if status == 503 else None
        extra = {"errors": [{"loc": ["body", "age"], "msg": "not an int"}]}
        abort(status, None, headers, extra=extra if status == 422 else None)

    @app.get("/boom")
    async def boom(request: Request) -> str:
        raise RuntimeError("the <secret> internals")

    return app


def call(app: Junco, method: str, path: str, headers: dict[str, str], **kw: Any) -> TestResponse:
    client = TestClient(app, scheme="https", host="app.example")
    return asyncio.run(client.request(method, path, headers=headers, **kw))


def produce(app: Junco, status: int, kind: str) -> TestResponse:
    """A request to ``app`` (from :func:`make_app`) that junco answers with ``status``."""
    headers = dict(KINDS[kind])
    if status == 400:
        return call(app, "GET", "/x?q=%ff", headers)
    if status == 403:
        return call(app, "POST", "/x", headers)
    if status == 404:
        return call(app, "GET", "/nothing/here", headers)
    if status == 405:
        return call(app, "TRACE", "/x", headers)  # (a safe method: CSRF lets it by)
    if status == 413:
        return call(app, "POST", "/upload", headers, body=b"x" * 2000)
    if status == 429:
        call(app, "GET", "/limited", headers)
        return call(app, "GET", "/limited", headers)
    if status == 431:
        return call(app, "GET", "/x", {**headers, "X-Big": "b" * 5000})
    if status == 500:
        return call(app, "GET", "/boom", headers)
    return call(app, "GET", f"/raise/{status}", headers)


CODES = {
    400: "bad_request",
    403: "csrf_token_missing",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "content_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error",
    503: "service_unavailable",
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("status", list(CODES))
def test_every_status_for_every_kind_of_client(status: int, kind: str) -> None:
    r = produce(make_app(), status, kind)
    assert r.status_code == status
    form = FORM_OF[kind]
    ctype = r.headers["content-type"]
    if form == "html":
        assert ctype == "text/html; charset=UTF-8"
        assert f'<p class="status">{status}</p>' in r.text
        assert r.headers["content-security-policy"] == PAGE_CSP
        assert "Accept" in r.headers["vary"]
        assert "Traceback" not in r.text
        assert "internals" not in r.text
    elif form == "json":
        assert ctype.startswith("application/json")
        error = r.json["error"]
        assert (error["status"], error["code"]) == (status, CODES[status])
        assert isinstance(error["message"], str)
        assert error["message"]
        assert "traceback" not in error
    else:
        assert ctype.startswith("text/plain")
        assert "<" not in r.text
        assert "internals" not in r.text
    assert "Accept" in r.headers["vary"]  # every form: the answer depends on Accept
    if status == 405:
        assert r.headers["allow"]
    if status in (429, 503):
        assert r.headers["retry-after"].isdigit()


def test_the_page_says_what_to_do() -> None:
    app = make_app()
    page = produce(app, 403, "browser").text
    assert "security token is missing" in page
    assert "reload the page" in page
    page = produce(app, 429, "browser").text
    assert re.search(r"too many requests\. Try again in \d+ (seconds|minutes)\.", page), page
    assert "The limit is 1 KB" in produce(app, 413, "browser").text
    assert "it accepts GET, POST, HEAD, OPTIONS" in produce(app, 405, "browser").text
    assert "Try again in 2 minutes" in produce(app, 503, "browser").text
    assert "<code>body.age</code>: not an int" in produce(app, 422, "browser").text
    assert "cookies" in produce(app, 431, "browser").text


def test_json_carries_extra_and_retry_after() -> None:
    app = make_app()
    error = produce(app, 422, "api").json["error"]
    assert error["errors"] == [{"loc": ["body", "age"], "msg": "not an int"}]
    error = produce(app, 429, "api").json["error"]
    assert isinstance(error["retry_after"], int)
    assert error["retry_after"] > 0
    assert produce(app, 413, "api").json["error"]["limit"] == 1024


def test_csrf_reasons_have_their_own_codes() -> None:
    app = make_app()
    api = KINDS["api"]
    assert call(app, "POST", "/x", api).json["error"]["code"] == "csrf_token_missing"
    junk = {**api, "X-CSRF-Token": "not-a-token"}
    assert call(app, "POST", "/x", junk).json["error"]["code"] == "csrf_token_invalid"
    token = {**api, "X-CSRF-Token": "A" * 86}
    assert call(app, "POST", "/x", token).json["error"]["code"] == "csrf_session_expired"
    cross = {**api, "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    error = call(app, "POST", "/x", cross).json["error"]
    assert error == {
        "status": 403,
        "code": "csrf_cross_site",
        "message": "Forbidden: cross-site request refused",
    }


HOSTILE = "<script>alert(1)</script>\"'&"


def hostile_app() -> Junco:
    app = Junco()

    @app.get("/echo")
    async def echo(request: Request) -> str:
        value = request.args.get("v", "")
        errors = [{"loc": [value], "msg": value}, value]
        raise HTTPException(422, f"bad value {value}", extra={"errors": errors})

    return app


def test_hostile_input_is_escaped_in_every_form() -> None:
    app = hostile_app()
    path = "/echo?v=%3Cscript%3Ealert(1)%3C%2Fscript%3E%22%27%26"
    page = call(app, "GET", path, KINDS["browser"]).text
    assert "<script>" not in page
    assert "alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;" in page
    body = call(app, "GET", path, KINDS["api"])
    assert body.json["error"]["message"] == f"bad value {HOSTILE}"
    assert body.headers["content-type"].startswith("application/json")
    plain = call(app, "GET", path, {})
    assert plain.headers["content-type"].startswith("text/plain")
    # A 404 never echoes the path at all.
    r = call(app, "GET", "/%3Cscript%3E", KINDS["browser"])
    assert "script" not in r.text


def test_an_absurd_accept_header_is_bounded() -> None:
    accept = ",".join(["text/html;q=0"] * 1500 + ["application/json"])
    r = call(Junco(), "GET", "/nothing", {"Accept": accept})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/plain")


def test_headers_of_the_stack_are_kept() -> None:
    app = Junco()
    SecurityHeaders(app)
    RequestID(app)
    CORS(app, allowed_origins=["https://ui.example"])
    r = call(app, "GET", "/nothing", {**KINDS["browser"], "Origin": "https://ui.example"})
    assert r.status_code == 404
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["access-control-allow-origin"] == "https://ui.example"
    rid = r.headers["x-request-id"]
    assert f"<code>{rid}</code>" in r.text
    # SecurityHeaders keeps the page's stricter policy.
    assert r.headers["content-security-policy"] == PAGE_CSP


def test_the_csp_nonce_applies_to_the_page_style() -> None:
    app = Junco()
    SecurityHeaders(app)
    CSPNonce(app, style=True)
    r = call(app, "GET", "/nothing", KINDS["browser"])
    nonce = re.search(r'<style nonce="([^"]+)">', r.text)
    assert nonce is not None
    assert f"'nonce-{nonce.group(1)}'" in r.headers["content-security-policy"]


def test_the_page_style_hash_is_right() -> None:
    import base64
    import hashlib

    page = call(Junco(), "GET", "/nothing", KINDS["browser"]).text
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in PAGE_CSP


def test_tracebacks_only_with_debug() -> None:
    quiet = make_app()
    for kind in KINDS:
        assert "Traceback" not in produce(quiet, 500, kind).text
    loud = make_app(debug=True)
    page = produce(loud, 500, "browser").text
    assert "Traceback" in page
    assert "the &lt;secret&gt; internals" in page
    assert "RuntimeError" in produce(loud, 500, "api").json["error"]["traceback"]
    assert produce(loud, 500, "no-accept").text.startswith("Traceback")


def test_error_handlers_still_win() -> None:
    app = Junco()

    @app.errorhandler(404)
    async def missing(request: Request) -> tuple[str, int]:
        return "my own 404", 404

    for kind in KINDS:
        r = call(app, "GET", "/nothing", KINDS[kind])
        assert (r.status_code, r.text) == (404, "my own 404")


def test_error_page_hook_restyles_the_html_form() -> None:
    app = Junco()
    app.error_page = lambda request, error: f"<p>{error.status} {error.code}</p>"
    r = call(app, "GET", "/nothing", KINDS["browser"])
    assert (r.status_code, r.text) == (404, "<p>404 not_found</p>")
    assert "content-security-policy" not in r.headers  # the app's page, the app's policy
    assert call(app, "GET", "/nothing", KINDS["api"]).json["error"]["code"] == "not_found"


def test_error_template(tmp_path: Path) -> None:
    (tmp_path / "error.html").write_text("<h1>{{ error.title }}</h1><p>{{ error.message }}</p>")
    app = hostile_app()
    Templates(app, template_dir=tmp_path, error_template="error.html")
    r = call(app, "GET", "/echo?v=%3Cb%3E", KINDS["browser"])
    assert r.status_code == 422
    assert r.text == "<h1>Unprocessable Entity</h1><p>bad value &lt;b&gt;</p>" or r.text.startswith(
        "<h1>Unprocessable Content</h1>"
    )


def test_a_failing_error_page_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    app = Junco()

    def broken(request: Request, error: Any) -> str:
        raise LookupError("no template")

    app.error_page = broken
    with caplog.at_level(logging.ERROR, logger="junco"):
        r = call(app, "GET", "/nothing", KINDS["browser"])
    assert r.status_code == 404
    assert '<p class="status">404</p>' in r.text
    assert any("error page failed" in rec.getMessage() for rec in caplog.records)


def test_head_gets_no_body() -> None:
    r = call(Junco(), "HEAD", "/nothing", KINDS["browser"])
    assert r.status_code == 404
    assert not r.body  # (the test client reports no body as None, as Microdot's does)


def test_the_home_link_follows_root_path() -> None:
    app = Junco()
    client = TestClient(app)
    scope = {"root_path": "/shop"}
    r = asyncio.run(client.get("/shop/nothing", KINDS["browser"], scope=scope))
    assert '<a href="/shop/">Home page</a>' in r.text


@pytest.mark.parametrize(
    ("accept", "ctype", "form"),
    [
        (BROWSER, None, "html"),
        ("application/json", None, "json"),
        ("application/problem+json", None, "json"),
        ("application/json, text/html", None, "html"),
        ("text/html;q=0.5, application/json", None, "json"),
        ("text/plain, text/html;q=0.1", None, "text"),
        ("*/*", None, "text"),
        ("*/*", "application/json; charset=utf-8", "json"),
        (None, "application/vnd.api+json", "json"),
        (None, None, "text"),
        ("text/html;q=0", None, "text"),
        ("text/html;q=nonsense", None, "text"),
        ("application/json;q=2", None, "text"),
    ],
)
def test_negotiate(accept: str | None, ctype: str | None, form: str) -> None:
    assert negotiate(accept, ctype) == form


def test_http_exception_codes() -> None:
    assert HTTPException(404).code == "not_found"
    assert HTTPException(418).code == "i_m_a_teapot"
    assert HTTPException(400, code="csrf_token_missing").code == "csrf_token_missing"
    with pytest.raises(ValueError, match="snake_case"):
        HTTPException(400, code="Bad-Code")


def test_extra_cannot_override_the_core_members() -> None:
    app = Junco()

    @app.get("/")
    async def h(request: Request) -> str:
        abort(409, "taken", extra={"status": 200, "code": "ok", "field": "name"})

    error = json.loads(call(app, "GET", "/", KINDS["api"]).body)["error"]
    assert error == {"status": 409, "code": "conflict", "message": "taken", "field": "name"}


def test_formatting_helpers() -> None:
    assert [format_seconds(s) for s in (1, 30, 120, 7200)] == [
        "1 second",
        "30 seconds",
        "2 minutes",
        "2 hours",
    ]
    assert [format_size(n) for n in (10, 1536, 1 << 20, 5 << 30)] == [
        "10 bytes",
        "1.5 KB",
        "1 MB",
        "5 GB",
    ]
