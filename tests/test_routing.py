"""URL patterns, converters and the router: alone, then through an app."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from junco import Junco, Request, URLPattern
from junco.routing import Converter, Route, Router, allowed_methods
from junco.testing import TestClient, TestResponse


def fetch(app: Junco, path: str, method: str = "GET", **kw: Any) -> TestResponse:
    """One request through a fresh test client."""
    return asyncio.run(TestClient(app).request(method, path, **kw))


def bare_route(router: Router, pattern: str, methods: tuple[str, ...] = ("GET",)) -> Route:
    """A route on ``router`` with no app behind it."""

    def handler(request: Request) -> None:
        return None

    route = Route(cast(Any, None), URLPattern(pattern, router.converters), methods, handler, False)
    router.add(route)
    return route


@pytest.fixture
def global_types(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give ``URLPattern.register_type`` a fresh registry, restored afterwards."""
    monkeypatch.setattr(URLPattern, "_global_types", {})


# -- URLPattern alone -----------------------------------------------------------------


def test_static_pattern_matches_only_itself() -> None:
    p = URLPattern("/about/us")
    assert p.is_static
    assert p.match("/about/us") == {}
    assert p.match("/about/us/") is None
    assert p.match("/about") is None


def test_static_pattern_escapes_regex_characters() -> None:
    p = URLPattern("/a.b+c")
    assert p.match("/a.b+c") == {}
    assert p.match("/axb+c") is None
    assert p.match("/a.bbc") is None


def test_untyped_argument_is_one_segment() -> None:
    p = URLPattern("/users/<name>")
    assert not p.is_static
    assert p.match("/users/ann") == {"name": "ann"}
    assert p.match("/users/ann/x") is None
    assert p.match("/users/") is None


def test_string_argument_is_one_segment() -> None:
    p = URLPattern("/users/<string:name>/posts")
    assert p.match("/users/bob/posts") == {"name": "bob"}
    assert p.match("/users/b/o/posts") is None


def test_int_argument_converts_including_negative() -> None:
    p = URLPattern("/n/<int:n>")
    assert p.match("/n/42") == {"n": 42}
    assert p.match("/n/-7") == {"n": -7}
    assert p.match("/n/4x") is None
    assert p.match("/n/--1") is None


def test_int_argument_with_ten_thousand_digits_is_no_match() -> None:
    assert URLPattern("/n/<int:n>").match("/n/" + "9" * 10_000) is None


def test_path_argument_spans_segments() -> None:
    p = URLPattern("/files/<path:rest>")
    assert p.match("/files/a/b/c.txt") == {"rest": "a/b/c.txt"}
    assert p.match("/files/") is None


def test_regex_argument() -> None:
    p = URLPattern("/v/<re:[a-f]{2}\\d:code>/x")
    assert p.match("/v/ab1/x") == {"code": "ab1"}
    assert p.match("/v/ab12/x") is None
    assert p.match("/v/zz1/x") is None


def test_regex_argument_with_colon_in_regex() -> None:
    p = URLPattern("/<re:(?:cat|dog):animal>")
    assert p.match("/dog") == {"animal": "dog"}
    assert p.match("/cow") is None


def test_regex_with_capturing_group_does_not_shift_later_arguments() -> None:
    p = URLPattern("/<re:(a|b)x:first>/<second>")
    assert p.match("/ax/hello") == {"first": "ax", "second": "hello"}


def test_several_arguments() -> None:
    p = URLPattern("/<int:year>/<int:month>/<slug>")
    assert p.match("/2024/-1/hello-world") == {"year": 2024, "month": -1, "slug": "hello-world"}


def test_custom_converters_passed_in() -> None:
    conv = {"string": Converter("[^/]+"), "hex": Converter("[0-9a-f]+", lambda s: int(s, 16))}
    p = URLPattern("/c/<hex:color>", conv)
    assert p.match("/c/ff") == {"color": 255}
    assert p.match("/c/fg") is None


