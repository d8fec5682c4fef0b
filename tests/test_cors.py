"""CORS: configuration checks, exact origin echo, preflights, Vary, errors, hostile origins."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from junco import ConfigurationError, Junco, Request, Response, abort
from junco.security.cors import CORS, PREFLIGHT_REFUSAL, normalize_origin
from junco.security.security_headers import SecurityHeaders
from junco.security.sessions import Session
from junco.testing import TestClient, TestResponse

APP_ORIGIN = "https://app.example.com"
OTHER_ORIGIN = "http://localhost:3000"
PREFLIGHT_VARY = {"origin", "access-control-request-method", "access-control-request-headers"}


def fetch(app: Junco, method: str, path: str, **kw: Any) -> TestResponse:
    return asyncio.run(TestClient(app).request(method, path, **kw))


def raw(app: Junco, method: str, path: str, headers: list[tuple[bytes, bytes]]) -> TestResponse:
    """A request with exactly these header bytes (plus Host)."""
    scope = {"headers": [(b"host", b"localhost"), *headers]}
    return fetch(app, method, path, scope=scope)


def preflight(
    app: Junco, path: str = "/items", origin: str = APP_ORIGIN, method: str = "PUT", **extra: str
) -> TestResponse:
    headers = {"Origin": origin, "Access-Control-Request-Method": method, **extra}
    return fetch(app, "OPTIONS", path, headers=headers)


def vary_fields(response: TestResponse) -> list[str]:
    """The Vary field names, checking there is exactly one Vary header."""
    values = response.headers.getlist("vary")
    assert len(values) == 1, values
    fields = [f.strip().lower() for f in values[0].split(",")]
    assert len(fields) == len(set(fields)), fields
    return fields


def make_app(**options: Any) -> tuple[Junco, CORS]:
    app = Junco()
    options.setdefault("allowed_origins", [APP_ORIGIN, OTHER_ORIGIN])
    cors = CORS(app, **options)

    @app.route("/items", methods=["GET", "POST", "PUT", "DELETE"])
    async def items(request: Request) -> str:
        return "items"

    @app.get("/items/<int:item_id>")
    async def item(request: Request, item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/boom")
    async def boom(request: Request) -> str:
        raise RuntimeError("kaboom")

    @app.get("/forbidden")
    async def forbidden(request: Request) -> str:
        abort(403)

    return app, cors


# -- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("https://example.com", "https://example.com"),
        ("HTTPS://Example.COM", "https://example.com"),
        ("https://example.com/", "https://example.com"),
        ("https://example.com:443", "https://example.com"),
        ("http://example.com:80", "http://example.com"),
        ("http://example.com:443", "http://example.com:443"),
        ("https://example.com:8443", "https://example.com:8443"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("http://[0:0:0:0:0:0:0:1]:8000", "http://[::1]:8000"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("  https://example.com  ", "https://example.com"),
        ("capacitor://localhost", "capacitor://localhost"),
    ],
)
def test_origins_are_normalised(given: str, canonical: str) -> None:
    assert normalize_origin(given) == canonical
    assert CORS(allowed_origins=[given]).allowed_origins == (canonical,)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "example.com",
        "https://",
        "https://example.com/path",
        "https://example.com?x=1",
        "https://example.com#top",
        "https://user@example.com",
        "https://example.com:99999",
        "https://example.com:port",
        "https://exa mple.com",
        "https://example.com\\@evil.com",
        "1https://example.com",
        "https://" + "a" * 3000 + ".com",
        "null",
        "NULL",
    ],
)
def test_malformed_origins_are_refused_at_construction(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        CORS(allowed_origins=[bad])


def test_wildcard_with_credentials_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="credentials"):
        CORS(allowed_origins="*", allow_credentials=True)
    with pytest.raises(ConfigurationError, match="credentials"):
        CORS(allowed_origins=["*"], allow_credentials=True)
    with pytest.raises(ConfigurationError):
        CORS(allowed_origins=["*", APP_ORIGIN])
    with pytest.raises(ConfigurationError):
        CORS(allowed_origins=[APP_ORIGIN], allow_credentials=True, expose_headers=["*"])
    assert CORS(allowed_origins="*").allowed_origins == "*"


@pytest.mark.parametrize(
    "options",
    [
        {"allowed_methods": ["GET", "BAD METHOD"]},
        {"allowed_methods": ["*"]},
        {"allowed_headers": ["X-Ok", "X-Bad:"]},
        {"expose_headers": ["X-Ok\r\nSet-Cookie: a=b"]},
        {"max_age": -1},
        {"max_age": True},
        {"max_age": 1.5},
        {"allowed_origins": [42]},
    ],
)
def test_malformed_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        CORS(**options)


def test_lists_are_normalised_and_deduplicated() -> None:
    cors = CORS(
        allowed_origins=[APP_ORIGIN, APP_ORIGIN + "/", APP_ORIGIN.upper()],
        allowed_methods=["get", "GET", "Put"],
        allowed_headers=["X-Api-Key", "x-api-key"],
    )
    assert cors.allowed_origins == (APP_ORIGIN,)
    assert cors.allowed_methods == ("GET", "PUT")
    assert cors.allowed_headers == ("X-Api-Key",)
    assert CORS(allowed_origins=APP_ORIGIN).allowed_origins == (APP_ORIGIN,)


# -- actual requests ---------------------------------------------------------------------


def test_an_allowed_origin_is_echoed_with_credentials_and_exposed_headers() -> None:
    app, _ = make_app(allow_credentials=True, expose_headers=["X-Total", "X-Page"])
    response = fetch(app, "GET", "/items", headers={"Origin": APP_ORIGIN})
    assert response.status_code == 200
    assert response.text == "items"
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-expose-headers"] == "X-Total, X-Page"
    assert vary_fields(response) == ["origin"]
    other = fetch(app, "POST", "/items", headers={"Origin": OTHER_ORIGIN})
    assert other.headers["access-control-allow-origin"] == OTHER_ORIGIN


def test_without_credentials_there_is_no_credentials_header() -> None:
    app, _ = make_app()
    response = fetch(app, "GET", "/items", headers={"Origin": APP_ORIGIN})
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "access-control-allow-credentials" not in response.headers
    assert "access-control-expose-headers" not in response.headers


@pytest.mark.parametrize(
    "origin",
    [
        b"null",
        b"https://evil.example",
        b"https://app.example.com.evil.com",
        b"https://evil.com/https://app.example.com",
        b"https://app.example.com.",
        b"HTTPS://APP.EXAMPLE.COM",
        b"https://App.example.com",
        b"https://app.example.com/",
        b"https://app.example.com/path",
        b"https://app.example.com:443",
        b"http://app.example.com",
        b"https://app.example.com:8443",
        b"https://app.example.com, https://evil.example",
        b" https://app.example.com",
        b"*",
        b"",
        b"https://" + b"a" * 10_000 + b".com",
        b"https://app.example.com" + b"\xff",
        "https://äpp.example.com".encode(),
        "https://app.example.com\u00e9".encode("latin-1"),
    ],
)
def test_hostile_origins_are_never_echoed(origin: bytes) -> None:
    app, _ = make_app(allow_credentials=True)
    response = raw(app, "GET", "/items", [(b"origin", origin)])
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers
    assert vary_fields(response) == ["origin"]
    refused = raw(
        app,
        "OPTIONS",
        "/items",
        [(b"origin", origin), (b"access-control-request-method", b"PUT")],
    )
    assert refused.status_code == 403
    assert refused.text == PREFLIGHT_REFUSAL
    assert not [h for h in refused.headers if h.startswith("access-control-")]


def test_two_origin_headers_are_not_an_allowed_origin() -> None:
    app, _ = make_app()
    both = [(b"origin", APP_ORIGIN.encode()), (b"origin", b"https://evil.example")]
    response = raw(app, "GET", "/items", both)
    assert "access-control-allow-origin" not in response.headers
    preflighted = raw(app, "OPTIONS", "/items", [*both, (b"access-control-request-method", b"PUT")])
    assert preflighted.status_code == 403


def test_vary_origin_even_without_an_origin_or_for_a_refused_one() -> None:
    app, _ = make_app()
    plain = fetch(app, "GET", "/items")
    assert "access-control-allow-origin" not in plain.headers
    assert vary_fields(plain) == ["origin"]
    refused = fetch(app, "GET", "/items", headers={"Origin": "https://evil.example"})
    assert vary_fields(refused) == ["origin"]


def test_vary_is_one_merged_header_with_other_components() -> None:
    app = Junco()
    Session(app, secret_key="s" * 32)
    CORS(app, allowed_origins=[APP_ORIGIN])

    @app.get("/")
    async def index(request: Request) -> Response:
        request.session.get("user")  # reading the session makes the response vary on Cookie
        response = Response("hi", headers={"Vary": "Accept-Encoding"})
        response.headers.add("Vary", "Accept-Language")  # a second Vary line, merged too
        return response

    response = fetch(app, "GET", "/", headers={"Origin": APP_ORIGIN})
    assert sorted(vary_fields(response)) == [
        "accept-encoding",
        "accept-language",
        "cookie",
        "origin",
    ]
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN


@pytest.mark.parametrize("cors_first", [True, False])
def test_vary_merges_whichever_hook_runs_last(cors_first: bool) -> None:
    app = Junco()
    if cors_first:
        CORS(app, allowed_origins=[APP_ORIGIN])
    Session(app, secret_key="s" * 32)
    if not cors_first:
        CORS(app, allowed_origins=[APP_ORIGIN])

    @app.get("/")
    async def index(request: Request) -> tuple[str, dict[str, str]]:
        request.session.get("user")
        return "hi", {"Vary": "Accept-Encoding"}

    @app.get("/plain")
    async def plain(request: Request) -> tuple[str, dict[str, str]]:
        return "hi", {"Vary": "accept-encoding, origin"}

    response = fetch(app, "GET", "/", headers={"Origin": APP_ORIGIN})
    assert sorted(vary_fields(response)) == ["accept-encoding", "cookie", "origin"]
    already = fetch(app, "GET", "/plain", headers={"Origin": APP_ORIGIN})
    assert vary_fields(already) == ["accept-encoding", "origin"]


def test_a_handler_that_already_set_the_origin_header_is_left_alone() -> None:
    app, _ = make_app()

    @app.get("/own")
    async def own(request: Request) -> tuple[str, dict[str, str]]:
        return "mine", {"Access-Control-Allow-Origin": "https://partner.example"}

    response = fetch(app, "GET", "/own", headers={"Origin": APP_ORIGIN})
    assert response.headers["access-control-allow-origin"] == "https://partner.example"
    assert vary_fields(response) == ["origin"]


@pytest.mark.parametrize(
    ("path", "status"), [("/nowhere", 404), ("/boom", 500), ("/forbidden", 403), ("/items/x", 404)]
)
def test_error_responses_carry_the_headers_too(path: str, status: int) -> None:
    app, _ = make_app(allow_credentials=True)
    response = fetch(app, "GET", path, headers={"Origin": APP_ORIGIN})
    assert response.status_code == status
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert vary_fields(response) == ["accept", "origin"]  # junco's errors vary on Accept
    assert "kaboom" not in response.text


def test_405_and_custom_error_handlers_are_decorated() -> None:
    app, _ = make_app()

    @app.errorhandler(404)
    async def not_found(request: Request) -> tuple[str, int]:
        return "no such page", 404

    missing = fetch(app, "GET", "/nowhere", headers={"Origin": APP_ORIGIN})
    assert missing.text == "no such page"
    assert missing.headers["access-control-allow-origin"] == APP_ORIGIN
    wrong = fetch(app, "PATCH", "/items", headers={"Origin": APP_ORIGIN})
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, POST, PUT, DELETE, HEAD, OPTIONS"
    assert wrong.headers["access-control-allow-origin"] == APP_ORIGIN


def test_wildcard_sends_a_star_to_everyone_and_needs_no_vary() -> None:
    app, _ = make_app(allowed_origins="*", expose_headers=["X-Total"])
    for headers in ({"Origin": "https://anyone.example"}, {"Origin": "null"}, {}):
        response = fetch(app, "GET", "/items", headers=headers)
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["access-control-expose-headers"] == "X-Total"
        assert "vary" not in response.headers
    ok = preflight(app, origin="https://anyone.example")
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in ok.headers


def test_no_allowed_origins_allows_none() -> None:
    app, cors = make_app(allowed_origins=None)
    assert cors.allowed_origins == ()
    response = fetch(app, "GET", "/items", headers={"Origin": APP_ORIGIN})
    assert "access-control-allow-origin" not in response.headers
    assert preflight(app).status_code == 403


# -- preflights --------------------------------------------------------------------------


def test_a_valid_preflight_is_answered_before_routing() -> None:
    app, _ = make_app(allow_credentials=True, max_age=600)
    calls: list[str] = []

    @app.route("/items", methods=["OPTIONS"])
    async def options(request: Request) -> str:
        calls.append("handler")
        return "handler"

    response = preflight(app, **{"Access-Control-Request-Headers": "Content-Type, Range"})
    assert response.status_code == 204
    assert response.body == b""
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert response.headers["access-control-allow-methods"] == "PUT"
    assert response.headers["access-control-allow-headers"] == "content-type, range"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-max-age"] == "600"
    assert set(vary_fields(response)) == PREFLIGHT_VARY
    assert calls == []
    # An OPTIONS request that is not a preflight reaches routing (and the handler).
    plain = fetch(app, "OPTIONS", "/items", headers={"Origin": APP_ORIGIN})
    assert plain.text == "handler"
    assert plain.headers["access-control-allow-origin"] == APP_ORIGIN


def test_plain_options_gets_allow_and_cors_headers() -> None:
    app, _ = make_app()
    response = fetch(app, "OPTIONS", "/items/3", headers={"Origin": APP_ORIGIN})
    assert response.status_code == 200
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN


def test_preflight_methods_default_to_what_the_path_routes() -> None:
    app, _ = make_app()
    assert preflight(app, method="DELETE").status_code == 204
    assert preflight(app, "/items/7", method="GET").status_code == 204
    assert preflight(app, "/items/7", method="HEAD").status_code == 204  # HEAD follows GET
    assert preflight(app, "/items/7", method="DELETE").status_code == 403
    assert preflight(app, method="PATCH").status_code == 403
    assert preflight(app, method="patch").status_code == 403  # methods are case-sensitive
    assert preflight(app, method="put").status_code == 403


def test_explicit_methods_are_sent_as_a_list_and_enforced() -> None:
    app, _ = make_app(allowed_methods=["GET", "PUT"])
    ok = preflight(app, method="PUT")
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-methods"] == "GET, PUT"
    refused = preflight(app, method="DELETE")  # routed, but not allowed cross-origin
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    assert preflight(app, "/items/1", method="PUT").status_code == 403  # allowed, but no route


@pytest.mark.parametrize(
    "method", ["", " ", "PUT, DELETE", "P(T", "X" * 5000, "PUT\u00e9"], ids=repr
)
def test_malformed_requested_methods_are_refused(method: str) -> None:
    app, _ = make_app()
    response = preflight(app, method=method)
    assert response.status_code == 403
    assert not [h for h in response.headers if h.startswith("access-control-")]


def test_requested_headers_must_be_allowed_case_insensitively() -> None:
    app, _ = make_app(allowed_headers=["X-Api-Key", "Authorization"])
    ok = preflight(
        app, **{"Access-Control-Request-Headers": "x-api-key,AUTHORIZATION , , X-API-KEY"}
    )
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-headers"] == "x-api-key, authorization"
    for requested in ("x-api-key, x-other", "x-bad:header", "x-api-key;", "é"):
        refused = preflight(app, **{"Access-Control-Request-Headers": requested})
        assert refused.status_code == 403, requested
        assert "access-control-allow-headers" not in refused.headers


def test_by_default_only_safelisted_headers_may_be_requested() -> None:
    app, _ = make_app()
    assert preflight(app, **{"Access-Control-Request-Headers": "content-type"}).status_code == 204
    assert preflight(app, **{"Access-Control-Request-Headers": "authorization"}).status_code == 403
    none = preflight(app)
    assert none.status_code == 204
    assert "access-control-allow-headers" not in none.headers


def test_any_header_with_a_star() -> None:
    app, _ = make_app(allowed_headers=["*"])
    response = preflight(app, **{"Access-Control-Request-Headers": "X-One, x-two"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-headers"] == "x-one, x-two"


def test_preflight_to_an_unknown_path_is_a_plain_404() -> None:
    app, _ = make_app()
    response = preflight(app, "/nowhere")
    assert response.status_code == 404
    assert not [h for h in response.headers if h.startswith("access-control-")]
    assert set(vary_fields(response)) == PREFLIGHT_VARY | {"accept"}  # an error: varies on Accept
    # A refused origin learns nothing about which paths exist.
    assert preflight(app, "/nowhere", origin="https://evil.example").status_code == 403


def test_preflight_to_a_mounted_sub_app() -> None:
    app, _ = make_app()
    api = Junco()

    @api.delete("/things/<int:thing_id>")
    async def delete_thing(request: Request, thing_id: int) -> str:
        return "gone"

    app.mount(api, "/api")
    ok = preflight(app, "/api/things/3", method="DELETE")
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == APP_ORIGIN
    actual = fetch(app, "DELETE", "/api/things/3", headers={"Origin": APP_ORIGIN})
    assert actual.text == "gone"
    assert actual.headers["access-control-allow-origin"] == APP_ORIGIN
    assert preflight(app, "/api/things/3", method="PUT").status_code == 403


def test_preflight_responses_still_pass_other_components_hooks() -> None:
    app = Junco()
    SecurityHeaders(app)
    CORS(app, allowed_origins=[APP_ORIGIN])

    @app.put("/items")
    async def put(request: Request) -> str:
        return "ok"

    ok = preflight(app)
    assert ok.status_code == 204
    assert ok.headers["x-content-type-options"] == "nosniff"
    assert set(vary_fields(ok)) == PREFLIGHT_VARY


# -- other entry points ------------------------------------------------------------------


def test_handle_cors_false_registers_but_adds_nothing() -> None:
    app = Junco()
    cors = CORS(app, allowed_origins=[APP_ORIGIN], handle_cors=False, allow_credentials=True)
    assert app.extensions["cors"] is cors

    @app.get("/")
    async def index(request: Request) -> Response:
        return Response("manual", headers=cors.get_cors_headers(request))

    @app.put("/")
    async def put(request: Request) -> str:
        return "put"

    response = fetch(app, "GET", "/", headers={"Origin": APP_ORIGIN})
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert response.headers["vary"] == "Origin"
    assert (
        fetch(app, "GET", "/", headers={"Origin": "https://evil.example"}).headers.get(
            "access-control-allow-origin"
        )
        is None
    )
    # No hook: a preflight is answered by routing alone, without CORS headers.
    untouched = preflight(app, "/")
    assert untouched.status_code == 200  # the router's own OPTIONS answer
    assert "access-control-allow-origin" not in untouched.headers


def test_get_cors_headers_for_a_preflight() -> None:
    app = Junco()
    cors = CORS(allowed_origins=[APP_ORIGIN], max_age=5)
    seen: list[dict[str, str]] = []

    @app.route("/", methods=["OPTIONS", "PUT"])
    async def index(request: Request) -> str:
        seen.append(cors.get_cors_headers(request))
        return ""

    preflight(app, "/")
    preflight(app, "/", origin="https://evil.example")
    assert seen == [
        {
            "Access-Control-Allow-Origin": APP_ORIGIN,
            "Access-Control-Allow-Methods": "PUT",
            "Access-Control-Max-Age": "5",
        },
        {},
    ]


def test_microdot_initialize_and_late_init() -> None:
    app = Junco()
    cors = CORS(allowed_origins=[APP_ORIGIN])
    cors.initialize(app)

    @app.get("/")
    async def index(request: Request) -> str:
        return "hi"

    response = fetch(app, "GET", "/", headers={"Origin": APP_ORIGIN})
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert cors.allows_origin(APP_ORIGIN)
    assert not cors.allows_origin(None)
    assert not cors.allows_origin("null")


def test_each_app_keeps_its_own_policy() -> None:
    first, _ = make_app(allowed_origins=[APP_ORIGIN])
    second, _ = make_app(allowed_origins=[OTHER_ORIGIN])
    assert (
        "access-control-allow-origin"
        in fetch(first, "GET", "/items", headers={"Origin": APP_ORIGIN}).headers
    )
    assert (
        "access-control-allow-origin"
        not in fetch(second, "GET", "/items", headers={"Origin": APP_ORIGIN}).headers
    )


def test_app_check_reports_nothing_for_a_valid_cors() -> None:
    app, _ = make_app(allow_credentials=True)
    assert not [f for f in app.check() if f.code == "J006"]


# -- the examples in docs/cors.md --------------------------------------------------------


def doc_examples(page: str) -> list[dict[str, Any]]:
    """Run each ```python block of docs/PAGE.md that starts with an import; their globals."""
    text = (Path(__file__).resolve().parent.parent / "docs" / f"{page}.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    out = []
    for block in blocks:
        if block.startswith("from junco"):
            namespace: dict[str, Any] = {"__name__": f"docs_{page}"}
            exec(compile(block, f"docs/{page}.md", "exec"), namespace)
            out.append(namespace)
    return out


def test_the_documented_example_sends_the_documented_headers() -> None:
    (example,) = doc_examples("cors")
    app = example["app"]
    actual = fetch(app, "GET", "/items", headers={"Origin": APP_ORIGIN})
    assert actual.json == {"method": "GET"}
    assert {k: v for k, v in actual.headers.items() if k.startswith("access-control-")} == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "X-Total-Count",
    }
    assert actual.headers["vary"] == "Origin"
    answer = preflight(app, **{"Access-Control-Request-Headers": "authorization"})
    assert answer.status_code == 204
    assert {k: v for k, v in answer.headers.items() if k.startswith("access-control-")} == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-methods": "PUT",
        "access-control-allow-headers": "authorization",
        "access-control-allow-credentials": "true",
        "access-control-max-age": "600",
    }
    assert answer.headers["vary"] == (
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    )


def test_settings_are_read_only_not_silently_ignored() -> None:
    # Headers are precomputed at construction: a setting that looked mutable
    # (cors.allow_credentials = False) used to keep sending credentials.
    app, cors = make_app(allow_credentials=True)
    with pytest.raises(AttributeError):
        cors.allow_credentials = False  # type: ignore[misc]
    with pytest.raises(AttributeError):
        cors.allowed_origins = ("https://evil.example",)  # type: ignore[misc]
    assert isinstance(cors.allowed_origins, tuple)
    assert not hasattr(cors.allowed_origins, "append")
    response = fetch(app, "GET", "/items", headers={"Origin": APP_ORIGIN})
    assert response.headers["access-control-allow-credentials"] == "true"


def test_the_pre_encoded_answer_needs_the_origin_exactly_once_and_exactly_as_allowed() -> None:
    app, _ = make_app(allow_credentials=True)
    origin = APP_ORIGIN.encode()
    ok = raw(app, "GET", "/items", [(b"origin", origin)])
    assert ok.headers.get("access-control-allow-origin") == APP_ORIGIN
    assert ok.headers.get("access-control-allow-credentials") == "true"
    assert vary_fields(ok) == ["origin"]
    refused = {
        "sent twice": [(b"origin", origin), (b"origin", origin)],
        "other case": [(b"origin", origin.upper())],
        "trailing slash": [(b"origin", origin + b"/")],
        "empty": [(b"origin", b"")],
    }
    for label, headers in refused.items():
        r = raw(app, "GET", "/items", headers)
        assert r.status_code == 200, label
        assert "access-control-allow-origin" not in r.headers, label
        assert "access-control-allow-credentials" not in r.headers, label
        assert vary_fields(r) == ["origin"], label
