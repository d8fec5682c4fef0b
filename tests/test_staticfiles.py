"""Static files: serving, directories, methods, and a traversal suite of hostile paths."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from junco import ConfigurationError, Junco, Request, Response
from junco.staticfiles import StaticFiles
from junco.testing import SyncTestClient, TestResponse
from tests.conftest import Sync
from tests.test_files import open_fds

SECRET = b"TOP-SECRET-CONTENT"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A public directory with traps around it; returns the public directory."""
    public = tmp_path / "public"
    (public / "css").mkdir(parents=True)
    (public / "sub").mkdir()
    (public / "noindex").mkdir()
    (public / "a b").mkdir()
    (public / ".hidden").mkdir()
    (public / "evil.com").mkdir()
    (public / "index.html").write_text("<h1>home</h1>")
    (public / "app.js").write_text("console.log(1)")
    (public / "css" / "site.css").write_text("body{}")
    (public / "css" / ".htaccess").write_bytes(SECRET)
    (public / "sub" / "index.html").write_text("<h1>sub</h1>")
    (public / "a b" / "index.html").write_text("spaced")
    (public / "evil.com" / "index.html").write_text("not evil")
    (public / ".env").write_bytes(SECRET)
    (public / ".hidden" / "x.txt").write_bytes(SECRET)
    (public / "data.qqq").write_bytes(b"\x00\x01")
    (public / "404.html").write_text("<p>custom missing</p>")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "passwd.txt").write_bytes(SECRET)
    (tmp_path / "public-secret").mkdir()
    (tmp_path / "public-secret" / "x.txt").write_bytes(SECRET)
    (public / "link_in").symlink_to(public / "app.js")
    (public / "link_out").symlink_to(tmp_path / "secret.txt")
    (public / "linkdir_out").symlink_to(tmp_path / "private", target_is_directory=True)
    (public / "link_dot").symlink_to(public / ".env")
    (public / "link_sibling").symlink_to(tmp_path / "public-secret" / "x.txt")
    os.mkfifo(public / "fifo")
    return public


def make_app(public: Path, mode: str, **options: Any) -> Junco:
    app = Junco()
    static = StaticFiles(public, **options)
    if mode == "attach":
        static.attach(app)
    else:
        app.mount(static, url_prefix="/static")
    return app