def test_parser_returning_none_is_no_match() -> None:
    conv = {"even": Converter(r"\d+", lambda s: int(s) if int(s) % 2 == 0 else None)}
    p = URLPattern("/<even:n>", conv)
    assert p.match("/4") == {"n": 4}
    assert p.match("/3") is None


@pytest.mark.parametrize(
    "pattern",
    [
        "users",  # no leading slash
        "/<nosuchtype:x>",
        "/<int:1abc>",
        "/<int:>",
        "/<re::x>",
        "/<re:(:x>",
        "/<re:[a-:x>",
    ],
)
def test_invalid_pattern_raises_value_error(pattern: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies by case
        URLPattern(pattern)


def test_repr() -> None:
    assert repr(URLPattern("/a/<b>")) == "URLPattern('/a/<b>')"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("/items/{id}", "'/items/<id>'"),
        ("/items/{id:int}", "'/items/<int:id>'"),
        ("/files/{file_path:path}", "'/files/<path:file_path>'"),
        ("/a/{id}/b/{name}", "'/a/<id>/b/<name>'"),
        ("/a/{", "angle brackets"),
        ("/f/:id", "'/f/<id>'"),
        ("/users/:user_id/posts/:post", "'/users/<user_id>/posts/<post>'"),
        ("/a/<int:x", "<int:id>"),
        ("/users/<foo/bar", "<int:id>"),
        ("/a/int:x>", "<int:id>"),
        ("/a/<>", "<int:id>"),
        ("/a/<id>/<int:id>", "'id' twice"),
        ("/a/<integer:id>", "<int:id>"),
        ("/a/<num:count>", "<int:count>"),
        ("/a/<int:>", "<int:id>"),
        ("/a/<int: id>", "<int:id>"),
        ("/a/../b", "'..' segment"),
        ("/a/./b", "'..' segment"),
        ("/a//b", "'//'"),
        ("/a\\b", "backslash"),
        ("/a\tb", "invalid character"),
    ],
)
def test_wrong_route_syntax_raises_with_the_right_spelling(pattern: str, message: str) -> None:
    app = Junco()

    async def h(request: Request) -> str:
        return ""

    with pytest.raises(ValueError, match="URL") as info:
        app.route(pattern)(h)
    assert message in str(info.value)
    assert repr(pattern) in str(info.value)
    assert app.router.routes == []


@pytest.mark.parametrize(
    "pattern",
    ["/v1/items:batchGet", "/a:b/<id>", "/<re:\\d{4}:year>", "/x/<path:p>/", "/.well-known/x", ""],
)
def test_colons_and_braces_where_they_belong_are_fine(pattern: str) -> None:
    URLPattern(pattern)


# -- Router alone ---------------------------------------------------------------------


def test_router_static_route() -> None:
    router = Router()
    route = bare_route(router, "/a")
    m = router.match("GET", "/a")
    assert m.route is route
    assert m.args == {}


def test_router_dynamic_route_args() -> None:
    router = Router()
    route = bare_route(router, "/u/<int:id>")
    m = router.match("GET", "/u/12")
    assert m.route is route
    assert m.args == {"id": 12}


def test_router_head_falls_back_to_get() -> None:
    router = Router()
    route = bare_route(router, "/a")
    assert router.match("HEAD", "/a").route is route


def test_router_wrong_method_gives_allow() -> None:
    router = Router()
    bare_route(router, "/a", ("GET", "PUT"))
    m = router.match("POST", "/a")
    assert m.route is None
    assert list(m.allow or ()) == ["GET", "PUT"]  # registration order
    assert m.redirect is None


def test_router_unknown_path_gives_empty_allow() -> None:
    m = Router().match("GET", "/nothing")
    assert m.route is None
    assert not m.allow
    assert m.redirect is None


def test_router_trailing_slash_redirects_both_ways() -> None:
    router = Router()
    bare_route(router, "/a")
    bare_route(router, "/b/")
    assert router.match("GET", "/a/").redirect == "/a"
    assert router.match("GET", "/b").redirect == "/b/"


