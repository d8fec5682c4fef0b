"""The router's 404/405 without raise/catch: the same bytes as the raised path.

``junco._dispatch.FAST_ROUTE_ERRORS = False`` sends a request that matched no
route the old way (an ``HTTPException`` raised, caught and rendered); every
response of the fast path is compared with that one, status, header list (in
order) and body, over the real ASGI path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from junco import Junco, Request, Response, _dispatch, errors
from junco.security import secure_stack
from junco.security.csp_nonce import CSPNonce
from junco.security.request_id import RequestID
from junco.security.security_headers import SecurityHeaders

from .asyncrun import run

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HOSTILE = ", ".join(f"text/x{i};q=0.{i % 10};a=b" for i in range(300)) + ", text/html"
ACCEPTS: list[list[str]] = [
    [],
    ["*/*"],
    [BROWSER],
    ["application/json"],
    ["application/problem+json"],
    ["text/plain"],
    ["TEXT/HTML"],
    ["text/html;q=0.5, application/json"],
    ["text/html;q=0, */*"],
    ["text/html;q=bogus"],
    [""],
    ["application/json", "text/html"],  # repeated: the first one counts
    [HOSTILE],
]
SECRET = "k" * 32
Raw = tuple[int, list[tuple[bytes, bytes]], bytes]


async def call(
    app: Any,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    root_path: str = "",
) -> Raw:
    """One request through the app's ASGI callable; the messages as sent."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": root_path,
        "headers": [(b"host", b"example.com")]
        + [(k.lower().encode(), v.encode("latin-1")) for k, v in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 443),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start, body = sent
    return start["status"], list(start["headers"]), body["body"]


_NONCE = re.compile(rb"(?<=nonce-)[A-Za-z0-9_\-]+|(?<=nonce=\")[A-Za-z0-9_\-]+")


def normal(raw: Raw) -> Raw:
    """The response with its per-request CSP nonce blanked (it differs every time)."""
    status, headers, body = raw
    return (
        status,
        [(k, _NONCE.sub(b"N", v)) for k, v in headers],
        _NONCE.sub(b"N", body),
    )


def both_ways(
    app: Any,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    root_path: str = "",
) -> tuple[Raw, Raw]:
    """The slow path's response and the fast path's (asked twice: render, then cache)."""
    monkeypatch.setattr(_dispatch, "FAST_ROUTE_ERRORS", False)
    slow = normal(run(call(app, method, path, headers, root_path)))
    monkeypatch.setattr(_dispatch, "FAST_ROUTE_ERRORS", True)
    first = normal(run(call(app, method, path, headers, root_path)))
    again = normal(run(call(app, method, path, headers, root_path)))
    assert first == again
    return slow, again


def routes(app: Junco) -> Junco:
    @app.get("/items")
    async def items(request: Request) -> str:
        return "items"

    @app.route("/users/<int:id>", methods=["GET", "PUT"])
    async def user(request: Request, id: int) -> dict[str, int]:
        return {"id": id}

    return app


def plain_app() -> Junco:
    return routes(Junco())


def mounted_app() -> Junco:
    app = Junco()
    app.mount(routes(Junco()), "/api")
    app.mount(routes(Junco()), "/local", local=True)
    return app


def stacked_app() -> Junco:
    app = routes(Junco())
    secure_stack(app, secret_key=SECRET, allowed_hosts=["example.com"])
    return app


def hooked_app() -> Junco:
    app = routes(Junco())
    app.add_middleware(SecurityHeaders())
    app.add_middleware(RequestID())

    @app.after_error_request
    def mark(request: Request, response: Response) -> None:
        response.headers["X-Seen"] = str(response.status_code)

    return app


def handled_app() -> Junco:
    app = routes(Junco())

    @app.errorhandler(404)
    def missing(request: Request) -> Response:
        return Response("gone fishing", 404, {"X-Handled": "yes"})

    return app


APPS: dict[str, Callable[[], Junco]] = {
    "plain": plain_app,
    "mounts": mounted_app,
    "secure_stack": stacked_app,
    "hooks": hooked_app,
    "handler": handled_app,
}
# (method, path): 404s and 405s of static and dynamic routes, in and under mounts.
REQUESTS = [
    ("GET", "/nowhere/items/7"),
    ("HEAD", "/nowhere"),
    ("POST", "/nowhere"),
    ("POST", "/items"),
    ("HEAD", "/users/x"),
    ("DELETE", "/users/5"),
    ("GET", "/api/nowhere"),
    ("POST", "/api/items"),
    ("DELETE", "/local/users/5"),
]


