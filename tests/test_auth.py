"""BasicAuth and TokenAuth through the real ASGI path, hostile credentials included."""

from __future__ import annotations

import base64
import inspect
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, assert_type

import pytest

from junco import ConfigurationError, Junco, Request, Response
from junco.security.auth import MAX_CREDENTIALS_LENGTH, BasicAuth, TokenAuth
from junco.testing import SyncTestClient, TestClient


@dataclass
class User:
    name: str


USERS = {"alice": "wonder:land", "bob": "pässwörd"}
TOKENS = {"t0k3n-alice": User("alice"), "abc.DEF_123~+/=": User("bob")}


def basic(username: str | bytes, password: str | bytes = b"") -> dict[str, str]:
    raw = username if isinstance(username, bytes) else username.encode()
    raw += b":" + (password if isinstance(password, bytes) else password.encode())
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def make_basic_app(**options: Any) -> tuple[Junco, BasicAuth, list[tuple[str, str]]]:
    app = Junco()
    auth = BasicAuth(**options)
    calls: list[tuple[str, str]] = []

    @auth.authenticate
    async def verify(request: Request, username: str, password: str) -> User | None:
        calls.append((username, password))
        return User(username) if USERS.get(username) == password else None

    @app.get("/private")
    @auth
    async def private(request: Request) -> str:
        return f"hello {request.g.current_user.name}"

    @app.get("/maybe")
    @auth.optional
    async def maybe(request: Request) -> dict[str, Any]:
        user = request.g.current_user
        return {"user": user.name if user else None}

    return app, auth, calls


@pytest.fixture
def basic_app() -> Iterator[tuple[SyncTestClient, list[tuple[str, str]]]]:
    app, _, calls = make_basic_app()
    client = TestClient(app).sync
    yield client, calls
    client.close()


CHALLENGE = 'Basic realm="Please login", charset="UTF-8"'


# -- BasicAuth --------------------------------------------------------------------------


def test_basic_good_credentials(basic_app: tuple[SyncTestClient, list[Any]]) -> None:
    client, calls = basic_app
    r = client.get("/private", basic("alice", "wonder:land"))
    assert (r.status_code, r.text) == (200, "hello alice")
    assert calls == [("alice", "wonder:land")]  # split at the first colon only
    r = client.get("/private", basic("bob", "pässwörd"))
    assert (r.status_code, r.text) == (200, "hello bob")


def test_basic_challenge_without_credentials(basic_app: tuple[SyncTestClient, list[Any]]) -> None:
    client, calls = basic_app
    r = client.get("/private")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == CHALLENGE
    assert calls == []


def test_basic_wrong_password(basic_app: tuple[SyncTestClient, list[Any]]) -> None:
    client, calls = basic_app
    for headers in (basic("alice", "wrong"), basic("alice", ""), basic("mallory", "x")):
        r = client.get("/private", headers)
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"] == CHALLENGE
    assert len(calls) == 3


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


MALFORMED_BASIC = [
    "",
    " ",
    "Basic",
    "Basic ",
    "Basic    ",
    "Bearer " + _b64(b"alice:wonder:land"),
    "Digest username=alice",
    "Basicx " + _b64(b"alice:wonder:land"),
    "Basic" + _b64(b"alice:wonder:land"),
    "Basic !!!!",
    "Basic YWxpY2U6d29uZGVyOmxhbmQ",  # padding missing
    "Basic YWxp Y2U6d29uZGVyOmxhbmQ=",  # space inside
    "Basic YWxpY2U6d29uZGVyOmxhbmQ=\x0b",
    "Basic " + _b64(b"alice:wonder:land") + "==",
    "Basic " + _b64(b"alicewonderland"),  # no colon
    "Basic " + _b64(b":"),  # empty
    "Basic " + _b64(b""),
    "Basic " + _b64(b"\xff\xfe:\xff"),  # not UTF-8
    "Basic " + _b64(b"ali\xe7e:wonder:land"),  # Latin-1, not UTF-8
    "Basic " + _b64(b"alice\x00:wonder:land"),
    "Basic " + _b64(b"alice:wonder:land\n"),
    "Basic " + _b64(b"alice:wonder\x7f:land"),
    "Basic " + _b64(b"\x1b[31malice:wonder:land"),
    "Basic " + "A" * (MAX_CREDENTIALS_LENGTH + 4),
    "Basic " + _b64(b"alice:" + b"x" * 10_000),
]