def test_router_static_beats_earlier_dynamic() -> None:
    router = Router()
    dynamic = bare_route(router, "/<name>")
    static = bare_route(router, "/about")
    assert router.match("GET", "/about").route is static
    assert router.match("GET", "/other").route is dynamic


def test_router_dynamic_in_registration_order() -> None:
    router = Router()
    first = bare_route(router, "/<int:n>")
    second = bare_route(router, "/<name>")
    assert router.match("GET", "/5").route is first
    assert router.match("GET", "/x").route is second


def test_router_first_registration_of_a_method_wins() -> None:
    router = Router()
    first = bare_route(router, "/a")
    bare_route(router, "/a")
    assert router.match("GET", "/a").route is first


def test_router_register_type_is_local() -> None:
    one, two = Router(), Router()
    one.register_type("hex", "[0-9a-f]+", lambda s: int(s, 16))
    bare_route(one, "/<hex:v>")
    assert one.match("GET", "/ff").args == {"v": 255}
    with pytest.raises(ValueError, match="unknown URL argument type"):
        bare_route(two, "/<hex:v>")


def test_router_register_type_rejects_bad_name() -> None:
    with pytest.raises(ValueError, match="invalid type name"):
        Router().register_type("not a name")


def test_router_register_type_rejects_bad_regex() -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any ValueError subclass will do
        Router().register_type("bad", "(")


def test_allowed_methods() -> None:
    assert allowed_methods({"GET"}) == "GET, HEAD, OPTIONS"
    assert allowed_methods(["POST", "DELETE"]) == "POST, DELETE, OPTIONS"
    assert allowed_methods(["WEBSOCKET"]) == "WEBSOCKET, OPTIONS"  # a token like any other


# -- through an app -------------------------------------------------------------------


def test_app_url_arguments_reach_handler() -> None:
    app = Junco()

    @app.get("/u/<int:id>/<string:name>/<path:rest>")
    async def h(request: Request, id: int, name: str, rest: str) -> dict[str, Any]:
        return {"id": id, "name": name, "rest": rest, "args": request.url_args}

    r = fetch(app, "/u/-3/ann/x/y")
    assert r.status_code == 200
    assert r.json == {
        "id": -3,
        "name": "ann",
        "rest": "x/y",
        "args": {"id": -3, "name": "ann", "rest": "x/y"},
    }


def test_app_huge_int_is_404() -> None:
    app = Junco()

    @app.get("/n/<int:n>")
    async def h(request: Request, n: int) -> str:
        return str(n)

    r = fetch(app, "/n/" + "1" * 10_000)
    assert r.status_code == 404
    assert r.text == "Not found"


def test_app_regex_argument() -> None:
    app = Junco()

    @app.get("/v/<re:v\\d+:version>")
    async def h(request: Request, version: str) -> str:
        return version

    assert fetch(app, "/v/v12").text == "v12"
    assert fetch(app, "/v/x12").status_code == 404


def test_app_register_type() -> None:
    app = Junco()
    app.register_type("upper", "[A-Z]+", str.lower)

    @app.get("/<upper:word>")
    async def h(request: Request, word: str) -> str:
        return word

    assert fetch(app, "/ABC").text == "abc"
    assert fetch(app, "/abc").status_code == 404


def test_app_custom_parser_none_falls_through_to_next_route() -> None:
    app = Junco()
    app.register_type("even", r"\d+", lambda s: int(s) if int(s) % 2 == 0 else None)

    @app.get("/<even:n>")
    async def even(request: Request, n: int) -> str:
        return f"even {n}"

    @app.get("/<name>")
    async def other(request: Request, name: str) -> str:
        return f"other {name}"

    assert fetch(app, "/4").text == "even 4"
    assert fetch(app, "/3").text == "other 3"


