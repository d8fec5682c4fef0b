"""Mounting junco sub-apps (hooks, error handlers, prefixes) and foreign ASGI apps."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from junco import ConfigurationError, Junco, Request, Response
from junco.testing import TestClient, TestResponse
from junco.types import Receive, Scope, Send


def fetch(app: Junco, path: str, method: str = "GET", **kw: Any) -> TestResponse:
    """One request through a fresh test client."""
    return asyncio.run(TestClient(app).request(method, path, **kw))


def traced(name: str, calls: list[str]) -> Junco:
    """An app with a ``/<name>`` route and hooks that record into ``calls``."""
    app = Junco()

    @app.before_request
    def before(request: Request) -> None:
        calls.append(f"{name} before")

    @app.after_request
    async def after(request: Request, response: Response) -> None:
        calls.append(f"{name} after")

    @app.after_error_request
    def after_error(request: Request, response: Response) -> None:
        calls.append(f"{name} error")

    async def handler(request: Request) -> str:
        calls.append(f"{name} handler")
        return name

    app.add_route(f"/{name}", handler)
    return app


class RawApp:
    """A tiny foreign ASGI app that records the scopes it gets."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        body = f"raw {scope['root_path']} {scope['path']}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


# -- sub-app routing ------------------------------------------------------------------


def test_mounted_route_and_url_args() -> None:
    app, sub = Junco(), Junco()

    @sub.get("/items/<int:id>")
    async def item(request: Request, id: int) -> dict[str, Any]:
        return {"id": id, "path": request.path}

    app.mount(sub, "/sub")
    assert fetch(app, "/sub/items/3").json == {"id": 3, "path": "/sub/items/3"}
    assert fetch(app, "/items/3").status_code == 404


def test_mount_is_live() -> None:
    app, sub = Junco(), Junco()
    app.mount(sub, "/sub")
    assert fetch(app, "/sub/late").status_code == 404

    @sub.get("/late")
    async def late(request: Request) -> str:
        return "late"

    assert fetch(app, "/sub/late").text == "late"


def test_url_prefix_and_subapp() -> None:
    app, sub = Junco(), Junco()

    async def where(request: Request, **args: str) -> dict[str, Any]:
        return {
            "prefix": request.url_prefix,
            "sub": request.subapp is sub,
            "none": request.subapp is None,
        }

    app.add_route("/root", where)
    sub.add_route("/x/<y>", where)
    app.mount(sub, "/sub")
    assert fetch(app, "/root").json == {"prefix": "", "sub": False, "none": True}
    assert fetch(app, "/sub/x/1").json == {"prefix": "/sub", "sub": True, "none": False}


def test_nested_url_prefix() -> None:
    app, a, b = Junco(), Junco(), Junco()

    @b.get("/leaf")
    async def leaf(request: Request) -> dict[str, Any]:
        return {"prefix": request.url_prefix, "sub": request.subapp is b}

    a.mount(b, "/b")
    app.mount(a, "/a")
    assert fetch(app, "/a/b/leaf").json == {"prefix": "/a/b", "sub": True}


def test_prefix_trailing_slash_is_ignored() -> None:
    app, sub = Junco(), Junco()

    @sub.get("/x")
    async def x(request: Request) -> str:
        return "x"

    app.mount(sub, "/sub/")
    assert fetch(app, "/sub/x").text == "x"


def test_prefix_must_be_a_whole_segment() -> None:
    app, sub = Junco(), Junco()

    @sub.get("/x")
    async def x(request: Request) -> str:
        return "x"

    app.mount(sub, "/sub")
    assert fetch(app, "/subx").status_code == 404
    assert fetch(app, "/subway/x").status_code == 404


def test_parent_routes_are_tried_before_mounts() -> None:
    app, sub = Junco(), Junco()

    @app.get("/sub/x")
    async def parent(request: Request) -> str:
        return "parent"

    @sub.get("/x")
    async def child(request: Request) -> str:
        return "child"

    app.mount(sub, "/sub")
    assert fetch(app, "/sub/x").text == "parent"


def test_mounts_searched_in_mount_order() -> None:
    app, first, second = Junco(), Junco(), Junco()

    @first.get("/x")
    async def one(request: Request) -> str:
        return "first"

    @second.get("/x")
    async def two(request: Request) -> str:
        return "second"

    @second.get("/y")
    async def only_second(request: Request) -> str:
        return "second y"

    app.mount(first, "/p")
    app.mount(second, "/p")
    assert fetch(app, "/p/x").text == "first"
    assert fetch(app, "/p/y").text == "second y"


