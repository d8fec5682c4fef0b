"""junco.controllers: methods become routes, parameters come from the path, query
and form (never cookies, headers or the session), and nothing junco defines is routable."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from junco import Junco, Request
from junco.controllers import Controller, methods, not_route
from junco.testing import TestClient, WebSocketRejected
from junco.websocket import WebSocket

if TYPE_CHECKING:
    from tests.conftest import Sync


class Base(Controller):
    """A mixin-like base: its methods are routes of every subclass."""

    async def about(self, request: Request) -> str:
        return "about"

    async def overridden(self, request: Request) -> str:
        return "base"


class Root(Base):
    greeting = "hi"  # a class attribute, not a route

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.calls: list[str] = []

    async def index(self, request: Request) -> str:
        return "home"

    async def greet(self, request: Request, name: str, times: int = 1, loud: bool = False) -> str:
        text = " ".join([f"{self.greeting} {name}"] * times)
        return text.upper() if loud else text

    def add(self, request: Request, a: int, b: float) -> dict[str, float]:
        return {"sum": a + b}

    async def overridden(self, request: Request) -> str:
        return "subclass"

    @methods("GET", "POST")
    async def echo(
        self, request: Request, *, text: str, n: int | None = None, tags: list[int] | None = None
    ) -> dict[str, Any]:
        return {"text": text, "n": n, "tags": tags}

    @methods("POST")
    def save(self, request: Request, *, item: str) -> tuple[str, int]:
        self.calls.append(item)
        return "saved", 201

    def delete_(self, request: Request, id: int) -> str:
        return f"deleted {id}"

    def lines(self, request: Request) -> Iterator[str]:
        yield "a\n"
        yield "b\n"

    async def ticks(self, request: Request, count: int = 2) -> AsyncIterator[str]:
        for i in range(count):
            yield f"{i};"

    async def ws_echo(self, request: Request, ws: WebSocket, room: str, prefix: str = "") -> None:
        async for message in ws:
            await ws.send(f"{prefix}{room}:{message!s}")

    @not_route
    async def helper(self, request: Request) -> str:
        return "never"

    async def _private(self, request: Request) -> str:
        return "never"

    @staticmethod
    def static(request: Request) -> str:
        return "never"

    @classmethod
    def klass(cls, request: Request) -> str:
        return "never"

    @property
    def prop(self) -> str:
        return "never"


def test_index_and_named_routes(sync: Sync) -> None:
    client = sync(Root())
    assert client.get("/").text == "home"
    assert client.get("/about").text == "about"
    assert client.get("/overridden").text == "subclass"
    assert client.get("/greet/ana").text == "hi ana"
    assert client.get("/greet/ana?times=2&loud=yes").text == "HI ANA HI ANA"
    assert client.get("/greet/ana/").status_code == 308  # as for any junco route
    assert client.get("/greet").status_code == 404  # the path segment is required
    assert client.get("/add/2/0.5").json == {"sum": 2.5}
    assert client.get("/add/-2/-1").json == {"sum": -3}
    assert client.get("/delete/7").text == "deleted 7"
    assert client.get("/delete_/7").status_code == 404


def test_generators_stream(sync: Sync) -> None:
    client = sync(Root())
    assert client.get("/lines").text == "a\nb\n"
    assert client.get("/ticks?count=3").text == "0;1;2;"


@pytest.mark.parametrize(
    "path",
    ["/helper", "/_private", "/static", "/klass", "/prop", "/greeting", "/calls", "/ws_echo/x"],
)
def test_what_is_not_a_route(sync: Sync, path: str) -> None:
    client = sync(Root())
    assert client.get(path).status_code == 404


def test_methods(sync: Sync) -> None:
    root = Root()
    client = sync(root)
    r = client.post("/greet/ana")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD, OPTIONS"
    assert client.head("/greet/ana").status_code == 200
    assert client.get("/save?item=x").status_code == 405
    assert client.post("/save", form={"item": "x"}).status_code == 201
    assert root.calls == ["x"]
    assert client.options("/echo").headers["allow"] == "GET, POST, HEAD, OPTIONS"


def test_query_then_form_values(sync: Sync) -> None:
    client = sync(Root())
    assert client.get("/echo?text=a&n=3&tags=1&tags=2").json == {
        "text": "a",
        "n": 3,
        "tags": [1, 2],
    }
    assert client.post("/echo", form={"text": "posted"}).json["text"] == "posted"
    assert client.post("/echo?text=query", form={"text": "form"}).json["text"] == "query"
    r = client.post("/echo", body=b'{"text": "json"}', headers={"Content-Type": "application/json"})
    assert r.status_code == 400  # JSON bodies are for request.json, not parameters


def test_never_from_cookies_headers_or_session(sync: Sync) -> None:
    client = sync(Root())
    r = client.get("/echo", headers={"Cookie": "text=cookie", "text": "header"})
    assert r.status_code == 400
    assert "missing parameter 'text'" in r.text

    class WithSession(Controller):
        async def who(self, request: Request, user: str = "anonymous") -> str:
            return user

    app = WithSession()

    @app.before_request
    def fake_session(request: Request) -> None:
        request.g.user = "admin"  # what a session middleware would make available
        request.session = {"user": "admin"}

    assert sync(app).get("/who", headers={"Cookie": "user=admin"}).text == "anonymous"


@pytest.mark.parametrize(
    "query",
    [
        "times=x",
        "times=1.5",
        "times=%20%201",
        "times=1_000",
        "times=" + "9" * 5000,
        "times=%D9%A1",  # ARABIC-INDIC DIGIT ONE: int() would take it
        "loud=maybe",
        "times=",
    ],
)
def test_bad_query_values_are_400(sync: Sync, query: str) -> None:
    r = sync(Root()).get("/greet/ana?" + query)
    assert r.status_code == 400
    assert "parameter" in r.text
    assert "9999" not in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/add/x/1",
        "/add/1/x",
        "/add/1/nan",
        "/add/1/inf",
        "/add/1/1e5",
        "/add/1/" + "9" * 400,
        "/add/" + "9" * 5000 + "/1",
        "/greet/a/b",
    ],
)
def test_bad_path_values_are_404(sync: Sync, path: str) -> None:
    assert sync(Root()).get(path).status_code == 404


def test_float_query_values(sync: Sync) -> None:
    class Calc(Controller):
        async def half(self, request: Request, x: float = 0.0) -> str:
            return repr(x / 2)

    client = sync(Calc())
    assert client.get("/half?x=3").text == "1.5"
    assert client.get("/half?x=-1e2").text == "-50.0"
    assert client.get("/half?x=.5").text == "0.25"
    for bad in ("nan", "inf", "-Infinity", "1e999", "0x10", "1,5"):
        assert client.get(f"/half?x={bad}").status_code == 400


def test_hostile_inputs_are_clean_4xx(sync: Sync) -> None:
    client = sync(Root())
    many = "&".join(f"tags={i}" for i in range(2000))
    assert client.get("/echo?text=a&" + many).status_code == 400  # over max_query_fields
    assert client.get("/greet/%FF").status_code in (200, 400, 404)  # core's path decoding
    assert client.get("/echo?text=%FF").status_code == 400
    r = client.post(
        "/echo",
        body=b"text=" + b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
    assert client.get("/greet/" + "a" * 10_000).text == "hi " + "a" * 10_000


def test_websocket_routes() -> None:
    async def main() -> None:
        client = TestClient(Root())
        async with client.websocket("/echo/lobby?prefix=%3E") as ws:
            await ws.send("hello")
            assert await ws.receive() == ">lobby:hello"
        assert (await client.get("/echo/lobby")).status_code == 400  # not a handshake
        with pytest.raises(WebSocketRejected):
            async with client.websocket("/greet/ana"):
                pass

    asyncio.run(asyncio.wait_for(main(), 20))


def test_mounting(sync: Sync) -> None:
    app = Junco()

    @app.get("/about")
    async def outer_about(request: Request) -> str:
        return "parent's own"

    app.mount(Root(), url_prefix="")
    app.mount(Root(), url_prefix="/api")
    client = sync(app)
    assert client.get("/").text == "home"
    assert client.get("/about").text == "parent's own"  # the parent's routes come first
    assert client.get("/api/about").text == "about"
    assert client.get("/api/greet/bo").text == "hi bo"
    assert client.get("/api/").text == "home"


def test_hooks_error_handlers_and_lifespan_of_a_controller(sync: Sync) -> None:
    events: list[str] = []

    class Hooked(Controller):
        def __init__(self) -> None:
            super().__init__()
            self.before_request(self._before)
            self.on_startup(self._start)

        def _before(self, request: Request) -> None:
            request.g.seen = True

        def _start(self) -> None:
            events.append("started")

        async def index(self, request: Request) -> str:
            return str(request.g.seen)

    app = Junco()
    app.mount(Hooked())
    with sync(app) as client:
        assert client.get("/").text == "True"
    assert events == ["started"]


def test_index_with_path_segments_does_not_shadow_named_routes(sync: Sync) -> None:
    class Pages(Controller):
        async def index(self, request: Request, slug: str) -> str:
            return f"page {slug}"

        async def feed(self, request: Request) -> str:
            return "feed"

    client = sync(Pages())
    assert client.get("/feed").text == "feed"
    assert client.get("/intro").text == "page intro"
    assert client.get("/").status_code == 404


# -- nothing from junco is a route ---------------------------------------------------------


def _public_names() -> set[str]:
    names = set(dir(Controller)) | set(dir(Junco)) | set(vars(Junco())) | set(vars(Controller()))
    return {n for n in names if not n.startswith("_")}


def test_no_public_attribute_of_junco_or_controller_is_routable() -> None:
    class Empty(Controller):
        async def index(self, request: Request) -> str:
            return "only this"

    names = _public_names()
    assert {"route", "mount", "run", "add_middleware", "get", "state", "router"} <= names
    app = Empty()
    assert [r.url_pattern for r in app.router.routes] == ["/"]

    async def main() -> None:
        client = TestClient(app)
        for name in sorted(names):
            for method in ("GET", "POST", "PUT", "DELETE"):
                for path in (f"/{name}", f"/{name}/x", f"/ws_{name}"):
                    r = await client.request(method, path)
                    assert r.status_code == 404, (method, path, r.status_code)
            with pytest.raises(WebSocketRejected):
                async with client.websocket(f"/{name}"):
                    pass

    asyncio.run(asyncio.wait_for(main(), 60))


@pytest.mark.parametrize("name", sorted(_public_names()))
def test_hiding_a_junco_attribute_is_refused(name: str) -> None:
    with pytest.raises(TypeError, match=f"would hide Junco.{name}"):
        type("Bad", (Controller,), {name: lambda self, request: "x"})


def test_a_mixin_cannot_hide_a_junco_attribute_either() -> None:
    async def get(self: Any, request: Request) -> str:
        return "x"

    async def index(self: Any, request: Request) -> str:
        return "ok"

    mixin = type("Mixin", (), {"get": get})
    with pytest.raises(TypeError, match=r"Mixin\.get would hide Junco\.get"):
        type("Bad", (mixin, Controller), {})
    # Listed after Controller, a mixin is neither a source of routes nor visible.
    fine = type("Fine", (Controller, mixin), {"index": index})
    assert [r.url_pattern for r in fine().router.routes] == ["/"]


def test_a_deliberate_override_is_allowed() -> None:
    class Checked(Controller):
        @not_route
        def check(self, workers: int | None = None) -> list[Any]:
            return ["custom"]

        async def index(self, request: Request) -> str:
            return "ok"

    assert Checked().check() == ["custom"]
    assert len(Checked().router.routes) == 1


# -- definition errors ---------------------------------------------------------------------


def _define(body: dict[str, Any]) -> type[Controller]:
    return type("Made", (Controller,), body)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("async def page(self, request, *rest): pass", "declare each parameter"),
        ("async def page(self, request, **extra): pass", "declare each parameter"),
        ("async def page(self): pass", r"\(self, request, \.\.\.\)"),
        ("async def page(self, *, request): pass", r"\(self, request, \.\.\.\)"),
        ("async def ws_room(self, request): pass", r"\(self, request, ws, \.\.\.\)"),
        ("def ws_room(self, request, ws): pass", "must be an async method"),
        ("async def page(self, request, flag: bool): pass", "must be str, int or float"),
        ("async def page(self, request, x: dict = None): pass", "unsupported annotation"),
        ("async def page(self, request, x: list[dict] = None): pass", "unsupported annotation"),
        ("async def page(self, request, x: 'Nope' = None): pass", "cannot resolve"),
        ("async def ws_(self, request, ws): pass", "route name is empty"),
    ],
)
def test_methods_that_cannot_be_routes(source: str, message: str) -> None:
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    fn = next(v for k, v in namespace.items() if not k.startswith("__"))
    cls = _define({fn.__name__: fn})
    with pytest.raises(TypeError, match=message):
        cls()


def test_methods_decorator_checks() -> None:
    with pytest.raises(ValueError, match="invalid HTTP methods"):
        methods()
    with pytest.raises(ValueError, match="invalid HTTP methods"):
        methods("GET POST")

    async def ws_x(self: Any, request: Request, ws: WebSocket) -> None:
        pass

    with pytest.raises(TypeError, match="does not apply to WebSocket"):
        _define({"ws_x": methods("GET")(ws_x)})()


def test_any_token_is_a_method_name_next_to_a_websocket_route() -> None:
    # The router files WebSocket routes by protocol, so no method name is reserved.
    class Odd(Controller):
        @methods("WEBSOCKET", "PURGE")
        async def ws(self, request: Request) -> str:
            return f"http {request.method}"

        async def ws_ws(self, request: Request, ws: WebSocket) -> None:
            await ws.send("socket")

    async def main() -> None:
        client = TestClient(Odd())
        assert (await client.request("WEBSOCKET", "/ws")).text == "http WEBSOCKET"
        assert (await client.request("PURGE", "/ws")).text == "http PURGE"
        refused = await client.request("POST", "/ws")
        assert refused.status_code == 405
        assert refused.headers["allow"] == "WEBSOCKET, PURGE, OPTIONS"
        async with client.websocket("/ws") as ws:
            assert await ws.receive() == "socket"

    asyncio.run(asyncio.wait_for(main(), 20))


def test_annotations_imported_only_for_type_checking_are_fine(sync: Sync) -> None:
    namespace: dict[str, Any] = {}
    exec(  # a module written with `from __future__ import annotations`
        "from __future__ import annotations\n"
        "async def page(self, request: OnlyForTypeCheckers, n: int = 1) -> Missing:\n"
        "    return str(n * 2)\n",
        namespace,
    )
    client = sync(_define({"page": namespace["page"]})())
    assert client.get("/page?n=21").text == "42"
    assert client.get("/page?n=x").status_code == 400


def test_signatures_survive_for_introspection() -> None:
    root = Root()
    route = next(r for r in root.router.routes if r.url_pattern == "/greet/<name>")
    assert "times" in inspect.signature(route.handler).parameters
