"""Jinja2 templates: class-level and per-app setup, escaping, responses, globals."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import jinja2
import pytest

from junco import Junco, Request, Response, current_request
from junco.templating import (
    Template,
    Templates,
    add_context_processor,
    add_template_global,
    render_template,
    render_template_async,
)
from junco.testing import TestClient
from tests.conftest import Sync


@pytest.fixture(autouse=True)
def fresh_class_env() -> Iterator[None]:
    """Tests set up the class-level environment; give each a clean one."""
    saved = Template.jinja_env
    Template.jinja_env = None
    yield
    Template.jinja_env = saved


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


@pytest.fixture
def tdir(tmp_path: Path) -> Path:
    return write(
        tmp_path / "templates",
        {
            "page.html": "<p>{{ name }}</p>",
            "note.txt": "{{ name }}",
            "feed.xml": "<t>{{ name }}</t>",
            "base.html": "<main>{% block body %}{% endblock %}</main>",
            "child.html": '{% extends "base.html" %}{% block body %}[{{ name }}]{% endblock %}',
            "long.html": "{% for i in range(n) %}<li>{{ i }}</li>{% endfor %}",
            "who.html": "{{ who() }}|{{ user }}|{{ name }}",
        },
    )


# -- class-level (Microdot's API) -----------------------------------------------------------


def test_render_and_generate(tdir: Path) -> None:
    Template.initialize(tdir)
    t = Template("page.html")
    assert t.name == "page.html"
    assert t.render(name="x") == "<p>x</p>"
    assert t.render({"name": "pos"}) == "<p>pos</p>"
    assert "".join(t.generate(name="y")) == "<p>y</p>"
    assert Template("child.html").render(name="c") == "<main>[c]</main>"


def test_async_rendering_with_a_sync_environment(tdir: Path) -> None:
    Template.initialize(tdir)

    async def main() -> tuple[str, str, str]:
        t = Template("long.html")
        whole = await t.render_async(n=5000)
        chunks = [c async for c in t.generate_async(n=5000)]
        assert len(chunks) > 1  # rendered in several worker-thread batches
        return whole, "".join(chunks), t.render(n=5000)

    whole, streamed, sync = asyncio.run(main())
    assert whole == streamed == sync
    assert whole.endswith("<li>4999</li>")


def test_async_environment(tdir: Path) -> None:
    Template.initialize(tdir, enable_async=True)

    async def main() -> tuple[str, str]:
        t = Template("page.html")
        rendered = await t.render_async(name="a")
        chunks = "".join([c async for c in t.generate_async(name="b")])
        return rendered, chunks

    assert asyncio.run(main()) == ("<p>a</p>", "<p>b</p>")


def test_default_directory_is_templates(tdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tdir.parent)
    assert Template("page.html").render(name="d") == "<p>d</p>"
    assert Template.jinja_env is not None


def test_missing_template(tdir: Path) -> None:
    Template.initialize(tdir)
    with pytest.raises(jinja2.TemplateNotFound):
        Template("nope.html")


def test_jinja_options_pass_through(tdir: Path) -> None:
    Template.initialize(tdir, undefined=jinja2.StrictUndefined)
    with pytest.raises(jinja2.UndefinedError):
        Template("page.html").render()


# -- escaping ------------------------------------------------------------------------------


def test_autoescape_by_extension(tdir: Path) -> None:
    Template.initialize(tdir)
    payload = "<script>alert('x')</script>"
    assert Template("page.html").render(name=payload) == (
        "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</p>"
    )
    assert "&lt;script&gt;" in Template("feed.xml").render(name=payload)
    assert Template("note.txt").render(name=payload) == payload
    assert "&lt;" in Template("child.html").render(name="<b>")


def test_autoescape_for_per_app_templates(tdir: Path) -> None:
    app = Junco()
    templates = Templates(app, template_dir=tdir)
    assert templates.get_template("page.html").render(name="<i>") == "<p>&lt;i&gt;</p>"
    env = templates.env.from_string("{{ x }}")
    assert env.render(x="<i>") == "&lt;i&gt;"


# -- responses -----------------------------------------------------------------------------


def test_html_responses(tdir: Path, sync: Sync) -> None:
    app = Junco()
    Templates(app, template_dir=tdir)

    @app.get("/a")
    async def a(request: Request) -> Response:
        return Template("page.html").response(name="a")

    @app.get("/b")
    def b(request: Request) -> Response:
        return render_template("page.html", name="b", status_code=201, headers={"X-T": "1"})

    @app.get("/c")
    async def c(request: Request) -> Response:
        return await render_template_async("page.html", name="c")

    @app.get("/d")
    async def d(request: Request) -> Response:
        return Template("long.html").stream_response(n=3)

    @app.get("/e")
    async def e(request: Request) -> Response:
        return await Template("page.html").response_async(name="e", status_code=404)

    client = sync(app)
    r = client.get("/a")
    assert (r.status_code, r.text) == (200, "<p>a</p>")
    assert r.headers["content-type"] == "text/html; charset=UTF-8"
    r = client.get("/b")
    assert (r.status_code, r.text, r.headers["x-t"]) == (201, "<p>b</p>", "1")
    assert client.get("/c").text == "<p>c</p>"
    r = client.get("/d")
    assert r.text == "<li>0</li><li>1</li><li>2</li>"
    assert r.headers["content-type"] == "text/html; charset=UTF-8"
    assert (client.get("/e").status_code, client.get("/e").text) == (404, "<p>e</p>")


def test_response_keeps_an_explicit_content_type(tdir: Path) -> None:
    Template.initialize(tdir)
    r = Template("feed.xml").response(name="x", headers={"Content-Type": "application/xml"})
    assert r.headers["content-type"] == "application/xml"


# -- per-app configuration -------------------------------------------------------------------


def two_apps(tmp_path: Path) -> tuple[Junco, Junco]:
    apps = []
    for label in ("one", "two"):
        directory = write(tmp_path / label, {"page.html": label + ":{{ name }}"})
        app = Junco()
        Templates(app, template_dir=directory)

        @app.get("/")
        async def index(request: Request) -> Response:
            await asyncio.sleep(0)  # interleave the two apps' requests
            return Template("page.html").response(name=request.args.get("n", ""))

        apps.append(app)
    return apps[0], apps[1]


def test_two_apps_do_not_interfere(tmp_path: Path) -> None:
    one, two = two_apps(tmp_path)

    async def main() -> list[str]:
        c1, c2 = TestClient(one), TestClient(two)
        calls = [c.get(f"/?n={i}") for i in range(10) for c in (c1, c2)]
        return [r.text for r in await asyncio.gather(*calls)]

    texts = asyncio.run(main())
    assert texts == [f"{label}:{i}" for i in range(10) for label in ("one", "two")]


def test_per_app_wins_over_class_level(tmp_path: Path, sync: Sync) -> None:
    Template.initialize(write(tmp_path / "global", {"page.html": "global"}))
    app = Junco()
    Templates(app, template_dir=write(tmp_path / "mine", {"page.html": "mine"}))

    @app.get("/")
    def index(request: Request) -> str:
        return Template("page.html").render()

    assert sync(app).get("/").text == "mine"
    assert Template("page.html").render() == "global"  # outside a request
    assert Template("page.html", app=app).render() == "mine"
    assert Template("page.html", app=Junco()).render() == "global"


def test_mounted_sub_app_uses_its_own_templates(tmp_path: Path, sync: Sync) -> None:
    parent, child = Junco(), Junco()
    Templates(parent, template_dir=write(tmp_path / "p", {"page.html": "parent"}))
    Templates(child, template_dir=write(tmp_path / "c", {"page.html": "child"}))

    @parent.get("/")
    async def p(request: Request) -> Response:
        return Template("page.html").response()

    @child.get("/")
    async def c(request: Request) -> Response:
        return Template("page.html").response()

    parent.mount(child, "/child")
    client = sync(parent)
    assert client.get("/").text == "parent"
    assert client.get("/child/").text == "child"


def test_inheriting_templates_follow_the_class_level_setup(tmp_path: Path) -> None:
    Template.initialize(write(tmp_path / "first", {"page.html": "first {{ g }}"}))
    app = Junco()
    add_template_global(app, "g", "G")
    assert Template("page.html", app=app).render() == "first G"
    assert Template("page.html").render() == "first "  # the global stays in the app
    Template.initialize(write(tmp_path / "second", {"page.html": "second {{ g }}"}))
    assert Template("page.html", app=app).render() == "second G"


def test_class_level_globals_reach_inheriting_apps(tmp_path: Path) -> None:
    Template.initialize(write(tmp_path / "t", {"page.html": "{{ site }}/{{ mine }}"}))
    app = Junco()
    add_template_global(app, "mine", "m")
    env = Template.environment()
    env.globals["site"] = "S"
    assert Template("page.html", app=app).render() == "S/m"


def test_configuring_later_keeps_registered_globals(tdir: Path) -> None:
    app = Junco()
    add_template_global(app, "who", lambda: "early")
    add_context_processor(app, lambda: {"user": "u"})
    Templates(app, template_dir=tdir)
    assert Template("who.html", app=app).render(name="n") == "early|u|n"


# -- globals and context processors ---------------------------------------------------------


def test_globals_are_evaluated_per_request(tdir: Path, sync: Sync) -> None:
    app = Junco()
    Templates(app, template_dir=tdir)
    add_template_global(app, "who", lambda: current_request().args.get("who", "nobody"))

    @app.get("/sync")
    def sync_view(request: Request) -> Response:
        return render_template("who.html", name="s")

    @app.get("/async")
    async def async_view(request: Request) -> Response:
        return Template("who.html").response(name="a")

    @app.get("/stream")
    async def stream_view(request: Request) -> Response:
        return Template("who.html").stream_response(name="t")

    add_context_processor(app, lambda: {"user": current_request().path, "name": "lost"})
    client = sync(app)
    assert client.get("/sync?who=ann").text == "ann|/sync|s"
    assert client.get("/async?who=bob").text == "bob|/async|a"
    assert client.get("/stream?who=cy").text == "cy|/stream|t"
    assert client.get("/async").text == "nobody|/async|a"


def test_globals_do_not_leak_between_apps(tdir: Path) -> None:
    one, two = Junco(), Junco()
    Templates(one, template_dir=tdir)
    Templates(two, template_dir=tdir)
    add_template_global(one, "who", lambda: "one")
    add_template_global(two, "who", lambda: "two")
    add_context_processor(one, lambda: {"user": "u1"})
    assert Template("who.html", app=one).render(name="") == "one|u1|"
    assert Template("who.html", app=two).render(name="") == "two||"


def test_templates_decorator_style(tdir: Path) -> None:
    app = Junco()
    templates = Templates(app, template_dir=tdir)
    templates.add_global("who", lambda: "w")

    @templates.context_processor
    def user() -> dict[str, str]:
        return {"user": "dec"}

    assert Templates.of(app) is templates
    assert templates.render_template("who.html", name="n").body == b"w|dec|n"


# -- without Jinja2 ----------------------------------------------------------------------------


def test_missing_jinja_names_the_extra(monkeypatch: pytest.MonkeyPatch, tdir: Path) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    with pytest.raises(ImportError, match=r'pip install "junco\[templates\]"'):
        Template.initialize(tdir)
    with pytest.raises(ImportError, match=r'pip install "junco\[templates\]"'):
        Templates(Junco(), template_dir=tdir)
    app = Junco()
    add_template_global(app, "x", 1)  # extensions may register without Jinja2
    with pytest.raises(ImportError, match="junco"):
        Template("page.html", app=app)


def test_init_app_later_and_async_overlay(tdir: Path) -> None:
    Template.initialize(tdir)
    templates = Templates(enable_async=True, trim_blocks=True)
    app = Junco()
    templates.init_app(app)
    assert Templates.of(app) is templates
    assert templates.env.is_async
    assert templates.env.trim_blocks
    assert not Template.environment().is_async

    async def main() -> str:
        return await Template("page.html", app=app).render_async(name="o")

    assert asyncio.run(main()) == "<p>o</p>"