def test_global_type_is_a_fallback(global_types: None) -> None:
    URLPattern.register_type("color", "red|green", str.upper)
    app = Junco()

    @app.get("/<color:c>")
    async def h(request: Request, c: str) -> str:
        return c

    assert fetch(app, "/red").text == "RED"
    assert fetch(app, "/blue").status_code == 404


def test_app_type_wins_over_global_type(global_types: None) -> None:
    URLPattern.register_type("color", "red|green", lambda s: "global")
    app = Junco()
    app.register_type("color", "red|blue", lambda s: "app")

    @app.get("/<color:c>")
    async def h(request: Request, c: str) -> str:
        return c

    assert fetch(app, "/red").text == "app"
    assert fetch(app, "/blue").text == "app"
    assert fetch(app, "/green").status_code == 404


def test_register_type_on_one_app_does_not_affect_another() -> None:
    a, b = Junco(), Junco()
    a.register_type("hex", "[0-9a-f]+", lambda s: int(s, 16))

    @a.get("/<hex:v>")
    async def h(request: Request, v: int) -> str:
        return str(v)

    assert fetch(a, "/ff").text == "255"
    with pytest.raises(ValueError, match="unknown URL argument type 'hex'"):
        b.route("/<hex:v>")(h)


@pytest.mark.parametrize("pattern", ["nope", "/<bad:x>", "/<int:9>", "/<re:(:x>"])
def test_app_invalid_pattern_raises_at_registration(pattern: str) -> None:
    app = Junco()

    async def h(request: Request) -> str:
        return ""

    with pytest.raises(ValueError):  # noqa: PT011 - the message varies by case
        app.route(pattern)(h)
    assert app.router.routes == []


def test_app_static_wins_over_dynamic() -> None:
    app = Junco()

    @app.get("/<name>")
    async def dynamic(request: Request, name: str) -> str:
        return "dynamic"

    @app.get("/about")
    async def static(request: Request) -> str:
        return "static"

    assert fetch(app, "/about").text == "static"
    assert fetch(app, "/contact").text == "dynamic"


def test_app_dynamic_in_registration_order() -> None:
    app = Junco()

    @app.get("/<int:n>")
    async def number(request: Request, n: int) -> str:
        return "number"

    @app.get("/<name>")
    async def name(request: Request, name: str) -> str:
        return "name"

    assert fetch(app, "/5").text == "number"
    assert fetch(app, "/five").text == "name"


def test_method_shortcuts_and_add_route() -> None:
    app = Junco()

    async def echo(request: Request) -> str:
        return request.method

    app.get("/g")(echo)
    app.post("/p")(echo)
    app.put("/u")(echo)
    app.patch("/a")(echo)
    app.delete("/d")(echo)
    route = app.add_route("/m", echo, ["get", "post"])
    assert route.methods == ("GET", "POST")
    for method, path in [("GET", "/g"), ("POST", "/p"), ("PUT", "/u"), ("PATCH", "/a")]:
        assert fetch(app, path, method).text == method
    assert fetch(app, "/d", "DELETE").text == "DELETE"
    assert fetch(app, "/m", "POST").text == "POST"
    assert fetch(app, "/g", "POST").status_code == 405


def test_request_route_is_set() -> None:
    app = Junco()

    @app.get("/r/<x>")
    async def h(request: Request, x: str) -> str:
        assert request.route is not None
        return request.route.url_pattern

    assert fetch(app, "/r/1").text == "/r/<x>"


# -- 404, 405, HEAD, OPTIONS ----------------------------------------------------------


def test_404() -> None:
    r = fetch(Junco(), "/missing")
    assert r.status_code == 404
    assert r.text == "Not found"
    assert r.headers["content-type"] == "text/plain; charset=UTF-8"


def test_405_lists_allowed_methods() -> None:
    app = Junco()

    @app.route("/a", methods=["GET", "PUT"])
    async def h(request: Request) -> str:
        return "a"

    r = fetch(app, "/a", "POST")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, PUT, HEAD, OPTIONS"
    assert r.text == "Method not allowed"


