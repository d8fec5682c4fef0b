"""One canonical path per request: the router and every policy see the same one.

Each attack from the hardening issue is performed through the real ASGI path
(junco's TestClient hands the app ``path`` decoded and ``raw_path`` as sent,
as uvicorn does), then a property test throws generated paths at an app with
CSRF exemptions, rate-limit rules and catch-all routes and checks that no
policy ever decided about a different path than the one the router matched.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from junco import CSRF, Junco, Request
from junco.paths import path_problem
from junco.security.audit import Audit
from junco.security.ratelimit import RateLimit
from junco.stores.memory import MemoryRateLimitStore
from junco.testing import TestClient, TestResponse
from junco.websocket import WebSocket, with_websocket
from junco.wsgi import to_wsgi
from tests.test_websocket import rejected
from tests.test_wsgi import call

EVIL = "https://evil.example"
CROSS_SITE = {"Sec-Fetch-Site": "cross-site", "Origin": EVIL}


class Seen:
    """What the handlers and the rate limiter saw, per request."""

    def __init__(self) -> None:
        self.handled: list[tuple[str, str, dict[str, Any]]] = []
        self.counted: list[str] = []
        self.audited: list[dict[str, Any]] = []

    def key(self, request: Request) -> str:
        self.counted.append(request.path)
        return "client"


def policy_app(limit: str = "1000000/minute") -> tuple[Junco, Seen]:
    """CSRF exempting /webhooks, a rate limit on /files/*, and routes that catch a lot."""
    app = Junco()
    seen = Seen()
    CSRF(app, exempt_paths=["/webhooks"])
    limiter = RateLimit(app, store=MemoryRateLimitStore())
    limiter.rule("/files/*", limit, key=seen.key)
    Audit(app, sink=seen.audited.append)

    def record(handler: str, request: Request, **args: Any) -> str:
        seen.handled.append((handler, request.path, args))
        return handler

    @app.route("/admin/<path:rest>", methods=["GET", "POST"])
    async def admin(request: Request, rest: str) -> str:
        return record("admin", request, rest=rest)

    @app.post("/webhooks/<path:rest>")
    async def webhooks(request: Request, rest: str) -> str:
        return record("webhooks", request, rest=rest)

    @app.route("/files/<name>", methods=["GET", "POST"])
    async def files(request: Request, name: str) -> str:
        return record("files", request, name=name)

    @app.route("/<path:anything>", methods=["GET", "POST"])
    async def anything(request: Request, anything: str) -> str:
        return record("anything", request, anything=anything)

    return app, seen


def send(app: Junco, method: str, target: str, **kw: Any) -> TestResponse:
    return asyncio.run(TestClient(app).request(method, target, **kw))


def cross_site_post(app: Junco, target: str) -> TestResponse:
    return send(app, "POST", target, headers=CROSS_SITE, form={"amount": "1000"})


# -- the attacks, one by one --------------------------------------------------------------


def test_csrf_exemption_cannot_be_borrowed_by_an_encoded_dot_dot() -> None:
    app, seen = policy_app()
    assert cross_site_post(app, "/admin/x").status_code == 403  # the admin route is protected
    assert cross_site_post(app, "/webhooks/x").text == "webhooks"  # the exemption works
    # Browsers send "..%2f" as is; the server decodes it to "/admin/../webhooks".
    for target in ("/admin/..%2fwebhooks", "/admin/..%2Fwebhooks", "/admin/%2e%2e%2fwebhooks"):
        r = cross_site_post(app, target)
        assert r.status_code == 400, target
        assert "admin" not in r.text
    assert [name for name, _, _ in seen.handled] == ["webhooks"]


def test_empty_segments_before_dot_dot_are_refused() -> None:
    # The fuzzer's spelling: a normaliser that drops empty segments first reads
    # /webhooks/x, a router that does not reads /admin/<rest>.
    app, seen = policy_app()
    for target in ("/admin//..//../webhooks/x", "/admin//../webhooks/x", "/admin/.//../webhooks"):
        assert cross_site_post(app, target).status_code == 400, target
    assert seen.handled == []


def test_rate_limit_rule_cannot_be_skipped_with_an_encoded_dot_dot() -> None:
    app, seen = policy_app(limit="2/minute")
    for target in ("/files/%2e%2e", "/files/%2E%2e", "/files/.%2e", "/files/..", "/files/."):
        assert send(app, "GET", target).status_code == 400, target
    assert seen.handled == []  # nothing reached /files/<name> with name=".."
    assert [send(app, "GET", "/files/a").status_code for _ in range(3)] == [200, 200, 429]
    assert seen.counted == ["/files/a"] * 3


@pytest.mark.parametrize("target", ["//x", "//webhooks/x", "/files//a", "///", "/x//"])
def test_double_slashes_are_refused_before_routing(target: str) -> None:
    app, seen = policy_app()
    r = cross_site_post(app, target)
    assert r.status_code == 400
    assert "location" not in r.headers
    assert seen.handled == []
    assert seen.counted == []


@pytest.mark.parametrize(
    ("target", "raw"),
    [
        ("/files/a/b", b"/files/a%2fb"),  # an encoded "/" hides a segment boundary
        ("/files/a\\b", b"/files/a%5cb"),
        ("/files/a\\b", None),  # a raw backslash: a separator to Windows and some proxies
        ("/files/a\tb", None),
        ("/files/a\x7fb", None),
        ("/files/a\x85b", None),
        ("files/a", None),
    ],
)
def test_other_non_canonical_paths_are_400(target: str, raw: bytes | None) -> None:
    app, seen = policy_app()
    scope: dict[str, Any] = {"path": target, "raw_path": raw or target.encode()}
    r = send(app, "GET", "/ignored", scope=scope)
    assert r.status_code == 400
    assert seen.handled == []


def test_canonical_paths_pass_unchanged() -> None:
    app, seen = policy_app()
    for target in ("/files/.env", "/files/...", "/files/a%252fb", "/files/%C3%A9", "/x/"):
        assert send(app, "GET", target).status_code == 200, target
    assert [path for _, path, _ in seen.handled] == [
        "/files/.env",
        "/files/...",
        "/files/a%2fb",
        "/files/é",
        "/x/",
    ]


def test_root_path_is_not_part_of_the_decision() -> None:
    app, seen = policy_app()
    r = send(app, "GET", "/app/files/a", scope={"root_path": "/app"})
    assert r.status_code == 200
    assert seen.handled == [("files", "/files/a", {"name": "a"})]
    assert send(app, "GET", "/app/files/..", scope={"root_path": "/app"}).status_code == 400


def test_mounted_apps_get_the_same_decision() -> None:
    sub, seen = policy_app()
    app = Junco()
    app.mount(sub, "/sub")
    assert send(app, "GET", "/sub/files/a").status_code == 200
    for target in ("/sub/files/%2e%2e", "/sub/../files/a", "/sub//files/a", "/x/..%2fsub"):
        assert send(app, "GET", target).status_code == 400, target
    assert seen.handled == [("files", "/sub/files/a", {"name": "a"})]


@pytest.mark.parametrize("prefix", ["/a/../b", "/a//b", "/./a", "/a\\b"])
def test_a_mount_prefix_that_no_request_could_reach_is_refused(prefix: str) -> None:
    app = Junco()
    with pytest.raises(ValueError, match="not a canonical path"):
        app.mount(Junco(), prefix)
    app.mount(Junco(), "/%2e%2e")  # a literal "%2e%2e" segment: canonical, and reachable


def test_foreign_mounts_are_not_handed_non_canonical_paths() -> None:
    calls: list[str] = []

    async def foreign(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = Junco()
    app.mount(foreign, "/ext")
    assert send(app, "GET", "/ext/a").status_code == 204
    for target in ("/ext/../admin", "/ext/%2e%2e/admin", "/ext//a", "/ext/a%2fb"):
        assert send(app, "GET", target).status_code == 400, target
    assert calls == ["/ext/a"]


def test_websocket_handshakes_get_the_same_decision() -> None:
    async def main() -> None:
        app = Junco()
        opened: list[str] = []

        @app.route("/ws/<path:rest>")
        @with_websocket
        async def ws_route(request: Request, ws: WebSocket, rest: str) -> None:
            opened.append(rest)
            await ws.close()

        client = TestClient(app)
        for target in ("/ws/..%2fadmin", "/ws/a/../b", "//ws/a", "/ws/a%2fb"):
            refusal = await rejected(client.websocket(target))
            assert refusal.status_code == 400, target
        assert opened == []

    asyncio.run(main())


# -- generated paths -----------------------------------------------------------------------

_SEGMENTS = st.sampled_from(
    [
        "",
        ".",
        "..",
        "%2e",
        "%2E%2e",
        ".%2e",
        "..%2f",
        "%2f",
        "%2F..",
        "%5c",
        "\\",
        "%252e%252e",
        "admin",
        "webhooks",
        "files",
        "x",
        ".x",
        "...",
        "%00",
        "a%0d%0a",
    ]
)
# Arbitrary text too, but no "?" or "#": those end the path.
_TEXT = st.text(min_size=1, max_size=4).filter(lambda t: "?" not in t and "#" not in t)
_TARGETS = st.lists(st.one_of(_SEGMENTS, _TEXT), max_size=7).map(lambda s: "/" + "/".join(s))


def _has_non_canonical_shape(target: str) -> bool:
    """An independent oracle: what the target looks like, read segment by segment."""
    if "%2f" in target.lower() or "%5c" in target.lower():
        return True
    decoded = unquote(target)
    segments = decoded.split("/")[1:]
    return (
        any(s in (".", "..") for s in segments)
        or "" in segments[:-1]
        or "\\" in decoded
        or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in decoded)
    )


@settings(max_examples=400, deadline=None)
@given(_TARGETS)
def test_router_and_policies_never_disagree(target: str) -> None:
    app, seen = policy_app()
    cross = cross_site_post(app, target)
    plain = send(app, "GET", target)
    assert cross.status_code in (200, 400, 403, 404, 405), cross
    assert plain.status_code in (200, 400, 404, 405), plain
    refused = path_problem(unquote(target), target.encode()) is not None
    assert refused == _has_non_canonical_shape(target)
    if refused:
        assert (cross.status_code, plain.status_code) == (400, 400)
        assert seen.handled == []
        assert seen.counted == []
        assert [(a["status"], a["route"]) for a in seen.audited] == [(400, None)]
        return
    (audit,) = seen.audited  # the POST; the audit trail names the route that decided
    assert audit["route"] is None or audit["status"] != 400
    if cross.status_code == 200:
        route = app.router.match("POST", unquote(target)).route
        assert route is not None
        assert audit["route"] == route.url_pattern
    for name, path, args in seen.handled:
        # Every route ran with the path the policies saw, and no argument climbs.
        assert path == unquote(target)
        for value in args.values():
            assert not {".", ".."} & set(value.split("/"))
        if name == "admin":
            assert cross.status_code == 403  # only the GET got through
        if name == "files":
            assert path in seen.counted  # the rate limiter counted this very path
    if cross.status_code == 200:
        # CSRF let a cross-site POST through: only the exempt prefix may do that.
        assert unquote(target) == "/webhooks" or unquote(target).startswith("/webhooks/")
    for path in seen.counted:
        assert path.startswith("/files/") or path == "/files"


def test_wsgi_servers_raw_uri_feeds_the_same_decision() -> None:
    app, seen = policy_app()
    wsgi = to_wsgi(app)
    try:
        assert call(wsgi, path="/files/a")[0].startswith("200")
        for key in ("RAW_URI", "REQUEST_URI"):
            # PATH_INFO arrives decoded; only the raw target shows the "%2f".
            environ = {key: "/files/a%2fb?x=1"}
            assert call(wsgi, path="/files/a/b", environ=environ)[0].startswith("400"), key
        assert call(wsgi, path="/files/../x")[0].startswith("400")
    finally:
        wsgi.close()
    assert seen.handled == [("files", "/files/a", {"name": "a"})]
