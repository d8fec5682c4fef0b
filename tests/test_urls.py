"""url_for (app and templates), flash messages and current_user in templates."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from junco import Junco, Request, redirect
from junco.flash import MAX_MESSAGES, flash, get_flashed_messages
from junco.security.login import Login
from junco.security.sessions import Session
from junco.templating import Templates, render_template
from junco.testing import TestClient
from junco.urls import BuildError

SECRET = "s" * 32


def shop() -> Junco:
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> str:
        return "home"

    @app.get("/users/<int:user_id>", name="user")
    async def show_user(request: Request, user_id: int) -> str:
        return str(user_id)

    @app.get("/files/<path:rest>")
    async def files(request: Request, rest: str) -> str:
        return rest

    @app.get("/tags/<tag>")
    async def tag(request: Request, tag: str) -> str:
        return tag

    admin = Junco()

    @admin.post("/users/<int:user_id>/ban")
    async def ban(request: Request, user_id: int) -> str:
        return "banned"

    app.mount(admin, "/admin")
    return app


def test_url_for_builds_paths() -> None:
    app = shop()
    assert app.url_for("index") == "/"
    assert app.url_for("user", user_id=7) == "/users/7"
    assert app.url_for("files", rest="a/b c.txt") == "/files/a/b%20c.txt"
    assert app.url_for("tag", tag="a b?c&") == "/tags/a%20b%3Fc%26"
    assert app.url_for("user", user_id=7, tab="posts", x=None) == "/users/7?tab=posts"
    assert app.url_for("ban", user_id=3) == "/admin/users/3/ban"  # through the mount


def test_url_for_refuses_what_cannot_be_built() -> None:
    app = shop()
    with pytest.raises(BuildError, match="no route named 'show_user'"):
        app.url_for("show_user")  # renamed with name=
    with pytest.raises(BuildError, match="needs 'user_id'"):
        app.url_for("user")
    with pytest.raises(BuildError, match="do not fit"):
        app.url_for("user", user_id="seven")
    with pytest.raises(BuildError, match="do not fit"):
        app.url_for("tag", tag="a/b")  # a '/' cannot be inside one segment


def test_built_urls_route_back_to_their_handler() -> None:
    app = shop()
    client = TestClient(app)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("user", {"user_id": 42}, "42"),
        ("files", {"rest": "dir/x y.txt"}, "dir/x y.txt"),
        ("tag", {"tag": "ü&?#"}, "ü&?#"),
    ]
    for name, params, body in cases:
        r = asyncio.run(client.get(app.url_for(name, **params)))
        assert (r.status_code, r.text) == (200, body)


def test_url_for_in_a_request_follows_root_path() -> None:
    app = shop()

    @app.get("/where")
    async def where(request: Request) -> str:
        return request.app.url_for("user", user_id=1)

    r = asyncio.run(TestClient(app).get("/proxy/where", scope={"root_path": "/proxy"}))
    assert r.text == "/proxy/users/1"


def test_url_for_and_flash_in_templates(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        "<a href=\"{{ url_for('user', user_id=5) }}\">u</a>"
        "{% for c, m in get_flashed_messages(with_categories=True) %}[{{ c }}:{{ m }}]{% endfor %}"
    )
    app = shop()
    Session(app, SECRET)
    Templates(app, template_dir=tmp_path)

    @app.post("/save")
    async def save(request: Request) -> Any:
        flash(request, "Saved <b>", "success")
        flash(request, "Again")
        return redirect("/page")

    @app.get("/page")
    async def page(request: Request) -> Any:
        return render_template("page.html")

    client = TestClient(app).sync
    assert client.post("/save").status_code == 302
    first = client.get("/page")
    assert first.text == '<a href="/users/5">u</a>[success:Saved &lt;b&gt;][message:Again]'
    assert client.get("/page").text == '<a href="/users/5">u</a>'  # shown once


def test_flash_bounds_and_filters() -> None:
    app = Junco()
    Session(app, SECRET)

    @app.get("/")
    async def index(request: Request) -> Any:
        for i in range(MAX_MESSAGES + 5):
            flash(request, f"m{i}", "error" if i % 2 else "info")
        errors = get_flashed_messages(category_filter=["error"], request=request)
        rest = get_flashed_messages(request=request)
        return {"errors": errors, "rest": rest, "then": get_flashed_messages(request=request)}

    body = TestClient(app).sync.get("/").json
    assert len(body["errors"]) + len(body["rest"]) == MAX_MESSAGES
    assert body["rest"][-1] == f"m{MAX_MESSAGES + 4}"
    assert all(int(m[1:]) % 2 for m in body["errors"])
    assert body["then"] == []


def test_flash_without_a_session_says_what_to_install() -> None:
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> str:
        flash(request, "x")
        return "no"

    app.debug = True
    r = TestClient(app).sync.get("/")
    assert "install Session(app, ...)" in r.text


def test_current_user_in_templates(tmp_path: Path) -> None:
    (tmp_path / "me.html").write_text("{{ current_user.name if current_user else 'anonymous' }}")
    app = Junco()
    Session(app, SECRET)
    Templates(app, template_dir=tmp_path)
    login = Login()
    login.init_app(app)

    class User:
        id = 1
        name = "ana"

    @login.user_loader
    def load(user_id: Any) -> User | None:
        return User() if user_id == 1 else None

    @app.post("/in")
    async def log_in(request: Request) -> str:
        await login.login_user(request, User())
        return "in"

    @app.get("/me")
    @login
    async def me(request: Request) -> Any:
        return render_template("me.html")

    @app.get("/open")
    async def open_page(request: Request) -> Any:
        return render_template("me.html")

    client = TestClient(app).sync
    assert client.get("/open").text == "anonymous"
    client.post("/in")
    assert client.get("/me").text == "ana"
