"""Sessions: the signed-cookie store, hostile cookies, keys, settings and Microdot's API.

Behaviour shared by every store (timeouts, delete, regenerate, ...) is tested
once per store in tests/stores/test_session_stores.py, with the helpers below.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import sys
import zlib
from pathlib import Path
from typing import Any, cast

import pytest

from junco import Junco, Request, Response, abort
from junco.exceptions import ConfigurationError
from junco.phases import Phase
from junco.security.sessions import (
    MAX_COOKIE_BYTES,
    Session,
    SessionData,
    SessionStore,
    SessionTooLarge,
    _make_signer,
    get_session,
    random_secret_key,
    with_session,
)
from junco.stores.memory import MemoryStore
from junco.stores.redis import RedisStore
from junco.testing import TestClient, TestResponse

KEY = "test-secret-key-0123456789abcdef"
OLD_KEY = "older-secret-key-0123456789abcdef"


class Clock:
    """A settable clock for ``Session(clock=...)``."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_app(store: SessionStore | None = None, **options: Any) -> tuple[Junco, Session]:
    """An app with a session and routes that read, write, delete and regenerate it."""
    app = Junco()
    ext = Session(app, options.pop("secret_key", KEY), store=store, **options)

    @app.get("/read")
    async def read(request: Request) -> dict[str, Any]:
        s = get_session(request)
        return {"data": dict(s), "new": s.new}

    @app.post("/write")
    async def write(request: Request) -> dict[str, Any]:
        s = get_session(request)
        s.update(request.json)
        return {"data": dict(s)}

    @app.get("/peek")
    async def peek(request: Request) -> str:
        return "untouched"

    @app.post("/delete")
    async def delete(request: Request) -> str:
        get_session(request).delete()
        return "deleted"

    @app.post("/logout")
    async def logout(request: Request) -> str:
        s = get_session(request)
        s.delete()
        s["flash"] = "bye"
        return "bye"

    @app.post("/regenerate")
    async def regenerate(request: Request) -> str:
        get_session(request).regenerate()
        return "regenerated"

    @app.post("/pop/<key>")
    async def pop(request: Request, key: str) -> str:
        get_session(request).pop(key, None)
        return "popped"

    @app.post("/fail")
    async def fail(request: Request) -> None:
        get_session(request)["failed"] = True
        abort(401)

    return app, ext


def call(client: TestClient, method: str, path: str, **kw: Any) -> TestResponse:
    return asyncio.run(client.request(method, path, **kw))


def session_cookie(r: TestResponse, name: str = "session") -> tuple[str, list[str]] | None:
    """The value and attributes of the ``Set-Cookie`` for ``name``, if any."""
    for header in r.headers.getlist("set-cookie"):
        first, *attrs = (part.strip() for part in header.split(";"))
        cookie, _, value = first.partition("=")
        if cookie == name:
            return value, attrs
    return None


def read(client: TestClient, **kw: Any) -> dict[str, Any]:
    r = call(client, "GET", "/read", **kw)
    assert r.status_code == 200
    return cast(dict[str, Any], r.json)


# -- the cookie store ------------------------------------------------------------------


def test_untouched_session_costs_no_cookie_and_no_vary() -> None:
    app, _ = make_app()
    client = TestClient(app)
    r = call(client, "GET", "/peek")
    assert r.text == "untouched"
    assert session_cookie(r) is None
    assert "vary" not in r.headers


def test_reading_adds_vary_but_no_cookie() -> None:
    app, _ = make_app()
    client = TestClient(app)
    r = call(client, "GET", "/read")
    assert r.json == {"data": {}, "new": True}
    assert r.headers["vary"] == "Cookie"
    assert session_cookie(r) is None


def test_write_sets_a_secure_by_default_cookie_and_reads_back() -> None:
    app, _ = make_app()
    client = TestClient(app)
    r = call(client, "POST", "/write", json={"user": "ana", "n": 1})
    found = session_cookie(r)
    assert found is not None
    _, attrs = found
    assert attrs == ["Path=/", "HttpOnly", "SameSite=Lax"]
    assert r.headers["vary"] == "Cookie"
    assert read(client) == {"data": {"user": "ana", "n": 1}, "new": False}
    # Reading again writes nothing.
    r = call(client, "GET", "/read")
    assert session_cookie(r) is None


