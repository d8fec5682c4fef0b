"""Phases (issue 9, seam 2): components run in the order their phases say, whatever
order they were added in; a missing requirement is refused, never misordered."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

import pytest

from junco import ConfigurationError, Junco, Request, Response, csrf_field
from junco.phases import Phase
from junco.request import REQUEST_ID
from junco.security.allowed_hosts import AllowedHosts
from junco.security.audit import Audit
from junco.security.cors import CORS
from junco.security.csp_nonce import CSPNonce
from junco.security.csrf import CSRF
from junco.security.proxy import ProxyHeaders, client_ip
from junco.security.ratelimit import RateLimit
from junco.security.request_id import RequestID
from junco.security.security_headers import SecurityHeaders
from junco.security.sessions import Session
from junco.security.stack import (
    SESSION_ABSOLUTE_TIMEOUT,
    SESSION_IDLE_TIMEOUT,
    SESSION_REFRESH,
    secure_stack,
)
from junco.stores.memory import MemoryStore
from junco.testing import SyncTestClient, TestClient, TestResponse

SECRET = "k" * 48
ORIGIN = "https://app.example.com"
SAME = {"Sec-Fetch-Site": "same-origin"}

# -- the same stack, by secure_stack and by hand in any order ---------------------------


def routes(app: Junco, records: list[dict[str, Any]]) -> None:
    @app.get("/")
    async def index(request: Request) -> str:
        request.session["seen"] = True
        return f"home {client_ip(request)}"

    @app.get("/form")
    async def form(request: Request) -> str:
        return str(csrf_field())

    @app.post("/submit")
    async def submit(request: Request) -> str:
        return "submitted"

    @app.post("/login")
    async def login(request: Request) -> str:
        return "tried"


def by_secure_stack(records: list[dict[str, Any]]) -> Junco:
    app = Junco()
    routes(app, records)
    secure_stack(
        app,
        secret_key=SECRET,
        allowed_hosts=["example.com"],
        cors_origins=[ORIGIN],
        cors_credentials=True,
        csrf_tokens=True,
        rate_limits={"/login": "2/minute"},
        trusted_proxies=["127.0.0.1"],
        audit=records.append,
        session_store=None,
        rate_limit_store="memory",
    )
    return app


def by_hand(records: list[dict[str, Any]], shuffle: Callable[[list[Any]], None]) -> Junco:
    """The components secure_stack installs, constructed and added in ``shuffle``'s order."""
    app = Junco()
    routes(app, records)
    cors = CORS(allowed_origins=[ORIGIN], allow_credentials=True)
    limiter = RateLimit(store="memory")
    limiter.rule("/login", "2/minute", methods=["POST", "PUT", "PATCH", "DELETE"])
    session = Session(
        secret_key=SECRET,
        idle_timeout=SESSION_IDLE_TIMEOUT,
        absolute_timeout=SESSION_ABSOLUTE_TIMEOUT,
        sliding=SESSION_REFRESH,
    )
    csrf = CSRF(cors=cors, tokens=True)
    adders: list[Callable[[], Any]] = [
        lambda: app.add_middleware(Audit(sink=records.append)),
        lambda: app.add_middleware(ProxyHeaders(trusted=["127.0.0.1"])),
        lambda: app.add_middleware(AllowedHosts(hosts=["example.com"])),
        lambda: app.add_middleware(RequestID()),
        lambda: limiter.init_app(app),
        lambda: CSPNonce(app),
        lambda: app.add_middleware(SecurityHeaders()),
        lambda: session.init_app(app),
        lambda: cors.init_app(app),
        lambda: csrf.init_app(app, cors),
    ]
    shuffle(adders)
    for add in adders:
        add()
    return app


def normal(response: TestResponse) -> tuple[int, str, dict[str, Any]]:
    """What must be equal between two stacks: all but the per-request random values."""
    headers = dict(response.headers.as_dict())
    headers.pop("x-request-id", None)
    for name in ("ratelimit-reset", "retry-after"):  # seconds left: the clock moves on
        if name in headers:
            headers[name] = "…"
    if "set-cookie" in headers:
        headers["set-cookie"] = [re.sub(r"=[^;]*", "=…", c, count=1) for c in headers["set-cookie"]]
    for name in ("content-security-policy", "content-length"):
        if name in headers:
            headers[name] = re.sub(r"'nonce-[^']*'", "'nonce-…'", str(headers[name]))
    text = re.sub(r'value="[A-Za-z0-9_-]{86}"', 'value="…"', response.text)
    return response.status_code, text, headers


