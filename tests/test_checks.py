"""app.check(): findings for what a deployment is missing."""

from __future__ import annotations

from junco import Junco, Request, Session
from junco.checks import Finding, check_app
from junco.security import AllowedHosts, SecurityHeaders
from junco.stores.memory import MemoryStore

SECRET = "s" * 40


def codes(app: Junco) -> list[str]:
    return [f.code for f in app.check()]


def mutating_app(**options: object) -> Junco:
    app = Junco(**options)  # type: ignore[arg-type]

    @app.post("/notes")
    async def create(request: Request) -> str:
        return "created"

    return app


def test_bare_app_with_a_post_route_has_findings_errors_first() -> None:
    findings = mutating_app(debug=True).check()
    assert [f.code for f in findings] == ["J001", "J003", "J002", "J007"]
    assert [f.severity for f in findings] == ["error", "error", "warning", "warning"]
    assert "/notes" in findings[1].message
    assert str(findings[0]).startswith("J001 error: debug mode is on")


def test_get_only_app_with_headers_and_hosts_is_clean() -> None:
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> str:
        return "hi"

    SecurityHeaders(app)
    AllowedHosts(app, hosts=["example.com"])
    assert app.check() == []


def test_session_secret_cookie_and_store_findings() -> None:
    app = Junco()
    SecurityHeaders(app)
    AllowedHosts(app, hosts=["example.com"])
    session = Session(app, secret_key="x" * 32, secure=False, store=MemoryStore())
    session.secret_key = "x" * 20  # changed after construction, which checked it
    assert codes(app) == ["J004", "J005", "J008", "J012"]


def test_long_secrets_in_a_rotation_list_pass() -> None:
    app = Junco()
    SecurityHeaders(app)
    AllowedHosts(app, hosts=["example.com"])
    Session(app, secret_key=[SECRET, "t" * 32], idle_timeout=3600)
    assert codes(app) == []


def test_huge_limits_are_flagged() -> None:
    app = Junco(max_content_length=2 * 1024**3)
    assert "J009" in codes(app)


def test_components_can_add_their_own_findings() -> None:
    class Custom:
        def before_request(self, request: Request) -> None:
            return None

        def check(self, app: Junco) -> list[Finding]:
            return [Finding("X100", "warning", "custom", "fix it")]

    app = Junco()
    app.add_middleware(Custom())
    assert "X100" in codes(app)
    assert check_app(app) == app.check()


def test_a_registered_login_needs_a_session_and_a_rate_limit() -> None:
    from junco import Login

    app = Junco()
    SecurityHeaders(app)
    AllowedHosts(app, hosts=["example.com"])
    Login().init_app(app)
    assert codes(app) == ["J011", "J010"]
    Session(app, secret_key=SECRET, absolute_timeout=86400)
    assert codes(app) == ["J010"]


def test_components_are_found_by_type_so_subclasses_count() -> None:
    class MyHeaders(SecurityHeaders):
        pass

    class MyHosts(AllowedHosts):
        pass

    app = Junco()
    MyHeaders(app)
    MyHosts(app, hosts=["example.com"])
    assert codes(app) == []
    assert app.component(SecurityHeaders) is not None
    assert app.component(Session) is None


def test_foreign_mounts_under_body_policies_are_flagged() -> None:
    from junco.security.csrf import CSRF

    async def foreign(scope: object, receive: object, send: object) -> None: ...

    app = Junco()
    SecurityHeaders(app)
    AllowedHosts(app, hosts=["example.com"])
    app.mount(foreign, "/legacy")
    assert codes(app) == []  # hooks and headers cover it
    Session(app, secret_key=SECRET, idle_timeout=600)
    CSRF(app, tokens=True)
    findings = [f for f in app.check() if f.code == "J013"]
    assert len(findings) == 1
    assert "/legacy" in findings[0].message


def test_sessions_without_a_timeout_are_flagged() -> None:
    from junco.security.stack import secure_stack

    for options, expected in [
        ({}, ["J012"]),
        ({"idle_timeout": 600}, []),
        ({"absolute_timeout": 86400}, []),
        ({"max_age": 3600}, []),
    ]:
        app = Junco()
        SecurityHeaders(app)
        AllowedHosts(app, hosts=["example.com"])
        Session(app, secret_key=SECRET, **options)  # type: ignore[arg-type]
        assert codes(app) == expected, options
        finding = [f for f in app.check() if f.code == "J012"]
        assert all("time out" in f.message and "idle_timeout" in f.hint for f in finding)
    # secure_stack sets both by default; turning both off is flagged again.
    app = Junco()
    stack = secure_stack(app, secret_key=SECRET, allowed_hosts=["example.com"])
    assert (stack.session.idle_timeout, stack.session.absolute_timeout) == (7200, 604800)
    assert "J012" not in codes(app)
    app = Junco()
    secure_stack(
        app,
        secret_key=SECRET,
        allowed_hosts=["example.com"],
        session_idle_timeout=None,
        session_absolute_timeout=None,
    )
    assert "J012" in codes(app)