@pytest.mark.parametrize("value", MALFORMED_BASIC)
def test_basic_malformed_credentials(
    basic_app: tuple[SyncTestClient, list[Any]], value: str
) -> None:
    client, calls = basic_app
    r = client.get("/private", {"Authorization": value})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == CHALLENGE
    assert calls == []  # never handed to the verify callback
    r = client.get("/maybe", {"Authorization": value})
    assert (r.status_code, r.json) == (200, {"user": None})


@pytest.mark.parametrize(
    "raw",
    [
        b"Basic \xff",
        b"Basic \x00",
        b"Basic YWxpY2U6d29uZGVyOmxhbmQ=\x00",
        b"Basic YWxpY2U6d29uZGVyOmxhbmQ=\r",
        b"Bearer t0k3n-alice\x00",
        b"\xc3\xa9 YWxpY2U6d29uZGVyOmxhbmQ=",
    ],
)
def test_raw_header_bytes(raw: bytes) -> None:
    """Bytes a test client would refuse to send, straight into the ASGI scope."""
    basic_app, _, basic_calls = make_basic_app()
    token_app, _, token_calls = make_token_app()
    for app, path in ((basic_app, "/private"), (token_app, "/api")):
        client = TestClient(app).sync
        headers = [(b"host", b"localhost"), (b"authorization", raw)]
        r = client.request("GET", path, scope={"headers": headers})
        client.close()
        assert r.status_code == 401
    assert basic_calls == []
    assert token_calls == []


def test_basic_repeated_header_is_refused(basic_app: tuple[SyncTestClient, list[Any]]) -> None:
    client, calls = basic_app
    good = basic("alice", "wonder:land")["Authorization"]
    r = client.get("/private", [("Authorization", good), ("Authorization", good)])
    assert r.status_code == 401
    assert calls == []


def test_basic_huge_header_is_431_from_the_app(
    basic_app: tuple[SyncTestClient, list[Any]],
) -> None:
    client, calls = basic_app
    r = client.get("/private", {"Authorization": "Basic " + "A" * 40_000})
    assert r.status_code == 431
    assert calls == []


def test_basic_scheme_is_case_insensitive(basic_app: tuple[SyncTestClient, list[Any]]) -> None:
    client, _ = basic_app
    token = basic("alice", "wonder:land")["Authorization"].split()[1]
    for scheme in ("basic", "BASIC", "bAsIc"):
        r = client.get("/private", {"Authorization": f"{scheme} {token}"})
        assert r.status_code == 200
    r = client.get("/private", {"Authorization": f"Basic   {token}  "})
    assert r.status_code == 200


def test_basic_optional(basic_app: tuple[SyncTestClient, list[Any]]) -> None:
    client, _ = basic_app
    assert client.get("/maybe").json == {"user": None}
    assert client.get("/maybe", basic("alice", "wonder:land")).json == {"user": "alice"}
    assert client.get("/maybe", basic("alice", "nope")).json == {"user": None}


def test_basic_realm_and_charset() -> None:
    app, _, _ = make_basic_app(realm="Staff only", scheme="Basic")
    r = TestClient(app).sync.get("/private")
    assert r.headers["WWW-Authenticate"] == 'Basic realm="Staff only", charset="UTF-8"'


@pytest.mark.parametrize("realm", ['a"b', "a\\b", "a\r\nb", "x\x00", "café"])
def test_basic_refuses_unsafe_realms(realm: str) -> None:
    with pytest.raises(ConfigurationError, match="realm"):
        BasicAuth(realm=realm)