def visit(app: Junco) -> list[tuple[int, str, dict[str, Any]]]:
    """The same conversation with ``app``: pages, refusals, a preflight, limits, errors."""
    client = TestClient(app, host="example.com").sync
    out = [normal(client.get("/"))]
    form = client.get("/form")
    out.append(normal(form))
    token = re.findall(r'value="([A-Za-z0-9_-]{86})"', form.text)[0]
    out.append(normal(client.post("/submit", headers={**SAME, "X-CSRF-Token": token})))
    out.append(normal(client.post("/submit", headers=SAME)))  # no token
    forged = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.test"}
    out.append(normal(client.post("/submit", headers=forged)))
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    out.append(normal(client.options("/submit", headers=preflight)))
    out.append(normal(client.get("/", headers={"Origin": ORIGIN})))
    with_token = {**SAME, "X-CSRF-Token": token}
    out += [normal(client.post("/login", headers=with_token)) for _ in range(3)]
    out.append(normal(client.get("/nowhere")))
    out.append(normal(client.get("/a/../b")))  # refused before any hook runs
    out.append(normal(client.get("/", headers={"X-Forwarded-For": "203.0.113.9"})))
    out.append(normal(TestClient(app, host="evil.test").sync.get("/")))
    return out


def audit_view(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["method"], r["path"], r["status"], r["client_ip"]) for r in records]


@pytest.mark.parametrize("order", ["reversed", "shuffled 1", "shuffled 2", "shuffled 3"])
def test_any_order_gives_the_same_stack_as_secure_stack(order: str) -> None:
    expected_records: list[dict[str, Any]] = []
    expected = visit(by_secure_stack(expected_records))
    statuses = [status for status, _, _ in expected]
    assert statuses == [200, 200, 200, 403, 403, 204, 200, 200, 200, 429, 404, 400, 200, 400]
    shuffle: Callable[[list[Any]], None] = list.reverse
    if order != "reversed":
        shuffle = random.Random(order).shuffle
    records: list[dict[str, Any]] = []
    assert visit(by_hand(records, shuffle)) == expected
    assert audit_view(records) == audit_view(expected_records)
    assert all(r["duration_ms"] is not None for r in records if r["status"] != 400)


def test_the_hook_lists_show_the_run_order() -> None:
    app = Junco()

    @app.before_request
    def mine(request: Request) -> None:
        return None

    session = Session(app, secret_key=SECRET)
    RequestID(app)
    ProxyHeaders(app)
    Audit(app)
    names = [getattr(fn, "__self__", fn).__class__.__name__ for fn in app.before_request_handlers]
    assert names == ["Audit", "RequestID", "ProxyHeaders", "_CookieHooks", "function"]
    assert app.before_request_handlers[-1] is mine
    assert app.component(Session) is session
    # A list assigned in Microdot's way keeps the phases of the hooks it keeps.
    app.before_request_handlers = [h for h in app.before_request_handlers if h is not mine]
    app.before_request_handlers.append(mine)
    CSRF(app)
    names = [getattr(fn, "__self__", fn).__class__.__name__ for fn in app.before_request_handlers]
    assert names == ["Audit", "RequestID", "ProxyHeaders", "_CookieHooks", "_Hooks", "function"]


# -- what the brief asked for, one by one -----------------------------------------------


@pytest.mark.parametrize("store", [None, "memory"])
def test_a_hook_registered_before_the_session_sees_it(store: str | None) -> None:
    app = Junco()

    @app.before_request
    def early(request: Request) -> None:
        request.g.user = request.session.get("user", "nobody")

    Session(app, secret_key=SECRET, store=store)

    @app.post("/in")
    async def log_in(request: Request) -> str:
        request.session["user"] = "ana"
        return "in"

    @app.get("/who")
    async def who(request: Request) -> str:
        return str(request.g.user)

    client = TestClient(app).sync
    assert client.get("/who").text == "nobody"
    assert client.post("/in").text == "in"
    assert client.get("/who").text == "ana"


def test_proxy_headers_added_last_still_come_first_for_limits_audit_and_hosts() -> None:
    records: list[dict[str, Any]] = []
    app = Junco()
    Audit(app, sink=records.append)
    limiter = RateLimit(app)
    limiter.rule("/act", "1/minute")
    AllowedHosts(app, hosts=["public.example"])
    ProxyHeaders(app, trusted=["127.0.0.1"], forwarded_host=True)  # added last

    @app.post("/act")
    async def act(request: Request) -> str:
        return client_ip(request)

    client = TestClient(app, host="internal:8000").sync

    def act_as(ip: str) -> TestResponse:
        forwarded = {"X-Forwarded-For": ip, "X-Forwarded-Host": "public.example"}
        return client.post("/act", headers=forwarded)

    # Two clients behind the proxy: two counters, not one for the proxy's address.
    assert [act_as("198.51.100.1").text, act_as("198.51.100.2").text] == [
        "198.51.100.1",
        "198.51.100.2",
    ]
    assert act_as("198.51.100.1").status_code == 429
    assert [r["client_ip"] for r in records] == ["198.51.100.1", "198.51.100.2", "198.51.100.1"]
    assert client.post("/act").status_code == 400  # the proxy's own host is not allowed