def test_405_on_dynamic_route_without_get() -> None:
    app = Junco()

    @app.post("/items/<int:id>")
    async def h(request: Request, id: int) -> str:
        return "ok"

    r = fetch(app, "/items/3", "DELETE")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST, OPTIONS"


def test_405_merges_methods_of_every_matching_pattern() -> None:
    app = Junco()

    @app.post("/x/<int:id>")
    async def a(request: Request, id: int) -> str:
        return "a"

    @app.put("/x/<name>")
    async def b(request: Request, name: str) -> str:
        return "b"

    r = fetch(app, "/x/1", "DELETE")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST, PUT, OPTIONS"


def test_head_served_by_get_route_without_body() -> None:
    app = Junco()

    @app.get("/a")
    async def h(request: Request) -> Any:
        return "hello", {"X-Extra": "1"}

    r = fetch(app, "/a", "HEAD")
    assert r.status_code == 200
    assert r.body is None  # HEAD: no body at all (Microdot's rule)
    assert r.headers["content-length"] == "5"
    assert r.headers["x-extra"] == "1"
    assert r.headers["content-type"] == "text/plain; charset=UTF-8"


def test_head_on_dynamic_get_route() -> None:
    app = Junco()

    @app.get("/u/<int:id>")
    async def h(request: Request, id: int) -> dict[str, int]:
        return {"id": id}

    r = fetch(app, "/u/10", "HEAD")
    assert r.status_code == 200
    assert r.body is None  # HEAD: no body at all (Microdot's rule)
    assert r.headers["content-length"] == str(len(b'{"id":10}'))
    assert r.headers["content-type"] == "application/json; charset=UTF-8"


def test_explicit_head_route_wins_over_get() -> None:
    app = Junco()

    @app.get("/a")
    async def get(request: Request) -> str:
        return "get"

    @app.route("/a", methods=["HEAD"])
    async def head(request: Request) -> Any:
        return "", {"X-Head": "yes"}

    r = fetch(app, "/a", "HEAD")
    assert r.headers["x-head"] == "yes"


def test_automatic_options() -> None:
    app = Junco()

    @app.route("/a", methods=["GET", "POST"])
    async def h(request: Request) -> str:
        return "a"

    r = fetch(app, "/a", "OPTIONS")
    assert r.status_code == 200  # as Microdot
    assert r.headers["allow"] == "GET, POST, HEAD, OPTIONS"
    assert r.body == b""


def test_automatic_options_on_dynamic_route() -> None:
    app = Junco()

    @app.put("/a/<int:id>")
    async def h(request: Request, id: int) -> str:
        return "a"

    r = fetch(app, "/a/1", "OPTIONS")
    assert r.status_code == 200
    assert r.headers["allow"] == "PUT, OPTIONS"


def test_options_on_unknown_path_is_404() -> None:
    assert fetch(Junco(), "/nothing", "OPTIONS").status_code == 404


def test_explicit_options_route_wins() -> None:
    app = Junco()

    @app.get("/a")
    async def get(request: Request) -> str:
        return "get"

    @app.route("/a", methods=["OPTIONS"])
    async def options(request: Request) -> Any:
        return "custom", 200, {"Allow": "GET"}

    r = fetch(app, "/a", "OPTIONS")
    assert r.status_code == 200
    assert r.text == "custom"
    assert r.headers["allow"] == "GET"


# -- trailing slashes -----------------------------------------------------------------


def test_trailing_slash_exact_matches() -> None:
    app = Junco()

    @app.get("/a")
    async def a(request: Request) -> str:
        return "a"

    @app.get("/a/")
    async def a_slash(request: Request) -> str:
        return "a/"

    assert fetch(app, "/a").text == "a"
    assert fetch(app, "/a/").text == "a/"


