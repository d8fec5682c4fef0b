"""HTMLInject: where the snippet goes, which responses it skips, CSP nonces, lengths."""

from __future__ import annotations

import asyncio
import gzip
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from junco import Junco, Request, Response
from junco.security.csp_nonce import CSPNonce, csp_nonce
from junco.security.html_inject import HTMLInject
from junco.security.security_headers import SecurityHeaders
from junco.testing import TestClient, TestResponse
from tests.middleware.test_security_headers import docs_example

SNIPPET = '<script src="/reload.js"></script>'
HTML = {"Content-Type": "text/html; charset=UTF-8"}
PAGE = "<html><body><p>hi</p></body></html>"


def fetch(app: Junco, path: str = "/", method: str = "GET", **kw: Any) -> TestResponse:
    return asyncio.run(TestClient(app).request(method, path, **kw))


def page_app(body: Any, headers: dict[str, str] | None = None, status: int = 200) -> Junco:
    app = Junco()

    @app.route("/", methods=["GET", "POST"])
    async def index(request: Request) -> Response:
        return Response(body, status, HTML if headers is None else headers)

    return app


def injected(body: Any, headers: dict[str, str] | None = None, **options: Any) -> TestResponse:
    app = page_app(body, headers)
    HTMLInject(SNIPPET, app, **options)
    response = fetch(app)
    assert response.headers["Content-Length"] == str(len(response.body))
    return response


# -- where it goes ------------------------------------------------------------------------


def test_before_the_closing_body_tag() -> None:
    r = injected(PAGE)
    assert r.text == f"<html><body><p>hi</p>{SNIPPET}</body></html>"


def test_case_insensitive_marker() -> None:
    r = injected("<HTML><BODY>x</BODY></HTML>")
    assert r.text == f"<HTML><BODY>x{SNIPPET}</BODY></HTML>"


def test_before_the_last_of_several() -> None:
    page = "<body><pre>&lt;/body&gt; and </body> quoted</pre>x</Body>\n</html>"
    r = injected(page)
    assert r.text == page.replace("x</Body>", f"x{SNIPPET}</Body>")
    assert r.text.count(SNIPPET) == 1


def test_no_marker_leaves_fragments_alone_unless_asked() -> None:
    fragment = "<li>an htmx fragment</li>"
    assert injected(fragment).text == fragment
    assert injected(fragment, append_if_missing=True).text == fragment + SNIPPET


def test_another_marker() -> None:
    r = injected("<html><head><title>t</title></head><body></body></html>", before="</head>")
    assert r.text == f"<html><head><title>t</title>{SNIPPET}</head><body></body></html>"


def test_non_ascii_page_and_snippet() -> None:
    app = page_app("<body>h\u00e9llo \u2603</body>")
    HTMLInject("<p>\u00e7a \U0001f600</p>", app)
    r = fetch(app)
    assert r.text == "<body>h\u00e9llo \u2603<p>\u00e7a \U0001f600</p></body>"
    assert r.headers["Content-Length"] == str(len(r.body))


def test_latin1_page_gets_character_references() -> None:
    app = page_app(
        "<body>caf\u00e9</body>".encode("latin-1"),
        {"Content-Type": "text/html; charset=ISO-8859-1"},
    )
    HTMLInject("<p>\u00e9 \u2603</p>", app)
    r = fetch(app)
    assert r.body == "<body>caf\u00e9<p>\u00e9 &#9731;</p></body>".encode("latin-1")


def test_default_content_type_html_and_parameters() -> None:
    app = Junco(default_content_type="text/html")

    @app.get("/")
    async def index(request: Request) -> str:
        return PAGE

    HTMLInject(SNIPPET, app)
    assert SNIPPET in fetch(app).text
    r = injected(PAGE, {"Content-Type": 'TEXT/HTML ; Charset="UTF-8"'})
    assert SNIPPET in r.text


def test_an_explicit_content_length_is_corrected() -> None:
    r = injected(PAGE, {**HTML, "Content-Length": str(len(PAGE))})
    assert r.headers["Content-Length"] == str(len(PAGE) + len(SNIPPET))
    assert r.headers.getlist("Content-Length") == [str(len(r.body))]


def test_head_gets_the_length_of_the_injected_page() -> None:
    app = page_app(PAGE)
    HTMLInject(SNIPPET, app)
    r = fetch(app, method="HEAD")
    assert r.body is None  # HEAD: no body at all (Microdot's rule)
    assert r.headers["Content-Length"] == str(len(PAGE) + len(SNIPPET))


def test_error_pages_in_html_are_injected_plain_ones_not() -> None:
    app = Junco()
    HTMLInject(SNIPPET, app)

    @app.errorhandler(404)
    async def not_found(request: Request) -> tuple[str, int, dict[str, str]]:
        return "<body>gone</body>", 404, HTML

    r = fetch(app, "/missing")
    assert (r.status_code, r.text) == (404, f"<body>gone{SNIPPET}</body>")
    r = fetch(app, "/missing", method="DELETE")  # a 404 too, same page
    assert SNIPPET in r.text
    plain = Junco()
    HTMLInject(SNIPPET, plain)
    assert fetch(plain, "/x").text == "Not found"