def test_mount_without_prefix() -> None:
    app, sub = Junco(), Junco()

    @sub.get("/from-sub")
    async def x(request: Request) -> str:
        return "sub"

    app.mount(sub)
    assert fetch(app, "/from-sub").text == "sub"


def test_sub_root_redirects_to_slash() -> None:
    app, sub = Junco(), Junco()

    @sub.get("/")
    async def index(request: Request) -> str:
        return "sub index"

    app.mount(sub, "/sub")
    assert fetch(app, "/sub/").text == "sub index"
    r = fetch(app, "/sub?q=1")
    assert r.status_code == 308
    assert r.headers["location"] == "/sub/?q=1"


def test_sub_405_lists_sub_methods() -> None:
    app, sub = Junco(), Junco()

    @sub.post("/form")
    async def form(request: Request) -> str:
        return "posted"

    app.mount(sub, "/sub")
    r = fetch(app, "/sub/form")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST, OPTIONS"
    assert fetch(app, "/sub/form", "OPTIONS").headers["allow"] == "POST, OPTIONS"


def test_sub_app_types_apply_in_sub_app() -> None:
    app, sub = Junco(), Junco()
    sub.register_type("hex", "[0-9a-f]+", lambda s: int(s, 16))

    @sub.get("/<hex:n>")
    async def h(request: Request, n: int) -> str:
        return str(n)

    app.mount(sub, "/sub")
    assert fetch(app, "/sub/ff").text == "255"


@pytest.mark.parametrize("local", [False, True])
def test_sub_route_runs_sync_handler(local: bool) -> None:
    app, sub = Junco(), Junco()

    @sub.get("/s")
    def s(request: Request) -> str:
        return "sync sub"

    app.mount(sub, "/sub", local=local)
    assert fetch(app, "/sub/s").text == "sync sub"


# -- mount errors ---------------------------------------------------------------------


def test_mount_self_is_configuration_error() -> None:
    app = Junco()
    with pytest.raises(ConfigurationError, match="mounted on itself"):
        app.mount(app, "/x")


def test_mount_prefix_must_start_with_slash() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        Junco().mount(Junco(), "sub")


def test_foreign_app_needs_prefix() -> None:
    with pytest.raises(ConfigurationError, match="needs a url_prefix"):
        Junco().mount(RawApp(), "")


# -- hooks across mounts --------------------------------------------------------------


def test_global_sub_hooks_apply_to_parent_routes() -> None:
    calls: list[str] = []
    app, sub = traced("root", calls), traced("sub", calls)
    app.mount(sub, "/s", local=False)

    assert fetch(app, "/root").text == "root"
    assert calls == ["root before", "sub before", "root handler", "sub after", "root after"]
    calls.clear()
    assert fetch(app, "/s/sub").text == "sub"
    assert calls == ["root before", "sub before", "sub handler", "sub after", "root after"]


def test_local_sub_hooks_apply_only_to_sub_routes() -> None:
    calls: list[str] = []
    app, sub = traced("root", calls), traced("sub", calls)
    app.mount(sub, "/s", local=True)

    assert fetch(app, "/root").text == "root"
    assert calls == ["root before", "root handler", "root after"]
    calls.clear()
    assert fetch(app, "/s/sub").text == "sub"
    assert calls == ["root before", "sub before", "sub handler", "sub after", "root after"]


def test_local_sub_error_hooks_only_for_sub_routes() -> None:
    calls: list[str] = []
    app, sub = traced("root", calls), traced("sub", calls)

    @sub.get("/boom")
    async def boom(request: Request) -> str:
        raise RuntimeError("boom")

    app.mount(sub, "/s", local=True)
    assert fetch(app, "/s/boom").status_code == 500
    assert calls == ["root before", "sub before", "sub error", "root error"]
    calls.clear()
    assert fetch(app, "/nowhere").status_code == 404
    assert calls == ["root before", "root error"]


@pytest.mark.parametrize("local", [False, True])
def test_three_level_nesting_orders_hooks(local: bool) -> None:
    calls: list[str] = []
    root, a, b, c = (traced(n, calls) for n in ("root", "a", "b", "c"))
    b.mount(c, "/c", local=local)
    a.mount(b, "/b", local=local)
    root.mount(a, "/a", local=local)

    r = fetch(root, "/a/b/c/c")
    assert r.text == "c"
    assert calls == [
        "root before",
        "a before",
        "b before",
        "c before",
        "c handler",
        "c after",
        "b after",
        "a after",
        "root after",
    ]
    calls.clear()
    assert fetch(root, "/a/b/c/missing").status_code == 404
    if local:  # no route matched, so only the root's own hooks apply
        assert calls == ["root before", "root error"]
    else:
        befores = ["root before", "a before", "b before", "c before"]
        assert calls == [*befores, "c error", "b error", "a error", "root error"]