def test_extra_trailing_slash_redirects_with_query() -> None:
    app = Junco()

    @app.get("/a")
    async def a(request: Request) -> str:
        return "a"

    r = fetch(app, "/a/?x=1&y=%20")
    assert r.status_code == 308
    assert r.headers["location"] == "/a?x=1&y=%20"
    assert r.body == b""


@pytest.mark.parametrize(
    ("query", "location_query"),
    [
        (b"q=\x00", "q=%00"),
        (b"a=\r\nSet-Cookie:%20x=1", "a=%0D%0ASet-Cookie:%20x=1"),
        (b"q=\n", "q=%0A"),
        (b"q=\x01&r=\x7f", "q=%01&r=%7F"),
        (b"q=a b", "q=a%20b"),
        ("q=€".encode(), "q=%E2%82%AC"),  # raw UTF-8: encoded once, not twice
        (b"q=%E2%82%AC", "q=%E2%82%AC"),  # already encoded: kept as sent
        (b"q=100%&r=%zz", "q=100%25&r=%25zz"),  # a '%' that starts no escape
        (b"q=\xff\xfe", "q=%FF%FE"),  # not UTF-8 at all
        (b'q="<x>"#frag', "q=%22%3Cx%3E%22%23frag"),
        (b"a=1&b=/x?y:z@w!$'()*+,;=~", "a=1&b=/x?y:z@w!$'()*+,;=~"),
    ],
)
def test_trailing_slash_redirect_re_encodes_the_query(query: bytes, location_query: str) -> None:
    app = Junco()

    @app.get("/a")
    async def a(request: Request) -> str:
        return "a"

    r = fetch(app, "/a/", scope={"query_string": query})
    assert r.status_code == 308
    location = r.headers["location"]
    assert location == "/a?" + location_query
    assert location.isascii()
    assert location.isprintable()
    assert " " not in location


def test_trailing_slash_redirect_encodes_the_path() -> None:
    app = Junco()

    @app.get("/é/<name>")
    async def a(request: Request, name: str) -> str:
        return name

    r = fetch(app, "/%C3%A9/a%3Fb%25c%23d%20e/")
    assert r.status_code == 308
    assert r.headers["location"] == "/%C3%A9/a%3Fb%25c%23d%20e"
    assert fetch(app, r.headers["location"]).text == "a?b%c#d e"


def test_missing_trailing_slash_redirects() -> None:
    app = Junco()

    @app.get("/dir/")
    async def d(request: Request) -> str:
        return "dir"

    r = fetch(app, "/dir")
    assert r.status_code == 308
    assert r.headers["location"] == "/dir/"


def test_trailing_slash_redirect_for_dynamic_route() -> None:
    app = Junco()

    @app.get("/u/<int:id>")
    async def u(request: Request, id: int) -> str:
        return str(id)

    r = fetch(app, "/u/5/")
    assert r.status_code == 308
    assert r.headers["location"] == "/u/5"


def test_trailing_slash_redirect_keeps_root_path() -> None:
    app = Junco()

    @app.get("/a")
    async def a(request: Request) -> str:
        return "a"

    r = fetch(app, "/api/a/", scope={"root_path": "/api", "path": "/api/a/"})
    assert r.status_code == 308
    assert r.headers["location"] == "/api/a"


def test_trailing_slash_redirect_when_other_form_allows_other_methods() -> None:
    app = Junco()

    @app.post("/a")
    async def a(request: Request) -> str:
        return "a"

    r = fetch(app, "/a/", "GET")
    assert r.status_code == 308
    assert r.headers["location"] == "/a"


def test_no_protocol_relative_redirect() -> None:
    app = Junco()

    @app.get("/<re:.*[^/]:p>")
    async def anything(request: Request, p: str) -> str:
        return p

    assert fetch(app, "/evil.com").text == "evil.com"
    for path in ("//evil.com", "//evil.com/", "///evil.com/"):
        r = fetch(app, path)
        assert r.status_code == 400  # "//" is refused before routing
        assert "location" not in r.headers