def test_secure_flag_follows_the_scheme_unless_forced() -> None:
    app, _ = make_app()
    found = session_cookie(call(TestClient(app, scheme="https"), "POST", "/write", json={"a": 1}))
    assert found is not None
    assert "Secure" in found[1]
    app, _ = make_app(secure=True)
    found = session_cookie(call(TestClient(app), "POST", "/write", json={"a": 1}))
    assert found is not None
    assert "Secure" in found[1]
    app, _ = make_app(secure=False)
    found = session_cookie(call(TestClient(app, scheme="https"), "POST", "/write", json={"a": 1}))
    assert found is not None
    assert "Secure" not in found[1]


def test_cookie_options_are_configurable() -> None:
    app, _ = make_app(cookie_name="__Host-sid", max_age=3600, samesite="Strict", cookie_path="/")
    client = TestClient(app)
    r = call(client, "POST", "/write", json={"a": 1})
    found = session_cookie(r, "__Host-sid")
    assert found is not None
    assert found[1] == ["Path=/", "Max-Age=3600", "Secure", "HttpOnly", "SameSite=Strict"]
    assert read(client)["data"] == {"a": 1}

    app, _ = make_app(cookie_domain="example.com", cookie_path="/app", samesite=None)
    found = session_cookie(call(TestClient(app), "POST", "/write", json={"a": 1}))
    assert found is not None
    assert found[1] == ["Path=/app", "Domain=example.com", "HttpOnly"]


def test_vary_is_merged_with_the_apps_own() -> None:
    app = Junco()
    Session(app, KEY)

    @app.get("/")
    async def index(request: Request) -> Response:
        get_session(request).get("x")
        return Response("hi", headers={"Vary": "Accept-Encoding"})

    r = asyncio.run(TestClient(app).get("/"))
    assert r.headers["vary"] == "Accept-Encoding, Cookie"


def test_session_data_is_a_tracking_mapping() -> None:
    app = Junco()
    Session(app, KEY)
    seen: dict[str, Any] = {}

    @app.post("/")
    async def index(request: Request) -> str:
        s = cast(Any, request).session
        assert isinstance(s, SessionData)
        seen["before"] = s.modified
        s.setdefault("cart", [])
        s["cart"].append("apple")  # in place: not seen ...
        s.modified = True  # ... until said so
        seen["after"] = s.modified
        seen["repr"] = repr(s)
        seen["keys"] = sorted(s)
        return "ok"

    client = TestClient(app)
    call(client, "POST", "/")
    assert seen == {
        "before": False,
        "after": True,
        "repr": "SessionData({'cart': ['apple']})",
        "keys": ["cart"],
    }
    call(client, "POST", "/")
    assert seen["repr"] == "SessionData({'cart': ['apple', 'apple']})"


def test_clearing_or_emptying_a_session_clears_the_cookie() -> None:
    app, _ = make_app()
    client = TestClient(app)
    call(client, "POST", "/write", json={"a": 1})
    r = call(client, "POST", "/pop/a")
    found = session_cookie(r)
    assert found is not None
    assert found[0] == ""
    assert "Max-Age=0" in found[1]
    assert client.cookies == {}
    # Emptying a session that never had a cookie sends nothing.
    r = call(client, "POST", "/pop/a")
    assert session_cookie(r) is None


def test_session_changes_are_kept_on_error_responses() -> None:
    app, _ = make_app()
    client = TestClient(app)
    r = call(client, "POST", "/fail")
    assert r.status_code == 401
    assert session_cookie(r) is not None
    assert read(client)["data"] == {"failed": True}


def test_sliding_reissues_the_cookie_on_every_request() -> None:
    clock = Clock()
    app, _ = make_app(idle_timeout=10, sliding=True, clock=clock)
    client = TestClient(app)
    call(client, "POST", "/write", json={"a": 1})
    clock.advance(5)
    r = call(client, "GET", "/peek")  # the app does not even look at the session
    assert session_cookie(r) is not None
    assert r.headers["vary"] == "Cookie"
    # Without sliding, nothing is re-issued.
    app, _ = make_app(idle_timeout=10, clock=clock)
    client = TestClient(app)
    call(client, "POST", "/write", json={"a": 1})
    assert session_cookie(call(client, "GET", "/peek")) is None
    assert session_cookie(call(client, "GET", "/read")) is None


# -- size ------------------------------------------------------------------------------