def test_hooks_registered_after_mount_apply() -> None:
    app, sub = Junco(), Junco()

    @sub.get("/x")
    async def x(request: Request) -> str:
        return "x"

    app.mount(sub, "/s", local=True)
    assert "x-late" not in fetch(app, "/s/x").headers

    @sub.after_request
    def late(request: Request, response: Response) -> None:
        response.headers["X-Late"] = "1"

    assert fetch(app, "/s/x").headers["x-late"] == "1"


def test_sub_before_request_short_circuits_sub_routes() -> None:
    app, sub = Junco(), Junco()

    @sub.before_request
    def deny(request: Request) -> Any:
        return "sub says no", 403

    @sub.get("/x")
    async def x(request: Request) -> str:
        return "x"

    @app.get("/open")
    async def open_(request: Request) -> str:
        return "open"

    app.mount(sub, "/s", local=True)
    assert fetch(app, "/s/x").status_code == 403
    assert fetch(app, "/open").text == "open"


# -- error handlers across mounts -----------------------------------------------------


class SubError(Exception):
    pass


def test_global_sub_error_handler_applies_to_parent() -> None:
    app, sub = Junco(), Junco()

    @sub.errorhandler(SubError)
    def handle(request: Request, exc: SubError) -> Any:
        return "handled by sub", 400

    @app.get("/x")
    async def x(request: Request) -> str:
        raise SubError()

    app.mount(sub, "/s")
    assert fetch(app, "/x").text == "handled by sub"


def test_parent_error_handler_beats_global_sub_handler() -> None:
    app, sub = Junco(), Junco()

    @sub.errorhandler(404)
    def sub_404(request: Request) -> Any:
        return "sub 404", 404

    @app.errorhandler(404)
    def root_404(request: Request) -> Any:
        return "root 404", 404

    app.mount(sub, "/s")
    assert fetch(app, "/missing").text == "root 404"


def test_local_sub_error_handler_for_sub_routes_only() -> None:
    app, sub = Junco(), Junco()

    @sub.errorhandler(SubError)
    def sub_handler(request: Request, exc: SubError) -> Any:
        return "sub handler", 400

    @app.errorhandler(SubError)
    def root_handler(request: Request, exc: SubError) -> Any:
        return "root handler", 400

    @sub.get("/x")
    async def in_sub(request: Request) -> str:
        raise SubError()

    @app.get("/x")
    async def in_root(request: Request) -> str:
        raise SubError()

    app.mount(sub, "/s", local=True)
    assert fetch(app, "/s/x").text == "sub handler"
    assert fetch(app, "/x").text == "root handler"


def test_local_sub_without_handler_falls_back_to_parent() -> None:
    app, sub = Junco(), Junco()

    @app.errorhandler(500)
    def root_500(request: Request) -> Any:
        return "root 500", 500

    @sub.get("/x")
    async def x(request: Request) -> str:
        raise RuntimeError()

    app.mount(sub, "/s", local=True)
    assert fetch(app, "/s/x").text == "root 500"


def test_local_sub_status_handler_for_abort_in_sub() -> None:
    app, sub = Junco(), Junco()

    @sub.errorhandler(403)
    def sub_403(request: Request) -> Any:
        return {"sub": True}, 403

    @sub.get("/x")
    async def x(request: Request) -> str:
        from junco import abort

        abort(403)

    app.mount(sub, "/s", local=True)
    r = fetch(app, "/s/x")
    assert (r.status_code, r.json) == (403, {"sub": True})


# -- foreign ASGI apps ----------------------------------------------------------------


def test_foreign_app_gets_extended_root_path_and_full_path() -> None:
    app, raw = Junco(), RawApp()
    app.mount(raw, "/ext")
    r = fetch(app, "/ext/a/b?q=1")
    assert (r.status_code, r.text) == (200, "raw /ext /ext/a/b")
    scope = raw.scopes[0]
    assert scope["query_string"] == b"q=1"
    assert scope["method"] == "GET"


def test_foreign_app_at_its_prefix_exactly() -> None:
    app, raw = Junco(), RawApp()
    app.mount(raw, "/ext")
    assert fetch(app, "/ext").text == "raw /ext /ext"


