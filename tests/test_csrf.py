"""CSRF: the Fetch-Metadata/Origin matrix, marks, exempt paths, proxies and session tokens."""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from junco import ConfigurationError, Junco, Request
from junco.security.cors import CORS
from junco.security.csrf import CSRF, REFUSAL, SESSION_KEY, csrf_field, csrf_token, own_origin
from junco.security.proxy import ProxyHeaders
from junco.security.sessions import Session, with_session
from junco.stores.memory import MemoryStore
from junco.templating import Templates, render_template
from junco.testing import SyncTestClient, TestClient, TestResponse, WebSocketRejected
from junco.websocket import WebSocket, with_websocket
from tests.conftest import Sync

HOST = "example.com"
OWN = "https://example.com"
TRUSTED = "https://partner.example"
EVIL = "https://evil.example"
KEY = "k" * 32
SAFE = ("GET", "HEAD", "OPTIONS", "TRACE")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
SITES = (None, "same-origin", "none", "same-site", "cross-site", "bogus", "")
ORIGINS = (
    None,
    OWN,
    "http://example.com",
    "https://example.com:8443",
    "https://sub.example.com",
    "http://sub.example.com",
    "https://deep.sub.example.com",
    "https://notexample.com",
    TRUSTED,
    "https://sub.partner.example",
    "http://sub.partner.example",
    "http://partner.example",
    EVIL,
    "https://example.com.evil.example",
    "null",
)


def client(app: Junco) -> TestClient:
    return TestClient(app, scheme="https", host=HOST)


def fetch(app: Junco, method: str, path: str = "/x", **kw: Any) -> TestResponse:
    return asyncio.run(client(app).request(method, path, **kw))


def browser(site: str | None = None, origin: str | None = None) -> dict[str, str]:
    headers = {}
    if site is not None:
        headers["Sec-Fetch-Site"] = site
    if origin is not None:
        headers["Origin"] = origin
    return headers


def protected_app(**options: Any) -> tuple[Junco, CSRF]:
    app = Junco()
    csrf = CSRF(app, **options)

    @app.route("/x", methods=[*UNSAFE, "GET", "TRACE"])
    async def x(request: Request) -> str:
        return "done"

    return app, csrf


def passes(method: str, site: str | None, origin: str | None, subdomains: bool) -> bool:
    """The rules, written out case by case (the oracle for the matrix)."""
    if method in SAFE:
        return True
    trusted = origin == TRUSTED or (subdomains and origin == "https://sub.partner.example")
    if site:
        if site in ("same-origin", "none"):
            return True
        if site == "same-site" and subdomains:
            return True
        return trusted
    if origin is None or origin == OWN:
        return True
    if subdomains and origin in ("https://sub.example.com", "https://deep.sub.example.com"):
        return True
    return trusted


@pytest.mark.parametrize("subdomains", [False, True], ids=["exact", "subdomains"])
@pytest.mark.parametrize("method", SAFE + UNSAFE)
def test_the_full_matrix(method: str, subdomains: bool) -> None:
    app, _ = protected_app(trusted_origins=[TRUSTED], allow_subdomains=subdomains)

    async def run() -> list[str]:
        wrong = []
        c = client(app)
        for site in SITES:
            for origin in ORIGINS:
                response = await c.request(method, "/x", headers=browser(site, origin))
                ok = passes(method, site, origin, subdomains)
                if (response.status_code != 403) != ok or response.status_code >= 500:
                    wrong.append(f"{site!r} {origin!r}: {response.status_code}")
                if not ok and response.text != REFUSAL:
                    wrong.append(f"{site!r} {origin!r}: body {response.text!r}")
        return wrong

    assert asyncio.run(run()) == []


def test_a_few_cases_spelled_out() -> None:
    app, _ = protected_app()
    assert fetch(app, "POST", headers=browser("same-origin")).text == "done"
    assert fetch(app, "POST", headers=browser("none")).text == "done"
    assert fetch(app, "POST").text == "done"  # curl, a server, a test: not a browser
    assert fetch(app, "POST", headers=browser(origin=OWN)).text == "done"
    assert fetch(app, "POST", headers=browser("cross-site")).status_code == 403
    assert fetch(app, "POST", headers=browser("same-site")).status_code == 403
    assert fetch(app, "POST", headers=browser(origin=EVIL)).status_code == 403
    assert fetch(app, "POST", headers=browser(origin="null")).status_code == 403
    # Cross-site wins over a same-origin Origin header: Sec-Fetch-Site is checked first.
    assert fetch(app, "POST", headers=browser("cross-site", OWN)).status_code == 403


