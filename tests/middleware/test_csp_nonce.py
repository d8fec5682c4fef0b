"""CSPNonce: one fresh nonce per request, in the page and in the policy, in any order."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from junco import Junco, Request, Response
from junco.security.csp_nonce import CSPNonce, csp_nonce, merge_nonce
from junco.security.security_headers import DEFAULT_CSP, SecurityHeaders
from junco.templating import Template, Templates
from junco.testing import TestClient, TestResponse

NONCE = re.compile(r"[A-Za-z0-9_-]{22}")
SCRIPT = re.compile(r"<script nonce=\"([^\"]*)\">")
HTML = {"Content-Type": "text/html; charset=UTF-8"}


def fetch(app: Junco, path: str, method: str = "GET", **kw: Any) -> TestResponse:
    return asyncio.run(TestClient(app).request(method, path, **kw))


def page_nonce(response: TestResponse) -> str:
    found = SCRIPT.search(response.text)
    assert found is not None, response.text
    return found.group(1)


def add_routes(app: Junco) -> None:
    @app.get("/page")
    async def page(request: Request) -> tuple[str, dict[str, str]]:
        return f'<script nonce="{csp_nonce()}">go()</script>', HTML

    @app.get("/twice")
    async def twice(request: Request) -> dict[str, bool]:
        return {"same": csp_nonce() == csp_nonce(request) == request.csp_nonce}  # type: ignore[attr-defined]

    @app.get("/sync")
    def sync_page(request: Request) -> tuple[str, dict[str, str]]:  # runs in a worker thread
        return f'<script nonce="{csp_nonce()}">go()</script>', HTML

    @app.get("/plain")
    async def plain(request: Request) -> dict[str, int]:
        return {"n": 1}

    @app.get("/fails")
    async def fails(request: Request) -> str:
        csp_nonce()
        raise RuntimeError("after making a nonce")

    @app.get("/generated")
    async def generated(request: Request) -> Response:
        def body() -> Iterator[str]:
            yield "<p>streamed</p>"
            yield f'<script nonce="{csp_nonce()}">go()</script>'

        return Response(body(), headers=HTML)


def secure_app(order: str, **nonce_options: Any) -> Junco:
    app = Junco()
    if order == "headers-first":
        SecurityHeaders(app)
        CSPNonce(app, **nonce_options)
    else:
        CSPNonce(app, **nonce_options)
        SecurityHeaders(app)
    add_routes(app)
    return app


@pytest.fixture(autouse=True)
def quiet_junco_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="junco")


ORDERS = pytest.mark.parametrize("order", ["headers-first", "nonce-first"])


@ORDERS
def test_nonce_in_page_and_policy(order: str) -> None:
    response = fetch(secure_app(order), "/page")
    nonce = page_nonce(response)
    assert NONCE.fullmatch(nonce)
    assert response.headers["Content-Security-Policy"] == (
        f"{DEFAULT_CSP}; script-src 'self' 'nonce-{nonce}'"
    )
    assert response.headers.getlist("Content-Security-Policy") == [
        response.headers["Content-Security-Policy"]
    ]


@ORDERS
def test_a_fresh_nonce_per_request(order: str) -> None:
    app = secure_app(order)
    nonces = [page_nonce(fetch(app, "/page")) for _ in range(20)]
    assert len(set(nonces)) == 20


@ORDERS
def test_no_nonce_when_nothing_asked_for_one(order: str) -> None:
    app = secure_app(order)
    assert fetch(app, "/plain").headers["Content-Security-Policy"] == DEFAULT_CSP
    assert fetch(app, "/nowhere").headers["Content-Security-Policy"] == DEFAULT_CSP


@ORDERS
def test_one_nonce_per_request_however_often_asked(order: str) -> None:
    assert fetch(secure_app(order), "/twice").json == {"same": True}


@ORDERS
def test_sync_handlers_in_threads(order: str) -> None:
    response = fetch(secure_app(order), "/sync")
    assert f"'nonce-{page_nonce(response)}'" in response.headers["Content-Security-Policy"]


@ORDERS
def test_streamed_bodies_get_their_nonce_before_the_headers_go(order: str) -> None:
    response = fetch(secure_app(order), "/generated")
    nonce = page_nonce(response)
    assert response.headers["Content-Security-Policy"] == (
        f"{DEFAULT_CSP}; script-src 'self' 'nonce-{nonce}'"
    )


@ORDERS
def test_error_responses_keep_the_full_policy(order: str) -> None:
    response = fetch(secure_app(order), "/fails")
    assert response.status_code == 500
    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith(DEFAULT_CSP + "; script-src 'self' 'nonce-")


@ORDERS
def test_custom_error_page_with_a_nonce(order: str) -> None:
    app = secure_app(order)

    @app.errorhandler(404)
    async def not_found(request: Request) -> tuple[str, int, dict[str, str]]:
        return f'<script nonce="{csp_nonce()}">back()</script>', 404, HTML

    response = fetch(app, "/nowhere")
    assert response.status_code == 404
    nonce = page_nonce(response)
    assert response.headers["Content-Security-Policy"] == (
        f"{DEFAULT_CSP}; script-src 'self' 'nonce-{nonce}'"
    )


@ORDERS
def test_style_nonce(order: str) -> None:
    response = fetch(secure_app(order, style=True), "/page")
    nonce = page_nonce(response)
    assert response.headers["Content-Security-Policy"] == (
        f"{DEFAULT_CSP}; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'"
    )


def test_nonce_for_style_src_only() -> None:
    response = fetch(secure_app("headers-first", directive="style-src"), "/page")
    nonce = page_nonce(response)
    assert response.headers["Content-Security-Policy"] == (
        f"{DEFAULT_CSP}; style-src 'self' 'nonce-{nonce}'"
    )


def test_custom_security_policy_is_extended_not_weakened() -> None:
    app = Junco()
    SecurityHeaders(app, content_security_policy="default-src 'none'; script-src 'strict-dynamic'")
    CSPNonce(app)
    add_routes(app)
    response = fetch(app, "/page")
    nonce = page_nonce(response)
    assert response.headers["Content-Security-Policy"] == (
        f"default-src 'none'; script-src 'strict-dynamic' 'nonce-{nonce}'"
    )


def test_nonce_alone_sets_a_minimal_policy() -> None:
    app = Junco()
    CSPNonce(app)
    add_routes(app)
    response = fetch(app, "/page")
    nonce = page_nonce(response)
    assert response.headers["Content-Security-Policy"] == f"script-src 'self' 'nonce-{nonce}'"
    assert "Content-Security-Policy" not in fetch(app, "/plain").headers


@ORDERS
def test_policy_set_by_the_handler_gets_the_nonce(order: str) -> None:
    app = secure_app(order)

    @app.get("/own")
    async def own(request: Request) -> Response:
        nonce = csp_nonce()
        headers = {
            "Content-Security-Policy": "script-src 'self' https://cdn.test",
            "Content-Security-Policy-Report-Only": "script-src 'none'; report-uri /r",
        }
        return Response(f'<script nonce="{nonce}"></script>', headers=headers)

    response = fetch(app, "/own")
    nonce = page_nonce(response)
    assert response.headers["Content-Security-Policy"] == (
        f"script-src 'self' https://cdn.test 'nonce-{nonce}'"
    )
    # 'none' is an explicit choice: it stays.
    assert response.headers["Content-Security-Policy-Report-Only"] == (
        "script-src 'none'; report-uri /r"
    )


def test_registered_twice_merges_once() -> None:
    app = Junco()
    SecurityHeaders(app)
    CSPNonce(app)
    app.add_middleware(CSPNonce())
    add_routes(app)
    response = fetch(app, "/page")
    assert response.headers["Content-Security-Policy"].count("'nonce-") == 1


@pytest.mark.parametrize(
    ("policy", "directives", "merged"),
    [
        ("", ("script-src",), "script-src 'self' 'nonce-N'"),
        ("default-src 'self'", ("script-src",), "default-src 'self'; script-src 'self' 'nonce-N'"),
        (
            "default-src 'self' https://cdn.test",
            ("script-src",),
            "default-src 'self' https://cdn.test; script-src 'self' https://cdn.test 'nonce-N'",
        ),
        ("default-src 'none'", ("script-src",), "default-src 'none'; script-src 'nonce-N'"),
        ("script-src 'self'", ("script-src",), "script-src 'self' 'nonce-N'"),
        ("SCRIPT-SRC 'self';", ("script-src",), "SCRIPT-SRC 'self' 'nonce-N'"),
        ("script-src 'none'", ("script-src",), "script-src 'none'"),
        ("script-src 'NONE'", ("script-src",), "script-src 'NONE'"),
        (
            "script-src 'self'; script-src-elem 'self'",
            ("script-src",),
            "script-src 'self' 'nonce-N'; script-src-elem 'self' 'nonce-N'",
        ),
        (
            "script-src-elem https://a.test",
            ("script-src",),
            "script-src-elem https://a.test 'nonce-N'; script-src 'self' 'nonce-N'",
        ),
        (
            "script-src 'self'; script-src 'unsafe-inline'",
            ("script-src",),
            "script-src 'self' 'nonce-N'; script-src 'unsafe-inline'",
        ),
        (
            " img-src * ;; script-src 'self' ",
            ("script-src", "style-src"),
            "img-src *; script-src 'self' 'nonce-N'; style-src 'self' 'nonce-N'",
        ),
    ],
)
def test_merge_nonce(policy: str, directives: tuple[str, ...], merged: str) -> None:
    assert merge_nonce(policy, "N", directives) == merged


def test_csp_nonce_outside_a_request() -> None:
    with pytest.raises(RuntimeError, match="outside of a request"):
        csp_nonce()


def test_invalid_options() -> None:
    with pytest.raises(ValueError, match="directive"):
        CSPNonce(directive="img-src")
    with pytest.raises(TypeError, match="the app"):
        CSPNonce("script-src")


def templated_app(tmp_path: Path, order: str) -> Junco:
    (tmp_path / "page.html").write_text(
        '<h1>{{ title }}</h1><script nonce="{{ csp_nonce() }}">go()</script>'
    )
    app = Junco()
    Templates(app, template_dir=str(tmp_path))
    secure: list[Callable[[Junco], Any]] = [SecurityHeaders, CSPNonce]
    for make in secure if order == "headers-first" else reversed(secure):
        make(app)

    @app.get("/rendered")
    async def rendered(request: Request) -> Response:
        return await Template("page.html").response_async(title="now")

    @app.get("/streamed")
    async def streamed(request: Request) -> Response:
        return Template("page.html").stream_response(title="later")

    return app


@ORDERS
def test_template_global(tmp_path: Path, order: str) -> None:
    app = templated_app(tmp_path, order)
    for path in ("/rendered", "/streamed"):
        response = fetch(app, path)
        nonce = page_nonce(response)
        assert NONCE.fullmatch(nonce), path
        assert response.headers["Content-Security-Policy"] == (
            f"{DEFAULT_CSP}; script-src 'self' 'nonce-{nonce}'"
        ), path


def test_template_global_registered_before_templates(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text('<script nonce="{{ csp_nonce() }}"></script>')
    app = Junco()
    CSPNonce(app)
    Templates(app, template_dir=str(tmp_path))  # keeps the globals registered before

    @app.get("/")
    async def index(request: Request) -> Response:
        return await Template("page.html").response_async()

    response = fetch(app, "/")
    assert f"'nonce-{page_nonce(response)}'" in response.headers["Content-Security-Policy"]