# -- what it skips ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/json"},
        {"Content-Type": "application/xhtml+xml"},
        {"Content-Type": "text/htmlx"},
        {"Content-Type": "text/html; charset=utf-16"},
        {"Content-Type": "text/html; charset=no-such-charset"},
        {**HTML, "Content-Range": "bytes 0-35/100"},
    ],
)
def test_other_types_and_charsets_are_untouched(headers: dict[str, str]) -> None:
    app = page_app(PAGE, headers)
    HTMLInject(SNIPPET, app)
    assert fetch(app).text == PAGE


def test_compressed_pages_are_untouched() -> None:
    packed = gzip.compress(PAGE.encode())
    app = page_app(packed, {**HTML, "Content-Encoding": "gzip"})
    HTMLInject(SNIPPET, app)
    r = fetch(app)
    assert r.body == packed
    assert gzip.decompress(r.body).decode() == PAGE


def test_streamed_pages_are_untouched() -> None:
    def chunks() -> Iterator[str]:
        yield "<body>"
        yield "streamed</body>"

    app = page_app(chunks())
    HTMLInject(SNIPPET, app)
    r = fetch(app)
    assert r.text == "<body>streamed</body>"
    assert "Content-Length" not in r.headers


def test_files_are_untouched(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(PAGE)
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> Response:
        return Response.send_file(page)

    HTMLInject(SNIPPET, app)
    assert fetch(app).text == PAGE


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_statuses_are_untouched(status: int) -> None:
    app = page_app("", status=status)
    HTMLInject(SNIPPET, app, append_if_missing=True)
    r = fetch(app)
    assert (r.status_code, r.body) == (status, b"")


# -- CSP nonces ---------------------------------------------------------------------------

NONCE = re.compile(r'nonce="([A-Za-z0-9_-]{22})"')


def nonce_app(order: str, handler_nonce: bool = False, snippet: str = SNIPPET) -> Junco:
    app = Junco()
    parts: dict[str, Callable[[], object]] = {
        "h": lambda: SecurityHeaders(app),
        "n": lambda: CSPNonce(app, style=True),
        "i": lambda: HTMLInject(snippet, app),
    }
    for key in order:
        parts[key]()

    @app.get("/")
    async def index(request: Request) -> tuple[str, dict[str, str]]:
        if handler_nonce:
            return f'<body><script nonce="{csp_nonce()}">a()</script></body>', HTML
        return PAGE, HTML

    return app


@pytest.mark.parametrize("order", ["hni", "hin", "nhi", "nih", "ihn", "inh"])
def test_injected_scripts_carry_the_nonce_in_any_order(order: str) -> None:
    r = fetch(nonce_app(order))
    found = NONCE.findall(r.text)
    assert len(found) == 1
    assert f'<script nonce="{found[0]}" src="/reload.js"></script></body>' in r.text
    csp = r.headers["Content-Security-Policy"]
    assert f"'nonce-{found[0]}'" in csp
    assert csp.startswith("default-src 'self'")  # the full policy, not a stand-in
    assert r.headers["Content-Length"] == str(len(r.body))


@pytest.mark.parametrize("order", ["hni", "ihn"])
def test_the_page_and_the_snippet_share_the_request_nonce(order: str) -> None:
    r = fetch(nonce_app(order, handler_nonce=True))
    found = NONCE.findall(r.text)
    assert len(found) == 2
    assert found[0] == found[1]
    assert r.headers["Content-Security-Policy"].count(f"'nonce-{found[0]}'") >= 1


def test_every_tag_is_stamped_but_existing_nonces_are_kept() -> None:
    snippet = (
        '<style>.x{}</style><SCRIPT>a()</SCRIPT><script nonce="fixed">b()</script>'
        '<style\tmedia="print">.y{}</style><scripts>not a tag</scripts>'
    )
    r = fetch(nonce_app("hni", snippet=snippet))
    nonce = NONCE.findall(r.text)[0]
    assert r.text == PAGE.replace(
        "</body>",
        f'<style nonce="{nonce}">.x{{}}</style><SCRIPT nonce="{nonce}">a()</SCRIPT>'
        '<script nonce="fixed">b()</script>'
        f'<style nonce="{nonce}"\tmedia="print">.y{{}}</style><scripts>not a tag</scripts>'
        "</body>",
    )


def test_no_nonce_without_csp_nonce() -> None:
    r = fetch(nonce_app("hi"))
    assert SNIPPET in r.text
    assert "nonce" not in r.text
    assert "nonce" not in r.headers["Content-Security-Policy"]


def test_snippet_without_tags_creates_no_nonce() -> None:
    r = fetch(nonce_app("hni", snippet="<p>banner</p>"))
    assert "<p>banner</p></body>" in r.text
    assert "nonce" not in r.headers["Content-Security-Policy"]


# -- configuration ------------------------------------------------------------------------


def test_bad_configuration() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        HTMLInject(SNIPPET, before="</b\u00f6dy>")
    with pytest.raises(ValueError, match="ASCII"):
        HTMLInject(SNIPPET, before="")
    with pytest.raises(TypeError, match="snippet"):
        HTMLInject(SNIPPET, "not an app")


def test_docs_example() -> None:
    app = docs_example("html-inject")["app"]
    r = fetch(app)
    nonce = NONCE.findall(r.text)[0]
    assert f'<script nonce="{nonce}" src="/static/reload.js"></script>\n</body>' in r.text
    assert f"'nonce-{nonce}'" in r.headers["Content-Security-Policy"]
    assert fetch(app, "/fragment").text == "<li>item</li>"