def test_no_backslash_protocol_relative_redirect() -> None:
    # Browsers read "/\evil.com" as "//evil.com": it must not become a Location.
    app = Junco()

    @app.get("/<name>")
    async def h(request: Request, name: str) -> str:
        return name

    for path in ("/\\evil.com/", "/%5cevil.com/", "/%5Cevil.com"):
        r = fetch(app, path)
        assert r.status_code == 400, path
        assert "location" not in r.headers


def test_root_never_redirects() -> None:
    app = Junco()

    @app.get("/<name>")
    async def h(request: Request, name: str) -> str:
        return name

    assert fetch(app, "/").status_code == 404


def test_head_on_missing_path_is_404_without_body() -> None:
    r = fetch(Junco(), "/missing", "HEAD")
    assert r.status_code == 404
    assert r.body is None  # HEAD: no body at all (Microdot's rule)
    assert r.headers["content-length"] == str(len("Not found"))


def test_head_on_post_only_route_is_405() -> None:
    app = Junco()

    @app.post("/a")
    async def h(request: Request) -> str:
        return "a"

    r = fetch(app, "/a", "HEAD")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST, OPTIONS"
    assert r.body is None  # HEAD: no body at all (Microdot's rule)


def test_http_method_named_websocket_never_reaches_a_websocket_route() -> None:
    from junco.websocket import with_websocket

    app = Junco()

    @app.route("/ws")
    @with_websocket
    async def ws(request: Request, socket: object) -> None:
        raise AssertionError("must not run")

    client = TestClient(app).sync
    # WebSocket routes are filed by protocol, not under a method: "WEBSOCKET" is
    # an HTTP method no route answers here, like POST.
    for method in ("WEBSOCKET", "POST", "OPTIONS"):
        response = client.request(method, "/ws")
        assert response.status_code == 404, method
        assert "allow" not in response.headers
    # A plain GET (how a handshake starts) reaches the route, whose own wrapper
    # refuses it: the core knows no WebSocket.
    for method in ("GET", "HEAD"):
        response = client.request(method, "/ws")
        assert response.status_code == 400, method
    assert client.get("/ws").text == "this endpoint expects a WebSocket handshake"


def test_the_router_has_no_pseudo_method() -> None:
    from junco.websocket import with_websocket

    app = Junco()

    @app.route("/ws", methods=["WEBSOCKET", "POST"])
    async def http(request: Request) -> str:
        return f"http {request.method}"

    @app.route("/ws")
    @with_websocket
    async def socket(request: Request, ws: Any) -> None:
        await ws.send("socket")

    @app.route("/rooms/<name>")
    @with_websocket
    async def room(request: Request, ws: Any, name: str) -> None:
        await ws.send(name)

    router = app.router
    assert router.static["/ws"] == {"WEBSOCKET": router.routes[0], "POST": router.routes[0]}
    assert router.static_protocols["/ws"] == {"websocket": router.routes[1]}
    assert router.routes[1].methods == ()
    assert router.routes[1].protocol == "websocket"
    assert router.match_protocol("websocket", "/rooms/a").args == {"name": "a"}
    assert router.match_protocol("websocket", "/rooms").route is None
    assert router.match("GET", "/rooms/a").route is router.routes[2]  # refused by its wrapper
    assert router.match("POST", "/rooms/a").allow == {}

    async def main() -> None:
        client = TestClient(app)
        assert (await client.request("WEBSOCKET", "/ws")).text == "http WEBSOCKET"
        refused = await client.request("DELETE", "/ws")
        assert refused.status_code == 405
        assert refused.headers["allow"] == "WEBSOCKET, POST, OPTIONS"  # HTTP methods only
        assert (await client.request("GET", "/ws")).status_code == 400  # not a handshake
        async with client.websocket("/ws") as ws:
            assert await ws.receive() == "socket"
        async with client.websocket("/rooms/b") as ws:
            assert await ws.receive() == "b"

    asyncio.run(asyncio.wait_for(main(), 20))