def test_invalid_scheme_or_header() -> None:
    with pytest.raises(ConfigurationError):
        BasicAuth(scheme="Ba sic")
    with pytest.raises(ConfigurationError):
        TokenAuth(header="X-Key\r\n")


def test_sync_callbacks_and_handlers_run_in_threads(sync: Any) -> None:
    app = Junco()
    auth = BasicAuth()
    threads: dict[str, int] = {}

    @auth.authenticate
    def verify(request: Request, username: str, password: str) -> User | None:
        threads["verify"] = threading.get_ident()
        return User(username) if password == "pw" else None

    @app.get("/sync/<int:n>")
    @auth
    def handler(request: Request, n: int) -> dict[str, Any]:
        threads["handler"] = threading.get_ident()
        return {"n": n, "user": request.g.current_user.name}

    @app.get("/gen")
    @auth
    def stream(request: Request) -> Iterator[str]:
        yield "a"
        yield "b"

    @app.get("/loop")
    async def loop_thread(request: Request) -> str:
        threads["loop"] = threading.get_ident()
        return ""

    client = sync(app)
    r = client.get("/sync/7", basic("carol", "pw"))
    assert r.json == {"n": 7, "user": "carol"}
    client.get("/loop")
    assert threads["loop"] not in (threads["verify"], threads["handler"])
    assert client.get("/gen", basic("carol", "pw")).text == "ab"
    assert client.get("/gen", basic("carol", "no")).status_code == 401
    assert client.get("/sync/7").status_code == 401


def test_decorators_keep_the_signature() -> None:
    auth = BasicAuth()

    async def handler(request: Request, id: int, *, flag: bool = False) -> str:
        """Docs."""
        return ""

    def sync_handler(request: Request, name: str) -> str:
        return name

    for decorate in (auth, auth.optional, TokenAuth(), TokenAuth().optional):
        wrapped = decorate(handler)
        assert inspect.signature(wrapped) == inspect.signature(handler)
        assert (wrapped.__name__, wrapped.__doc__) == ("handler", "Docs.")
        assert wrapped.__wrapped__ is handler  # type: ignore[attr-defined]
        wrapped_sync = decorate(sync_handler)
        assert inspect.signature(wrapped_sync) == inspect.signature(sync_handler)
        assert inspect.iscoroutinefunction(wrapped_sync)


def test_url_arguments_reach_the_handler(sync: Any) -> None:
    app, auth, _ = make_basic_app()

    @app.get("/items/<int:item>/<name>")
    @auth
    async def item(request: Request, item: int, name: str) -> dict[str, Any]:
        return {"item": item, "name": name}

    r = sync(app).get("/items/3/x", basic("alice", "wonder:land"))
    assert r.json == {"item": 3, "name": "x"}


def test_missing_verify_callback_is_a_server_error(sync: Any) -> None:
    app = Junco()
    auth = BasicAuth()

    @app.get("/")
    @auth
    async def index(request: Request) -> str:
        return ""

    client = sync(app)
    assert client.get("/").status_code == 401  # no credentials: nothing to verify
    assert client.get("/", basic("a", "b")).status_code == 500


# -- error handling ---------------------------------------------------------------------


def test_custom_errorhandler_gets_the_challenge(sync: Any) -> None:
    app, auth, _ = make_basic_app()

    @auth.errorhandler
    def denied(request: Request) -> tuple[dict[str, str], int]:
        return {"error": "who are you?"}, 401

    r = sync(app).get("/private")
    assert (r.status_code, r.json) == (401, {"error": "who are you?"})
    assert r.headers["WWW-Authenticate"] == CHALLENGE


def test_custom_errorhandler_keeps_its_own_headers(sync: Any) -> None:
    app, auth, _ = make_basic_app()

    @auth.errorhandler
    async def denied(request: Request) -> Response:
        return Response("go away", 401, {"WWW-Authenticate": 'Basic realm="custom"'})

    r = sync(app).get("/private")
    assert r.headers.getlist("WWW-Authenticate") == ['Basic realm="custom"']