def test_csrf_tokens_without_a_session_store_are_refused_with_what_to_add() -> None:
    app = Junco()
    CSRF(app, tokens=True)

    @app.get("/")
    async def index(request: Request) -> str:
        return "ok"

    with pytest.raises(ConfigurationError) as info:
        TestClient(app).sync.get("/")
    assert str(info.value) == (
        "CSRF(tokens=True) needs Session, and none is installed on this app: "
        "add Session(app, ...) (in any order: phases order the hooks)"
    )
    with pytest.raises(ConfigurationError):  # refused again: a failed plan is not cached
        TestClient(app).sync.get("/")
    Session(app, secret_key=SECRET)
    assert TestClient(app).sync.get("/").text == "ok"


def test_microdot_style_hook_list_appends_still_run_in_the_app_phase() -> None:
    app = Junco()
    trail: list[str] = []

    def appended(request: Request) -> None:
        trail.append(f"appended, request id {'set' if REQUEST_ID.get(request) else 'missing'}")

    app.before_request_handlers.append(appended)
    RequestID(app)

    @app.get("/")
    async def index(request: Request) -> str:
        return "ok"

    client: SyncTestClient = TestClient(app).sync
    assert client.get("/").text == "ok"
    assert trail == ["appended, request id set"]
    app.before_request_handlers.append(lambda request: trail.append("late"))  # after a request
    client.get("/")
    assert trail[1:] == ["appended, request id set", "late"]


def test_after_hooks_unwind_the_phases_like_an_onion() -> None:
    app = Junco()
    trail: list[str] = []

    class Part:
        def __init__(self, name: str, phase: Phase) -> None:
            self.name = name
            self.phase = phase

        def before_request(self, request: Request) -> None:
            trail.append(f"+{self.name}")

        def after_request(self, request: Request, response: Response) -> None:
            trail.append(f"-{self.name}")

    @app.before_request
    def user(request: Request) -> None:
        trail.append("+app")

    for name, phase in [("auth", Phase.AUTH), ("observe", Phase.OBSERVE), ("guard", Phase.GUARD)]:
        app.add_middleware(Part(name, phase))

    @app.get("/")
    async def index(request: Request) -> str:
        trail.append("handler")
        return "ok"

    TestClient(app).sync.get("/")
    assert trail == [
        *("+observe", "+guard", "+auth", "+app", "handler"),
        *("-auth", "-guard", "-observe"),
    ]


def test_mounted_apps_hooks_are_ordered_together() -> None:
    app, api = Junco(), Junco()
    seen: list[str] = []

    @app.before_request
    def parent_hook(request: Request) -> None:
        seen.append(client_ip(request))

    ProxyHeaders(api, trusted=["127.0.0.1"])  # on the mounted app, which comes later

    @api.get("/ip")
    async def ip(request: Request) -> str:
        return client_ip(request)

    app.mount(api, "/api")
    response = TestClient(app).sync.get("/api/ip", headers={"X-Forwarded-For": "192.0.2.7"})
    assert response.text == "192.0.2.7"
    assert seen == ["192.0.2.7"]


def test_a_requirement_met_by_the_parent_of_a_local_mount() -> None:
    app, forms = Junco(), Junco()
    Session(app, secret_key=SECRET, store=MemoryStore())
    CSRF(forms, tokens=True)

    @forms.get("/token")
    async def token(request: Request) -> str:
        return str(len(csrf_field()))

    app.mount(forms, "/forms", local=True)
    assert TestClient(app).sync.get("/forms/token").status_code == 200
    with pytest.raises(ConfigurationError, match="needs Session"):
        TestClient(forms).sync.get("/token")  # on its own, the mounted app has none


def test_a_phase_must_be_a_phase() -> None:
    class Odd:
        phase = 3

        def before_request(self, request: Request) -> None:
            return None

    with pytest.raises(ConfigurationError, match=r"Odd\.phase must be a junco\.phases\.Phase"):
        Junco().add_middleware(Odd())


def test_app_check_reports_a_missing_requirement() -> None:
    app = Junco()
    CSRF(app, tokens=True)
    (finding,) = [f for f in app.check() if f.code == "J015"]
    assert finding.severity == "error"
    assert "CSRF(tokens=True) needs Session" in finding.message
    Session(app, secret_key=SECRET)
    assert "J015" not in [f.code for f in app.check()]


def test_a_requires_that_is_not_a_declaration_is_ignored() -> None:
    from junco.security.login import Login

    app = Junco()
    Session(app, secret_key=SECRET)
    Login().init_app(app)  # Login.requires is its permissions decorator, not a declaration

    @app.get("/")
    async def index(request: Request) -> str:
        return "ok"

    assert TestClient(app).sync.get("/").text == "ok"