@pytest.fixture(params=["attach", "mount"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(site: Path, mode: str, sync: Sync) -> SyncTestClient:
    return sync(make_app(site, mode))


# -- serving -----------------------------------------------------------------------------


def test_serves_files(client: Any, site: Path) -> None:
    r = client.get("/static/app.js")
    assert r.status_code == 200
    assert r.body == b"console.log(1)"
    assert r.headers["content-type"] == "text/javascript; charset=UTF-8"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["accept-ranges"] == "bytes"
    assert client.get("/static/css/site.css").body == b"body{}"
    assert client.get("/static/data.qqq").headers["content-type"] == "application/octet-stream"
    assert client.get("/static/link_in").body == b"console.log(1)"  # a link inside is fine
    assert client.get("/static//css//site.css").status_code == 400  # not canonical
    assert open_fds(site / "app.js") == 0


def test_conditional_and_range(client: Any) -> None:
    etag = client.get("/static/app.js").headers["etag"]
    assert client.get("/static/app.js", {"If-None-Match": etag}).status_code == 304
    r = client.get("/static/app.js", {"Range": "bytes=0-6"})
    assert (r.status_code, r.body) == (206, b"console")
    assert client.get("/static/app.js", {"Range": "bytes=99-"}).status_code == 416


def test_head(client: Any) -> None:
    r = client.head("/static/app.js")
    assert (r.status_code, r.body) == (200, None)
    assert r.headers["content-length"] == "14"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(client: Any, method: str) -> None:
    r = client.request(method, "/static/app.js")
    assert r.status_code == 405
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    assert {"GET", "HEAD"} <= allowed
    assert allowed <= {"GET", "HEAD", "OPTIONS"}


def test_handler_refuses_other_methods_when_registered_for_them(site: Path, sync: Sync) -> None:
    app = Junco()
    static = StaticFiles(site)
    app.route("/files/<path:path>", methods=["GET", "POST"])(static.handler)
    client = sync(app)
    assert client.get("/files/app.js").status_code == 200
    r = client.post("/files/app.js")
    assert (r.status_code, r.headers["allow"]) == (405, "GET, HEAD")


# -- directories ---------------------------------------------------------------------------


def test_directory_index_and_redirects(client: Any) -> None:
    assert client.get("/static/").body == b"<h1>home</h1>"
    r = client.get("/static")
    assert (r.status_code, r.headers["location"]) == (308, "/static/")
    r = client.get("/static/sub")
    assert (r.status_code, r.headers["location"]) == (308, "/static/sub/")
    assert client.get("/static/sub/").body == b"<h1>sub</h1>"
    assert client.get("/static/sub/index.html").body == b"<h1>sub</h1>"
    r = client.get("/static/a b")
    assert r.headers["location"] == "/static/a%20b/"
    assert client.get("/static/a b/").body == b"spaced"


def test_directory_without_index_is_404(client: Any) -> None:
    assert client.get("/static/noindex").status_code == 404
    assert client.get("/static/noindex/").status_code == 404


def test_file_with_trailing_slash_is_404(client: Any) -> None:
    assert client.get("/static/app.js/").status_code == 404


def test_index_none(site: Path, mode: str, sync: Sync) -> None:
    client = sync(make_app(site, mode, index=None))
    assert client.get("/static/").status_code == 404
    assert client.get("/static/sub").status_code == 404


def test_redirect_keeps_root_path(site: Path, mode: str, sync: Sync) -> None:
    client = sync(make_app(site, mode))
    r = client.get("/app/static/sub", scope={"root_path": "/app"})
    assert (r.status_code, r.headers["location"]) == (308, "/app/static/sub/")


def test_served_alone_the_root_path_is_stripped_by_whole_segments(site: Path, sync: Sync) -> None:
    # StaticFiles as the whole ASGI app behind a proxy that mounts it at /static.
    client = sync(StaticFiles(site))
    scope = {"root_path": "/static", "path": "/static/app.js"}
    assert client.get("/app.js", scope=scope).text == "console.log(1)"
    for hostile in ("/staticapp.js", "/static.env", "/staticsub/index.html"):
        r = client.get(hostile, scope={"root_path": "/static", "path": hostile})
        assert r.status_code == 404, hostile  # was cut to "app.js" (not a path: 400)


def test_redirect_in_a_mounted_sub_app(site: Path, sync: Sync) -> None:
    sub = Junco()
    StaticFiles(site).attach(sub)
    app = Junco()
    app.mount(sub, "/site")
    client = sync(app)
    assert client.get("/site/static/app.js").body == b"console.log(1)"
    assert client.get("/site/static/sub").headers["location"] == "/site/static/sub/"


@pytest.mark.parametrize("path", ["//evil.com", "///evil.com", "//evil.com/"])
def test_redirect_is_never_protocol_relative(site: Path, path: str, sync: Sync) -> None:
    # Served at the root, where "//evil.com" would otherwise become a Location.
    app = Junco()
    StaticFiles(site, prefix="/").attach(app)
    for target in (app, StaticFiles(site)):
        r = sync(target).get(path)
        assert r.status_code == 400  # "//" is refused before routing
        assert "location" not in r.headers
    assert sync(app).get("/evil.com").headers["location"] == "/evil.com/"


@pytest.mark.parametrize("path", ["/\\evil.com", "/%5cevil.com", "/\\/evil.com"])
def test_backslash_redirects_are_refused(site: Path, path: str, sync: Sync) -> None:
    r = sync(StaticFiles(site)).get(path)
    assert r.status_code == 400
    assert "location" not in r.headers


def test_directory_redirect_keeps_the_query(client: Any) -> None:
    r = client.get("/static/sub?v=1&x=%2F")
    assert (r.status_code, r.headers["location"]) == (308, "/static/sub/?v=1&x=%2F")
    r = client.get("/static/a b", scope={"query_string": "q=€ x\x00".encode()})
    assert r.headers["location"] == "/static/a%20b/?q=%E2%82%AC%20x%00"


# -- options -----------------------------------------------------------------------------


def test_not_found_page(site: Path, mode: str, sync: Sync) -> None:
    client = sync(make_app(site, mode, not_found_page="404.html"))
    for path in ("/static/missing.txt", "/static/.hidden/x.txt", "/static/.env"):
        r = client.get(path)
        assert r.status_code == 404
        assert r.body == b"<p>custom missing</p>"
        assert r.headers["content-type"] == "text/html; charset=UTF-8"
        assert r.headers["cache-control"] == "no-cache"
    assert client.head("/static/missing").body is None


def test_missing_not_found_page_falls_back(site: Path, mode: str, sync: Sync) -> None:
    client = sync(make_app(site, mode, not_found_page="nope.html"))
    r = client.get("/static/missing.txt")
    assert (r.status_code, r.body) == (404, b"Not found")


def test_follow_symlinks(site: Path, mode: str, sync: Sync) -> None:
    client = sync(make_app(site, mode, follow_symlinks=True))
    assert client.get("/static/link_out").body == SECRET
    assert client.get("/static/linkdir_out/passwd.txt").body == SECRET
    assert client.get("/static/.env").status_code == 404
    assert client.get("/static/../secret.txt").status_code == 400


def test_max_age(site: Path, mode: str, sync: Sync) -> None:
    client = sync(make_app(site, mode, max_age=600))
    assert client.get("/static/app.js").headers["cache-control"] == "max-age=600"


def test_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        StaticFiles(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError):
        StaticFiles(tmp_path / "file")
    for index in ("../index.html", ".index", "a/index.html", "", "C:x"):
        with pytest.raises(ConfigurationError):
            StaticFiles(tmp_path, index=index)


def test_hooks_run_for_attached_files(site: Path, sync: Sync) -> None:
    app = Junco()
    StaticFiles(site).attach(app)

    @app.after_request
    def mark(request: Request, response: Response) -> None:
        response.headers["X-Hooked"] = "1"

    @app.errorhandler(404)
    def missing(request: Request) -> Response:
        return Response("site 404", 404)

    client = sync(app)
    assert client.get("/static/app.js").headers["x-hooked"] == "1"
    assert client.get("/static/nope").body == b"site 404"
    assert client.get("/static/.env").body == b"site 404"
    assert client.get("/static/../secret.txt").status_code == 400


def test_custom_prefix(site: Path, sync: Sync) -> None:
    app = Junco()
    StaticFiles(site, prefix="/assets/").attach(app)
    client = sync(app)
    assert client.get("/assets/app.js").status_code == 200
    assert client.get("/assets").headers["location"] == "/assets/"
    assert client.get("/static/app.js").status_code == 404


# -- traversal -----------------------------------------------------------------------------

# (decoded path as the server hands it over, raw path as the client sent it)
# Not canonical: the app refuses these with 400 before routing (junco.paths).
NON_CANONICAL: list[tuple[str, bytes | None]] = [
    ("/static/../secret.txt", None),
    ("/static/../../../../../../etc/passwd", None),
    ("/static/..", None),
    ("/static/../", None),
    ("/static/./../secret.txt", None),
    ("/static/sub/../../secret.txt", None),
    ("/static/app.js/../../secret.txt", None),
    ("/static/../secret.txt", b"/static/%2e%2e/secret.txt"),
    ("/static/../secret.txt", b"/static/%2E%2E/secret.txt"),
    ("/static/../secret.txt", b"/static/.%2e/secret.txt"),
    ("/static/../secret.txt", b"/static/..%2fsecret.txt"),
    ("/static/../secret.txt", b"/static/..%2Fsecret.txt"),
    ("/static/../secret.txt", b"/static/%2e%2e%2fsecret.txt"),
    ("/static/sub/../../secret.txt", b"/static/sub%2f..%2f..%2fsecret.txt"),
    ("/static/sub/x", b"/static/sub%2fx"),
    ("/static/css/site.css", b"/static/css%2Fsite.css"),
    ("/static/..\\secret.txt", b"/static/..%5csecret.txt"),
    ("/static/..\\secret.txt", None),
    ("/static/\\..\\secret.txt", None),
    ("/static/sub\\..\\..\\secret.txt", None),
    ("/static/C:\\secret.txt", None),
    ("/static//etc/passwd", None),
    ("/static/../public-secret/x.txt", None),
    ("/static/app.js\t", None),
    ("/static/\x1b[31m", None),
]
# Canonical, so they reach StaticFiles, which answers the same 404 for each.
HOSTILE: list[tuple[str, bytes | None]] = [
    ("/static/..%2fsecret.txt", b"/static/..%252fsecret.txt"),
    ("/static/%2e%2e/secret.txt", b"/static/%252e%252e/secret.txt"),
    ("/static/..%5csecret.txt", b"/static/..%255csecret.txt"),
    ("/static/C:/secret.txt", None),
    ("/static/c:secret.txt", None),
    ("/static/app.js::$DATA", None),
    ("/static/.env", None),
    ("/static/.env", b"/static/%2eenv"),
    ("/static/.hidden/x.txt", None),
    ("/static/css/.htaccess", None),
    ("/static/link_dot", None),
    ("/static/link_out", None),
    ("/static/linkdir_out/passwd.txt", None),
    ("/static/link_sibling", None),
    ("/static/...", None),
    ("/static/..../secret.txt", None),
    ("/static/..;/secret.txt", None),
    ("/static/ ../secret.txt", None),
    ("/static/\u2025/secret.txt", None),
    ("/static/\uff0e\uff0e/secret.txt", None),
    ("/static/\ufffd\ufffd/secret.txt", b"/static/%c0%ae%c0%ae/secret.txt"),
    ("/static/fifo", None),
]
NUL_CR_LF: list[tuple[str, bytes | None]] = [
    ("/static/\x00", b"/static/%00"),
    ("/static/app.js\x00.png", b"/static/app.js%00.png"),
    ("/static/../secret.txt\x00", None),
    ("/static/a\r\nSet-Cookie: x=1", b"/static/a%0d%0aSet-Cookie:%20x=1"),
    ("/static/\n", b"/static/%0a"),
]


def _request(client: Any, path: str, raw: bytes | None) -> TestResponse:
    # The decoded path goes in as is (the client would decode "%2f" once more).
    scope: dict[str, Any] = {"path": path}
    if raw is not None:
        scope["raw_path"] = raw
    r: TestResponse = client.get(path, scope=scope)
    return r


@pytest.mark.parametrize(("path", "raw"), HOSTILE)
def test_traversal_is_a_plain_404(client: Any, path: str, raw: bytes | None) -> None:
    baseline = client.get("/static/definitely-not-here.txt")
    r = _request(client, path, raw)
    assert r.status_code == 404
    assert SECRET not in r.body
    # The same answer whether the target exists or not: nothing to probe with.
    assert (r.body, r.headers.get("content-type")) == (
        baseline.body,
        baseline.headers.get("content-type"),
    )
    assert "location" not in r.headers


@pytest.mark.parametrize(("path", "raw"), NON_CANONICAL)
def test_non_canonical_paths_are_a_plain_400(client: Any, path: str, raw: bytes | None) -> None:
    baseline = _request(client, "/static/nothing/../here", None)
    r = _request(client, path, raw)
    assert r.status_code == 400
    assert SECRET not in r.body
    assert r.headers.get("content-type") == baseline.headers.get("content-type")
    assert "location" not in r.headers


@pytest.mark.parametrize(("path", "raw"), NUL_CR_LF)
def test_control_characters_are_400(client: Any, path: str, raw: bytes | None) -> None:
    r = _request(client, path, raw)
    assert r.status_code == 400
    assert SECRET not in r.body
    assert "set-cookie" not in r.headers


def test_sibling_prefix_is_not_served(client: Any) -> None:
    r = client.get("/static-secret/x.txt")
    assert r.status_code == 404
    r = client.get("/static/../public-secret/x.txt")
    assert r.status_code == 400


def test_traversal_with_not_found_page_gives_the_same_page(
    site: Path, mode: str, sync: Sync
) -> None:
    client = sync(make_app(site, mode, not_found_page="404.html"))
    pages = {_request(client, path, raw).body for path, raw in HOSTILE}
    assert pages == {b"<p>custom missing</p>"}