def test_no_content_type_exemption() -> None:
    app, _ = protected_app()
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = fetch(
            app,
            "POST",
            headers={**browser("cross-site", EVIL), "Content-Type": ctype},
            body=b"a=b",
        )
        assert response.status_code == 403, ctype


def test_own_origin_follows_scheme_host_and_port() -> None:
    app, _ = protected_app()

    async def run(scheme: str, host: str, origin: str) -> int:
        c = TestClient(app, scheme=scheme, host=host)
        return (await c.post("/x", headers={"Origin": origin})).status_code

    assert asyncio.run(run("http", "localhost:8000", "http://localhost:8000")) == 200
    assert asyncio.run(run("http", "localhost:8000", "http://localhost")) == 403
    assert asyncio.run(run("https", "Example.COM:443", "https://example.com")) == 200
    assert asyncio.run(run("http", "example.com:80", "http://example.com")) == 200
    assert asyncio.run(run("http", "[::1]:8000", "http://[::1]:8000")) == 200
    # Stricter than Go: a plain-http page may not post to the https site.
    assert asyncio.run(run("https", "example.com", "http://example.com")) == 403
    # Browsers send canonical origins; anything else is not our own.
    assert asyncio.run(run("https", "example.com", "https://EXAMPLE.com")) == 403
    assert asyncio.run(run("https", "example.com", "https://example.com/")) == 403


def test_missing_host_means_no_own_origin() -> None:
    app, _ = protected_app()
    scope = {"http_version": "1.0", "headers": [(b"origin", OWN.encode())]}
    assert fetch(app, "POST", scope=scope).status_code == 403
    assert fetch(app, "POST", scope={"http_version": "1.0", "headers": []}).text == "done"


def test_two_origin_headers_are_refused() -> None:
    app, _ = protected_app()
    scope = {"headers": [(b"host", HOST.encode()), (b"origin", OWN.encode()), (b"origin", b"x")]}
    assert fetch(app, "POST", scope=scope).status_code == 403


def test_hostile_origins_are_refused_never_500() -> None:
    app, _ = protected_app(trusted_origins=[TRUSTED], allow_subdomains=True)
    for origin in (
        b"https://" + b"a" * 10_000 + b".example.com",
        b"https://sub.example.com/path",
        b"https://evil.example/.example.com",
        b"https://evil.example?.example.com",
        b"https://sub.example.com\xff",
        "https://süb.example.com".encode(),
        b"HTTPS://SUB.EXAMPLE.COM",
        b"https://[::1].example.com",
        b"",
    ):
        scope = {"headers": [(b"host", HOST.encode()), (b"origin", origin)]}
        assert fetch(app, "POST", scope=scope).status_code == 403, origin[:60]


def test_refusals_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    app, _ = protected_app()
    with caplog.at_level(logging.INFO, logger="junco"):
        fetch(app, "DELETE", headers=browser("cross-site", EVIL))
    assert any("CSRF" in r.getMessage() and "DELETE" in r.getMessage() for r in caplog.records)


def test_refusal_goes_through_error_handlers_and_hooks() -> None:
    app, _ = protected_app(cors=CORS(allowed_origins=[TRUSTED]))
    CORS(app, allowed_origins=[EVIL])

    @app.errorhandler(403)
    async def forbidden(request: Request) -> tuple[str, int]:
        return "custom forbidden page", 403

    # CSRF was given its own CORS: the app's (which allows EVIL) is not consulted.
    response = fetch(app, "POST", headers=browser("cross-site", EVIL))
    assert response.status_code == 403
    assert response.text == "custom forbidden page"
    assert response.headers["access-control-allow-origin"] == EVIL


@pytest.mark.parametrize("order", ["cors-first", "csrf-first", "headers-off"])
def test_the_apps_cors_is_trusted_without_being_passed(order: str) -> None:
    # The CORS docstring promised this (handle_cors=False "registers the object
    # for CSRF to trust its origins"); the allowed origin used to get a 403.
    app = Junco()
    if order == "csrf-first":
        CSRF(app)
        CORS(app, allowed_origins=[TRUSTED])
    else:
        CORS(app, allowed_origins=[TRUSTED], handle_cors=order == "cors-first")
        CSRF(app)

    app.post("/x")(lambda request: "done")
    assert fetch(app, "POST", headers=browser("cross-site", TRUSTED)).text == "done"
    assert fetch(app, "POST", headers=browser(origin=TRUSTED)).text == "done"
    assert fetch(app, "POST", headers=browser("cross-site", EVIL)).status_code == 403