def test_custom_errorhandler_with_another_status(sync: Any) -> None:
    app, auth, _ = make_basic_app()

    @auth.errorhandler
    async def denied(request: Request) -> tuple[str, int]:
        return "no", 404

    r = sync(app).get("/private")
    assert r.status_code == 404
    assert "WWW-Authenticate" not in r.headers


def test_error_status_other_than_401(sync: Any) -> None:
    app, _, _ = make_basic_app(error_status=403)
    r = sync(app).get("/private")
    assert r.status_code == 403
    assert "WWW-Authenticate" not in r.headers


def test_app_error_handlers_and_hooks_see_the_failure(sync: Any) -> None:
    app, _, _ = make_basic_app()
    seen: list[int] = []

    @app.errorhandler(401)
    async def unauthorized(request: Request) -> tuple[str, int]:
        return "please log in", 401

    @app.after_error_request
    def after_error(request: Request, response: Response) -> None:
        seen.append(response.status_code)

    r = sync(app).get("/private")
    assert (r.status_code, r.text) == (401, "please log in")
    assert r.headers["WWW-Authenticate"] == CHALLENGE
    assert seen == [401]


# -- TokenAuth --------------------------------------------------------------------------


def make_token_app(**options: Any) -> tuple[Junco, TokenAuth, list[str]]:
    app = Junco()
    auth = TokenAuth(**options)
    calls: list[str] = []

    @auth.authenticate
    def verify(request: Request, token: str) -> User | None:
        calls.append(token)
        return TOKENS.get(token)

    @app.get("/api")
    @auth
    async def api(request: Request) -> dict[str, str]:
        return {"user": request.g.current_user.name}

    @app.get("/maybe")
    @auth.optional
    async def maybe(request: Request) -> dict[str, Any]:
        user = request.g.current_user
        return {"user": user.name if user else None}

    return app, auth, calls


def test_bearer_tokens(sync: Any) -> None:
    app, _, calls = make_token_app()
    client = sync(app)
    assert client.get("/api", {"Authorization": "Bearer t0k3n-alice"}).json == {"user": "alice"}
    assert client.get("/api", {"Authorization": "bearer abc.DEF_123~+/="}).json == {"user": "bob"}
    r = client.get("/api")
    assert (r.status_code, r.headers["WWW-Authenticate"]) == (401, "Bearer")
    r = client.get("/api", {"Authorization": "Bearer wrong"})
    assert (r.status_code, r.headers["WWW-Authenticate"]) == (401, 'Bearer error="invalid_token"')
    assert calls == ["t0k3n-alice", "abc.DEF_123~+/=", "wrong"]


MALFORMED_TOKENS = [
    "",
    "Bearer",
    "Bearer ",
    "Basic dDBrM24tYWxpY2U=",
    "Token t0k3n-alice",
    "Bearert0k3n-alice",
    "Bearer t0k3n alice",
    "Bearer t0k3n\x7f",
    "Bearer t0k3n-\xe9",
    "Bearer " + "a" * (MAX_CREDENTIALS_LENGTH + 1),
]


@pytest.mark.parametrize("value", MALFORMED_TOKENS)
def test_malformed_tokens(sync: Any, value: str) -> None:
    app, _, calls = make_token_app()
    client = sync(app)
    r = client.get("/api", {"Authorization": value})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/maybe", {"Authorization": value}).json == {"user": None}
    assert calls == []


