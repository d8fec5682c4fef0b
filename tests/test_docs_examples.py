"""The examples in docs/examples behave as the docs say, and the docs quote them exactly.

Each example file is loaded fresh (its own module, its own app) and driven
through ``junco.testing.TestClient``. Every ```python block in the core docs
pages that starts with ``# docs/examples/NAME.py`` must be byte-identical to
that file, and every example file must be quoted by its page and tested here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest

from junco import HTTPException, Junco, Request, Response, URLPattern, abort, current_request
from junco.stores import in_memory
from junco.testing import SyncTestClient, TestClient
from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
PAGES = (
    "index",
    "routing",
    "requests",
    "responses",
    "hooks-and-middleware",
    "errors",
    "mounting",
    "lifespan",
    "limits",
    "testing",
    "porting-from-microdot",
    "typed-handlers",
    "openapi",
    "scale-out",
)
MiB = 1024 * 1024
F = TypeVar("F", bound=Callable[..., Any])
COVERED: set[str] = set()


def covers(*names: str) -> Callable[[F], F]:
    """Mark a test as the one that checks the behaviour of these example files."""
    COVERED.update(names)
    return lambda f: f


def load(name: str) -> ModuleType:
    """Execute docs/examples/NAME.py as a fresh module."""
    spec = importlib.util.spec_from_file_location(f"docs_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def client_for(app: Any, **options: Any) -> Iterator[SyncTestClient]:
    """A blocking test client with lifespan, closed afterwards."""
    with TestClient(app, **options).sync as client:
        yield client


@contextmanager
def example(name: str, **options: Any) -> Iterator[SyncTestClient]:
    with client_for(load(name).app, **options) as client:
        yield client


# -- docs and examples stay in sync --------------------------------------------------------

_FENCE = re.compile(r"^```python\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
_MARKER = re.compile(r"# docs/examples/([A-Za-z0-9_]+)\.py\n")


def quoted_examples(page: str) -> list[tuple[str, str]]:
    """``(name, code)`` for every python block of ``page`` that quotes an example file."""
    text = (DOCS / f"{page}.md").read_text(encoding="utf-8")
    out = []
    for block in _FENCE.finditer(text):
        code = block.group(1)
        marker = _MARKER.match(code)
        if marker is not None:
            out.append((marker.group(1), code))
    return out


def page_of(example_name: str) -> str:
    return example_name.rsplit("_", 1)[0].replace("_", "-")


@pytest.mark.parametrize("page", PAGES)
def test_page_quotes_its_examples_byte_for_byte(page: str) -> None:
    quoted = quoted_examples(page)
    for name, code in quoted:
        path = EXAMPLES / f"{name}.py"
        assert path.is_file(), f"{page}.md quotes a missing file {path.name}"
        assert code.encode("utf-8") == path.read_bytes(), f"{page}.md is out of sync with {name}"
    names = {name for name, _ in quoted}
    own = {p.stem for p in EXAMPLES.glob("*.py") if page_of(p.stem) == page}
    assert own <= names, f"{page}.md does not show {sorted(own - names)}"


def test_every_example_belongs_to_a_page_and_is_tested() -> None:
    names = {p.stem for p in EXAMPLES.glob("*.py")}
    assert names, "no example files found"
    assert {page_of(n) for n in names} <= set(PAGES)
    assert names == COVERED, f"untested: {sorted(names - COVERED)}"


@pytest.mark.parametrize("page", sorted(p.stem for p in DOCS.glob("*.md")))
def test_page_links_point_to_existing_pages(page: str) -> None:
    text = (DOCS / f"{page}.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", text):
        assert (DOCS / target).resolve().is_file(), f"{page}.md links to missing {target}"


# -- index -----------------------------------------------------------------------------------


@covers("index_1")
def test_index_hello_world() -> None:
    with example("index_1") as client:
        assert client.get("/").text == "Hello, world!"
        assert client.get("/users/7").json == {"id": 7}
        assert client.get("/users/seven").status_code == 404


# -- routing ---------------------------------------------------------------------------------


@covers("routing_1")
def test_routing_methods_405_and_options() -> None:
    with example("routing_1") as client:
        assert client.get("/invoices").text == "all invoices"
        assert client.post("/invoices").text == "created an invoice"
        refused = client.delete("/invoices")
        assert refused.status_code == 405
        assert refused.headers["Allow"] == "GET, POST, HEAD, OPTIONS"
        options = client.options("/invoices")
        assert (options.status_code, options.body) == (200, b"")
        assert options.headers["Allow"] == "GET, POST, HEAD, OPTIONS"
        assert client.put("/customers").headers["Allow"] == "GET, POST, HEAD, OPTIONS"
        assert client.post("/customers").status_code == 201
        head, get = client.head("/customers"), client.get("/customers")
        assert head.status_code == 200
        assert head.body is None
        assert head.headers["Content-Length"] == str(len(get.body))
        assert client.get("/health").text == "ok"
        assert client.post("/health").headers["Allow"] == "GET, HEAD, OPTIONS"


@covers("routing_2")
def test_routing_argument_types() -> None:
    module = load("routing_2")
    with client_for(module.app) as client:
        assert client.get("/users/42/ana").json == {"id": 42, "name": "ana"}
        assert client.get("/users/-3/bo").json == {"id": -3, "name": "bo"}
        assert client.get("/users/x/ana").status_code == 404
        assert client.get("/files/a/b/c.txt").text == "file a/b/c.txt"
        assert client.get("/tags/new-release").text == "tag new-release"
        assert client.get("/tags/New").status_code == 404
        assert client.get("/diary/2024-02-29").json == {"weekday": "Thursday"}
        assert client.get("/diary/2023-02-29").status_code == 404  # the parser said None
        assert client.get("/diary/yesterday").status_code == 404  # the pattern refused
    with pytest.raises(ValueError, match="unknown URL argument type"):
        module.app.add_route("/x/<colour:c>", module.file)
    with pytest.raises(ValueError, match="must start with '/'"):
        module.app.add_route("x", module.file)


def test_register_type_is_per_app() -> None:
    module = load("routing_2")
    other = Junco()
    with pytest.raises(ValueError, match="unknown URL argument type"):
        other.add_route("/diary/<day:when>", module.diary)
    assert "day" in module.app.router.converters


@covers("routing_3")
def test_routing_precedence_and_trailing_slash() -> None:
    with example("routing_3") as client:
        assert client.get("/users/me").text == "the signed-in user"
        assert client.get("/users/ana").text == "user ana"
        assert client.get("/guide/").text == "the guide"
        moved = client.get("/guide")
        assert (moved.status_code, moved.headers["Location"]) == (308, "/guide/")
        moved = client.get("/about/?x=1&y=2")
        assert (moved.status_code, moved.headers["Location"]) == (308, "/about?x=1&y=2")
        assert client.get("//about/").status_code == 400  # not canonical: never a //host redirect
        assert client.get("/nowhere/").status_code == 404


# -- requests --------------------------------------------------------------------------------


@covers("requests_1")
def test_request_attributes() -> None:
    with example("requests_1") as client:
        response = client.get(
            "/inspect?page=2&tag=a&tag=b",
            headers={"User-Agent": "docs", "Cookie": "theme=dark"},
        )
        assert response.json == {
            "method": "GET",
            "path": "/inspect",
            "url": "/inspect?page=2&tag=a&tag=b",
            "full_url": "http://localhost/inspect?page=2&tag=a&tag=b",
            "page": 2,
            "tags": ["a", "b"],
            "agent": "docs",
            "theme": "dark",
            "client": ["127.0.0.1", 50000],
        }
        fallback = client.get("/inspect?page=two").json
        assert (fallback["page"], fallback["theme"], fallback["agent"]) == (1, "light", None)
        assert client.get("/inspect?q=%ff").status_code == 400  # not UTF-8


@covers("requests_2")
def test_request_json_and_form() -> None:
    json_type = {"Content-Type": "application/json"}
    with example("requests_2") as client:
        created = client.post("/customers", json={"name": "ana"})
        assert (created.status_code, created.json) == (201, {"created": "ana"})
        bad = client.post("/customers", headers=json_type, body=b"{oops")
        # A JSON request gets its error as JSON (see docs/errors.md).
        assert (bad.status_code, bad.json["error"]["code"]) == (400, "invalid_json")
        assert client.post("/customers", json=["ana"]).status_code == 422
        assert client.post("/customers", body=b'{"name": "ana"}').status_code == 422  # no type
        deep = b"[" * 65 + b"]" * 65
        assert client.post("/customers", headers=json_type, body=deep).status_code == 400
        ok_depth = b"[" * 64 + b"]" * 64
        assert client.post("/customers", headers=json_type, body=ok_depth).status_code == 422
        assert client.post("/greet", form={"name": "Ana"}).text == "Hello, Ana!"
        assert client.get("/greet").text == "Hello, stranger!"
        form_type = {"Content-Type": "application/x-www-form-urlencoded"}
        assert client.post("/greet", headers=form_type, body=b"name=%ff").status_code == 400


@covers("requests_3")
def test_request_body_and_stream() -> None:
    big = b"x" * (100 * 1024)
    with example("requests_3") as client:
        assert client.post("/echo", body=b"hello").body == b"hello"
        too_big = client.post("/echo", body=big)
        assert too_big.status_code == 413
        assert client.post("/upload", body=big).json == {"bytes": len(big)}
        assert client.post("/upload", stream=[big, big]).json == {"bytes": 2 * len(big)}
        assert client.post("/lines", body=b"a\nb\nc").json == {"lines": 3}
        long_line = b"y" * (8 * 1024 + 1) + b"\n"
        assert client.post("/lines", body=long_line).status_code == 413


@covers("requests_4")
def test_request_g_current_request_and_route() -> None:
    with example("requests_4") as client:
        assert client.get("/items/5", headers={"X-User": "ana"}).json == {
            "user": "ana",
            "audit": "GET /items/5 by ana",
            "pattern": "/items/<int:item_id>",
            "url_args": {"item_id": 5},
        }
        assert client.get("/items/6").json["user"] == "anonymous"
    with pytest.raises(RuntimeError, match="outside of a request"):
        current_request()


def test_sync_handlers_run_in_a_thread_and_sync_hooks_inline() -> None:
    app = Junco()
    seen: dict[str, int] = {}

    @app.before_request
    def hook(request: Request) -> None:
        seen["hook"] = threading.get_ident()

    @app.get("/sync")
    def sync_handler(request: Request) -> str:
        seen["sync"] = threading.get_ident()
        return "sync"

    @app.get("/async")
    async def async_handler(request: Request) -> str:
        seen["async"] = threading.get_ident()
        return "async"

    with client_for(app) as client:
        client.get("/sync")
        client.get("/async")
    assert seen["hook"] == seen["async"]  # the event loop's thread
    assert seen["sync"] != seen["async"]


# -- responses -------------------------------------------------------------------------------


@covers("responses_1")
def test_response_return_values() -> None:
    with example("responses_1") as client:
        text = client.get("/text")
        assert (text.text, text.headers["Content-Type"]) == (
            "plain text",
            "text/plain; charset=UTF-8",
        )
        assert text.headers["Content-Length"] == "10"
        assert client.post("/things").status_code == 201
        assert client.get("/page").headers["Content-Type"] == "text/html; charset=UTF-8"
        teapot = client.get("/teapot")
        assert (teapot.status_code, teapot.headers["X-Brew"]) == (418, "never")
        data = client.get("/data")
        assert data.headers["Content-Type"] == "application/json; charset=UTF-8"
        assert data.body == b'{"hello":"world","numbers":[1,2,3]}'
        accepted = client.post("/jobs")
        assert (accepted.status_code, accepted.body) == (202, b"")
        deleted = client.delete("/things/3")
        assert (deleted.status_code, deleted.body) == (204, b"")
        assert "Content-Length" not in deleted.headers
        assert client.get("/custom").headers["X-Custom"] == "yes"


@covers("responses_2")
def test_response_cookies_and_redirects() -> None:
    with example("responses_2") as client:
        login = client.post("/login")
        assert (login.status_code, login.headers["Location"]) == (303, "/dashboard")
        assert login.headers["Set-Cookie"] == [
            "session=abc123; Max-Age=3600; HttpOnly; SameSite=Lax"
        ]
        assert client.cookies == {"session": "abc123"}
        logout = client.post("/logout")
        assert logout.headers["Set-Cookie"] == [
            "session=; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0"
        ]
        assert client.cookies == {}
        moved = client.get("/old-home")
        assert (moved.status_code, moved.headers["Location"]) == (301, "/")


def test_header_injection_is_refused() -> None:
    with pytest.raises(ValueError, match="control character"):
        Response.redirect("/next\r\nSet-Cookie: admin=1")
    with pytest.raises(ValueError, match="invalid character"):
        Response().set_cookie("name", "value\r\nX-Evil: 1")
    with pytest.raises(ValueError, match="invalid SameSite"):
        Response().set_cookie("name", "value", samesite="sometimes")
    response = Response()
    response.set_cookie("embed", "1", samesite="None")
    assert response.headers["Set-Cookie"] == "embed=1; Secure; SameSite=None"


@covers("responses_3")
def test_streamed_responses() -> None:
    with example("responses_3") as client:
        countdown = client.get("/countdown")
        assert countdown.text == "3\n2\n1\nliftoff\n"
        assert "Content-Length" not in countdown.headers
        chunks = [m for m in countdown.messages if m.get("more_body")]
        assert len(chunks) == 4  # one ASGI message per yielded piece
        report = client.get("/report.csv")
        assert report.headers["Content-Type"] == "text/csv"
        assert report.text == "id,name\n1,ana\n2,bo\n"
        head = client.head("/countdown")
        assert head.status_code == 200
        assert head.body is None


@covers("responses_4")
def test_default_content_type_is_per_app() -> None:
    with example("responses_4") as client:
        assert client.get("/").headers["Content-Type"] == "text/html; charset=UTF-8"
        assert client.get("/data").headers["Content-Type"] == "application/json; charset=UTF-8"
    assert Junco().default_content_type == "text/plain"


# -- hooks and middleware ---------------------------------------------------------------------


@covers("hooks_and_middleware_1")
def test_before_request_can_answer() -> None:
    auth = {"Authorization": "Bearer s3cret"}
    with example("hooks_and_middleware_1") as client:
        refused = client.get("/profile")
        assert (refused.status_code, refused.json) == (401, {"error": "unauthorized"})
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert refused.headers["Cache-Control"] == "no-store"  # after hooks still ran
        allowed = client.get("/profile", headers=auth)
        assert (allowed.json, allowed.headers["Cache-Control"]) == ({"user": "ana"}, "no-store")
        assert client.get("/nowhere").status_code == 401  # before hooks run before the 404
        missing = client.get("/nowhere", headers=auth)
        assert missing.status_code == 404
        assert "Cache-Control" not in missing.headers  # after_request skips errors


@covers("hooks_and_middleware_2")
def test_hook_order() -> None:
    with example("hooks_and_middleware_2") as client:
        response = client.get("/")
        assert response.json == {"trail": ["before 1", "before 2", "handler"]}
        assert response.headers.getlist("X-Trail") == ["after 2", "after 1"]


@covers("hooks_and_middleware_3")
def test_native_and_asgi_middleware() -> None:
    with example("hooks_and_middleware_3") as client:
        response = client.get("/")
        assert re.fullmatch(r"app;dur=\d+\.\d", response.headers["Server-Timing"])
        assert response.headers["Server"] == "junco-docs"
        missing = client.get("/nowhere")
        assert missing.headers["Server"] == "junco-docs"  # ASGI middleware wraps everything
        assert "Server-Timing" not in missing.headers


@covers("hooks_and_middleware_4")
def test_phases_and_requirements(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUNCO_SECRET_KEY", "s" * 43)
    with example("hooks_and_middleware_4") as client:
        assert client.get("/").text == "hello from public"
        assert client.post("/tenant/acme").text == "acme"
        assert client.get("/").text == "hello from acme"
    module = load("hooks_and_middleware_4")
    lonely = Junco()
    lonely.add_middleware(module.Tenant())
    failed = r"Tenant needs Session.*add Session\(app, \.\.\.\)"
    with pytest.raises(RuntimeError, match=failed), client_for(lonely):
        pass


def test_add_middleware_refuses_objects_without_hooks() -> None:
    app = Junco()
    with pytest.raises(TypeError, match="pass an ASGI middleware as a class"):
        app.add_middleware(object())
    with pytest.raises(TypeError, match="only for ASGI middleware classes"):
        app.add_middleware(load("hooks_and_middleware_3").Timing(), name="x")


def test_request_after_request_hooks_run_after_the_apps() -> None:
    app = Junco()

    @app.after_request
    def app_hook(request: Request, response: Response) -> None:
        response.headers.add("X-Trail", "app")

    @app.get("/")
    async def index(request: Request) -> str:
        @request.after_request
        def first(request: Request, response: Response) -> None:
            response.headers.add("X-Trail", "request 1")

        @request.after_request
        def second(request: Request, response: Response) -> None:
            response.headers.add("X-Trail", "request 2")

        return "ok"

    with client_for(app) as client:
        trail = client.get("/").headers.getlist("X-Trail")
    assert trail == ["app", "request 1", "request 2"]


def test_after_error_request_hooks_run_in_reverse_order() -> None:
    app = Junco()

    @app.after_error_request
    def first(request: Request, response: Response) -> None:
        response.headers.add("X-Trail", "first")

    @app.after_error_request
    def second(request: Request, response: Response) -> None:
        response.headers.add("X-Trail", "second")

    with client_for(app) as client:
        assert client.get("/nowhere").headers.getlist("X-Trail") == ["second", "first"]


# -- errors ----------------------------------------------------------------------------------


@covers("errors_1")
def test_error_handlers() -> None:
    with example("errors_1") as client:
        assert client.get("/books/1").json == {"title": "Dune"}
        for path in ("/books/2", "/nowhere"):
            missing = client.get(path)
            assert missing.status_code == 404
            assert missing.json == {"error": "not found", "path": path}
            assert missing.headers["X-Error"] == "404"
        admin = client.get("/admin")
        assert (admin.status_code, admin.text) == (401, "Unauthorized")
        assert admin.headers["WWW-Authenticate"] == 'Basic realm="docs"'
        assert admin.headers["X-Error"] == "401"
        backordered = client.post("/orders/11")
        assert backordered.status_code == 409
        assert backordered.json == {"error": "out of stock", "kind": "BackOrdered"}
        ordered = client.post("/orders/1")
        assert (ordered.text, "X-Error" in ordered.headers) == ("ordered", False)
        wrong_method = client.get("/orders/1")
        assert (wrong_method.status_code, wrong_method.headers["Allow"]) == (405, "POST, OPTIONS")
        assert wrong_method.headers["X-Error"] == "405"


@covers("errors_3")
def test_errors_are_negotiated_and_restyled() -> None:
    with example("errors_3") as client:
        assert client.get("/orders/7").text == "open"
        api = client.get("/orders/101", headers={"Accept": "application/json"})
        assert (api.status_code, api.json) == (
            409,
            {
                "error": {
                    "status": 409,
                    "code": "order_closed",
                    "message": "that order is closed",
                    "order": 101,
                }
            },
        )
        page = client.get("/orders/101", headers={"Accept": "text/html"})
        assert page.headers["Content-Type"] == "text/html; charset=UTF-8"
        assert page.text.startswith("<h1>409: that order is closed</h1>")
        plain = client.get("/orders/101")
        assert (plain.status_code, plain.text) == (409, "that order is closed")


@covers("errors_2")
def test_500_hides_the_traceback_unless_debug() -> None:
    module = load("errors_2")
    with client_for(module.app) as client:
        assert client.get("/divide/6/3").json == {"result": 2.0}
        failed = client.get("/divide/1/0")
        assert (failed.status_code, failed.text) == (500, "Internal server error")
    with client_for(module.debug_app) as client:
        failed = client.get("/divide/1/0")
        assert failed.status_code == 500
        assert "Traceback" in failed.text
        assert "ZeroDivisionError" in failed.text


def test_error_handler_that_fails_gives_a_plain_error() -> None:
    app = Junco()

    @app.errorhandler(404)
    def broken(request: Request) -> str:
        raise RuntimeError("bug in the error handler")

    @app.errorhandler(403)
    def forbidden_elsewhere(request: Request) -> str:
        abort(410)

    @app.get("/forbidden")
    async def forbidden(request: Request) -> str:
        raise HTTPException(403)

    with client_for(app) as client:
        failed = client.get("/nowhere")
        assert (failed.status_code, failed.text) == (500, "Internal server error")
        assert client.get("/forbidden").status_code == 410


# -- mounting --------------------------------------------------------------------------------


@covers("mounting_1")
def test_mounting_with_prefixes() -> None:
    with example("mounting_1") as client:
        assert client.get("/customers/").json == ["ana", "bo"]
        moved = client.get("/customers")
        assert (moved.status_code, moved.headers["Location"]) == (308, "/customers/")
        assert client.get("/customers/7").json == {"id": 7, "url_prefix": "/customers"}
        archived = client.post("/customers/7/archive")
        assert (archived.status_code, archived.headers["Location"]) == (303, "/customers/7")
        assert client.get("/orders/").json == [1001, 1002]


@covers("mounting_2")
def test_mounting_local_and_global_hooks() -> None:
    key = {"X-API-Key": "docs-key"}
    with example("mounting_2") as client:
        home = client.get("/")
        assert (home.text, home.headers["X-Frame-Options"]) == ("home", "DENY")
        assert client.get("/about").headers["X-Frame-Options"] == "DENY"
        assert client.get("/api/items/1").status_code == 401
        item = client.get("/api/items/1", headers=key)
        assert (item.json, item.headers["X-Frame-Options"]) == ({"item": "lamp"}, "DENY")
        unknown = client.get("/api/items/9", headers=key)
        assert (unknown.status_code, unknown.json) == (404, {"error": "no such item"})
        broken = client.get("/broken")
        assert (broken.status_code, broken.text) == (500, "Internal server error")


@covers("mounting_3")
def test_mounting_a_foreign_asgi_app() -> None:
    with example("mounting_3") as client:
        assert client.get("/").text == "junco"
        assert client.get("/legacy/x").text == "legacy: path=/legacy/x root_path=/legacy"
        assert client.get("/legacy").text == "legacy: path=/legacy root_path=/legacy"


def test_mount_refuses_bad_configurations() -> None:
    app = Junco()
    with pytest.raises(ValueError, match="must start with '/'"):
        app.mount(Junco(), "api")
    with pytest.raises(ValueError, match="mounted on itself"):
        app.mount(app, "/self")
    with pytest.raises(ValueError, match="needs a url_prefix"):
        app.mount(load("mounting_3").legacy)


def test_routes_added_after_mounting_are_served() -> None:
    module = load("mounting_1")
    orders: Junco = module.orders

    @orders.get("/late")
    async def late(request: Request) -> str:
        return "added after mount"

    with client_for(module.app) as client:
        assert client.get("/orders/late").text == "added after mount"


def test_own_routes_win_over_mounts() -> None:
    app, sub = Junco(), Junco()

    @app.get("/shop/cart")
    async def own(request: Request) -> str:
        return "parent"

    @sub.get("/cart")
    async def mounted(request: Request) -> str:
        return "sub-app"

    app.mount(sub, "/shop")
    with client_for(app) as client:
        assert client.get("/shop/cart").text == "parent"


# -- lifespan --------------------------------------------------------------------------------


@covers("lifespan_1")
def test_lifespan_state() -> None:
    module = load("lifespan_1")

    async def scenario() -> None:
        async with TestClient(module.app) as client:
            assert (await client.get("/")).json == {"pool_open": True}
            pool = client.state["pool"]
            assert pool.closed is False
        assert pool.closed is True

    asyncio.run(scenario())


@covers("lifespan_2")
def test_lifespan_order_with_mounts() -> None:
    module = load("lifespan_2")
    with client_for(module.app):
        assert module.events == ["app started", "reports started"]
    assert module.events[2:] == ["reports stopped", "app stopped"]


@covers("lifespan_3")
def test_failed_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    module = load("lifespan_3")
    monkeypatch.delenv("DOCS_DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="DOCS_DATABASE_URL is not set"):
        asyncio.run(TestClient(module.app).startup())
    monkeypatch.setenv("DOCS_DATABASE_URL", "sqlite://")

    async def starts() -> None:
        async with TestClient(module.app):
            pass

    asyncio.run(starts())


# -- limits ----------------------------------------------------------------------------------


def test_default_limits() -> None:
    app = Junco()
    assert app.max_content_length == 16 * MiB
    assert app.max_body_length == MiB
    assert app.max_readline == 8 * 1024
    assert (app.max_form_fields, app.max_query_fields, app.max_json_depth) == (1000, 1000, 64)
    assert app.max_header_bytes == 32 * 1024


@covers("limits_1")
def test_limits_in_action() -> None:
    with example("limits_1") as client:
        assert client.post("/notes", json={"text": "hi"}).json == {"note": {"text": "hi"}}
        large_json = {"text": "x" * (100 * 1024)}
        assert client.post("/notes", json=large_json).status_code == 413
        assert client.put("/upload", body=b"u" * MiB).json == {"bytes": MiB}
        assert client.put("/upload", body=b"u" * (8 * MiB + 1)).status_code == 413
        assert client.put("/upload", stream=[b"u" * MiB] * 9).status_code == 413
        assert client.get("/search?q=a&q=b").json == {"terms": ["a", "b"]}
        crowded = "&".join(f"q={i}" for i in range(21))
        assert client.get("/search?" + crowded).status_code == 400


def test_header_guards() -> None:
    with example("limits_1") as client:
        assert client.get("/search", headers={"X-Filler": "a" * (32 * 1024)}).status_code == 431
        two_hosts = [("Host", "a.test"), ("Host", "b.test")]
        assert client.get("/search", headers=two_hosts).status_code == 400
        assert client.get("/search", scope={"headers": []}).status_code == 400
        http10 = {"headers": [], "http_version": "1.0"}
        assert client.get("/search", scope=http10).status_code == 200
        assert client.post("/notes", headers={"Content-Length": "ten"}).status_code == 400
        conflicting = [("Content-Length", "1"), ("Content-Length", "2")]
        assert client.post("/notes", headers=conflicting, body=b"x").status_code == 400
        assert client.get("/search\x00").status_code == 400


@covers("limits_2")
def test_limits_are_per_app() -> None:
    module = load("limits_2")
    body = b"b" * 2048
    with client_for(module.strict) as client:
        assert client.post("/size", body=body).status_code == 413
    with client_for(module.relaxed) as client:
        assert client.post("/size", body=body).json == {"bytes": 2048}


# -- testing ---------------------------------------------------------------------------------


@covers("testing_1")
def test_testing_sync_client_example() -> None:
    module = load("testing_1")
    module.test_index()
    module.test_echo()


@covers("testing_2")
def test_testing_async_client_example() -> None:
    load("testing_2").test_visits()


@covers("testing_3")
def test_testing_stream_scope_and_host_example() -> None:
    module = load("testing_3")
    module.test_streamed_upload()
    module.test_scope_and_host()


# -- porting from Microdot ------------------------------------------------------------------


@covers("porting_from_microdot_1")
def test_port_hello_world() -> None:
    with example("porting_from_microdot_1") as client:
        assert client.get("/").text == "Hello, world!"


@covers("porting_from_microdot_2")
def test_port_routing() -> None:
    before = dict(URLPattern._global_types)
    try:
        module = load("porting_from_microdot_2")
    finally:  # Microdot's register_type is process-wide: leave no trace for other tests
        URLPattern._global_types.clear()
        URLPattern._global_types.update(before)
    with client_for(module.app) as client:
        assert client.get("/invoices").text == "invoice list"
        assert client.post("/invoices").text == "invoice created"
        assert client.get("/people/7/zed").text == "zed is number 7"
        assert client.get("/wiki/howto/install").text == "page howto/install"
        assert client.get("/handles/ana_b").text == "@ana_b"
        assert client.get("/handles/Ana").status_code == 404
        assert client.get("/modes/755").json == {"mode": 493}
        assert client.get("/modes/9").status_code == 404


@covers("porting_from_microdot_3")
def test_port_request_attributes() -> None:
    with example("porting_from_microdot_3") as client:
        opened = client.post("/tickets", json={"title": "printer on fire"})
        assert (opened.status_code, opened.json) == (201, {"opened": "printer on fire"})
        bad = client.post("/tickets", headers={"Content-Type": "application/json"}, body=b"{")
        assert bad.status_code == 400  # Microdot: 500
        assert client.post("/hello", form={"name": "Ana"}).text == "Hello Ana"
        assert client.get("/hello").text == "Hello Unknown"
        about = client.get("/about-me?q=shoes", headers={"Cookie": "theme=dark"})
        assert about.json == {
            "method": "GET",
            "path": "/about-me",
            "query": "shoes",
            "theme": "dark",
            "content_type": None,
            "client_host": "127.0.0.1",
        }


@covers("porting_from_microdot_4")
def test_port_responses() -> None:
    with example("porting_from_microdot_4") as client:
        accepted = client.get("/accepted")
        assert (accepted.status_code, accepted.text) == (202, "queued")
        assert client.get("/banner").headers["Content-Type"] == "text/html"
        assert client.get("/nothing").status_code == 204
        assert client.get("/settings").json == {"theme": "dark"}
        home = client.get("/home")
        assert (home.status_code, home.headers["Location"]) == (302, "/")
        assert client.get("/squares").text == "1\n4\n9\n"
        assert client.get("/remember").headers["Set-Cookie"] == ["theme=dark"]
        assert client.get("/by-hand").headers["Set-Cookie"] == ["seen=yes"]


@covers("porting_from_microdot_5")
def test_port_before_and_after_hooks() -> None:
    key = {"X-API-Key": "key-ana"}
    with example("porting_from_microdot_5") as client:
        refused = client.get("/")
        assert (refused.status_code, refused.text) == (401, "Unauthorized")
        assert "X-Elapsed" in refused.headers
        hello = client.get("/", headers=key)
        assert hello.text == "Hello, ana!"
        assert re.fullmatch(r"\d+\.\d{4}", hello.headers["X-Elapsed"])
        assert "X-Failed" not in hello.headers
        missing = client.get("/nowhere", headers=key)
        assert (missing.status_code, missing.headers["X-Failed"]) == (404, "yes")


@covers("porting_from_microdot_6")
def test_port_error_handlers() -> None:
    with example("porting_from_microdot_6") as client:
        assert client.get("/users/1").json == {"name": "ana"}
        for path in ("/users/2", "/nowhere"):
            missing = client.get(path)
            assert (missing.status_code, missing.json) == (404, {"error": "resource not found"})
        assert client.get("/average/10/4").json == {"average": 2.5}
        failed = client.get("/average/10/0")
        assert (failed.status_code, failed.json) == (400, {"error": "ZeroDivisionError"})


@covers("porting_from_microdot_7")
def test_port_mounting() -> None:
    with example("porting_from_microdot_7") as client:
        assert client.get("/customers/").json == ["ana", "bo"]
        created = client.post("/customers/")
        assert (created.status_code, created.headers["Location"]) == (303, "/customers/")
        assert client.get("/orders/").json == [1001]


@covers("porting_from_microdot_8")
def test_port_test_client() -> None:
    module = load("porting_from_microdot_8")
    asyncio.run(module.test_app())
    module.test_app_sync()


@covers("porting_from_microdot_9")
def test_port_class_attribute_limits() -> None:
    saved = (Request.max_content_length, Request.max_body_length, Request.max_readline)
    try:
        module = load("porting_from_microdot_9")
    finally:  # the example changes class attributes: restore them for other tests
        Request.max_content_length, Request.max_body_length, Request.max_readline = saved
    assert (module.app.max_content_length, module.app.max_body_length) == (MiB, 8 * 1024)
    assert Junco().max_body_length == MiB  # only apps created while they were set
    with client_for(module.app) as client:
        assert client.post("/size", body=b"s" * 4096).json == {"bytes": 4096}
        assert client.post("/size", body=b"s" * 9216).status_code == 413
        assert client.post("/stream-size", body=b"s" * 9216).json == {"bytes": 9216}
        assert client.post("/stream-size", body=b"s" * (MiB + 1)).status_code == 413


# -- defects found while documenting, now fixed: regression tests -------------------------


def site_with_catch_all_routes() -> Junco:
    app = Junco()

    @app.get("/<a>")
    async def one(request: Request, a: str) -> str:
        return a

    @app.get("/<a>/<b>")
    async def two(request: Request, a: str, b: str) -> str:
        return a + b

    return app


@pytest.mark.parametrize("path", ["//evil.example/", "/\\evil.example/"])
def test_trailing_slash_redirect_never_leaves_the_site(path: str) -> None:
    with client_for(site_with_catch_all_routes()) as client:
        response = client.get(path)
    assert response.status_code == 400  # not canonical: refused before routing
    assert "Location" not in response.headers


def test_no_trailing_slash_redirect_after_a_tab() -> None:
    with client_for(site_with_catch_all_routes()) as client:
        response = client.get("/\t/evil.example/")
    # Browsers drop tabs from URLs, so "/<tab>/host" becomes "//host": another site.
    assert response.status_code == 400  # a control character: refused before routing
    assert "Location" not in response.headers


def test_custom_405_handler_keeps_allow() -> None:
    app = Junco()

    @app.post("/only-post")
    async def only_post(request: Request) -> str:
        return "ok"

    @app.errorhandler(405)
    async def method_not_allowed(request: Request) -> tuple[dict[str, str], int]:
        return {"error": "method not allowed"}, 405

    with client_for(app) as client:
        assert client.get("/only-post").headers.get("Allow") == "POST, OPTIONS"


def test_error_reason_is_always_text_plain() -> None:
    app = Junco(default_content_type="text/html")

    @app.get("/search")
    async def search(request: Request) -> str:
        abort(400, "no results for " + request.args.get("q", ""))

    with client_for(app) as client:
        response = client.get("/search?q=<script>alert(1)</script>")
    assert response.headers["Content-Type"].startswith("text/plain")


def test_foreign_mount_gets_header_guards() -> None:
    module = load("mounting_3")
    with client_for(module.app) as client:
        assert client.get("/legacy/x", headers={"X-Filler": "a" * MiB}).status_code == 431


def test_request_content_length() -> None:
    app = Junco()

    @app.post("/")
    async def index(request: Request) -> dict[str, int | None]:
        return {"content_length": request.content_length}

    with client_for(app) as client:
        assert client.post("/", body=b"abc").json == {"content_length": 3}


def test_converter_parser_error_is_no_match() -> None:
    app = Junco()
    app.register_type("hex", parser=lambda value: int(value, 16))  # Microdot's own example

    @app.get("/colors/<hex:value>")
    async def color(request: Request, value: int) -> dict[str, int]:
        return {"value": value}

    with client_for(app) as client:
        assert client.get("/colors/zz").status_code == 404


# -- typed handlers and OpenAPI ---------------------------------------------------------------


@covers("typed_handlers_1")
def test_typed_handlers_bodies_and_query() -> None:
    with example("typed_handlers_1") as client:
        r = client.post("/items", body={"name": "pen", "price": 1.5})
        assert (r.status_code, r.json) == (201, {"name": "pen", "price": 1.5, "tags": []})
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        r = client.post("/items", body="name=ink&price=2&tags=blue&tags=black", headers=form)
        assert r.json == {"name": "ink", "price": 2.0, "tags": ["blue", "black"]}
        assert client.get("/items/1").json == {"name": "pen"}
        assert client.get("/items/2?verbose=true").json == {
            "name": "ink",
            "tags": ["blue", "black"],
        }
        assert client.get("/items/9").status_code == 404
        bad = client.post("/items", body={"name": "x", "price": "cheap", "tags": [1]})
        assert bad.status_code == 422
        errors = bad.json["error"]["errors"]
        assert [e["loc"] for e in errors] == [["body", "price"], ["body", "tags", 0]]
        r = client.get("/items/1?verbose=perhaps")
        assert r.json["error"]["errors"][0]["loc"] == ["query", "verbose"]


@covers("typed_handlers_2")
def test_typed_handlers_query_headers_cookies_controllers() -> None:
    with example("typed_handlers_2") as client:
        r = client.get(
            "/search?q=tea&page=2&sort=old&tag=a&tag=b", headers={"Cookie": "theme=dark"}
        )
        assert r.json == {"q": "tea", "page": 2, "sort": "old", "tags": ["a", "b"], "theme": "dark"}
        r = client.get("/search?sort=sideways")
        locs = [e["loc"] for e in r.json["error"]["errors"]]
        assert locs == [["query", "q"], ["query", "sort"]]
        item = "3f2c1b9e-8f43-4c55-9b4f-3b1d2e6a7c10"
        assert client.post("/orders/place", body={"item": item}).json == {
            "item": item,
            "quantity": 1,
        }
        assert client.post("/orders/place", body={"item": "x"}).status_code == 422


@covers("typed_handlers_3")
def test_typed_handlers_uploads() -> None:
    from openapi_spec_validator import validate

    def multipart(*parts: tuple[str, str, bytes, str | None]) -> tuple[bytes, dict[str, str]]:
        chunks = []
        for name, filename, data, ctype in parts:
            disposition = f'form-data; name="{name}"'
            disposition += f'; filename="{filename}"' if filename else ""
            head = f"--b0und\r\nContent-Disposition: {disposition}\r\n"
            head += f"Content-Type: {ctype}\r\n" if ctype else ""
            chunks.append(head.encode() + b"\r\n" + data + b"\r\n")
        body = b"".join(chunks) + b"--b0und--\r\n"
        return body, {"Content-Type": "multipart/form-data; boundary=b0und"}

    with example("typed_handlers_3") as client:
        body, headers = multipart(
            ("title", "", b"sea", None),
            ("tags", "", b"blue", None),
            ("image", "../../sea.jpg", b"\xff\xd8" * 10, "image/jpeg"),
        )
        r = client.post("/photos", body=body, headers=headers)
        assert r.json == {"title": "sea", "file": "sea.jpg", "bytes": 20, "tags": ["blue"]}
        body, headers = multipart(("title", "", b"sea", None))
        r = client.post("/photos", body=body, headers=headers)
        assert r.status_code == 422
        assert r.json["error"]["errors"] == [{"loc": ["body", "image"], "msg": "field required"}]
        body, headers = multipart(
            ("avatar", "me.png", b"png", "image/png"),
            ("thumbnails", "s.png", b"s", "image/png"),
            ("thumbnails", "m.png", b"m", "image/png"),
        )
        assert client.post("/avatar", body=body, headers=headers).json == {
            "avatar": "image/png",
            "thumbnails": 2,
        }
        body, headers = multipart(("avatar", "big.png", b"x" * (5 * MiB + 1), "image/png"))
        assert client.post("/avatar", body=body, headers=headers).status_code == 413
        r = client.post("/avatar", body={"avatar": "x"}, headers={"Accept": "text/html"})
        assert r.status_code == 422
        assert "<code>body.avatar</code>: a file is required" in r.text
        doc = client.get("/openapi.json").json
        validate(doc)
        content = doc["paths"]["/photos"]["post"]["requestBody"]["content"]
        assert list(content) == ["multipart/form-data"]
        image = doc["components"]["schemas"]["Photo"]["properties"]["image"]
        assert image["contentMediaType"] == "application/octet-stream"


@covers("openapi_1")
def test_openapi_document_and_docs() -> None:
    from openapi_spec_validator import validate

    with example("openapi_1") as client:
        doc = client.get("/openapi.json").json
        validate(doc)
        assert set(doc["paths"]) == {"/items/{id}", "/items"}
        show = doc["paths"]["/items/{id}"]["get"]
        assert show["summary"] == "Show one item."
        assert show["parameters"][0]["schema"]["type"] == "integer"
        assert "404" in show["responses"]
        create = doc["paths"]["/items"]["post"]
        assert create["security"] == [{"TokenAuth": []}]
        assert {"201", "401", "422"} <= set(create["responses"])
        assert client.get("/docs").headers["Content-Type"].startswith("text/html")
        assert client.post("/items", body={"name": "ink", "price": 2}).status_code == 401
        r = client.post(
            "/items",
            body={"name": "ink", "price": 2},
            headers={"Authorization": "Bearer let-me-in"},
        )
        assert r.status_code == 201
        assert client.get("/items/2").json == {"name": "ink", "price": 2.0}


# -- scale-out -------------------------------------------------------------------------------


def deployment(monkeypatch: pytest.MonkeyPatch, redis_url: str | None) -> None:
    """The environment of a deployment: a shared key, and Redis or not."""
    monkeypatch.setenv("JUNCO_SECRET_KEY", "s" * 43)
    if redis_url is None:
        monkeypatch.delenv("JUNCO_REDIS_URL", raising=False)
    else:
        monkeypatch.setenv("JUNCO_REDIS_URL", redis_url)


@covers("scale_out_1")
def test_one_variable_moves_every_store_to_redis(
    monkeypatch: pytest.MonkeyPatch, redis_db: str, redis_server: RedisServer
) -> None:
    deployment(monkeypatch, None)
    alone = load("scale_out_1")
    assert in_memory(alone.limiter)
    assert in_memory(alone.broadcast)
    with client_for(alone.app) as client:
        statuses = [client.post("/visits").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
    assert redis_server.dbsize() == 0

    # The same code, the variable set: two apps stand for two workers, one Redis.
    deployment(monkeypatch, redis_db)
    one, two = load("scale_out_1"), load("scale_out_1")
    assert not in_memory(one.limiter)
    assert not in_memory(one.broadcast)
    with client_for(one.app) as a, client_for(two.app) as b:
        assert a.post("/visits").json == {"visits": 1}
        b.cookies.update(a.cookies)  # the browser's cookie, sent to the other worker
        assert b.post("/visits").json == {"visits": 2}  # the session is in Redis
        assert a.post("/visits").json == {"visits": 3}
        assert b.post("/visits").status_code == 429  # one counter for both workers
    assert redis_server.dbsize() >= 2


@covers("scale_out_2")
def test_secure_stack_honours_the_variable(
    monkeypatch: pytest.MonkeyPatch, redis_db: str, redis_server: RedisServer
) -> None:
    deployment(monkeypatch, None)
    module = load("scale_out_2")
    assert module.stack.session.store is None  # signed cookies
    assert in_memory(module.stack.limiter)

    deployment(monkeypatch, redis_db)
    module = load("scale_out_2")
    assert not in_memory(module.stack.limiter)
    with client_for(module.app) as client:
        r = client.post("/login", headers={"Origin": "http://localhost"})
        assert (r.status_code, r.text) == (200, "welcome")
        assert redis_server.dbsize() >= 2  # the session record and the counter


@covers("scale_out_3")
def test_your_own_client_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    # No Sentinel runs here: the example is built, not started (nothing connects
    # before the first command).
    deployment(monkeypatch, None)
    module = load("scale_out_3")
    client = module.client
    session = module.app.extensions["session"]

    async def clients() -> list[Any]:
        return [session.store.client, module.limiter.store.client]

    assert asyncio.run(clients()) == [client, client]
    assert module.broadcast.backend.url is None
    assert not in_memory(module.limiter)
