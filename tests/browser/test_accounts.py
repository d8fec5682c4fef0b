"""Sign-up, login, logout, remember-me and the cookies as chromium keeps them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from examples.showcase.app import create_app
from playwright.sync_api import expect

from tests.browser.conftest import BROWSER_CONFIG, NewContext, login, signup
from tests.servers import serve
from tests.test_server import make_cert

pytestmark = pytest.mark.e2e


def test_signup_logout_and_login(new_context: NewContext, showcase: str) -> None:
    page = new_context().new_page()
    signup(page, showcase, "alice")
    page.click("#logout")
    page.wait_for_url(showcase + "/")
    expect(page.locator("header nav")).to_contain_text("Log in")
    page.goto(showcase + "/notes")
    page.wait_for_url(showcase + "/login?next=/notes")  # logged out for real
    login(page, showcase, "alice", path="/login?next=/notes")
    page.wait_for_url(showcase + "/notes")
    expect(page.locator("#logout")).to_have_text("Log out alice")


def test_a_wrong_password_stays_on_the_form(new_context: NewContext, showcase: str) -> None:
    page = new_context().new_page()
    signup(page, showcase, "carol")
    other = new_context().new_page()
    other.goto(showcase + "/login")
    other.fill("input[name=username]", "carol")
    other.fill("input[name=password]", "not the password")
    other.click("form.stacked button[type=submit]")
    expect(other.locator("p.error")).to_have_text("Wrong user name or password.")
    expect(other.locator("input[name=username]")).to_have_value("carol")


def test_remember_me_survives_a_new_browser_but_settings_need_a_fresh_login(
    new_context: NewContext, showcase: str
) -> None:
    first = new_context()
    page = first.new_page()
    signup(page, showcase, "bob")
    login(page, showcase, "bob", remember=True)
    page.wait_for_url(showcase + "/notes")
    remember = [c for c in first.cookies() if c["name"] == "_remember"]
    assert len(remember) == 1
    assert remember[0]["httpOnly"] is True
    assert remember[0]["expires"] > 0  # a persistent cookie, unlike the session's

    later = new_context()  # a browser restart: only the persistent cookie is left
    later.add_cookies([remember[0]])  # type: ignore[list-item]
    page = later.new_page()
    page.goto(showcase + "/notes")
    assert page.url == showcase + "/notes"
    expect(page.locator("#logout")).to_have_text("Log out bob")
    page.goto(showcase + "/account")
    page.wait_for_url(showcase + "/login?next=/account")
    expect(page.locator("main")).to_contain_text("confirm your password")
    login(page, showcase, "bob", path="/login?next=/account")
    page.wait_for_url(showcase + "/account")
    expect(page.locator("#account-name")).to_have_text("bob")


def test_session_cookie_flags_over_http(new_context: NewContext, showcase: str) -> None:
    context = new_context()
    signup(context.new_page(), showcase, "dave")
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["session"]
    assert (session["httpOnly"], session["sameSite"], session["secure"]) == (True, "Lax", False)
    assert session["expires"] == -1  # ends with the browser
    assert session["path"] == "/"


@pytest.fixture(scope="module")
def https_showcase(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cert, key = make_cert(Path(tmp_path_factory.mktemp("tls")))
    app = create_app(BROWSER_CONFIG)
    with serve(app, ssl_certfile=str(cert), ssl_keyfile=str(key)) as url:
        yield url.replace("http://", "https://", 1)


def test_session_cookie_flags_over_https(new_context: NewContext, https_showcase: str) -> None:
    context = new_context(ignore_https_errors=True)
    page = context.new_page()
    signup(page, https_showcase, "erin")
    login(page, https_showcase, "erin", remember=True)
    page.wait_for_url(https_showcase + "/notes")
    cookies = {c["name"]: c for c in context.cookies()}
    for name in ("session", "_remember"):
        flags = (cookies[name]["httpOnly"], cookies[name]["sameSite"], cookies[name]["secure"])
        assert flags == (True, "Lax", True), name
    response = page.goto(https_showcase + "/notes")
    assert response is not None
    assert response.headers["strict-transport-security"].startswith("max-age=")