def test_foreign_app_under_outer_root_path() -> None:
    app, raw = Junco(), RawApp()
    app.mount(raw, "/ext")
    r = fetch(app, "/api/ext/x", scope={"root_path": "/api", "path": "/api/ext/x"})
    assert r.text == "raw /api/ext /api/ext/x"


def test_foreign_app_does_not_take_parent_routes() -> None:
    app, raw = Junco(), RawApp()

    @app.get("/ext/own")
    async def own(request: Request) -> str:
        return "parent"

    app.mount(raw, "/ext")
    assert fetch(app, "/ext/own").text == "parent"
    assert fetch(app, "/other").status_code == 404
    assert [s["path"] for s in raw.scopes] == []


def test_foreign_app_inside_native_sub_app_gets_full_root_path() -> None:
    app, sub, raw = Junco(), Junco(), RawApp()
    sub.mount(raw, "/ext")
    app.mount(sub, "/sub")
    r = fetch(app, "/sub/ext/x")
    assert r.text == "raw /sub/ext /sub/ext/x"


# -- foreign ASGI apps inside the app's policy ---------------------------------------------


class EchoWS:
    """A foreign ASGI app with a WebSocket endpoint that echoes one message."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            assert (await receive())["type"] == "websocket.connect"
            await send({"type": "websocket.accept"})
            message = await receive()
            await send({"type": "websocket.send", "text": "echo " + message["text"]})
            await send({"type": "websocket.close", "code": 1000})
            return
        await RawApp()(scope, receive, send)


def stacked() -> Junco:
    from junco.security import secure_stack

    app = Junco()
    secure_stack(
        app,
        secret_key="k" * 32,
        allowed_hosts=["good.example"],
        rate_limits={"/ext": "2/minute"},
    )
    app.mount(EchoWS(), "/ext")
    return app


def test_foreign_app_gets_the_apps_response_headers() -> None:
    r = fetch(stacked(), "/ext/page", headers={"Host": "good.example"})
    assert (r.status_code, r.text) == (200, "raw /ext /ext/page")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in r.headers
    assert r.headers["x-request-id"]


def test_foreign_app_is_refused_by_allowed_hosts_over_http_and_websocket() -> None:
    # One guard, one answer, whichever protocol knocks.
    app = stacked()
    client = TestClient(app)
    http = asyncio.run(client.get("/ext/page", headers={"Host": "evil.example"}))

    async def handshake() -> Any:
        from junco.testing import WebSocketRejected

        with pytest.raises(WebSocketRejected) as info:
            async with client.websocket("/ext/ws", headers={"Host": "evil.example"}):
                pass
        return info.value.response

    ws = asyncio.run(handshake())
    assert http.status_code == ws.status_code == 400
    assert http.body == ws.body
    assert http.headers["content-type"] == ws.headers["content-type"]
    assert http.headers["x-content-type-options"] == ws.headers["x-content-type-options"]


def test_foreign_websocket_that_passes_the_guard_is_served() -> None:
    client = TestClient(stacked())

    async def talk() -> Any:
        async with client.websocket("/ext/ws", headers={"Host": "good.example"}) as ws:
            await ws.send("hi")
            return await ws.receive()

    assert asyncio.run(talk()) == "echo hi"


def test_foreign_app_is_covered_by_csrf_and_rate_limits() -> None:
    app = stacked()
    client = TestClient(app)
    cross = {"Host": "good.example", "Sec-Fetch-Site": "cross-site", "Origin": "https://evil"}
    assert asyncio.run(client.post("/ext/form", headers=cross)).status_code == 403
    same = {"Host": "good.example", "Sec-Fetch-Site": "same-origin"}
    statuses = [asyncio.run(client.post("/ext", headers=same)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_after_hook_replacing_a_foreign_response_wins() -> None:
    app, raw = Junco(), RawApp()
    app.mount(raw, "/ext")

    @app.after_request
    def replace(request: Request, response: Response) -> Response:
        return Response("replaced", 203)

    r = fetch(app, "/ext/x")
    assert (r.status_code, r.text) == (203, "replaced")


def test_foreign_app_error_before_its_response_goes_through_the_chain() -> None:
    app = Junco()

    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    app.mount(broken, "/ext")
    seen: list[int] = []

    @app.after_error_request
    def record(request: Request, response: Response) -> None:
        seen.append(response.status_code)

    assert fetch(app, "/ext/x").status_code == 500
    assert seen == [500]