@pytest.mark.parametrize("name", APPS)
@pytest.mark.parametrize(("method", "path"), REQUESTS)
def test_fast_path_sends_the_same_bytes(
    name: str, method: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = APPS[name]()
    for accept in ACCEPTS:
        headers = [("Accept", a) for a in accept] + [("X-Request-ID", "req-1")]
        slow, fast = both_ways(app, method, path, headers, monkeypatch)
        assert fast == slow, (accept, fast, slow)
        assert fast[0] in (404, 405)
        if fast[0] == 405:
            assert any(k == b"allow" for k, _ in fast[1])
        assert (b"vary", b"Accept") in fast[1] or name == "handler"
        if method == "HEAD":
            assert fast[2] == b""


@pytest.mark.parametrize("ctype", ["application/json", "application/vnd.x+json", "text/plain"])
def test_a_json_request_gets_the_same_404(ctype: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = plain_app()
    slow, fast = both_ways(app, "POST", "/nowhere", [("Content-Type", ctype)], monkeypatch)
    assert fast == slow
    json_body = fast[2].startswith(b'{"error"')
    assert json_body == ctype.endswith("json")


def test_the_html_page_follows_root_path_error_page_and_nonce(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = plain_app()
    headers = [("Accept", BROWSER)]
    for root in ("", "/prefix"):
        slow, fast = both_ways(app, "GET", "/nowhere", headers, monkeypatch, root)
        assert fast == slow
        assert f'href="{root}/"'.encode() in fast[2]
        assert (b"content-security-policy", errors.PAGE_CSP.encode()) in fast[1]
    # The app's own page is asked every time, even after junco's was cached.
    app.error_page = lambda request, info: f"<p>{info.status} at {request.path}</p>"
    slow, fast = both_ways(app, "GET", "/elsewhere", headers, monkeypatch)
    assert fast == slow
    assert fast[2] == b"<p>404 at /elsewhere</p>"
    # A CSPNonce that covers styles puts its nonce on the page's <style>.
    styled = plain_app()
    CSPNonce(styled, style=True)
    slow, fast = both_ways(styled, "GET", "/nowhere", headers, monkeypatch)
    assert fast == slow
    assert b'<style nonce="N">' in fast[2]


def test_a_request_id_shows_on_every_page(monkeypatch: pytest.MonkeyPatch) -> None:
    app = hooked_app()
    for rid in ("first-id", "second-id"):
        headers = [("Accept", BROWSER), ("X-Request-ID", rid)]
        slow, fast = both_ways(app, "GET", "/nowhere", headers, monkeypatch)
        assert fast == slow
        assert rid.encode() in fast[2]


def test_hooks_see_the_error_as_before() -> None:
    app = routes(Junco())
    seen: list[tuple[str, int]] = []

    @app.after_request
    def after(request: Request, response: Response) -> None:
        seen.append(("after", response.status_code))

    @app.after_error_request
    def after_error(request: Request, response: Response) -> None:
        seen.append(("after_error", response.status_code))
        response.headers["X-Error"] = "1"

    status, headers, _ = run(call(app, "GET", "/nowhere", []))
    assert status == 404
    assert (b"x-error", b"1") in headers
    status, _, _ = run(call(app, "POST", "/items", []))
    assert status == 405
    assert seen == [("after_error", 404), ("after_error", 405)]


def test_a_handler_added_later_takes_over() -> None:
    app = plain_app()
    assert run(call(app, "GET", "/nowhere", []))[2] == b"Not found"

    @app.errorhandler(404)
    def missing(request: Request) -> str:
        return "mine"

    assert run(call(app, "GET", "/nowhere", []))[2] == b"mine"
    assert run(call(app, "POST", "/items", []))[0] == 405  # 405 still junco's


def test_options_and_redirects_are_untouched() -> None:
    app = plain_app()

    @app.get("/dir/")
    async def directory(request: Request) -> str:
        return "dir"

    status, headers, _ = run(call(app, "OPTIONS", "/items", []))
    assert status == 200
    assert (b"allow", b"GET, HEAD, OPTIONS") in headers
    status, headers, _ = run(call(app, "GET", "/dir", []))
    assert status == 308
    assert (b"location", b"/dir/") in headers


def test_hostile_accept_values_leave_the_caches_bounded() -> None:
    app = plain_app()
    for i in range(600):
        accept = f"text/html;q=0.{i % 10}, application/json;q=0.{i % 7}, x/y{i}"
        status, _, _ = run(call(app, "GET", f"/nowhere{i}", [("Accept", accept)]))
        assert status == 404
        run(call(app, "GET", "/nowhere", [("Accept", HOSTILE + str(i))]))
    assert len(errors._FORMS) <= errors._FORMS_MAX
    assert len(errors._ROUTE_ERRORS) <= errors._ROUTE_ERRORS_MAX
    # Still answered right once the caches are full.
    status, _, body = run(call(app, "GET", "/nowhere", [("Accept", "application/json")]))
    assert status == 404
    assert body == b'{"error":{"status":404,"code":"not_found","message":"Not found"}}'
