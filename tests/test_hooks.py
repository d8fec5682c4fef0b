"""before/after/after-error hooks, per-request hooks, ``request.g`` and ``current_request``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from junco import HTTPException, Junco, Request, Response, abort, current_request
from junco.testing import TestClient, TestResponse


def fetch(app: Junco, path: str, method: str = "GET", **kw: Any) -> TestResponse:
    """One request through a fresh test client."""
    return asyncio.run(TestClient(app).request(method, path, **kw))


def ok_app() -> Junco:
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> str:
        return "ok"

    return app


# -- before_request -------------------------------------------------------------------


def test_before_request_runs_before_handler_in_order() -> None:
    app = Junco()
    calls: list[str] = []

    @app.before_request
    def first(request: Request) -> None:
        calls.append("first")

    @app.before_request
    async def second(request: Request) -> None:
        calls.append("second")

    @app.get("/")
    async def index(request: Request) -> str:
        calls.append("handler")
        return "ok"

    assert fetch(app, "/").text == "ok"
    assert calls == ["first", "second", "handler"]


def test_before_request_short_circuits_and_after_request_still_runs() -> None:
    app = Junco()
    calls: list[str] = []

    @app.before_request
    async def gate(request: Request) -> Any:
        return "denied", 403

    @app.before_request
    def never(request: Request) -> None:
        calls.append("second before")

    @app.after_request
    def after(request: Request, response: Response) -> None:
        calls.append("after")
        response.headers["X-After"] = "1"

    @app.get("/")
    async def index(request: Request) -> str:
        calls.append("handler")
        return "ok"

    r = fetch(app, "/")
    assert (r.status_code, r.text, r.headers["x-after"]) == (403, "denied", "1")
    assert calls == ["after"]


def test_before_request_runs_on_404_with_no_route() -> None:
    app = Junco()
    seen: list[Any] = []

    @app.before_request
    def record(request: Request) -> None:
        seen.append(request.route)

    assert fetch(app, "/missing").status_code == 404
    assert seen == [None]


def test_before_request_can_answer_a_404_path() -> None:
    app = Junco()

    @app.before_request
    def answer(request: Request) -> str:
        return "from hook"

    r = fetch(app, "/nothing/here")
    assert (r.status_code, r.text) == (200, "from hook")


def test_before_request_sees_body_and_url_args() -> None:
    app = Junco()
    seen: dict[str, Any] = {}

    @app.before_request
    def look(request: Request) -> None:
        seen["json"] = request.json
        seen["args"] = request.url_args

    @app.post("/items/<int:id>")
    async def h(request: Request, id: int) -> str:
        return "ok"

    assert fetch(app, "/items/4", "POST", json={"a": 1}).text == "ok"
    assert seen == {"json": {"a": 1}, "args": {"id": 4}}


# -- after_request --------------------------------------------------------------------


def test_after_request_order_is_reverse_of_registration() -> None:
    app = ok_app()
    calls: list[str] = []

    @app.after_request
    def first(request: Request, response: Response) -> None:
        calls.append("first")

    @app.after_request
    async def second(request: Request, response: Response) -> None:
        calls.append("second")

    fetch(app, "/")
    assert calls == ["second", "first"]


def test_after_request_mutates_response() -> None:
    app = ok_app()

    @app.after_request
    async def add(request: Request, response: Response) -> None:
        response.headers["X-Seen"] = "yes"
        response.status_code = 202

    r = fetch(app, "/")
    assert (r.status_code, r.text, r.headers["x-seen"]) == (202, "ok", "yes")


def test_after_request_replaces_response_and_next_hook_sees_replacement() -> None:
    app = ok_app()
    seen: list[bytes] = []

    @app.after_request
    def runs_last(request: Request, response: Response) -> None:
        seen.append(response.body)

    @app.after_request
    def runs_first(request: Request, response: Response) -> Response:
        return Response("replaced", 201)

    r = fetch(app, "/")
    assert (r.status_code, r.text) == (201, "replaced")
    assert seen == [b"replaced"]


def test_after_request_does_not_run_on_errors() -> None:
    app = Junco()
    calls: list[str] = []

    @app.after_request
    def after(request: Request, response: Response) -> None:
        calls.append("after")

    assert fetch(app, "/missing").status_code == 404
    assert calls == []


def test_error_in_after_request_becomes_500() -> None:
    app = ok_app()

    @app.after_request
    def broken(request: Request, response: Response) -> None:
        raise RuntimeError("hook bug")

    r = fetch(app, "/")
    assert (r.status_code, r.text) == (500, "Internal server error")


def test_per_request_after_request() -> None:
    app = Junco()

    @app.get("/tagged")
    async def tagged(request: Request) -> str:
        @request.after_request
        async def tag(req: Request, response: Response) -> None:
            response.headers["X-Tag"] = "on"

        def replace(req: Request, response: Response) -> Response:
            return Response(response.body + b"!", 200, {"X-Tag": "replaced"})

        request.after_request(replace)
        return "tagged"

    @app.get("/plain")
    async def plain(request: Request) -> str:
        return "plain"

    async def main() -> list[TestResponse]:
        client = TestClient(app)
        return [await client.get("/tagged"), await client.get("/plain")]

    tagged_r, plain_r = asyncio.run(main())
    assert (tagged_r.text, tagged_r.headers["x-tag"]) == ("tagged!", "replaced")
    assert plain_r.text == "plain"
    assert "x-tag" not in plain_r.headers


def test_per_request_after_request_handlers_list() -> None:
    app = Junco()

    @app.get("/")
    async def h(request: Request) -> str:
        def mark(req: Request, response: Response) -> None:
            response.headers["X-Mark"] = "1"

        request.after_request_handlers.append(mark)
        return "x"

    assert fetch(app, "/").headers["x-mark"] == "1"


# -- after_error_request --------------------------------------------------------------


def error_app() -> tuple[Junco, list[int]]:
    """An app whose after-error hook records statuses and adds a header."""
    app = Junco(max_content_length=4)
    statuses: list[int] = []

    @app.after_error_request
    def mark(request: Request, response: Response) -> None:
        statuses.append(response.status_code)
        response.headers["X-Error-Hook"] = "1"

    @app.post("/upload")
    async def upload(request: Request) -> bytes:
        return request.body

    @app.get("/teapot")
    async def teapot(request: Request) -> str:
        abort(418, "short and stout")

    @app.get("/crash")
    async def crash(request: Request) -> str:
        raise RuntimeError("boom")

    return app, statuses


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/missing", None, 404),
        ("GET", "/upload", None, 405),
        ("POST", "/upload", b"too long", 413),
        ("GET", "/teapot", None, 418),
        ("GET", "/crash", None, 500),
    ],
)
def test_after_error_request_runs_on_every_error(
    method: str, path: str, body: bytes | None, status: int
) -> None:
    app, statuses = error_app()
    r = fetch(app, path, method, body=body)
    assert r.status_code == status
    assert r.headers["x-error-hook"] == "1"
    assert statuses == [status]


def test_after_error_request_keeps_allow_on_405() -> None:
    app, _ = error_app()
    r = fetch(app, "/upload", "GET")
    assert r.headers["allow"] == "POST, OPTIONS"


def test_after_error_request_not_run_on_success() -> None:
    app, statuses = error_app()
    r = fetch(app, "/upload", "POST", body=b"ok")
    assert r.status_code == 200
    assert "x-error-hook" not in r.headers
    assert statuses == []


def test_after_error_request_can_replace_response_async() -> None:
    app = Junco()

    @app.after_error_request
    async def replace(request: Request, response: Response) -> Response:
        return Response({"status": response.status_code}, response.status_code)

    r = fetch(app, "/missing")
    assert r.status_code == 404
    assert r.json == {"status": 404}


def test_failing_after_error_request_is_skipped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Junco()

    @app.after_error_request
    def second(request: Request, response: Response) -> None:
        response.headers["X-Second"] = "ran"

    @app.after_error_request
    def broken(request: Request, response: Response) -> None:
        raise RuntimeError("hook bug")

    r = fetch(app, "/missing")
    assert (r.status_code, r.text, r.headers["x-second"]) == (404, "Not found", "ran")
    assert any(
        rec.name == "junco" and rec.getMessage() == "after_error_request hook failed"
        for rec in caplog.records
    )


def test_error_in_before_request_goes_to_after_error_request() -> None:
    app = ok_app()

    @app.before_request
    def deny(request: Request) -> None:
        raise HTTPException(401, headers={"WWW-Authenticate": "Basic"})

    @app.after_error_request
    def mark(request: Request, response: Response) -> None:
        response.headers["X-Error"] = str(response.status_code)

    r = fetch(app, "/")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Basic"
    assert r.headers["x-error"] == "401"


# -- request.g and current_request ----------------------------------------------------


def test_g_is_per_request() -> None:
    app = Junco()

    @app.before_request
    def set_user(request: Request) -> None:
        if "user" in request.args:
            # G declares no __setattr__, so mypy rejects plain assignment.
            request.g.user = request.args["user"]

    @app.get("/")
    async def h(request: Request) -> str:
        return str(request.g.get("user", "anonymous"))

    async def main() -> list[str]:
        client = TestClient(app)
        return [(await client.get(p)).text for p in ("/?user=ann", "/", "/?user=bob", "/")]

    assert asyncio.run(main()) == ["ann", "anonymous", "bob", "anonymous"]


def test_g_missing_attribute_raises_attribute_error() -> None:
    app = Junco()

    @app.get("/")
    async def h(request: Request) -> str:
        try:
            request.g.nothing  # noqa: B018 - the lookup itself is the test
        except AttributeError:
            return "missing"
        return "present"

    assert fetch(app, "/").text == "missing"


def helper_path() -> str:
    """A helper with no request argument."""
    return current_request().path


def test_current_request_in_async_handler_and_helper() -> None:
    app = Junco()

    @app.get("/a/<x>")
    async def h(request: Request, x: str) -> dict[str, Any]:
        return {"same": current_request() is request, "path": helper_path()}

    assert fetch(app, "/a/1").json == {"same": True, "path": "/a/1"}


def test_current_request_in_sync_handler_thread() -> None:
    app = Junco()
    threads: list[int] = []

    @app.get("/s")
    def h(request: Request) -> dict[str, Any]:
        threads.append(threading.get_ident())
        return {"same": current_request() is request, "path": helper_path()}

    assert fetch(app, "/s").json == {"same": True, "path": "/s"}
    assert threads != [threading.get_ident()]


def test_current_request_in_hooks_and_sync_generator() -> None:
    app = Junco()
    seen: list[str] = []

    @app.before_request
    def before(request: Request) -> None:
        seen.append("before " + helper_path())

    @app.after_request
    async def after(request: Request, response: Response) -> None:
        seen.append("after " + helper_path())

    @app.get("/gen")
    def gen(request: Request) -> Iterator[str]:
        yield helper_path()

    r = fetch(app, "/gen")
    assert r.text == "/gen"
    assert seen == ["before /gen", "after /gen"]


def test_current_request_outside_a_request_raises() -> None:
    with pytest.raises(RuntimeError, match="outside of a request"):
        current_request()


def test_current_request_does_not_leak_after_a_request() -> None:
    app = ok_app()

    async def main() -> None:
        # The client runs the app in this very task, so a leak would show here.
        client = TestClient(app)
        assert (await client.get("/")).text == "ok"
        with pytest.raises(RuntimeError):
            current_request()
        assert (await client.get("/missing")).status_code == 404
        with pytest.raises(RuntimeError):
            current_request()

    asyncio.run(main())


def test_current_request_does_not_leak_after_an_error() -> None:
    app = Junco()

    @app.get("/")
    async def crash(request: Request) -> str:
        raise RuntimeError("boom")

    async def main() -> None:
        client = TestClient(app)
        assert (await client.get("/")).status_code == 500
        with pytest.raises(RuntimeError, match="outside of a request"):
            current_request()

    asyncio.run(main())


def test_concurrent_requests_see_their_own_request() -> None:
    app = Junco()
    both_inside = asyncio.Event()
    inside: list[str] = []

    @app.get("/<name>")
    async def h(request: Request, name: str) -> str:
        request.g.name = name
        inside.append(name)
        if len(inside) == 2:
            both_inside.set()
        await asyncio.wait_for(both_inside.wait(), 10)
        return f"{name} {current_request().g.name} {helper_path()}"

    async def main() -> list[str]:
        client = TestClient(app)
        rs = await asyncio.gather(client.get("/a"), client.get("/b"))
        return [r.text for r in rs]

    assert asyncio.run(main()) == ["a a /a", "b b /b"]


# -- late registration (plans cached per app) ---------------------------------------------


def _refuse(request: Request) -> Response:
    return Response("refused", 403)


def test_hook_appended_to_microdots_list_after_the_first_request_runs() -> None:
    # The plan cache used to key on a process-wide counter: this hook stayed
    # silent until some unrelated Junco() was created.
    app = ok_app()
    client = TestClient(app)
    assert asyncio.run(client.get("/")).status_code == 200
    app.before_request_handlers.append(_refuse)
    assert asyncio.run(client.get("/")).status_code == 403
    app.before_request_handlers.remove(_refuse)
    assert asyncio.run(client.get("/")).status_code == 200


def test_every_hook_list_and_error_handlers_are_live() -> None:
    app = ok_app()
    client = TestClient(app)
    assert asyncio.run(client.get("/missing")).status_code == 404

    def tag(request: Request, response: Response) -> None:
        response.headers["X-Tag"] = "late"

    app.after_request_handlers += [tag]
    app.after_error_request_handlers.insert(0, tag)
    app.error_handlers[404] = lambda request: ("gone", 410)
    assert asyncio.run(client.get("/")).headers["x-tag"] == "late"
    r = asyncio.run(client.get("/missing"))
    assert (r.status_code, r.text, r.headers["x-tag"]) == (410, "gone", "late")
    app.after_request_handlers = []
    del app.error_handlers[404]
    r = asyncio.run(client.get("/"))
    assert "x-tag" not in r.headers
    assert asyncio.run(client.get("/missing")).status_code == 404


def test_late_hook_on_a_mounted_app_reaches_the_parent() -> None:
    for local in (False, True):
        app, sub = Junco(), ok_app()
        app.mount(sub, "/sub", local=local)
        client = TestClient(app)
        assert asyncio.run(client.get("/sub/")).status_code == 200
        sub.before_request(_refuse)
        assert asyncio.run(client.get("/sub/")).status_code == 403


def test_hook_lists_hold_the_functions_registered() -> None:
    app = Junco()
    app.before_request(_refuse)
    assert app.before_request_handlers == [_refuse]