def test_a_cors_subclass_is_found_by_type() -> None:
    class MyCORS(CORS):
        pass

    app = Junco()
    MyCORS(app, allowed_origins=[TRUSTED])
    CSRF(app)
    app.post("/x")(lambda request: "done")
    assert fetch(app, "POST", headers=browser("cross-site", TRUSTED)).text == "done"


def test_cors_origins_are_trusted_but_not_its_wildcard() -> None:
    app = Junco()
    cors = CORS(app, allowed_origins=[TRUSTED])
    CSRF(app, cors)

    @app.post("/x")
    async def x(request: Request) -> str:
        return "done"

    assert fetch(app, "POST", headers=browser("cross-site", TRUSTED)).text == "done"
    assert fetch(app, "POST", headers=browser(origin=TRUSTED)).text == "done"
    assert fetch(app, "POST", headers=browser("cross-site", EVIL)).status_code == 403

    wild = Junco()
    CSRF(wild, CORS(wild, allowed_origins="*"))
    wild.post("/x")(x)
    assert fetch(wild, "POST", headers=browser("cross-site", EVIL)).status_code == 403
    assert fetch(wild, "POST", headers=browser(origin=EVIL)).status_code == 403


def test_trusted_origins_are_validated() -> None:
    for bad in ("*", "null", "partner.example", "https://partner.example/path"):
        with pytest.raises(ConfigurationError):
            CSRF(trusted_origins=[bad])
    assert CSRF(trusted_origins=["HTTPS://Partner.Example:443/"]).trusted_origins == (TRUSTED,)
    with pytest.raises(ConfigurationError):
        CSRF(header_name="X Bad")
    with pytest.raises(ConfigurationError):
        CSRF(exempt_paths=["hooks"])


def test_behind_a_trusted_proxy_the_forwarded_scheme_counts() -> None:
    for order in ("csrf-first", "proxy-first"):
        app = Junco()
        if order == "proxy-first":
            ProxyHeaders(app, trusted=["127.0.0.1"])
        CSRF(app)
        if order == "csrf-first":
            ProxyHeaders(app, trusted=["127.0.0.1"])

        @app.post("/x")
        async def x(request: Request) -> str:
            return request.scheme

        c = TestClient(app, host=HOST)
        forwarded = {"Origin": OWN, "X-Forwarded-Proto": "https"}
        assert asyncio.run(c.post("/x", headers=forwarded)).text == "https", order
        assert asyncio.run(c.post("/x", headers={"Origin": OWN})).status_code == 403, order


# -- protect_all, exempt and protect ------------------------------------------------------


