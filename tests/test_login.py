"""Login: sessions, safe ``next``, remember-me cookies, freshness, permissions, API clients."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, assert_type
from urllib.parse import unquote

import pytest
from itsdangerous import URLSafeSerializer

from junco import ConfigurationError, Junco, Request, Response, redirect
from junco.security.login import Login
from junco.security.sessions import Session, SessionStore
from junco.stores.memory import MemoryStore
from junco.testing import SyncTestClient, TestClient, TestResponse

KEY = "login-test-secret-0123456789abcdef"
DAY = 86400


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class User:
    id: int | str
    name: str
    password: str
    session_version: int = 1
    permissions: frozenset[str] = field(default_factory=frozenset)


@dataclass
class Env:
    app: Junco
    login: Login
    users: dict[int | str, User]
    clock: Clock
    client: SyncTestClient
    csrf_rotations: list[str]


def make_env(
    store: SessionStore | None = None,
    scheme: str | None = None,
    session_key: str | list[str | bytes] = KEY,
    **options: Any,
) -> Env:
    app = Junco()
    clock = Clock()
    Session(app, session_key, store=store, clock=clock)
    login = Login(clock=clock, **options)
    users: dict[int | str, User] = {
        1: User(1, "alice", "wonderland", permissions=frozenset({"read", "admin"})),
        2: User(2, "bob", "builder", permissions=frozenset({"read"})),
    }
    rotations: list[str] = []

    class FakeCSRF:
        def rotate(self, request: Request) -> None:
            rotations.append(request.path)

    app.extensions["csrf"] = FakeCSRF()

    @login.user_loader
    async def load(user_id: int | str) -> User | None:
        return users.get(user_id)

    @app.route("/login", methods=["GET", "POST"])
    async def login_page(request: Request) -> Any:
        if request.method == "GET":
            return "the login form"
        form = request.form
        assert form is not None
        user = next((u for u in users.values() if u.name == form.get("name")), None)
        if user is None or user.password != form.get("password"):
            return "bad credentials", 401
        remember: bool | int = form.get("remember", "") == "yes"
        if form.get("days"):
            remember = int(form["days"])
        try:
            return await login.login_user(request, user, remember=remember)
        except ValueError as exc:
            return str(exc), 400

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        await login.logout_user(request)
        return redirect("/")

    @app.get("/me")
    @login
    async def me(request: Request) -> dict[str, Any]:
        user = request.g.current_user
        return {"id": user.id, "fresh": request.session["_fresh"]}

    @app.get("/fresh")
    @login.fresh
    def fresh(request: Request) -> str:
        return "fresh enough"

    @app.get("/admin")
    @login.requires("admin")
    async def admin(request: Request) -> str:
        return "admin area"

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, Any]:
        user = await login.get_current_user(request)
        return {"user": user.name if user else None}

    @app.get("/session")
    async def session(request: Request) -> dict[str, Any]:
        return dict(request.session)

    @app.post("/cart")
    async def cart(request: Request) -> str:
        request.session["cart"] = ["apple"]
        return "ok"

    client = TestClient(app, scheme=scheme).sync
    return Env(app, login, users, clock, client, rotations)


@pytest.fixture
def env() -> Iterator[Env]:
    e = make_env()
    yield e
    e.client.close()


def log_in(client: SyncTestClient, name: str = "alice", path: str = "/login", **extra: str) -> Any:
    passwords = {"alice": "wonderland", "bob": "builder"}
    return client.post(path, form={"name": name, "password": passwords[name], **extra})


def set_cookie(r: TestResponse, name: str) -> str | None:
    for header in r.headers.getlist("set-cookie"):
        if header.startswith(name + "="):
            return header
    return None


# -- guards -----------------------------------------------------------------------------


def test_anonymous_browser_is_sent_to_login_with_next(env: Env) -> None:
    r = env.client.get("/me")
    assert (r.status_code, r.headers["Location"]) == (302, "/login?next=/me")
    r = env.client.get("/me?tab=2&sort=a%26b")
    assert r.headers["Location"] == "/login?next=/me%3Ftab%3D2%26sort%3Da%2526b"
    assert unquote(r.headers["Location"].split("=", 1)[1]) == "/me?tab=2&sort=a%26b"


def test_next_round_trip(env: Env) -> None:
    location = env.client.get("/me?tab=2&sort=a%26b").headers["Location"]
    r = log_in(env.client, path=location)
    assert (r.status_code, r.headers["Location"]) == (302, "/me?tab=2&sort=a%26b")


def test_next_encodes_non_ascii_paths(env: Env) -> None:
    @env.app.get("/p/<name>")
    @env.login
    async def page(request: Request, name: str) -> str:
        return name

    r = env.client.get("/p/caf%C3%A9")
    assert r.headers["Location"] == "/login?next=/p/caf%C3%A9"
    r = log_in(env.client, path=r.headers["Location"])
    assert r.headers["Location"] == "/p/caf%C3%A9"
    assert env.client.get("/p/caf%C3%A9").text == "café"


def test_next_keeps_the_root_path(env: Env) -> None:
    r = env.client.get("/app/me", scope={"root_path": "/app"})
    assert r.headers["Location"] == "/login?next=/app/me"


def test_login_url_with_a_query() -> None:
    e = make_env(login_url="/auth?via=guard")
    assert e.client.get("/me").headers["Location"] == "/auth?via=guard&next=/me"


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "application/json"},
        {"Accept": "application/json, text/plain, */*"},
        {"Accept": "application/problem+json"},
        {"Accept": "text/html;q=0.5, application/json;q=0.9"},
        {"Authorization": "Bearer something"},
        {"X-Requested-With": "XMLHttpRequest"},
    ],
)
def test_api_clients_get_401_json(env: Env, headers: dict[str, str]) -> None:
    for path in ("/me", "/fresh", "/admin"):
        r = env.client.get(path, headers)
        assert (r.status_code, r.json) == (
            401,
            {"error": {"status": 401, "code": "unauthorized", "message": "Unauthorized"}},
        )
        assert "Location" not in r.headers


@pytest.mark.parametrize(
    "accept",
    [
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "*/*",
        "",
        "application/json;q=0.5, text/html",
        "application/json;q=abc",
        "application/json;q=7",
        "application/json;q=-1",
        ",,,;;;===",
        "application/json;q=0",
        # only the first 32 entries are looked at
        pytest.param("image/png, " * 40 + "application/json", id="long"),
    ],
)
def test_browsers_get_redirected(env: Env, accept: str) -> None:
    r = env.client.get("/me", {"Accept": accept})
    assert r.status_code == 302


def test_guards_keep_the_signature() -> None:
    login = Login()

    async def handler(request: Request, id: int, *, flag: bool = False) -> str:
        """Docs."""
        return ""

    for decorate in (login, login.fresh, login.login_required, login.requires("x")):
        wrapped = decorate(handler)
        assert inspect.signature(wrapped) == inspect.signature(handler)
        assert (wrapped.__name__, wrapped.__doc__) == ("handler", "Docs.")
        assert inspect.iscoroutinefunction(wrapped)


# -- logging in -------------------------------------------------------------------------


def test_login_flow(env: Env) -> None:
    assert env.client.get("/whoami").json == {"user": None}
    r = log_in(env.client)
    assert (r.status_code, r.headers["Location"]) == (302, "/")
    assert "session" in env.client.cookies
    assert set_cookie(r, "_remember") is None
    assert env.client.get("/me").json == {"id": 1, "fresh": True}
    assert env.client.get("/whoami").json == {"user": "alice"}
    assert env.client.get("/fresh").text == "fresh enough"
    assert env.client.get("/session").json == {"_user_id": 1, "_fresh": True, "_user_version": 1}
    assert env.csrf_rotations == ["/login"]


def test_failed_login_changes_nothing(env: Env) -> None:
    r = env.client.post("/login", form={"name": "alice", "password": "nope"})
    assert r.status_code == 401
    assert "session" not in env.client.cookies
    assert env.csrf_rotations == []


HOSTILE_NEXT = [
    "//evil.example",
    "//evil.example/me",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "http://evil.example/",
    "https://evil.example/",
    "http://localhost@evil.example/",
    "http://localhost//evil.example/x",
    "http://localhost/\\evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    "data:text/html,hi",
    " /me",
    "/\t/evil.example",
    "\uff0f\uff0fevil.example",
    "me",
    "?x=1",
    "",
    "/" + "a" * 5000,
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_hostile_next_falls_back(env: Env, target: str) -> None:
    from urllib.parse import quote

    r = log_in(env.client, path="/login?next=" + quote(target, safe=""))
    assert (r.status_code, r.headers["Location"]) == (302, "/")


def test_same_host_absolute_next_is_reduced_to_path_and_query(env: Env) -> None:
    r = log_in(env.client, path="/login?next=http%3A%2F%2Flocalhost%2Fme%3Fa%3D1%23frag")
    assert r.headers["Location"] == "/me?a=1"


def test_https_requests_refuse_http_next() -> None:
    e = make_env(scheme="https")
    r = log_in(e.client, path="/login?next=http%3A%2F%2Flocalhost%2Fme")
    assert r.headers["Location"] == "/"
    r = log_in(e.client, path="/login?next=https%3A%2F%2Flocalhost%2Fme")
    assert r.headers["Location"] == "/me"


def test_login_regenerates_the_session() -> None:
    store = MemoryStore()
    e = make_env(store=store)
    e.client.post("/cart")
    before = e.client.cookies["session"]
    log_in(e.client)
    after = e.client.cookies["session"]
    assert before != after
    # the cart survives for the same visitor; the old id is dead
    assert e.client.get("/session").json["cart"] == ["apple"]
    replay = TestClient(e.app, cookies={"session": before}).sync
    assert replay.get("/session").json == {}
    assert replay.get("/whoami").json == {"user": None}
    replay.close()


def test_logging_in_as_someone_else_drops_their_data(env: Env) -> None:
    log_in(env.client, "alice")
    env.client.post("/cart")
    log_in(env.client, "bob")
    data = env.client.get("/session").json
    assert data == {"_user_id": 2, "_fresh": True, "_user_version": 1}


def test_async_csrf_rotate_is_awaited(env: Env) -> None:
    seen: list[str] = []

    class AsyncCSRF:
        async def rotate(self, request: Request) -> None:
            seen.append("rotated")

    env.app.extensions["csrf"] = AsyncCSRF()
    log_in(env.client)
    assert seen == ["rotated"]
    env.app.extensions["csrf"] = object()  # no rotate(): ignored
    log_in(env.client)


# -- logging out ------------------------------------------------------------------------


def test_logout(env: Env) -> None:
    log_in(env.client, remember="yes")
    assert {"session", "_remember"} <= set(env.client.cookies)
    r = env.client.post("/logout")
    assert r.status_code == 302
    cleared = set_cookie(r, "_remember")
    assert cleared is not None
    assert "Max-Age=0" in cleared
    assert "_remember" not in env.client.cookies
    assert "session" not in env.client.cookies
    assert env.client.get("/me").status_code == 302


def test_logout_kills_a_server_side_session() -> None:
    e = make_env(store=MemoryStore())
    log_in(e.client)
    stolen = e.client.cookies["session"]
    e.client.post("/logout")
    thief = TestClient(e.app, cookies={"session": stolen}).sync
    assert thief.get("/me").status_code == 302
    thief.close()


# -- remember me ------------------------------------------------------------------------


def test_remember_cookie_attributes(env: Env) -> None:
    r = log_in(env.client, remember="yes")
    header = set_cookie(r, "_remember")
    assert header is not None
    attrs = {a.strip() for a in header.split(";")[1:]}
    assert attrs == {"Path=/", f"Max-Age={30 * DAY}", "HttpOnly", "SameSite=Lax"}
    e = make_env(scheme="https")
    header = set_cookie(log_in(e.client, days="7"), "_remember")
    assert header is not None
    assert f"Max-Age={7 * DAY}" in header
    assert "Secure" in header


def test_remember_restores_a_login_and_rotates(env: Env) -> None:
    log_in(env.client, remember="yes")
    first = env.client.cookies.pop("_remember")
    env.client.cookies.clear()  # the browser was closed: the session cookie is gone
    env.client.cookies["_remember"] = first
    env.clock.now += 10 * DAY
    r = env.client.get("/me")
    assert r.json == {"id": 1, "fresh": False}
    rotated = set_cookie(r, "_remember")
    assert rotated is not None
    assert env.client.cookies["_remember"] != first
    assert f"Max-Age={20 * DAY}" in rotated  # same absolute expiry
    assert "session" in env.client.cookies
    assert env.csrf_rotations == ["/login", "/me"]
    # now restored in the session: no new cookie on the next request
    r = env.client.get("/me")
    assert r.json == {"id": 1, "fresh": False}
    assert set_cookie(r, "_remember") is None


def test_restored_logins_are_not_fresh(env: Env) -> None:
    log_in(env.client, remember="yes")
    env.client.cookies.pop("session")
    r = env.client.get("/fresh?x=1")
    assert (r.status_code, r.headers["Location"]) == (302, "/login?next=/fresh%3Fx%3D1")
    r = env.client.get("/fresh", {"Accept": "application/json"})
    assert r.status_code == 401
    log_in(env.client)  # typing the password again makes it fresh
    assert env.client.get("/fresh").text == "fresh enough"


def test_remember_cookie_expires(env: Env) -> None:
    log_in(env.client, days="2")
    env.client.cookies.pop("session")
    env.clock.now += 2 * DAY
    r = env.client.get("/me")
    assert r.status_code == 302
    cleared = set_cookie(r, "_remember")
    assert cleared is not None
    assert "Max-Age=0" in cleared


def test_login_without_remember_clears_an_old_cookie(env: Env) -> None:
    log_in(env.client, "bob", remember="yes")
    r = log_in(env.client, "alice")
    cleared = set_cookie(r, "_remember")
    assert cleared is not None
    assert "Max-Age=0" in cleared
    assert "_remember" not in env.client.cookies


@pytest.mark.parametrize("days", ["0", "-1", "401", "100000"])
def test_remember_days_are_bounded(env: Env, days: str) -> None:
    r = log_in(env.client, days=days)
    if days == "0":
        assert r.status_code == 302
        assert set_cookie(r, "_remember") is None
    else:
        assert r.status_code == 400


def _forge(payload: Any, key: str = KEY, salt: str = "junco.security.login.remember") -> str:
    serializer = URLSafeSerializer(key, salt=salt, signer_kwargs={"digest_method": hashlib.sha256})
    return str(serializer.dumps(payload))


def _flip(text: str, i: int) -> str:
    return text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1 :]


def _hostile_cookies(good: str) -> list[str]:
    future = 1_700_000_000 + DAY
    return [
        "",
        "garbage",
        _flip(good, 3),  # in the payload
        _flip(good, len(good) - 10),  # in the signature (not its last, partly unused, char)
        good[:10],
        good + "x",
        "x" * 5000,
        good.replace(".", "", 1),
        "e30.invalid",
        "\u00e9\u00e9\u00e9",
        _forge({"u": 1, "v": 1, "e": future, "n": "x"}, key="another-secret-0123456789abcdef"),
        _forge({"u": 1, "v": 1, "e": future, "n": "x"}, salt="junco.session"),
        _forge({"u": 1, "v": 1, "e": future}),
        _forge({"u": 1, "v": 1, "e": future, "n": "x", "extra": 1}),
        _forge({"u": [1], "v": 1, "e": future, "n": "x"}),
        _forge({"u": 1, "v": [1], "e": future, "n": "x"}),
        _forge({"u": 1, "v": 1, "e": "never", "n": "x"}),
        _forge({"u": 1, "v": 1, "e": 1e308, "n": "x"}),
        _forge({"u": 1, "v": 1, "e": 1, "n": "x"}),
        _forge({"u": 99, "v": 1, "e": future, "n": "x"}),
        _forge({"u": 1, "v": 2, "e": future, "n": "x"}),
        _forge({"u": 1, "v": 1, "e": future, "f": "x", "t": "y"}),
        _forge({"u": 1, "v": 1, "e": future, "f": 1, "t": "y"}),
        _forge({"u": 1, "v": 1, "e": future, "f": "x", "t": "y" * 65}),
        _forge([1, 1, future]),
        _forge("just a string"),
        _forge(None),
    ]


def test_hostile_remember_cookies_are_anonymous(env: Env) -> None:
    log_in(env.client, remember="yes")
    good = env.client.cookies["_remember"]
    for value in _hostile_cookies(good):
        client = TestClient(env.app, cookies={"_remember": value}).sync
        r = client.get("/me")
        assert r.status_code == 302, value
        assert client.get("/whoami").json == {"user": None}
        assert "_remember" not in client.cookies, value
        client.close()
    # the genuine cookie still works, signed by the session's key
    client = TestClient(env.app, cookies={"_remember": good}).sync
    assert client.get("/me").json == {"id": 1, "fresh": False}
    client.close()
    assert _forge({"u": 1, "v": 1, "e": 1_700_000_000 + DAY, "n": "x"}) != good


def test_a_signed_cookie_is_not_enough_without_its_token_record(env: Env) -> None:
    """Even signed with the real key, a cookie whose token the store never issued is refused."""
    cookie = _forge({"u": 2, "v": 1, "e": 1_700_000_000 + DAY, "f": "fam", "t": "tok"})
    client = TestClient(env.app, cookies={"_remember": cookie}).sync
    assert client.get("/me").status_code == 302
    assert "_remember" not in client.cookies
    client.close()


# -- invalidation -----------------------------------------------------------------------


def test_password_change_ends_sessions_and_remember_cookies(env: Env) -> None:
    log_in(env.client, remember="yes")
    remember = env.client.cookies["_remember"]
    other = TestClient(env.app, cookies={"_remember": remember}).sync
    assert env.client.get("/me").status_code == 200
    env.users[1].session_version += 1  # the password changed elsewhere
    r = env.client.get("/me")
    assert r.status_code == 302
    assert "_remember" not in env.client.cookies
    assert env.client.get("/session").json == {}
    r = other.get("/me")
    assert r.status_code == 302
    assert "_remember" not in other.cookies
    other.close()
    log_in(env.client)  # a new login with the new version works
    assert env.client.get("/me").json == {"id": 1, "fresh": True}


def test_deleted_user_is_logged_out(env: Env) -> None:
    log_in(env.client, "bob", remember="yes")
    del env.users[2]
    assert env.client.get("/me").status_code == 302
    assert "_remember" not in env.client.cookies


def test_session_version_loader() -> None:
    versions = {1: "v1"}
    e = make_env()

    @e.login.session_version_loader
    async def version(user: User) -> str:
        return versions[int(user.id)]

    log_in(e.client)
    assert e.client.get("/session").json["_user_version"] == "v1"
    assert e.client.get("/me").status_code == 200
    versions[1] = "v2"
    assert e.client.get("/me").status_code == 302


def test_callable_session_version_attribute(env: Env) -> None:
    class Versioned:
        def __init__(self, id: int, name: str, password: str) -> None:
            self.id, self.name, self.password = id, name, password

        def session_version(self) -> str:
            return "h:" + self.password[:2]

    env.users[1] = Versioned(1, "alice", "wonderland")  # type: ignore[assignment]
    log_in(env.client)
    assert env.client.get("/session").json["_user_version"] == "h:wo"
    env.users[1].password = "changed"
    assert env.client.get("/me").status_code == 302


# -- permissions ------------------------------------------------------------------------


def test_requires_permissions(env: Env) -> None:
    assert env.client.get("/admin").status_code == 302
    log_in(env.client, "bob")
    r = env.client.get("/admin")
    assert r.status_code == 403
    r = env.client.get("/admin", {"Accept": "application/json"})
    assert (r.status_code, r.json) == (
        403,
        {"error": {"status": 403, "code": "forbidden", "message": "Forbidden"}},
    )
    log_in(env.client, "alice")
    assert env.client.get("/admin").text == "admin area"


def test_requires_with_has_permission(env: Env) -> None:
    class Checked(User):
        async def has_permission(self, name: str) -> bool:
            return name == "audit"

    env.users[1] = Checked(1, "alice", "wonderland")

    @env.app.get("/audit")
    @env.login.requires("audit")
    async def audit(request: Request) -> str:
        return "audit"

    @env.app.get("/both")
    @env.login.requires("audit", "admin")
    async def both(request: Request) -> str:
        return "both"

    log_in(env.client)
    assert env.client.get("/audit").text == "audit"
    assert env.client.get("/both").status_code == 403


def test_requires_with_a_policy(env: Env) -> None:
    calls: list[tuple[str, str, tuple[str, ...]]] = []

    def policy(request: Request, user: User, permissions: tuple[str, ...]) -> bool:
        calls.append((request.path, user.name, permissions))
        return user.name == "bob"

    async def truthy(request: Request, user: User, permissions: tuple[str, ...]) -> Any:
        return "yes"  # only True grants access

    @env.app.get("/policy")
    @env.login.requires("edit", "publish", policy=policy)
    def with_policy(request: Request) -> str:
        return "allowed"

    @env.app.get("/truthy")
    @env.login.requires(policy=truthy)
    async def with_truthy(request: Request) -> str:
        return "allowed"

    log_in(env.client, "alice")
    assert env.client.get("/policy").status_code == 403
    log_in(env.client, "bob")
    assert env.client.get("/policy").text == "allowed"
    assert calls == [
        ("/policy", "alice", ("edit", "publish")),
        ("/policy", "bob", ("edit", "publish")),
    ]
    assert env.client.get("/truthy").status_code == 403


def test_users_without_permissions_are_refused(env: Env) -> None:
    @dataclass
    class Bare:
        id: int
        name: str = "bare"
        password: str = "x"
        session_version: int = 1
        permissions: str = "admin"  # a string is not a collection of permissions

    env.users[1] = Bare(1, "alice", "wonderland")  # type: ignore[assignment]
    log_in(env.client)
    assert env.client.get("/admin").status_code == 403


def test_login_required_alias(env: Env) -> None:
    @env.app.get("/alias")
    @env.login.login_required
    async def alias(request: Request) -> str:
        return "in"

    assert env.client.get("/alias").status_code == 302
    log_in(env.client)
    assert env.client.get("/alias").text == "in"


# -- configuration and misuse -----------------------------------------------------------


def test_explicit_secret_key() -> None:
    e = make_env(secret_key="remember-only-secret-0123456789-abcdef")
    log_in(e.client, remember="yes")
    cookie = e.client.cookies["_remember"]
    signer = URLSafeSerializer(
        "remember-only-secret-0123456789-abcdef",
        salt="junco.security.login.remember",
        signer_kwargs={"digest_method": hashlib.sha256},
    )
    assert signer.loads(cookie)["u"] == 1
    e.client.cookies.pop("session")
    assert e.client.get("/me").json == {"id": 1, "fresh": False}


def test_explicit_session_extension_provides_the_secret() -> None:
    other = Session(secret_key="the-other-session-key-0123456789-abcdef")
    e = make_env(session=other)
    log_in(e.client, remember="yes")
    signer = URLSafeSerializer(
        "the-other-session-key-0123456789-abcdef",
        salt="junco.security.login.remember",
        signer_kwargs={"digest_method": hashlib.sha256},
    )
    assert signer.loads(e.client.cookies["_remember"])["u"] == 1


def test_key_rotation() -> None:
    store = MemoryStore()  # the token records outlive the restarts with new keys
    old_key, new_key = "old-key-0123456789abcdef-0123456789", "new-key-0123456789abcdef-0123456789"
    old = make_env(store, session_key=old_key)
    log_in(old.client, remember="yes")
    cookie = old.client.cookies["_remember"]
    new = make_env(store, session_key=[new_key, old_key])
    client = TestClient(new.app, cookies={"_remember": cookie}).sync
    assert client.get("/me").json == {"id": 1, "fresh": False}
    reissued = client.cookies["_remember"]
    only_new = make_env(store, session_key=new_key)
    again = TestClient(only_new.app, cookies={"_remember": reissued}).sync
    assert again.get("/me").status_code == 200
    for c in (client, again):
        c.close()


@pytest.mark.parametrize(
    "options",
    [
        {"login_url": ""},
        {"login_url": "/login\r\nX: y"},
        {"remember_cookie": "bad name"},
        {"remember_cookie": "a;b"},
        {"remember_cookie": ""},
        {"remember_cookie": "__Host-remember", "secure": False},
        {"remember_cookie": "__Host-remember", "cookie_path": "/app"},
        {"remember_cookie": "__Host-remember", "cookie_domain": "example.com"},
        {"cookie_path": "/a;b"},
        {"cookie_domain": "example.com\r\n"},
        {"samesite": "sideways"},
        {"remember_days": 0},
        {"remember_days": 401},
    ],
)
def test_bad_configuration(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Login(**options)


def test_prefixed_cookie_names() -> None:
    e = make_env(remember_cookie="__Host-remember")
    header = set_cookie(log_in(e.client, remember="yes"), "__Host-remember")
    assert header is not None
    assert "Secure" in header  # demanded by the prefix, even over http
    e = make_env(remember_cookie="remember-me.v2")
    assert set_cookie(log_in(e.client, remember="yes"), "remember-me.v2") is not None


def test_weak_explicit_secret_is_refused() -> None:
    e = make_env(secret_key="short")
    r = log_in(e.client, remember="yes")  # the route turns ValueErrors into 400s
    assert (r.status_code, r.text) == (
        400,
        "remember-cookie secret keys need at least 32 bytes each",
    )


def test_without_sessions_or_loader(sync: Any) -> None:
    app = Junco()
    login = Login()

    @app.get("/")
    @login
    async def index(request: Request) -> str:
        return ""

    assert sync(app).get("/").status_code == 500  # no Session installed
    app2 = Junco()
    Session(app2, KEY)
    login2 = Login()

    @app2.get("/")
    @login2
    async def index2(request: Request) -> str:
        return ""

    assert sync(app2).get("/").status_code == 302  # nothing to load: no loader needed
    cookie = _forge({"u": 1, "v": None, "e": 2_000_000_000, "f": "x", "t": "y"})
    client = TestClient(app2, cookies={"_remember": cookie}).sync
    assert client.get("/").status_code == 500  # no user_loader
    client.close()


def test_user_objects_need_an_id(env: Env) -> None:
    @env.app.post("/odd")
    async def odd(request: Request) -> Any:
        try:
            return await env.login.login_user(request, object())
        except TypeError as exc:
            return str(exc), 400

    assert env.client.post("/odd").status_code == 400


def test_string_user_ids(env: Env) -> None:
    env.users["u-1"] = User("u-1", "carol", "pw")

    @env.app.post("/carol")
    async def carol(request: Request) -> Response:
        return await env.login.login_user(request, env.users["u-1"], remember=True)

    env.client.post("/carol")
    env.client.cookies.pop("session")
    assert env.client.get("/me").json == {"id": "u-1", "fresh": False}


# -- static typing (checked by mypy, never run) -----------------------------------------


async def _typing(request: Request) -> None:
    login = Login()

    @login
    async def a(request: Request, n: int) -> int:
        return n

    @login.fresh
    def b(request: Request, s: str) -> str:
        return s

    @login.requires("x")
    async def c(request: Request) -> dict[str, int]:
        return {}

    assert_type(await a(request, 1), int | Response)
    assert_type(await b(request, "x"), str | Response)
    assert_type(await c(request), dict[str, int] | Response)
    _ = a(request, "x")  # type: ignore[arg-type]
    _ = c(request, 1)  # type: ignore[call-arg]


# -- the example in docs/login.md -------------------------------------------------------


def test_docs_example(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_auth import docs_example

    monkeypatch.setenv("SESSION_KEY", KEY)
    app = docs_example("login")["app"]
    with TestClient(app).sync as client:
        r = client.get("/profile?tab=1")
        assert (r.status_code, r.headers["Location"]) == (302, "/login?next=/profile%3Ftab%3D1")
        assert "<form" in client.get(r.headers["Location"]).text
        fields = {"name": "alice", "password": "wrong"}
        assert client.post("/login", form=fields).status_code == 401
        fields["password"] = "correct horse"
        r = client.post("/login?next=/profile%3Ftab%3D1", form=fields)
        assert (r.status_code, r.headers["Location"]) == (302, "/profile?tab=1")
        assert client.get("/profile").text == "hello alice"
        assert client.get("/settings").status_code == 200
        assert client.get("/admin").text == "admin area"
        r = client.post("/login?next=//evil.example", form={**fields, "remember": "on"})
        assert r.headers["Location"] == "/profile"
        remember = client.cookies["_remember"]
    # the browser restarts: only the remember cookie is left
    with TestClient(app, cookies={"_remember": remember}).sync as client:
        assert client.get("/profile").text == "hello alice"
        assert client.get("/settings").headers["Location"] == "/login?next=/settings"
        assert client.post("/logout").status_code == 303
        assert "_remember" not in client.cookies
        assert client.get("/profile").status_code == 302