def test_a_session_too_big_for_a_cookie_fails_at_save() -> None:
    app = Junco()
    Session(app, KEY)

    @app.post("/explicit")
    async def explicit(request: Request) -> tuple[str, int]:
        s = get_session(request)
        s["blob"] = secrets.token_hex(MAX_COOKIE_BYTES)
        try:
            s.save()
        except SessionTooLarge as exc:
            del s["blob"]
            return str(exc), 413
        return "saved", 200

    @app.post("/implicit")
    async def implicit(request: Request) -> str:
        get_session(request)["blob"] = secrets.token_hex(MAX_COOKIE_BYTES)
        return "saved"

    @app.post("/fits")
    async def fits(request: Request) -> str:
        get_session(request)["blob"] = secrets.token_hex(MAX_COOKIE_BYTES // 4)
        return "saved"

    client = TestClient(app)
    r = call(client, "POST", "/explicit")
    assert r.status_code == 413
    assert "server-side store" in r.text
    assert session_cookie(r) is None
    r = call(client, "POST", "/implicit")
    assert r.status_code == 500
    assert session_cookie(r) is None
    r = call(client, "POST", "/fits")
    found = session_cookie(r)
    assert r.status_code == 200
    assert found is not None
    assert len("session=" + found[0]) <= MAX_COOKIE_BYTES


def test_values_must_be_json() -> None:
    app = Junco()
    Session(app, KEY)

    @app.post("/")
    async def index(request: Request) -> str:
        get_session(request)["when"] = object()
        return "ok"

    r = asyncio.run(TestClient(app).post("/"))
    assert r.status_code == 500
    assert session_cookie(r) is None


# -- hostile cookies -------------------------------------------------------------------


def signed_cookie(ext: Session, payload: Any) -> str:
    """What junco's own signer makes of ``payload`` (a validly signed cookie)."""
    return ext._signer.dumps(payload)


def signed_raw(ext: Session, raw: bytes) -> str:
    """``raw`` bytes as the payload of a validly signed cookie (not JSON at all)."""
    encoded = base64.urlsafe_b64encode(raw).rstrip(b"=")
    return ext._signer.sign(encoded.decode())


def hostile_cookies(ext: Session, good: str) -> dict[str, str]:
    now = ext.clock()
    other, _ = make_app(secret_key="someone-elses-key-0123456789-abcdef")
    foreign = call(TestClient(other), "POST", "/write", json={"user": "root"})
    found = session_cookie(foreign)
    assert found is not None
    payload, _, sig = good.rpartition(".")
    return {
        "tampered": payload[:-3] + ("AAA" if payload[-3:] != "AAA" else "BBB") + "." + sig,
        "truncated": good[: len(good) // 2],
        "no signature": payload,
        "bad signature": payload + ".xyz",
        "empty": "",
        "foreign key": found[0],
        "oversized": signed_cookie(ext, {"d": {"x": secrets.token_hex(4000)}, "c": now, "a": now}),
        "not json": signed_raw(ext, b"{not json"),
        "not utf-8": signed_raw(ext, b"\xff\xfe"),
        "a list": signed_cookie(ext, [1, 2, 3]),
        "a string": signed_cookie(ext, "admin"),
        "a number": signed_cookie(ext, 42),
        "null": signed_cookie(ext, None),
        "data not an object": signed_cookie(ext, {"d": ["user"], "c": now, "a": now}),
        "no timestamps": signed_cookie(ext, {"d": {"user": "root"}}),
        "string timestamps": signed_cookie(ext, {"d": {"user": "root"}, "c": "now", "a": "now"}),
        "bool timestamps": signed_cookie(ext, {"d": {"user": "root"}, "c": True, "a": True}),
        "nan timestamps": signed_cookie(
            ext, {"d": {"user": "root"}, "c": float("nan"), "a": float("nan")}
        ),
        "an id instead": "x" * 43 + ".sig",
        "latin-1 junk": "\xe9\xff" * 10,
        "padded signature": good + "=",
        "unused signature bits set": good[:-1] + _other_low_bits(good[-1]),
        "inflation bomb": ext._signer.sign(
            "." + base64.urlsafe_b64encode(zlib.compress(b" " * 200_000)).rstrip(b"=").decode()
        ),
        "signed for another purpose": _make_signer(KEY, ids_only=True).sign(payload),
    }


def _other_low_bits(last: str) -> str:
    """Another base64url character carrying the same 4 data bits (the last of 43)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    i = alphabet.index(last)
    return alphabet[i ^ 1]


def test_hostile_cookies_give_an_anonymous_session() -> None:
    app, ext = make_app(idle_timeout=60, absolute_timeout=600)
    client = TestClient(app)
    found = session_cookie(call(client, "POST", "/write", json={"user": "ana"}))
    assert found is not None
    assert read(client)["data"] == {"user": "ana"}  # the genuine cookie works
    for label, value in hostile_cookies(ext, found[0]).items():
        hostile = TestClient(app, cookies={"session": value})
        r = call(hostile, "GET", "/read")
        assert r.status_code == 200, label
        assert r.json == {"data": {}, "new": True}, label
        assert session_cookie(r) is None, label
        # ... and the client can still start a real session over it.
        r = call(hostile, "POST", "/write", json={"fresh": 1})
        assert r.status_code == 200, label
        assert read(hostile)["data"] == {"fresh": 1}, label


def test_big_sessions_are_compressed_and_round_trip() -> None:
    app, _ = make_app()
    client = TestClient(app)
    data = {"items": ["same text again"] * 100}
    found = session_cookie(call(client, "POST", "/write", json=data))
    assert found is not None
    assert found[0].startswith(".")  # compressed, as itsdangerous marked it
    assert len(found[0]) < len(json.dumps(data))
    assert read(client)["data"] == data


def test_a_huge_cookie_header_is_refused_before_verifying() -> None:
    app, _ = make_app()
    r = call(TestClient(app, cookies={"session": "A" * 20_000}), "GET", "/read")
    assert r.status_code == 200
    assert r.json == {"data": {}, "new": True}


# -- keys ------------------------------------------------------------------------------


def test_key_rotation_first_key_signs_all_keys_verify() -> None:
    old_app, _ = make_app(secret_key=OLD_KEY)
    client = TestClient(old_app)
    call(client, "POST", "/write", json={"user": "ana"})
    old_cookie = client.cookies["session"]

    rotated, _ = make_app(secret_key=[KEY, OLD_KEY])
    client = TestClient(rotated, cookies={"session": old_cookie})
    assert read(client)["data"] == {"user": "ana"}
    call(client, "POST", "/write", json={"n": 2})
    new_cookie = client.cookies["session"]
    assert new_cookie != old_cookie

    new_only, _ = make_app(secret_key=KEY)
    assert read(TestClient(new_only, cookies={"session": new_cookie}))["data"] == {
        "user": "ana",
        "n": 2,
    }
    assert read(TestClient(new_only, cookies={"session": old_cookie}))["new"] is True
    old_only, _ = make_app(secret_key=OLD_KEY)
    assert read(TestClient(old_only, cookies={"session": new_cookie}))["new"] is True


@pytest.mark.parametrize(
    "secret_key",
    [None, "", b"", [], "short", [KEY, "short"], [b"x" * 15], [32], [KEY, None]],
)
def test_weak_or_missing_keys_are_refused(secret_key: Any) -> None:
    with pytest.raises(ConfigurationError):
        Session(Junco(), secret_key)


def test_a_debug_app_without_a_key_gets_a_random_one(caplog: pytest.LogCaptureFixture) -> None:
    from junco.server.startup import RANDOM_KEY_STATE

    with pytest.raises(ConfigurationError, match="secret_key"):
        Session(Junco())  # not in debug mode: a key is required
    app = Junco(debug=True)
    with caplog.at_level("WARNING", logger="junco"):
        ext = Session(app)
    assert "using a random one (debug mode)" in caplog.text
    assert app.state[RANDOM_KEY_STATE] is True
    assert isinstance(ext.secret_key, str)
    assert len(ext.secret_key.encode()) >= 32
    other = Junco(debug=True)
    assert Session(other).secret_key != ext.secret_key  # drawn per app, at random

    @app.get("/set")
    async def set_(request: Request) -> str:
        request.session["n"] = 1
        return "set"

    @app.get("/get")
    async def get(request: Request) -> Any:
        return {"n": request.session.get("n")}

    async def main() -> Any:
        client = TestClient(app)
        await client.get("/set")
        return (await client.get("/get")).json

    assert asyncio.run(main()) == {"n": 1}  # the random key signs and verifies


def test_random_secret_key_marks_the_app() -> None:
    from junco.server.startup import RANDOM_KEY_STATE

    app = Junco()
    key = random_secret_key(app)
    assert len(key) >= 43
    assert app.state[RANDOM_KEY_STATE] is True
    Session(app, key)  # strong enough for the key rule
    assert RANDOM_KEY_STATE not in Junco().state
    assert random_secret_key() != random_secret_key()


def test_sessions_need_no_itsdangerous(monkeypatch: pytest.MonkeyPatch) -> None:
    # Cookies are signed with hmac.digest directly; only the stdlib is needed.
    monkeypatch.setitem(sys.modules, "itsdangerous", None)
    app, _ = make_app()
    client = TestClient(app)
    call(client, "POST", "/write", json={"a": 1})
    assert read(client)["data"] == {"a": 1}


def test_bytes_keys_work() -> None:
    app, _ = make_app(secret_key=[KEY.encode(), OLD_KEY.encode()])
    client = TestClient(app)
    call(client, "POST", "/write", json={"a": 1})
    assert read(client)["data"] == {"a": 1}


# -- settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"samesite": "sometimes"},
        {"samesite": "None", "secure": False},
        {"cookie_name": "bad name"},
        {"cookie_name": "a;b"},
        {"cookie_name": ""},
        {"cookie_name": "__Host-s", "cookie_domain": "example.com"},
        {"cookie_name": "__Host-s", "cookie_path": "/app"},
        {"cookie_name": "__Secure-s", "secure": False},
        {"idle_timeout": 0},
        {"absolute_timeout": -5},
        {"max_age": 0},
        {"cookie_options": {"http_only": False}},
        {"cookie_options": {"expires": "tomorrow"}},
    ],
)
def test_unsafe_or_broken_settings_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Session(Junco(), KEY, **options)


def test_samesite_none_implies_secure() -> None:
    app, _ = make_app(samesite="None")
    found = session_cookie(call(TestClient(app), "POST", "/write", json={"a": 1}))
    assert found is not None
    assert "Secure" in found[1]
    assert "SameSite=None" in found[1]


def test_get_session_without_a_session_extension() -> None:
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> str:
        with pytest.raises(RuntimeError, match="Session"):
            get_session(request)
        return "refused"

    assert asyncio.run(TestClient(app).get("/")).text == "refused"


# -- Microdot's API --------------------------------------------------------------------


def test_microdot_style_with_session_save_delete_and_initialize() -> None:
    app = Junco()
    ext = Session()
    ext.initialize(app, secret_key=KEY, cookie_options={"path": "/", "max_age": 60})

    @app.get("/")
    @with_session
    async def index(request: Request, session: SessionData) -> str:
        session["n"] = session.get("n", 0) + 1
        session.save()
        return str(session["n"])

    @app.get("/sync")
    @with_session
    def sync(request: Request, session: SessionData) -> str:
        return f"sync {session.get('n')}"

    @app.get("/item/<int:id>")
    @with_session
    async def item(request: Request, id: int, session: SessionData) -> str:
        return f"{id} {session.get('n')}"

    @app.get("/kw")
    @with_session
    async def kw(request: Request, *, session: SessionData) -> str:
        return f"kw {session.get('n')}"

    @app.post("/logout")
    async def logout(request: Request) -> str:
        ext.delete(request)
        return "bye"

    @app.post("/replace")
    async def replace(request: Request) -> str:
        ext.update(request, {"n": 10})
        ext.update(request, ext.get(request))
        return "replaced"

    client = TestClient(app)
    assert call(client, "GET", "/").text == "1"
    r = call(client, "GET", "/")
    assert r.text == "2"
    found = session_cookie(r)
    assert found is not None
    assert "Max-Age=60" in found[1]
    assert call(client, "GET", "/sync").text == "sync 2"
    assert call(client, "GET", "/item/7").text == "7 2"
    assert call(client, "GET", "/kw").text == "kw 2"
    assert call(client, "POST", "/replace").text == "replaced"
    assert call(client, "GET", "/").text == "11"
    call(client, "POST", "/logout")
    assert client.cookies == {}
    assert call(client, "GET", "/").text == "1"


def test_init_app_later_registers_the_extension() -> None:
    app = Junco()
    ext = Session(secret_key=KEY)
    assert "session" not in app.extensions
    ext.init_app(app)
    assert app.extensions["session"] is ext
    with pytest.raises(ConfigurationError):
        Session().init_app(Junco())


def test_another_extension_can_load_the_session_first() -> None:
    app = Junco()
    ext = Session(secret_key=KEY, store=MemoryStore())

    class Early:
        phase = Phase.GUARD  # runs before the session's own hook (SESSION)

        async def before_request(self, request: Request) -> None:
            s = await ext.load(request)
            request.g.user = s.get("user")

    app.add_middleware(Early())
    ext.init_app(app)

    @app.post("/login")
    async def login(request: Request) -> str:
        get_session(request)["user"] = "ana"
        return "in"

    @app.get("/who")
    async def who(request: Request) -> str:
        return str(request.g.user)

    client = TestClient(app)
    assert call(client, "GET", "/who").text == "None"
    call(client, "POST", "/login")
    assert call(client, "GET", "/who").text == "ana"


def test_a_server_side_session_used_before_loading_is_an_error() -> None:
    app = Junco()
    ext = Session(secret_key=KEY, store=MemoryStore())
    seen: list[str] = []

    class TooEarly:
        phase = Phase.GUARD  # before the session's own hook, and not loading it

        def before_request(self, request: Request) -> None:
            with pytest.raises(RuntimeError, match="no session here"):
                get_session(request)
            request.__dict__["session"] = SessionData(ext, request)
            with pytest.raises(RuntimeError, match="before it was loaded") as info:
                get_session(request).get("user")
            seen.append(str(info.value))

    app.add_middleware(TooEarly())
    ext.init_app(app)

    @app.get("/")
    async def index(request: Request) -> str:
        return "ok"

    assert asyncio.run(TestClient(app).get("/")).text == "ok"
    assert len(seen) == 1


# -- docs/sessions.md ------------------------------------------------------------------

DOC = Path(__file__).resolve().parent.parent / "docs" / "sessions.md"


def doc_example(marker: str) -> dict[str, Any]:
    """Run the one python block of docs/sessions.md that contains ``marker``."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    found = [b for b in blocks if marker in b]
    assert len(found) == 1, marker
    namespace: dict[str, Any] = {"__name__": "docs_sessions"}
    exec(compile(found[0], str(DOC), "exec"), namespace)
    return namespace


def test_docs_first_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_KEY", KEY)
    app = doc_example('@app.post("/login")')["app"]
    client = TestClient(app)
    assert call(client, "GET", "/").text == "hello stranger"
    assert call(client, "POST", "/login", form={"user": "ana"}).text == "welcome"
    assert call(client, "GET", "/").text == "hello ana"
    call(client, "POST", "/logout")
    assert call(client, "GET", "/").text == "hello stranger"


def test_docs_microdot_example() -> None:
    client = TestClient(doc_example("@with_session")["app"])
    assert call(client, "GET", "/").text == "visit 1"
    assert call(client, "GET", "/").text == "visit 2"


def test_docs_store_examples() -> None:
    ext = doc_example("store=MemoryStore()")["app"].extensions["session"]
    assert (ext.idle_timeout, ext.absolute_timeout, ext.sliding) == (1800, 43200, True)
    ext = doc_example('store="redis://')["app"].extensions["session"]
    assert isinstance(ext.store, RedisStore)
    assert ext.store.url == "redis://127.0.0.1:6379/0"
    assert ext.store.prefix == "junco:session:"
    asyncio.run(ext.store.close())  # never connected: nothing to wait for
    assert isinstance(doc_example("class MyStore")["MyStore"](), SessionStore)


def test_docs_testing_example() -> None:
    namespace = doc_example("clock.now += 61")  # its asserts run as it executes
    assert namespace["clock"].now == 1_000_061.0


def test_a_cookie_seen_before_still_decodes_afresh_and_expires() -> None:
    """The signer remembers verified cookies; each request still gets its own data and timeouts."""
    clock = Clock()
    app, ext = make_app(idle_timeout=10, clock=clock)

    @app.post("/mutate")
    async def mutate(request: Request) -> str:
        get_session(request)["cart"].append("unsaved")  # in place: not seen, not written
        return "ok"

    client = TestClient(app)
    found = session_cookie(call(client, "POST", "/write", json={"cart": ["a"]}))
    assert found is not None
    assert read(client)["data"] == {"cart": ["a"]}
    assert call(client, "POST", "/mutate").status_code == 200
    assert read(client)["data"] == {"cart": ["a"]}  # the in-place change did not stick
    # A tampered copy of a remembered cookie is still refused.
    tampered = found[0][:-2] + ("AA" if not found[0].endswith("AA") else "BB")
    assert read(TestClient(app, cookies={"session": tampered}))["data"] == {}
    clock.advance(11)
    assert read(client) == {"data": {}, "new": True}  # remembered, but expired all the same
    # However many valid cookies clients present, the signer remembers a bounded number.
    for i in range(600):
        ext._signer.loads(ext._encode({"n": i}, clock(), clock()))
    assert len(ext._signer._seen) <= 256