def wraps_it(f: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """An ordinary decorator that keeps ``__wrapped__`` (functools.wraps)."""

    @functools.wraps(f)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
        return await f(request, *args, **kwargs)

    return wrapper


def hides_it(f: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A decorator that does not say what it wraps."""

    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
        return await f(request, *args, **kwargs)

    return wrapper


def marked_app() -> Junco:
    app = Junco()
    Session(app, secret_key=KEY)
    csrf = CSRF(app)

    @app.post("/below")
    @csrf.exempt
    async def below(request: Request) -> str:
        return "below"

    @csrf.exempt
    @app.post("/above")
    async def above(request: Request) -> str:
        return "above"

    @csrf.exempt
    @app.post("/above-wrapped")
    @wraps_it
    async def above_wrapped(request: Request) -> str:
        return "above-wrapped"

    @app.post("/below-wrapped")
    @wraps_it
    @csrf.exempt
    async def below_wrapped(request: Request) -> str:
        return "below-wrapped"

    @csrf.exempt
    @wraps_it
    @app.post("/outside")
    async def outside(request: Request) -> str:
        return "outside"

    @app.post("/with-session")
    @with_session
    @csrf.exempt
    async def session_route(request: Request, session: Any) -> str:
        return "with-session"

    @app.post("/sync")
    @csrf.exempt
    def sync_route(request: Request) -> str:
        return "sync"

    @app.post("/hidden")
    @hides_it
    @csrf.exempt
    async def hidden(request: Request) -> str:
        return "hidden"

    @app.post("/checked")
    async def checked(request: Request) -> str:
        return "checked"

    class Controller:
        @csrf.exempt
        async def hook(self, request: Request) -> str:
            return "method"

    app.add_route("/method", Controller().hook, ["POST"])
    return app


EXEMPT_ROUTES = ["/below", "/above", "/above-wrapped", "/below-wrapped", "/outside", "/sync"]


@pytest.mark.parametrize("path", [*EXEMPT_ROUTES, "/with-session", "/method"])
def test_exempt_works_in_any_decorator_order(path: str) -> None:
    response = fetch(marked_app(), "POST", path, headers=browser("cross-site", EVIL))
    assert response.status_code == 200
    assert response.text == path.strip("/")


def test_unmarked_and_hidden_routes_stay_protected() -> None:
    app = marked_app()
    assert fetch(app, "POST", "/checked", headers=browser("cross-site")).status_code == 403
    # A decorator without functools.wraps hides the mark: documented, and safe.
    assert fetch(app, "POST", "/hidden", headers=browser("cross-site")).status_code == 403


def test_protect_all_false_checks_only_protected_routes() -> None:
    app = Junco()
    csrf = CSRF(app, protect_all=False)

    @app.post("/open")
    async def open_route(request: Request) -> str:
        return "open"

    @csrf.protect
    @app.route("/guarded", methods=["GET", "POST"])
    async def guarded(request: Request) -> str:
        return "guarded"

    @app.get("/read")
    @wraps_it
    @csrf.protect
    async def read(request: Request) -> str:
        return "read"

    cross = browser("cross-site", EVIL)
    assert fetch(app, "POST", "/open", headers=cross).text == "open"
    assert fetch(app, "POST", "/guarded", headers=cross).status_code == 403
    assert fetch(app, "GET", "/guarded", headers=cross).status_code == 403  # GET too
    assert fetch(app, "GET", "/read", headers=cross).status_code == 403
    assert fetch(app, "GET", "/read", headers=browser("same-origin")).text == "read"
    # Preflights are never checked, so CORS can answer them.
    assert fetch(app, "OPTIONS", "/guarded", headers=cross).status_code == 200


def test_a_route_cannot_be_both_exempt_and_protected() -> None:
    csrf = CSRF()

    async def handler(request: Request) -> str:
        return ""

    csrf.exempt(handler)
    with pytest.raises(ConfigurationError):
        csrf.protect(handler)
    with pytest.raises(ConfigurationError):
        csrf.protect(wraps_it(handler))


@pytest.mark.parametrize("local", [False, True])
def test_marks_on_a_mounted_sub_app(local: bool) -> None:
    app = Junco()
    csrf = CSRF(app)
    sub = Junco()

    @sub.post("/hook")
    @csrf.exempt
    async def hook(request: Request) -> str:
        return "hook"

    @csrf.exempt
    @sub.post("/other")
    async def other(request: Request) -> str:
        return "other"

    @sub.post("/checked")
    async def checked(request: Request) -> str:
        return "checked"

    app.mount(sub, "/sub", local=local)
    cross = browser("cross-site", EVIL)
    assert fetch(app, "POST", "/sub/hook", headers=cross).text == "hook"
    assert fetch(app, "POST", "/sub/other", headers=cross).text == "other"
    assert fetch(app, "POST", "/sub/checked", headers=cross).status_code == 403


def test_csrf_installed_on_a_local_sub_app_guards_only_it() -> None:
    app = Junco()
    sub = Junco()
    csrf = CSRF(sub)

    @sub.post("/a")
    async def a(request: Request) -> str:
        return "a"

    @sub.post("/b")
    @csrf.exempt
    async def b(request: Request) -> str:
        return "b"

    @app.post("/root")
    async def root(request: Request) -> str:
        return "root"

    app.mount(sub, "/sub", local=True)
    cross = browser("cross-site", EVIL)
    assert fetch(app, "POST", "/sub/a", headers=cross).status_code == 403
    assert fetch(app, "POST", "/sub/b", headers=cross).text == "b"
    assert fetch(app, "POST", "/root", headers=cross).text == "root"


def test_exempt_paths_cannot_be_dodged() -> None:
    app = Junco()
    CSRF(app, exempt_paths=["/hooks/", "/api/v1/public"])

    @app.post("/hooks/<path:rest>")
    async def hooks(request: Request, rest: str) -> str:
        return "hook " + rest

    @app.post("/hooks")
    async def hooks_root(request: Request) -> str:
        return "hooks"

    @app.post("/admin")
    async def admin(request: Request) -> str:
        return "admin"

    @app.post("/hooksx")
    async def hooksx(request: Request) -> str:
        return "hooksx"

    cross = browser("cross-site", EVIL)
    assert fetch(app, "POST", "/hooks/github", headers=cross).text == "hook github"
    assert fetch(app, "POST", "/hooks", headers=cross).text == "hooks"
    assert fetch(app, "POST", "/hooksx", headers=cross).status_code == 403
    assert fetch(app, "POST", "/admin", headers=cross).status_code == 403
    assert fetch(app, "POST", "/admin/", headers=cross).status_code == 403
    # Paths that are not canonical never reach CSRF (or the router): 400 first.
    for dodge in ("/hooks/../admin", "/hooks/./../admin", "//admin", "/./admin", "//hooks//x"):
        assert fetch(app, "POST", dodge, headers=cross).status_code == 400, dodge


def test_websocket_handshakes_can_be_protected() -> None:
    app = Junco()
    csrf = CSRF(app)

    @csrf.protect
    @app.route("/ws")
    @with_websocket
    async def ws(request: Request, socket: WebSocket) -> None:
        await socket.send("hi")

    async def scenario() -> None:
        c = client(app)
        with pytest.raises(WebSocketRejected) as refused:
            async with c.websocket("/ws", headers=browser("cross-site", EVIL)):
                pass
        assert refused.value.status_code == 403
        # CSRF's hook answered, before the WebSocket route's own origin check.
        assert refused.value.response.text == REFUSAL
        async with c.websocket("/ws", headers=browser(origin=OWN)) as socket:
            assert await socket.receive() == "hi"

    asyncio.run(scenario())


def test_microdot_positional_call_and_initialize() -> None:
    app = Junco()
    cors = CORS(allowed_origins=[TRUSTED])
    csrf = CSRF(None, None, True, False)
    csrf.initialize(app, cors)
    app.post("/x")(_done)
    assert app.extensions["csrf"] is csrf
    assert fetch(app, "POST", headers=browser("cross-site", TRUSTED)).text == "done"
    assert not [f for f in app.check() if f.code == "J003"]


async def _done(request: Request) -> str:
    return "done"


def test_own_origin_helper() -> None:
    app = Junco()
    seen: list[str | None] = []

    @app.get("/")
    async def index(request: Request) -> str:
        seen.append(own_origin(request))
        return ""

    asyncio.run(TestClient(app, scheme="https", host="Example.com:443").get("/"))
    asyncio.run(TestClient(app, host="127.0.0.1:8000").get("/"))
    asyncio.run(TestClient(app, host="bad host").get("/"))
    assert seen == ["https://example.com", "http://127.0.0.1:8000", None]


# -- tokens --------------------------------------------------------------------------------


def token_app(store: Any = None) -> tuple[Junco, CSRF]:
    app = Junco()
    Session(app, secret_key=KEY, store=store)
    csrf = CSRF(app, tokens=True, trusted_origins=[TRUSTED])

    @app.get("/token")
    async def token(request: Request) -> str:
        return csrf.generate_token(request)

    @app.get("/field")
    async def field(request: Request) -> str:
        return csrf_field()

    @app.route("/submit", methods=["POST", "PUT"])
    async def submit(request: Request) -> str:
        return "ok"

    @app.post("/login")
    async def login(request: Request) -> str:
        request.session.regenerate()
        request.session["user"] = "ana"
        return "in"

    @app.post("/login-then-token")
    async def login_then_token(request: Request) -> str:
        request.session.regenerate()
        return csrf_token()

    @app.post("/rotate")
    async def rotate(request: Request) -> str:
        csrf.rotate(request)
        return "rotated"

    return app, csrf


def issue(c: SyncTestClient) -> str:
    token = c.get("/token").text
    assert re.fullmatch(r"[A-Za-z0-9_-]{86}", token), token
    return token


@pytest.mark.parametrize("store", [None, "memory"])
def test_tokens_from_the_form_or_the_header(sync: Sync, store: str | None) -> None:
    app, _ = token_app(MemoryStore() if store else None)
    c = sync(app)
    token = issue(c)
    assert c.post("/submit", form={"csrf_token": token}).text == "ok"
    assert c.post("/submit", headers={"X-CSRF-Token": token}).text == "ok"
    assert c.post("/submit", headers={"X-CSRF-Token": token}, json={"a": 1}).text == "ok"
    assert c.put("/submit", headers={"x-csrf-token": token}, body=b"raw").text == "ok"
    assert c.post("/submit").status_code == 403
    assert c.post("/submit", form={"other": "x"}).status_code == 403
    # In a JSON body the token is not looked for: the header is the way.
    assert c.post("/submit", json={"csrf_token": token}).status_code == 403


def test_multipart_bodies_must_use_the_header(sync: Sync) -> None:
    app, _ = token_app()
    c = sync(app)
    token = issue(c)
    body = (
        b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
        + token.encode()
        + b"\r\n--b--\r\n"
    )
    multipart = {"Content-Type": "multipart/form-data; boundary=b"}
    assert c.post("/submit", headers=multipart, body=body).status_code == 403
    with_header = {**multipart, "X-CSRF-Token": token}
    assert c.post("/submit", headers=with_header, body=body).text == "ok"


def test_masked_tokens_differ_per_render_and_all_validate(sync: Sync) -> None:
    app, _ = token_app()
    c = sync(app)
    tokens = [issue(c) for _ in range(5)]
    assert len(set(tokens)) == 5
    raws = [base64.urlsafe_b64decode(t + "==") for t in tokens]
    secrets = {bytes(a ^ b for a, b in zip(r[:32], r[32:], strict=True)) for r in raws}
    assert len(secrets) == 1  # one secret, five masks
    for token in tokens:
        assert c.post("/submit", headers={"X-CSRF-Token": token}).text == "ok"


def test_a_token_is_bound_to_its_session(sync: Sync) -> None:
    app, _ = token_app()
    alice, bob, nobody = sync(app), sync(app), sync(app)
    alice_token = issue(alice)
    issue(bob)
    assert bob.post("/submit", headers={"X-CSRF-Token": alice_token}).status_code == 403
    assert nobody.post("/submit", headers={"X-CSRF-Token": alice_token}).status_code == 403
    assert alice.post("/submit", headers={"X-CSRF-Token": alice_token}).text == "ok"


def test_the_origin_check_still_comes_first(sync: Sync) -> None:
    app, _ = token_app()
    c = sync(app)
    token = issue(c)
    headers = {"X-CSRF-Token": token}
    assert c.post("/submit", headers={**headers, **browser("cross-site", EVIL)}).status_code == 403
    assert c.post("/submit", headers={**headers, **browser("cross-site", TRUSTED)}).text == "ok"
    assert c.post("/submit", headers={**headers, **browser("same-origin")}).text == "ok"
    # Trusted or same-origin, a token is still required.
    assert c.post("/submit", headers=browser("cross-site", TRUSTED)).status_code == 403
    assert c.post("/submit", headers=browser("same-origin")).status_code == 403
    # Safe methods need none; unknown paths are refused without one.
    assert c.get("/token").status_code == 200
    assert c.post("/nowhere").status_code == 403


def _other_secret_token() -> str:
    mask = bytes(32)
    return base64.urlsafe_b64encode(mask + bytes(range(32))).rstrip(b"=").decode()


MALFORMED = [
    "",
    " ",
    "a",
    "A" * 85,
    "A" * 87,
    "A" * 86 + "==",
    "A" * 88,
    "A" * 201,
    "A" * 10_000,
    "=" * 86,
    "+/" * 43,
    "!" * 86,
    "é" * 86,
    "ÿ" * 86,
    "A" * 85 + "\t",
    "A" * 43 + " " + "A" * 42,
    _other_secret_token(),
]


@pytest.mark.parametrize("token", MALFORMED, ids=lambda t: repr(t[:12]) + f"/{len(t)}")
def test_malformed_tokens_are_403_never_500(sync: Sync, token: str) -> None:
    app, _ = token_app()
    c = sync(app)
    issue(c)
    assert c.post("/submit", headers={"X-CSRF-Token": token}).status_code == 403
    assert c.post("/submit", form={"csrf_token": token}).status_code == 403


def test_tokens_with_raw_bytes_and_broken_forms(sync: Sync) -> None:
    app, _ = token_app()
    c = sync(app)
    issue(c)
    cookie = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
    base = [(b"host", b"localhost"), (b"cookie", cookie.encode())]
    for value in (b"\xff" * 86, b"\x00" * 86, b"A" * 40 + b"\x80" * 46):
        scope = {"headers": [*base, (b"x-csrf-token", value)]}
        assert c.post("/submit", scope=scope).status_code == 403
    form = [*base, (b"content-type", b"application/x-www-form-urlencoded")]
    for body in (b"csrf_token=%ff%fe", b"csrf_token=" + b"A" * 100_000, b"%zz=1&&&="):
        scope = {"headers": [*form, (b"content-length", str(len(body)).encode())]}
        response = c.post("/submit", body=body, scope=scope)
        assert response.status_code in (400, 403), body[:20]


def test_login_regenerate_rotates_the_secret(sync: Sync) -> None:
    app, _ = token_app()
    c = sync(app)
    before = issue(c)
    assert c.post("/login", headers={"X-CSRF-Token": before}).text == "in"
    assert c.post("/submit", headers={"X-CSRF-Token": before}).status_code == 403
    after = issue(c)
    assert c.post("/submit", headers={"X-CSRF-Token": after}).text == "ok"


def test_a_token_issued_after_regenerate_in_the_same_request_is_valid(sync: Sync) -> None:
    app, _ = token_app()
    c = sync(app)
    before = issue(c)
    fresh = c.post("/login-then-token", headers={"X-CSRF-Token": before}).text
    assert c.post("/submit", headers={"X-CSRF-Token": before}).status_code == 403
    assert c.post("/submit", headers={"X-CSRF-Token": fresh}).text == "ok"


def test_explicit_rotation(sync: Sync) -> None:
    app, _ = token_app()
    c = sync(app)
    before = issue(c)
    assert c.post("/rotate", headers={"X-CSRF-Token": before}).text == "rotated"
    assert c.post("/submit", headers={"X-CSRF-Token": before}).status_code == 403
    assert c.post("/submit", headers={"X-CSRF-Token": issue(c)}).text == "ok"


def test_a_tampered_session_secret_is_no_secret(sync: Sync) -> None:
    app, _ = token_app()

    @app.get("/spoil")
    async def spoil(request: Request) -> str:
        request.session[SESSION_KEY] = "not base64!"
        return "spoiled"

    c = sync(app)
    token = issue(c)
    c.get("/spoil")
    assert c.post("/submit", headers={"X-CSRF-Token": token}).status_code == 403
    assert c.post("/submit", headers={"X-CSRF-Token": issue(c)}).text == "ok"


def test_csrf_field_is_html_safe_markup(sync: Sync) -> None:
    app, _ = token_app()
    c = sync(app)
    field = c.get("/field").text
    match = re.fullmatch(
        r'<input type="hidden" name="csrf_token" value="([A-Za-z0-9_-]{86})">', field
    )
    assert match is not None, field
    assert c.post("/submit", form={"csrf_token": match.group(1)}).text == "ok"


def test_template_globals(sync: Sync, tmp_path: Path) -> None:
    (tmp_path / "form.html").write_text(
        '<form method=post>{{ csrf_field() }}</form>\n<meta content="{{ csrf_token() }}">'
    )
    app, _ = token_app()
    Templates(app, template_dir=tmp_path)

    @app.get("/form")
    async def form(request: Request) -> Any:
        return render_template("form.html")

    c = sync(app)
    page = c.get("/form").text
    fields = re.findall(r'name="csrf_token" value="([A-Za-z0-9_-]{86})">', page)
    meta = re.findall(r'<meta content="([A-Za-z0-9_-]{86})">', page)
    assert len(fields) == 1
    assert len(meta) == 1
    assert fields != meta  # two renders, two masks
    assert "&lt;" not in page
    assert c.post("/submit", form={"csrf_token": fields[0]}).text == "ok"
    assert c.post("/submit", headers={"X-CSRF-Token": meta[0]}).text == "ok"


def test_tokens_need_a_session_and_a_request() -> None:
    lonely = Junco()
    CSRF(lonely, tokens=True)  # the session may still come: it is checked at start-up

    @lonely.get("/")
    async def home(request: Request) -> str:
        return "never"

    message = r"CSRF\(tokens=True\) needs Session.*add Session\(app, \.\.\.\)"
    with pytest.raises(ConfigurationError, match=message):
        fetch(lonely, "GET", "/")

    async def start() -> None:
        async with TestClient(lonely):
            pass

    with pytest.raises(RuntimeError, match="needs Session"):  # the start-up fails too
        asyncio.run(start())
    Session(lonely, secret_key=KEY)  # added after CSRF: the next plan sees it
    assert fetch(lonely, "GET", "/").text == "never"
    with pytest.raises(RuntimeError):
        csrf_token()
    app = Junco()
    CSRF(app)

    @app.get("/")
    async def index(request: Request) -> str:
        try:
            return csrf_token()
        except RuntimeError as exc:
            return str(exc)

    assert "tokens=True" in fetch(app, "GET", "/").text


def test_custom_field_and_header_names(sync: Sync) -> None:
    app = Junco()
    Session(app, secret_key=KEY)
    csrf = CSRF(app, tokens=True, field_name="_xsrf", header_name="X-XSRF")

    @app.get("/field")
    async def field(request: Request) -> str:
        return csrf.csrf_field()

    app.post("/submit")(_done)
    c = sync(app)
    value = re.search(r'name="_xsrf" value="([^"]+)"', c.get("/field").text)
    assert value is not None
    assert c.post("/submit", form={"_xsrf": value.group(1)}).text == "done"
    assert c.post("/submit", headers={"X-XSRF": value.group(1)}).text == "done"
    assert c.post("/submit", headers={"X-CSRF-Token": value.group(1)}).status_code == 403


# -- the examples in docs/csrf.md --------------------------------------------------------


def doc_examples(page: str) -> list[dict[str, Any]]:
    """Run each ```python block of docs/PAGE.md that starts with an import; their globals."""
    text = (Path(__file__).resolve().parent.parent / "docs" / f"{page}.md").read_text()
    out = []
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        if block.startswith("from junco"):
            namespace: dict[str, Any] = {"__name__": f"docs_{page}"}
            exec(compile(block, f"docs/{page}.md", "exec"), namespace)
            out.append(namespace)
    return out


def test_the_documented_examples_behave_as_documented(sync: Sync) -> None:
    basic, marks, tokens = doc_examples("csrf")
    app = basic["app"]
    forged = fetch(app, "POST", "/transfer", headers=browser("cross-site", EVIL))
    assert (forged.status_code, forged.text) == (403, REFUSAL)
    assert fetch(app, "POST", "/transfer", headers=browser("same-origin")).text == "sent"
    assert fetch(app, "POST", "/transfer", headers=browser("cross-site", TRUSTED)).text == "sent"
    assert fetch(app, "POST", "/transfer").text == "sent"
    hook = fetch(app, "POST", "/webhooks/payments", headers=browser("cross-site", EVIL))
    assert hook.text == "noted"

    app = marks["app"]
    assert fetch(app, "GET", "/delete-everything", headers=browser("cross-site")).status_code == 403
    assert (
        fetch(app, "GET", "/delete-everything", headers=browser("same-origin")).status_code == 200
    )
    assert fetch(app, "POST", "/comments", headers=browser("cross-site")).status_code == 200

    c = sync(tokens["app"])
    page = c.get("/").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    assert c.post("/save").status_code == 403
    assert c.post("/save", form={"csrf_token": found.group(1)}).text == "saved"
    assert c.post("/login", headers={"X-CSRF-Token": found.group(1)}).text == "welcome"
    assert c.post("/save", form={"csrf_token": found.group(1)}).status_code == 403


def test_rotate_without_tokens_is_a_no_op() -> None:
    app = Junco()
    csrf = CSRF(app)

    @app.post("/rotate")
    async def rotate(request: Request) -> str:
        csrf.rotate(request)  # no Session installed: must not need one
        return "fine"

    assert fetch(app, "POST", "/rotate").text == "fine"


def test_a_real_login_rotates_the_token(sync: Sync) -> None:
    from junco.security.login import Login

    app, _ = token_app()
    login = Login()

    class User:
        id = 7

    @login.user_loader
    async def load(user_id: int) -> User:
        return User()

    @app.post("/signin")
    async def signin(request: Request) -> Any:
        return await login.login_user(request, User())

    @app.post("/signout")
    async def signout(request: Request) -> str:
        await login.logout_user(request)
        return "bye"

    c = sync(app)
    anonymous = issue(c)
    assert c.post("/signin", form={"csrf_token": anonymous}).status_code == 302
    assert c.post("/submit", form={"csrf_token": anonymous}).status_code == 403
    signed_in = issue(c)
    assert c.post("/submit", form={"csrf_token": signed_in}).text == "ok"
    assert c.post("/signout", form={"csrf_token": signed_in}).text == "bye"
    assert c.post("/submit", form={"csrf_token": signed_in}).status_code == 403
