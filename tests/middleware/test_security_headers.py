"""SecurityHeaders: the defaults on every kind of response, overrides, disabling, HSTS."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from junco import HTTPException, Junco, Request, Response, abort
from junco.phases import Phase
from junco.security.proxy import ProxyHeaders
from junco.security.security_headers import DEFAULT_CSP, SecurityHeaders
from junco.testing import TestClient, TestResponse

DEFAULTS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'self'"
    ),
}
HSTS = "max-age=63072000; includeSubDomains"


def fetch(
    app: Junco, path: str, method: str = "GET", *, scheme: str | None = None, **kw: Any
) -> TestResponse:
    return asyncio.run(TestClient(app, scheme=scheme).request(method, path, **kw))


def assert_defaults(response: TestResponse) -> None:
    for name, value in DEFAULTS.items():
        assert response.headers.get(name) == value, (name, response)


def site(**options: Any) -> Junco:
    app = Junco(max_content_length=64)
    SecurityHeaders(app, **options)

    @app.get("/")
    async def index(request: Request) -> str:
        return "home"

    @app.get("/json")
    async def json(request: Request) -> dict[str, int]:
        return {"n": 1}

    @app.post("/upload")
    async def upload(request: Request) -> str:
        return "stored"

    @app.get("/boom")
    async def boom(request: Request) -> str:
        raise RuntimeError("broken")

    @app.get("/forbidden")
    async def forbidden(request: Request) -> str:
        abort(403)

    @app.get("/stream")
    async def stream(request: Request) -> Response:
        async def chunks() -> AsyncIterator[str]:
            yield "a"
            yield "b"

        return Response(chunks())

    @app.get("/framed")
    async def framed(request: Request) -> Response:
        return Response(
            "embeddable",
            headers={
                "X-Frame-Options": "SAMEORIGIN",
                "Content-Security-Policy": "frame-ancestors 'self'",
                "Strict-Transport-Security": "max-age=60",
            },
        )

    return app


@pytest.fixture(autouse=True)
def quiet_junco_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="junco")  # /boom logs a traceback on purpose


@pytest.mark.parametrize(
    ("method", "path", "kw", "status"),
    [
        ("GET", "/", {}, 200),
        ("GET", "/json", {}, 200),
        ("HEAD", "/", {}, 200),
        ("GET", "/stream", {}, 200),
        ("OPTIONS", "/", {}, 200),
        ("GET", "/nowhere", {}, 404),
        ("DELETE", "/", {}, 405),
        ("POST", "/upload", {"body": b"x" * 100}, 413),
        ("GET", "/boom", {}, 500),
        ("GET", "/forbidden", {}, 403),
        ("GET", "/", {"headers": {"X-Filler": "f" * 40_000}}, 431),
        ("GET", "/", {"headers": [("Host", "a.test"), ("Host", "b.test")]}, 400),
    ],
)
def test_defaults_on_every_kind_of_response(
    method: str, path: str, kw: dict[str, Any], status: int
) -> None:
    response = fetch(site(), path, method, **kw)
    assert response.status_code == status
    assert_defaults(response)
    assert "Strict-Transport-Security" not in response.headers  # plain http


def test_defaults_on_a_short_circuited_response() -> None:
    app = site()

    @app.before_request
    async def maintenance(request: Request) -> tuple[str, int] | None:
        return ("down for maintenance", 503) if request.path == "/" else None

    response = fetch(app, "/")
    assert (response.status_code, response.text) == (503, "down for maintenance")
    assert_defaults(response)


def test_defaults_on_a_custom_error_page() -> None:
    app = site()

    @app.errorhandler(404)
    async def not_found(request: Request) -> tuple[str, int, dict[str, str]]:
        return "<h1>lost</h1>", 404, {"Content-Type": "text/html"}

    @app.errorhandler(RuntimeError)
    async def failed(request: Request, exc: RuntimeError) -> tuple[dict[str, str], int]:
        return {"error": "internal"}, 500

    assert_defaults(fetch(app, "/nowhere"))
    assert_defaults(fetch(app, "/boom"))


def test_hsts_only_on_https() -> None:
    app = site()
    assert "Strict-Transport-Security" not in fetch(app, "/").headers
    secure = fetch(app, "/", scheme="https")
    assert secure.headers["Strict-Transport-Security"] == HSTS
    assert_defaults(secure)
    missing = fetch(app, "/nowhere", scheme="https")
    assert missing.headers["Strict-Transport-Security"] == HSTS


def test_hsts_follows_a_trusted_proxy_only() -> None:
    app = Junco()
    ProxyHeaders(app, trusted=["10.0.0.0/8"])
    SecurityHeaders(app)

    @app.get("/")
    async def index(request: Request) -> str:
        return request.scheme

    proto = {"X-Forwarded-Proto": "https"}
    behind = fetch(app, "/", headers=proto, scope={"client": ("10.1.2.3", 4000)})
    assert (behind.text, behind.headers["Strict-Transport-Security"]) == ("https", HSTS)
    forged = fetch(app, "/", headers=proto, scope={"client": ("203.0.113.9", 1234)})
    assert forged.text == "http"
    assert "Strict-Transport-Security" not in forged.headers


def test_hsts_on_answers_of_later_hooks_behind_a_proxy() -> None:
    app = Junco()
    ProxyHeaders(app, trusted=["10.0.0.0/8"])
    SecurityHeaders(app)

    @app.before_request
    async def closed(request: Request) -> tuple[str, int]:
        return "closed", 503

    response = fetch(
        app, "/", headers={"X-Forwarded-Proto": "https"}, scope={"client": ("10.0.0.2", 1)}
    )
    assert response.status_code == 503
    assert response.headers["Strict-Transport-Security"] == HSTS


def test_hsts_options() -> None:
    preload = site(hsts_max_age=31536000, hsts_preload=True)
    assert (
        fetch(preload, "/", scheme="https").headers["Strict-Transport-Security"]
        == "max-age=31536000; includeSubDomains; preload"
    )
    short = site(hsts_max_age=300, hsts_include_subdomains=False)
    assert fetch(short, "/", scheme="https").headers["Strict-Transport-Security"] == "max-age=300"
    off = site(hsts=False)
    assert "Strict-Transport-Security" not in fetch(off, "/", scheme="https").headers


def test_overrides() -> None:
    app = site(
        content_security_policy="default-src 'none'",
        frame_options="sameorigin",
        referrer_policy="no-referrer, strict-origin",
        permissions_policy="camera=(self)",
        cross_origin_opener_policy="same-origin-allow-popups",
        extra={"Cross-Origin-Resource-Policy": "same-origin"},
    )
    response = fetch(app, "/nowhere")
    assert response.status_code == 404
    assert response.headers["Content-Security-Policy"] == "default-src 'none'"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Referrer-Policy"] == "no-referrer, strict-origin"
    assert response.headers["Permissions-Policy"] == "camera=(self)"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin-allow-popups"
    assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("option", "header"),
    [
        ("content_security_policy", "Content-Security-Policy"),
        ("frame_options", "X-Frame-Options"),
        ("referrer_policy", "Referrer-Policy"),
        ("permissions_policy", "Permissions-Policy"),
        ("cross_origin_opener_policy", "Cross-Origin-Opener-Policy"),
        ("content_type_options", "X-Content-Type-Options"),
    ],
)
@pytest.mark.parametrize("off", [None, False])
def test_each_header_can_be_disabled(option: str, header: str, off: Any) -> None:
    response = fetch(site(**{option: off}), "/", scheme="https")
    assert header not in response.headers
    others = {k: v for k, v in DEFAULTS.items() if k != header}
    for name, value in others.items():
        assert response.headers[name] == value
    assert response.headers["Strict-Transport-Security"] == HSTS


def test_headers_set_by_the_handler_are_kept() -> None:
    response = fetch(site(), "/framed", scheme="https")
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert response.headers["Strict-Transport-Security"] == "max-age=60"
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_headers_from_an_exception_are_kept() -> None:
    app = site()

    @app.get("/teapot")
    async def teapot(request: Request) -> str:
        raise HTTPException(418, headers={"X-Frame-Options": "SAMEORIGIN"})

    response = fetch(app, "/teapot")
    assert (response.status_code, response.headers["X-Frame-Options"]) == (418, "SAMEORIGIN")
    assert response.headers["Referrer-Policy"] == DEFAULTS["Referrer-Policy"]


def test_every_response_gets_its_own_header_lists() -> None:
    app = Junco()

    class AddMore:
        phase = Phase.TRANSPORT  # outside SecurityHeaders (GUARD): its after-hook runs later

        def after_request(self, request: Request, response: Response) -> None:
            response.headers.add("X-Frame-Options", "SAMEORIGIN")

    app.add_middleware(AddMore())
    SecurityHeaders(app)

    @app.get("/")
    async def index(request: Request) -> str:
        return "ok"

    assert fetch(app, "/").headers.getlist("X-Frame-Options") == ["DENY", "SAMEORIGIN"]
    assert fetch(app, "/").headers.getlist("X-Frame-Options") == ["DENY", "SAMEORIGIN"]


def test_extra_replaces_a_default() -> None:
    middleware = SecurityHeaders(extra={"x-frame-options": "SAMEORIGIN"})
    assert middleware.headers["x-frame-options"] == "SAMEORIGIN"


def test_add_middleware_form_and_headers_property() -> None:
    app = Junco()
    middleware = app.add_middleware(SecurityHeaders(frame_options="SAMEORIGIN"))
    assert isinstance(middleware, SecurityHeaders)
    assert middleware.headers["x-frame-options"] == "SAMEORIGIN"
    assert middleware.headers["content-security-policy"] == DEFAULT_CSP
    assert middleware.headers["strict-transport-security"] == HSTS

    @app.get("/")
    async def index(request: Request) -> str:
        return "ok"

    assert fetch(app, "/").headers["X-Frame-Options"] == "SAMEORIGIN"


def test_sub_app_routes_get_the_headers() -> None:
    app, api = Junco(), Junco()
    SecurityHeaders(app)

    @api.get("/items")
    async def items(request: Request) -> list[int]:
        return [1]

    app.mount(api, "/api")
    assert_defaults(fetch(app, "/api/items"))
    assert_defaults(fetch(app, "/api/nowhere"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"frame_options": "ALLOW-FROM https://a.test"}, "frame_options"),
        ({"referrer_policy": "sometimes"}, "Referrer-Policy"),
        ({"hsts_preload": True, "hsts_max_age": 86400}, "hsts_preload"),
        ({"hsts_preload": True, "hsts_include_subdomains": False}, "hsts_preload"),
        ({"hsts_max_age": -1}, "hsts_max_age"),
        ({"content_security_policy": "default-src 'self'\r\nSet-Cookie: a=b"}, "control"),
        ({"permissions_policy": "camera=()\n"}, "control"),
        ({"extra": {"Bad Name": "x"}}, "header name"),
        ({"extra": {"Content-Security-Policy": "x"}}, "own arguments"),
        ({"extra": {"X-Note": "caf\u00e9 \u2615"}}, "latin-1"),
    ],
)
def test_invalid_settings_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SecurityHeaders(**options)


def test_positional_settings_are_refused() -> None:
    with pytest.raises(TypeError, match="the app"):
        SecurityHeaders("DENY")


def docs_example(page: str) -> dict[str, Any]:
    """Run the first python block of docs/PAGE.md that builds an app; return its namespace."""
    text = (Path(__file__).resolve().parents[2] / "docs" / f"{page}.md").read_text("utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)
    code = next(b for b in blocks if "app = Junco()" in b)
    namespace: dict[str, Any] = {"__name__": f"docs_{page}"}
    exec(compile(code, f"docs/{page}.md", "exec"), namespace)
    return namespace


def test_docs_example() -> None:
    app = docs_example("security-headers")["app"]
    response = fetch(app, "/", scheme="https")
    nonce = re.search(r'nonce="([^"]+)"', response.text)
    assert nonce is not None
    others = {k: v for k, v in DEFAULTS.items() if k != "Content-Security-Policy"}
    for name, value in others.items():
        assert response.headers[name] == value
    assert response.headers["Content-Security-Policy"] == (
        f"{DEFAULT_CSP}; script-src 'self' 'nonce-{nonce.group(1)}'"
    )
    assert response.headers["Strict-Transport-Security"] == HSTS