def test_token_in_a_custom_header(sync: Any) -> None:
    app, _, calls = make_token_app(header="X-API-Key", scheme="ApiKey")
    client = sync(app)
    assert client.get("/api", {"X-API-Key": "t0k3n-alice"}).json == {"user": "alice"}
    r = client.get("/api", {"Authorization": "Bearer t0k3n-alice"})
    assert (r.status_code, r.headers["WWW-Authenticate"]) == (401, "ApiKey")
    for bad in ("", "two words", "t0k3n-\x01", "x" * (MAX_CREDENTIALS_LENGTH + 1)):
        assert client.get("/api", {"X-API-Key": bad}).status_code == 401
    r = client.get("/api", [("X-API-Key", "t0k3n-alice"), ("X-API-Key", "t0k3n-alice")])
    assert r.status_code == 401
    assert calls == ["t0k3n-alice"]


def test_token_custom_scheme_on_authorization(sync: Any) -> None:
    app, _, _ = make_token_app(scheme="Token")
    client = sync(app)
    assert client.get("/api", {"Authorization": "Token t0k3n-alice"}).status_code == 200
    assert client.get("/api", {"Authorization": "Bearer t0k3n-alice"}).status_code == 401


def test_token_errorhandler(sync: Any) -> None:
    app, auth, _ = make_token_app()

    @auth.errorhandler
    async def denied(request: Request) -> tuple[dict[str, str], int]:
        return {"error": "bad token"}, 401

    r = sync(app).get("/api", {"Authorization": "Bearer nope"})
    assert (r.status_code, r.json) == (401, {"error": "bad token"})
    assert r.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_basic_and_token_stacked(sync: Any) -> None:
    """Two guards on one route: both must pass; the inner one sets current_user last."""
    app = Junco()
    token_auth = TokenAuth(header="X-Token")
    basic_auth = BasicAuth()
    token_auth.authenticate(lambda request, token: User("svc") if token == "ok" else None)
    basic_auth.authenticate(lambda request, u, p: User(u) if p == "pw" else None)

    @app.get("/")
    @token_auth
    @basic_auth
    async def both(request: Request) -> str:
        return str(request.g.current_user.name)

    client = sync(app)
    assert client.get("/", {"X-Token": "ok", **basic("dave", "pw")}).text == "dave"
    assert client.get("/", {"X-Token": "ok"}).status_code == 401
    assert client.get("/", basic("dave", "pw")).status_code == 401


# -- static typing (checked by mypy, never run) -----------------------------------------


async def _typing(request: Request) -> None:
    auth = BasicAuth()

    @auth
    async def a(request: Request, n: int) -> int:
        return n

    @auth.optional
    def b(request: Request, s: str) -> str:
        return s

    assert_type(await a(request, 1), int | Response)
    assert_type(await b(request, "x"), str | Response)
    _ = a(request, "x")  # type: ignore[arg-type]
    _ = b(request)  # type: ignore[call-arg]


# -- the example in docs/auth.md --------------------------------------------------------


def docs_example(page: str, index: int = 0) -> dict[str, Any]:
    """Run the ``index``-th python block of docs/PAGE.md as a fresh module."""
    text = (Path(__file__).resolve().parent.parent / "docs" / f"{page}.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)
    module = ModuleType(f"docs_{page}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    try:
        exec(compile(blocks[index], f"docs/{page}.md", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module.__dict__


def test_docs_example(sync: Any) -> None:
    client = sync(docs_example("auth")["app"])
    r = client.get("/staff")
    assert (r.status_code, r.headers["WWW-Authenticate"]) == (
        401,
        'Basic realm="Staff", charset="UTF-8"',
    )
    assert client.get("/staff", basic("alice", "correct horse")).text == "hello alice"
    assert client.get("/staff", basic("alice", "wrong horse")).status_code == 401
    assert client.get("/staff", basic("nobody", "x")).status_code == 401
    bearer = {"Authorization": "Bearer s3cr3t-t0ken"}
    assert client.get("/api/me", bearer).json == {"name": "alice"}
    r = client.get("/api/me", {"Authorization": "Bearer guess"})
    assert (r.status_code, r.headers["WWW-Authenticate"]) == (401, 'Bearer error="invalid_token"')
    assert client.get("/api/public").json == {"signed_in": False}
    assert client.get("/api/public", bearer).json == {"signed_in": True}
