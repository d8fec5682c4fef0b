"""The showcase app (examples/showcase) through the test client, and its entry point.

Each test builds its own app with ``create_app(Config(...))``. Forms are
posted the way a browser posts them: with the CSRF token from the page
(urlencoded bodies carry it as a field, multipart ones in ``X-CSRF-Token``,
as the showcase's script does).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from examples.showcase import tour
from examples.showcase.app import create_app
from examples.showcase.config import Config

from junco import ConfigurationError, Junco
from junco.testing import SyncTestClient, TestClient, TestResponse, WebSocketRejected
from junco.websocket import WebSocketDisconnect
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"
T = TypeVar("T")
Client = SyncTestClient | TestClient
TOKEN = re.compile(r'name="csrf_token" value="([A-Za-z0-9_-]+)"')


# -- helpers ---------------------------------------------------------------------------


def run(coro: Awaitable[T]) -> T:
    """Run an async test body with a bound on the whole of it."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, 30)

    return asyncio.run(bounded())


def token_in(html: str) -> str:
    found = TOKEN.search(html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


def multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body: ``fields`` plus ``files`` as ``(filename, data)``."""
    boundary = "showcase" + os.urandom(8).hex()
    out = b""
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for filename, data in files:
        head = f'Content-Disposition: form-data; name="files"; filename="{filename}"'
        out += f"--{boundary}\r\n{head}\r\nContent-Type: text/plain\r\n\r\n".encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def post_form(c: SyncTestClient, path: str, page: str, **fields: str) -> TestResponse:
    """Post ``fields`` to ``path`` with the token from the form on ``page``."""
    token = token_in(c.get(page).text)
    return c.post(path, form={**fields, "csrf_token": token})


def signup(c: SyncTestClient, name: str, password: str = PASSWORD) -> TestResponse:
    r = post_form(c, "/signup", "/signup", username=name, password=password)
    assert (r.status_code, r.headers.get("location")) == (302, "/notes"), r.text
    return r


def login(
    c: SyncTestClient, name: str, password: str = PASSWORD, remember: bool = False, query: str = ""
) -> TestResponse:
    fields = {"username": name, "password": password}
    if remember:
        fields["remember"] = "1"
    return post_form(c, "/login" + query, "/login", **fields)


def add_note(
    c: SyncTestClient,
    title: str,
    body: str = "",
    files: list[tuple[str, bytes]] | None = None,
    token: str | None = None,
) -> TestResponse:
    data, ctype = multipart({"title": title, "body": body}, files or [])
    token = token or token_in(c.get("/notes").text)
    return c.post("/notes", headers={"Content-Type": ctype, "X-CSRF-Token": token}, body=data)


def note_id(r: TestResponse) -> str:
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert re.fullmatch(r"/notes/[0-9a-f]{16}", location)
    return str(location.rsplit("/", 1)[1])


async def asignup(c: TestClient, name: str) -> None:
    token = token_in((await c.get("/signup")).text)
    r = await c.post("/signup", form={"username": name, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302, r.text


async def anote(c: TestClient, title: str) -> TestResponse:
    token = token_in((await c.get("/notes")).text)
    data, ctype = multipart({"title": title, "body": ""}, [])
    return await c.post("/notes", headers={"Content-Type": ctype, "X-CSRF-Token": token}, body=data)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait (at most 10 s) for ``condition`` to hold."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def app() -> Junco:
    return create_app(Config())


@pytest.fixture
def client(app: Junco) -> Iterator[SyncTestClient]:
    with TestClient(app).sync as c:
        yield c


@pytest.fixture
def alice(app: Junco) -> Iterator[SyncTestClient]:
    with TestClient(app).sync as c:
        signup(c, "alice")
        yield c


# -- pages, headers, static files --------------------------------------------------------


def test_start_page_has_the_secure_headers_and_a_nonce_per_response(client: SyncTestClient) -> None:
    first, second = client.get("/"), client.get("/")
    assert first.status_code == 200
    assert first.headers["content-type"] == "text/html; charset=UTF-8"
    for r in (first, second):
        csp = r.headers["content-security-policy"]
        nonce = re.search(r"'nonce-([A-Za-z0-9_-]+)'", csp)
        assert nonce is not None
        assert csp.startswith("default-src 'self'; script-src 'self' 'nonce-")
        assert "object-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        # Every inline script carries the nonce of its own response.
        scripts = re.findall(r"<script( [^>]*)?>", r.text)
        inline = [s for s in scripts if "src=" not in (s or "")]
        assert inline
        assert all(f'nonce="{nonce.group(1)}"' in s for s in inline)
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    assert first.headers["content-security-policy"] != second.headers["content-security-policy"]
    # An anonymous visit to a page without forms sets no cookie.
    assert "set-cookie" not in first.headers


def test_static_files_are_routes_under_the_same_headers(client: SyncTestClient) -> None:
    css = client.get("/static/app.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "content-security-policy" in css.headers
    js = client.get("/static/app.js")
    assert "EventSource" in js.text
    assert "WebSocket" in js.text
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/static/x"):
        r = client.get(path)
        assert r.status_code == (404 if path == "/static/x" else 400), path
        assert "content-security-policy" in r.headers


def test_unknown_hosts_are_refused(client: SyncTestClient) -> None:
    assert client.get("/", headers={"Host": "127.0.0.1:5000"}).status_code == 200
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400


def test_csp_page_has_one_script_with_the_nonce_and_one_without(client: SyncTestClient) -> None:
    r = client.get("/csp")
    nonce = re.search(r"'nonce-([^']+)'", r.headers["content-security-policy"])
    assert nonce is not None
    assert r.text.count(f'<script nonce="{nonce.group(1)}">') == 2  # the layout's and the demo's
    assert '<script>document.getElementById("without-nonce")' in r.text


def test_404_is_a_page(client: SyncTestClient) -> None:
    r = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert r.status_code == 404
    assert "<h1>Not Found</h1>" in r.text
    assert 'id="hint">Check the address' in r.text
    assert "content-security-policy" in r.headers
    api = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert api.json["error"]["code"] == "not_found"


def test_app_check_finds_no_errors(app: Junco) -> None:
    findings = app.check()
    # Signed-cookie sessions in memory mode: nothing to warn about either.
    assert findings == []


def test_redis_config_needs_a_shared_secret() -> None:
    with pytest.raises(ConfigurationError, match="JUNCO_SECRET_KEY"):
        Config.from_env({"JUNCO_REDIS_URL": "redis://127.0.0.1:1/0"})
    config = Config.from_env(
        {"JUNCO_SECRET_KEY": "k" * 43, "JUNCO_ALLOWED_HOSTS": "example.com, .example.org"}
    )
    assert config.allowed_hosts == ("example.com", ".example.org")
    assert config.redis_url is None


# -- sign-up, login, logout ----------------------------------------------------------------


def test_signup_logs_in(client: SyncTestClient) -> None:
    r = signup(client, "Alice")
    [cookie] = r.headers["set-cookie"]
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http
    page = client.get("/notes")
    assert page.status_code == 200
    assert "Log out alice" in page.text  # names are kept in lower case
    assert client.get("/api/me").json["username"] == "alice"


def test_signup_refuses_bad_or_taken_names() -> None:
    client = TestClient(create_app(Config(login_rate="100/minute"))).sync
    signup(client, "alice")
    client.post("/logout", form={"csrf_token": token_in(client.get("/notes").text)})
    cases = [
        ("alice", PASSWORD, "taken"),
        ("ALICE", PASSWORD, "taken"),
        ("al", PASSWORD, "3 to 32"),
        ("a" * 33, PASSWORD, "3 to 32"),
        ("<script>", PASSWORD, "3 to 32"),
        ("bob", "short", "at least 8"),
    ]
    for name, password, message in cases:
        r = post_form(client, "/signup", "/signup", username=name, password=password)
        assert r.status_code == 400, name
        assert message in r.text
        assert "<script>" not in r.text.split("<main>")[1]  # what came in is escaped


def test_hostile_signups_are_400s() -> None:
    app = create_app(Config(login_rate="100/minute"))
    with TestClient(app).sync as c:
        for password in ("x" * 257, "x" * 100_000):
            r = post_form(c, "/signup", "/signup", username="mallory", password=password)
            assert r.status_code == 400
        token = token_in(c.get("/signup").text)
        assert c.post("/signup", form={"csrf_token": token}).status_code == 400
        fields = {"username": "m" * 10_000, "password": "\x00" * 10, "csrf_token": token}
        assert c.post("/signup", form=fields).status_code == 400
        body = f"csrf_token={token}&" + "&".join(f"f{i}=1" for i in range(2000))
        r = c.post(
            "/signup", headers={"Content-Type": "application/x-www-form-urlencoded"}, body=body
        )
        assert r.status_code in (400, 413)
        r = c.post("/signup", headers={"Content-Type": "application/json"}, body="{}")
        assert r.status_code == 403  # no token: refused before the handler


def test_login_and_logout(app: Junco, alice: SyncTestClient) -> None:
    with TestClient(app).sync as c:
        r = login(c, "alice", "wrong password")
        assert r.status_code == 401
        assert "Wrong user name or password." in r.text
        assert login(c, "nobody").status_code == 401
        r = login(c, "ALICE")
        assert (r.status_code, r.headers["location"]) == (302, "/notes")
        assert c.get("/notes").status_code == 200
        r = c.post("/logout", form={"csrf_token": token_in(c.get("/notes").text)})
        assert (r.status_code, r.headers["location"]) == (303, "/")
        r = c.get("/notes")
        assert (r.status_code, r.headers["location"]) == (302, "/login?next=/notes")


def test_login_goes_to_next_only_when_it_is_local(app: Junco, alice: SyncTestClient) -> None:
    cases = {
        "?next=/account": "/account",
        "?next=https://evil.example/": "/notes",
        "?next=//evil.example/": "/notes",
        "?next=/%5Cevil.example": "/notes",
        "?next=javascript:alert(1)": "/notes",
    }
    for query, target in cases.items():
        with TestClient(app).sync as c:
            r = login(c, "alice", query=query)
            assert r.headers["location"] == target, query


def test_the_sixth_login_in_a_minute_is_a_429(app: Junco, alice: SyncTestClient) -> None:
    with TestClient(app).sync as c:
        token = token_in(c.get("/login").text)
        for _ in range(5):
            r = c.post("/login", form={"username": "alice", "password": "no", "csrf_token": token})
            assert r.status_code == 401
        fields = {"username": "alice", "password": PASSWORD, "csrf_token": token}
        r = c.post("/login", form=fields)
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) > 0
        # Counted per client address: another one may still log in.
        r = c.post("/login", form=fields, scope={"client": ("192.0.2.7", 4000)})
        assert r.status_code == 302
        # Only the login form is limited.
        assert c.get("/login").status_code == 200
        # Sign-ups have their own counter, with the same rate (alice's sign-up was one).
        token = token_in(c.get("/signup").text)
        statuses = [
            c.post("/signup", form={"username": "x", "csrf_token": token}).status_code
            for _ in range(5)
        ]
        assert statuses == [400] * 4 + [429]


def test_successful_logins_never_count_against_the_login_limit(
    app: Junco, alice: SyncTestClient
) -> None:
    with TestClient(app).sync as c:
        for _ in range(12):  # more than twice the limit of 5 a minute
            assert login(c, "alice").status_code == 302
        # Failures still count: four of them leave room for one more attempt...
        for _ in range(4):
            assert login(c, "alice", "wrong password").status_code == 401
        assert login(c, "alice").status_code == 302
        assert login(c, "alice", "wrong password").status_code == 401
        # ...and the sixth failure is refused, as is any attempt after it.
        assert login(c, "alice", "wrong password").status_code == 429
        assert login(c, "alice").status_code == 429


def test_the_audit_trail_page_is_for_admins_only() -> None:
    app = create_app(Config(login_rate="100/minute", admins=("boss",)))
    with TestClient(app).sync as c:
        r = c.get("/admin/audit")
        assert (r.status_code, r.headers["location"]) == (302, "/login?next=/admin/audit")
        signup(c, "mallory")
        assert 'href="/admin/audit"' not in c.get("/notes").text  # no link for others
        r = c.get("/admin/audit", headers={"Accept": "text/html"})
        assert r.status_code == 403
        assert "only administrators may read the audit trail" in r.text
    with TestClient(app).sync as c:
        assert login(c, "nobody", "<b>wrong</b>").status_code == 401
        signup(c, "boss")
        assert 'href="/admin/audit"' in c.get("/notes").text
        page = c.get("/admin/audit")
        assert page.status_code == 200
        rows = re.findall(r"<tr class=\"(\w+)\">(.*?)</tr>", page.text, re.S)
        # Newest first: boss's sign-up, the failed login, mallory's sign-up.
        assert [kind for kind, _ in rows[:3]] == ["ok", "refused", "ok"]
        assert "boss" in rows[0][1]
        assert "POST /signup" in rows[0][1]
        assert "POST /login" in rows[1][1]
        assert "401" in rows[1][1]
        assert "anonymous" in rows[1][1]
        assert "mallory" in rows[2][1]
        assert "<b>" not in page.text  # nothing of the requests is echoed raw
        # Bounded: the page shows the last 100 records whatever the traffic.
        for _ in range(120):
            c.post("/logout", form={"csrf_token": "stale"})  # 403s, recorded all the same
        rows = re.findall(r"<tr class=\"(\w+)\">", c.get("/admin/audit").text)
        assert rows == ["refused"] * 100


def test_remember_me_restores_the_login_but_not_a_fresh_one(
    app: Junco, alice: SyncTestClient
) -> None:
    with TestClient(app).sync as c:
        login(c, "alice", remember=True)
        remember = c.cookies["_remember"]
        assert c.get("/account").status_code == 200  # a fresh login
    with TestClient(app, cookies={"_remember": remember}).sync as c:
        assert c.get("/notes").status_code == 200
        assert "session" in c.cookies  # the login was restored into a new session
        r = c.get("/account")
        assert (r.status_code, r.headers["location"]) == (302, "/login?next=/account")
        assert "confirm your password" in c.get("/login?next=/account").text
        r = login(c, "alice", query="?next=/account")
        assert r.headers["location"] == "/account"
        assert c.get("/account").status_code == 200


def test_changing_the_password_ends_other_logins(app: Junco, alice: SyncTestClient) -> None:
    with TestClient(app).sync as other:
        login(other, "alice", remember=True)
        remember = other.cookies["_remember"]
        assert other.get("/notes").status_code == 200
        page = "/account"
        r = post_form(alice, page, page, current="wrong", password="new password 1")
        assert r.status_code == 400
        assert "current password is not right" in r.text
        r = post_form(alice, page, page, current=PASSWORD, password="tiny")
        assert r.status_code == 400
        r = post_form(alice, page, page, current=PASSWORD, password="new password 1")
        assert (r.status_code, r.headers["location"]) == (303, "/account?changed=1")
        assert "Password changed." in alice.get(r.headers["location"]).text
        assert other.get("/notes").status_code == 302  # its session is void now
    with TestClient(app, cookies={"_remember": remember}).sync as c:
        assert c.get("/notes").status_code == 302  # and so is its remember cookie
        assert login(c, "alice").status_code == 401
        assert login(c, "alice", "new password 1").status_code == 302


# -- CSRF ----------------------------------------------------------------------------------


def test_forms_without_a_good_token_are_refused(alice: SyncTestClient) -> None:
    good = token_in(alice.get("/notes").text)
    for bad in (None, "", "x" * 86, "!" * 86, good[:-1], "A" * 10_000):
        fields = {} if bad is None else {"csrf_token": bad}
        assert alice.post("/logout", form=fields).status_code == 403, bad
    with TestClient(alice.client.app).sync as stranger:
        signup(stranger, "bob")
        stolen = token_in(stranger.get("/notes").text)
    assert alice.post("/logout", form={"csrf_token": stolen}).status_code == 403
    assert alice.get("/notes").status_code == 200  # still logged in
    assert alice.post("/logout", form={"csrf_token": good}).status_code == 303


def test_cross_site_requests_are_refused_even_with_a_token(alice: SyncTestClient) -> None:
    token = token_in(alice.get("/notes").text)
    for headers in (
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # another port on this host: same site, not origin
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
    ):
        r = alice.post("/logout", headers=headers, form={"csrf_token": token})
        assert r.status_code == 403, headers
    r = alice.post("/logout", headers={"Sec-Fetch-Site": "same-origin"}, form={"csrf_token": token})
    assert r.status_code == 303


def test_multipart_forms_need_the_token_header(alice: SyncTestClient) -> None:
    token = token_in(alice.get("/notes").text)
    data, ctype = multipart({"title": "t", "body": "", "csrf_token": token}, [])
    assert alice.post("/notes", headers={"Content-Type": ctype}, body=data).status_code == 403
    assert note_id(add_note(alice, "t", token=token))


# -- notes and attachments -------------------------------------------------------------------


def test_a_note_with_attachments(alice: SyncTestClient) -> None:
    files = [("plan.txt", b"step 1\nstep 2\n"), ("photo.png", bytes(range(256)) * 10)]
    nid = note_id(add_note(alice, "Plans & <things>", "line one\nline two", files))
    page = alice.get(f"/notes/{nid}")
    assert page.status_code == 200
    assert "<h1>Plans &amp; &lt;things&gt;</h1>" in page.text
    links = re.findall(rf'href="(/notes/{nid}/files/[0-9a-f]{{16}})"', page.text)
    assert len(links) == 2
    first = alice.get(links[0])
    assert first.status_code == 200
    assert first.body == b"step 1\nstep 2\n"
    assert first.headers["content-disposition"] == 'attachment; filename="plan.txt"'
    assert first.headers["content-type"].startswith("text/plain")
    assert first.headers["cache-control"] == "private, no-store"
    assert first.headers["x-content-type-options"] == "nosniff"
    second = alice.get(links[1])
    assert (second.body, second.headers["content-type"]) == (bytes(range(256)) * 10, "image/png")
    listed = alice.get("/api/notes").json["notes"]
    assert [n["title"] for n in listed] == ["Plans & <things>"]
    assert [a["filename"] for a in listed[0]["attachments"]] == ["plan.txt", "photo.png"]
    assert "Plans &amp; &lt;things&gt;" in alice.get("/notes").text


def test_deleting_a_note_deletes_its_files(alice: SyncTestClient) -> None:
    nid = note_id(add_note(alice, "gone soon", files=[("a.txt", b"a")]))
    link = re.findall(r'href="(/notes/[^"]+/files/[^"]+)"', alice.get(f"/notes/{nid}").text)[0]
    token = token_in(alice.get(f"/notes/{nid}").text)
    r = alice.post(f"/notes/{nid}/delete", form={"csrf_token": token})
    assert (r.status_code, r.headers["location"]) == (303, "/notes")
    assert alice.get(f"/notes/{nid}").status_code == 404
    assert alice.get(link).status_code == 404
    assert alice.post(f"/notes/{nid}/delete", form={"csrf_token": token}).status_code == 404


def test_users_cannot_reach_each_others_notes(app: Junco, alice: SyncTestClient) -> None:
    nid = note_id(add_note(alice, "alice's secret", "s3cret", [("key.txt", b"k")]))
    link = re.findall(r'href="(/notes/[^"]+/files/[^"]+)"', alice.get(f"/notes/{nid}").text)[0]
    with TestClient(app).sync as bob:
        signup(bob, "bob")
        assert bob.get(f"/notes/{nid}").status_code == 404
        assert bob.get(link).status_code == 404
        token = token_in(bob.get("/notes").text)
        assert bob.post(f"/notes/{nid}/delete", form={"csrf_token": token}).status_code == 404
        assert bob.get("/api/notes").json == {"notes": []}
        assert "alice's secret" not in bob.get("/notes").text
    assert alice.get(f"/notes/{nid}").status_code == 200  # untouched
    with TestClient(app).sync as anonymous:
        r = anonymous.get(link)
        assert (r.status_code, r.headers["location"]) == (302, f"/login?next={link}")
        r = anonymous.get("/api/notes", headers={"Accept": "application/json"})
        assert (r.status_code, r.json) == (
            401,
            {"error": {"status": 401, "code": "unauthorized", "message": "Unauthorized"}},
        )


def test_malformed_ids_are_404s(alice: SyncTestClient) -> None:
    for path in (
        "/notes/0123",
        "/notes/../../etc/passwd",
        "/notes/0123456789ABCDEF",
        "/notes/0123456789abcdef/files/..%2f..%2f",
        "/notes/%00",
    ):
        assert alice.get(path).status_code in (400, 404), path


def test_hostile_filenames_are_made_safe(alice: SyncTestClient) -> None:
    names = ["../../etc/passwd", "..", "C:\\Windows\\win.ini", "con.txt", "ünïcødé.txt", ""]
    nid = note_id(add_note(alice, "names", files=[(n, b"x") for n in names[:5]]))
    stored = [a["filename"] for a in alice.get("/api/notes").json["notes"][0]["attachments"]]
    assert stored == [
        "passwd",
        "attachment",
        "win.ini",
        "_con.txt",
        "unicde.txt",
    ]  # ø has no ASCII base
    page = alice.get(f"/notes/{nid}").text
    for link in re.findall(r'href="(/notes/[^"]+/files/[^"]+)"', page):
        disposition = alice.get(link).headers["content-disposition"]
        assert "/" not in disposition
        assert "\\" not in disposition
    # An empty file input (no name, no data) is not an attachment.
    nid = note_id(add_note(alice, "no file", files=[("", b"")]))
    assert alice.get("/api/notes").json["notes"][0]["attachments"] == []


def test_hostile_notes_get_clean_4xx(app: Junco, alice: SyncTestClient) -> None:
    config = Config()
    cases: list[tuple[str, str, list[tuple[str, bytes]], int]] = [
        ("", "no title", [], 400),
        ("   ", "blank title", [], 400),
        ("t" * (config.max_title + 1), "", [], 400),
        ("huge", "x" * (config.max_body + 1), [], 400),
        ("huger", "x" * (5 * config.max_body), [], 413),
        ("many", "", [(f"{i}.txt", b"x") for i in range(config.max_attachments + 1)], 400),
        ("big", "", [("big.bin", b"x" * (config.max_attachment + 1))], 413),
    ]
    for title, body, files, status in cases:
        r = add_note(alice, title, body, files)
        assert r.status_code == status, title
    assert alice.get("/api/notes").json == {"notes": []}
    token = token_in(alice.get("/notes").text)
    r = alice.post(
        "/notes",
        headers={"Content-Type": "multipart/form-data; boundary=x", "X-CSRF-Token": token},
        body=b"--x\r\nnot a part\r\n",
    )
    assert r.status_code == 400
    r = alice.post(
        "/notes",
        headers={"Content-Type": "application/json", "X-CSRF-Token": token},
        body="{}",
    )
    assert r.status_code == 415
    too_big = b"x" * (app.max_content_length + 1)
    headers = {"Content-Type": "multipart/form-data; boundary=x", "X-CSRF-Token": token}
    assert alice.post("/notes", headers=headers, body=too_big).status_code == 413


def test_notes_per_user_are_capped() -> None:
    app = create_app(Config(max_notes=2))
    with TestClient(app).sync as c:
        signup(c, "alice")
        note_id(add_note(c, "one"))
        note_id(add_note(c, "two"))
        r = add_note(c, "three")
        assert r.status_code == 400
        assert "at most 2 notes" in r.text


def test_state_changes_are_audited(alice: SyncTestClient, caplog: pytest.LogCaptureFixture) -> None:
    me = alice.get("/api/me").json["id"]
    with caplog.at_level(logging.INFO, logger="junco.audit"):
        nid = note_id(add_note(alice, "audited"))
        assert alice.post("/logout", form={"csrf_token": "forged"}).status_code == 403
        alice.get(f"/notes/{nid}")  # reads are not recorded
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "junco.audit"]
    summary = [(r["method"], r["path"], r["status"], r["user_id"]) for r in records]
    assert summary == [("POST", "/notes", 303, me), ("POST", "/logout", 403, me)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", r["request_id"]) for r in records)
    assert "forged" not in caplog.text


# -- live feed and chat ----------------------------------------------------------------------


def test_the_feed_streams_the_users_new_notes(app: Junco) -> None:
    async def main() -> TestResponse:
        async with TestClient(app) as alice:
            bob = TestClient(app)
            await asignup(alice, "alice")
            await asignup(bob, "bob")
            me = (await alice.get("/api/me")).json
            broadcast = app.extensions["broadcast"]
            channel = f"feed:{me['id']}"
            stream = asyncio.ensure_future(alice.sse("/feed", max_events=2))
            await until(lambda: broadcast.subscriber_count(channel) == 1, "the subscription")
            assert (await anote(bob, "bob's note")).status_code == 303  # not for alice
            assert (await anote(alice, "fresh <news>")).status_code == 303
            response = await asyncio.wait_for(stream, 10)
            await until(lambda: broadcast.subscriber_count(channel) == 0, "the unsubscription")
            return response

    r = run(main())
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream"
    events = r.events
    assert [e.event for e in events] == ["ready", "note"]
    note = events[1].json()
    assert (note["type"], note["title"], note["files"]) == ("note", "fresh <news>", 0)
    assert re.fullmatch(r"[0-9a-f]{16}", note["id"])


def test_the_feed_needs_a_login(client: SyncTestClient) -> None:
    r = client.get("/feed", headers={"Accept": "text/event-stream"})
    assert (r.status_code, r.headers["location"]) == (302, "/login?next=/feed")


def test_two_users_chat(app: Junco) -> None:
    async def main() -> None:
        async with TestClient(app) as alice:
            bob = TestClient(app)
            await asignup(alice, "alice")
            await asignup(bob, "bob")
            async with alice.websocket("/chat/ws") as a, bob.websocket("/chat/ws") as b:
                assert json.loads(await a.receive()) == {"type": "hello", "user": "alice"}
                assert json.loads(await b.receive()) == {"type": "hello", "user": "bob"}
                await a.send("  hi   <b>bob</b>  ")
                for ws in (a, b):
                    message = json.loads(await ws.receive())
                    assert (message["user"], message["text"]) == ("alice", "hi <b>bob</b>")
                await b.send("x" * 1000)
                for ws in (a, b):
                    message = json.loads(await ws.receive())
                    assert (message["user"], len(message["text"])) == ("bob", 500)
                await b.send(b"binary")
                with pytest.raises(WebSocketDisconnect) as closed:
                    await b.receive()
                assert closed.value.code == 1003
                await a.send("x" * 5000)  # over the frame limit
                with pytest.raises(WebSocketDisconnect) as closed:
                    await a.receive()
                assert closed.value.code == 1009

    run(main())


def test_the_chat_refuses_strangers_and_other_origins(app: Junco) -> None:
    async def main() -> None:
        async with TestClient(app) as alice:
            with pytest.raises(WebSocketRejected) as refused:
                async with alice.websocket("/chat/ws"):
                    pass
            assert refused.value.status_code == 401
            await asignup(alice, "alice")
            evil = {"Origin": "http://evil.example"}
            with pytest.raises(WebSocketRejected) as refused:
                async with alice.websocket("/chat/ws", headers=evil):
                    pass
            assert refused.value.status_code == 403
            async with alice.websocket("/chat/ws", headers={"Origin": "http://localhost"}) as ws:
                assert json.loads(await ws.receive())["type"] == "hello"

    run(main())


# -- Redis: several workers ------------------------------------------------------------------


def test_two_workers_share_everything_through_redis(redis_db: str) -> None:
    """Two app instances on one Redis behave as one site (as two worker processes do)."""
    config = Config(secret_key="s" * 43, redis_url=redis_db)
    one, two = create_app(config), create_app(config)
    assert one.check() == []  # nothing kept in one process's memory any more

    async def main() -> TestResponse:
        async with TestClient(one) as a, TestClient(two) as b:
            await asignup(a, "alice")
            b.cookies.update(a.cookies)  # the same browser, answered by the other worker
            assert (await b.get("/notes")).status_code == 200
            me = (await b.get("/api/me")).json
            stream = asyncio.ensure_future(b.sse("/feed", max_events=2))
            broadcast = two.extensions["broadcast"]
            await until(lambda: broadcast.subscriber_count(f"feed:{me['id']}") == 1, "subscriber")
            r = await anote(a, "written on worker one")
            assert r.status_code == 303
            events = (await asyncio.wait_for(stream, 10)).events
            assert events[1].json()["title"] == "written on worker one"
            page = await b.get(r.headers["location"])
            assert "written on worker one" in page.text
            async with a.websocket("/chat/ws") as wa, b.websocket("/chat/ws") as wb:
                await wa.receive()
                await wb.receive()
                await wb.send("across workers")
                assert json.loads(await wa.receive())["text"] == "across workers"
            return await _limit_across(a, b)

    r = run(main())
    assert r.status_code == 429


async def _limit_across(a: TestClient, b: TestClient) -> TestResponse:
    """Five bad logins spread over both workers; the sixth is refused."""
    last = None
    for i in range(6):
        c = (a, b)[i % 2]
        fresh = TestClient(c.app)
        token = token_in((await fresh.get("/login")).text)
        form = {"username": "alice", "password": "wrong", "csrf_token": token}
        last = await fresh.post("/login", form=form)
        if i < 5:
            assert last.status_code == 401
    assert last is not None
    return last


# -- the core tour, mounted at /tour -----------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)


def test_tour_lists_every_endpoint_and_its_links_work(client: SyncTestClient) -> None:
    r = client.get("/tour/")
    assert r.status_code == 200
    for method, path, _, _ in tour.ENDPOINTS:
        assert f"<td>{method}</td>" in r.text
        assert ("/tour" + path).replace("<", "&lt;").replace(">", "&gt;") in r.text
    parser = _Links()
    parser.feed(r.text)
    statuses = {link: client.get(link).status_code for link in parser.links}
    assert statuses == {
        "/": 200,  # the site's header: the tour looks like the rest of the showcase
        "/tour/hello/world": 200,
        "/tour/books?q=dune": 200,
        "/tour/books/1": 200,
        "/tour/divide/1/0": 400,
        "/tour/admin": 401,
    }
    assert "content-security-policy" in r.headers  # the parent's hooks cover the tour


def test_tour_typed_arguments_queries_and_errors(client: SyncTestClient) -> None:
    assert client.get("/tour/hello/junco").text == "Hello, junco!"
    assert client.get("/tour/books/2").json["author"] == "Ursula K. Le Guin"
    assert client.get("/tour/divide/7/2").json == {"result": 3.5}
    assert client.get("/tour/books/9").json == {"error": "not found"}
    assert client.get("/tour/books?q=DARK").json["books"][0]["id"] == 2
    assert client.get("/tour/books?limit=1").json["total"] == 3
    for bad in ("0", "101", "-1", "many", "1.5", "", "%EF%BC%92", "9" * 5000):
        assert client.get(f"/tour/books?limit={bad}").status_code == 400, bad
    assert client.get("/tour/books?q=%FF").status_code == 400
    assert client.get("/tour/books/two").status_code == 404
    r = client.options("/tour/hello/x")
    assert r.headers["allow"] == "GET, HEAD, OPTIONS"
    # CSRF decides before routing does: an unsafe method without a token is a 403, not a 405.
    assert client.post("/tour/hello/x").status_code == 403


def test_tour_hooks(client: SyncTestClient) -> None:
    assert client.get("/tour/admin", headers={"X-Token": "wrong"}).status_code == 401
    r = client.get("/tour/admin", headers={"X-Token": tour.ADMIN_TOKEN})
    assert (r.status_code, r.json) == (200, {"books": 3})
    assert client.get("/tour/books").headers["x-showcase"] == "after_request"
    assert "x-showcase" not in client.get("/").headers  # local=True: the tour's own routes only


def test_the_docs_quote_the_code_as_it_is() -> None:
    page = (ROOT / "docs" / "showcase.md").read_text()
    blocks = re.findall(
        r"```python\n# (examples/showcase/\w+\.py) \(excerpt\)\n(.*?)```", page, re.S
    )
    assert len(blocks) == 3
    for path, code in blocks:
        assert code in (ROOT / path).read_text(), path
    tree = re.search(r"```\nexamples/showcase/\n(.*?)```", page, re.S)
    assert tree is not None
    for name in re.findall(r"^  (\S+)", tree.group(1), re.M):
        assert (ROOT / "examples" / "showcase" / name.rstrip("/")).exists(), name


# -- the entry point -------------------------------------------------------------------------


@pytest.mark.e2e
def test_python_dash_m_examples_showcase_serves_it(tmp_path: Path) -> None:
    """The README's quick start, on a free port instead of 5000."""
    port = free_port()
    log = tmp_path / "showcase.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUNCO_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "examples.showcase"],
            cwd=ROOT,
            env={**env, "PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        r = _wait_for(f"http://127.0.0.1:{port}/", process, log)
        assert r.status_code == 200
        assert "<h1>junco showcase</h1>" in r.text
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            assert http.get("/tour/books/1").json()["title"] == "Dune"
            assert http.get("/static/app.css").status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=20)


@pytest.mark.e2e
def test_two_worker_processes_on_redis(tmp_path: Path, redis_db: str) -> None:
    """``junco run --workers 2`` with JUNCO_REDIS_URL: one site, whichever process answers."""
    port = free_port()
    log = tmp_path / "workers.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUNCO_")}
    env.update(JUNCO_REDIS_URL=redis_db, JUNCO_SECRET_KEY="w" * 43, PYTHONUNBUFFERED="1")
    target = "examples.showcase.app:app"
    command = [sys.executable, "-m", "junco", "run", target, "--port", str(port), "--workers", "2"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base + "/", process, log)
        # No keep-alive: every request is a new connection, which either worker may accept.
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=base, timeout=10, limits=limits) as http:
            _use_the_site_across_workers(http)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)


def _use_the_site_across_workers(http: httpx.Client) -> None:
    token = token_in(http.get("/signup").text)
    r = http.post("/signup", data={"username": "wanda", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302, r.text
    token = token_in(http.get("/notes").text)
    r = http.post(
        "/notes",
        data={"title": "shared", "body": "by Redis"},
        files={"files": ("a.txt", b"attached")},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 303, r.text
    note = r.headers["location"]
    # A session made by one worker, read by any: every answer is the logged-in one.
    for _ in range(20):
        page = http.get(note)
        assert page.status_code == 200
        assert "<h1>shared</h1>" in page.text
    # Five bad logins, the sixth refused: the counter is shared too.
    http.cookies.clear()
    statuses = []
    for _ in range(6):
        token = token_in(http.get("/login").text)
        form = {"username": "wanda", "password": "wrong", "csrf_token": token}
        statuses.append(http.post("/login", data=form).status_code)
    assert statuses == [401] * 5 + [429]


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=5) as http:
        while True:
            try:
                return http.get(url)
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the showcase did not start:\n{log.read_text()}")
                time.sleep(0.1)
