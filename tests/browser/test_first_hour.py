"""The showcase's error and status pages as a user sees them in chromium (with screenshots)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from examples.showcase.app import create_app
from examples.showcase.config import Config
from playwright.sync_api import FilePayload, Page, expect

from tests.browser.conftest import NewContext, login, signup
from tests.servers import free_port, serve

pytestmark = pytest.mark.e2e
SECRET = "first-hour-browser-tests-secret-key-0123456789"


def shot(page: Page, out: Path, name: str) -> Path:
    """Save a full-page screenshot under the test's own directory; its path."""
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0
    return path


def test_too_many_logins_get_a_styled_page_saying_when_to_retry(
    new_context: NewContext, tmp_path: Path
) -> None:
    with serve(create_app(Config(login_rate="2/minute"))) as base:
        page = new_context().new_page()
        for _ in range(3):
            page.goto(base + "/login")
            page.fill("input[name=username]", "nobody")
            page.fill("input[name=password]", "wrong password")
            page.click("form.stacked button[type=submit]")
        expect(page.locator("h1")).to_have_text("Too Many Requests")
        expect(page.locator("#hint")).to_have_text(
            re.compile(r"You sent too many requests\. Try again in \d+ (seconds|minutes)\.")
        )
        expect(page.locator("header .brand")).to_be_visible()  # the site's own layout
        shot(page, tmp_path, "login-429")


def test_successful_logins_do_not_count_against_the_login_limit(
    new_context: NewContext, tmp_path: Path
) -> None:
    with serve(create_app(Config(login_rate="2/minute"))) as base:
        page = new_context().new_page()
        signup(page, base, "regular")
        for _ in range(5):  # log out and in again, well past the limit of 2 a minute
            page.click("#logout")
            page.wait_for_url(base + "/")
            login(page, base, "regular")
            page.wait_for_url(base + "/notes")
            expect(page.locator("#logout")).to_have_text("Log out regular")
        shot(page, tmp_path, "logins-not-counted")


def test_an_attachment_over_the_limit_says_the_limit(
    new_context: NewContext, showcase: str, tmp_path: Path
) -> None:
    page = new_context().new_page()
    signup(page, showcase, "uploader")
    expect(page.locator("#attachment-limit")).to_have_text(
        "Attachments are limited to 2 MB each, 5 per note."
    )
    page.fill("input[name=title]", "big")
    big: FilePayload = {
        "name": "big.bin",
        "mimeType": "application/octet-stream",
        "buffer": b"x" * (3 << 20),
    }
    page.set_input_files("input[name=files]", files=[big])
    page.click("#new-note button[type=submit]")
    expect(page.locator("p.error")).to_have_text(
        "Attachments are limited to 2 MB each, 5 per note."
    )
    expect(page.locator("#new-note")).to_be_visible()  # the form again, not a bare page
    shot(page, tmp_path, "upload-413")


def test_a_missing_page_is_styled(new_context: NewContext, showcase: str, tmp_path: Path) -> None:
    page = new_context().new_page()
    response = page.goto(showcase + "/no/such/page")
    assert response is not None
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Not Found")
    expect(page.locator("#hint")).to_contain_text("Check the address")
    page.click("text=Back to the start page")
    page.wait_for_url(showcase + "/")
    shot(page, tmp_path, "not-found-404")


def test_the_live_feed_reconnects_after_a_restart(
    new_context: NewContext, tmp_path: Path, redis_db: str
) -> None:
    port = free_port()
    # Users and sessions in Redis, one key: what a restart must not lose.
    config = Config(secret_key=SECRET, redis_url=redis_db, login_rate="100/minute")
    page = new_context().new_page()
    with serve(create_app(config), port=port, timeout_graceful_shutdown=1) as base:
        signup(page, base, "restarter")
        expect(page.locator("#feed-status")).to_have_text("Live.")
    # The server is gone: the page says it is reconnecting.
    expect(page.locator("#feed-status")).to_have_attribute("data-state", "reconnecting")
    shot(page, tmp_path, "feed-reconnecting")
    with serve(create_app(config), port=port, timeout_graceful_shutdown=1):
        expect(page.locator("#feed-status")).to_have_text("Reconnected: live again.")
        shot(page, tmp_path, "feed-reconnected")


def test_the_tour_looks_like_the_rest_of_the_site(
    new_context: NewContext, showcase: str, tmp_path: Path
) -> None:
    page = new_context().new_page()
    page.goto(showcase + "/tour/")
    expect(page.locator("header .brand")).to_have_text("junco showcase")
    # The showcase's stylesheet applies (its table style, not the browser's default).
    assert page.evaluate("getComputedStyle(document.body).margin") != "8px"
    shot(page, tmp_path, "tour")


def test_an_admin_reads_the_audit_trail_and_nobody_else_does(
    new_context: NewContext, tmp_path: Path
) -> None:
    with serve(create_app(Config(login_rate="100/minute", admins=("boss",)))) as base:
        guesser = new_context().new_page()
        guesser.goto(base + "/login")
        guesser.fill("input[name=username]", "boss")
        guesser.fill("input[name=password]", "<script>alert(1)</script>")
        guesser.click("form.stacked button[type=submit]")
        expect(guesser.locator("p.error")).to_have_text("Wrong user name or password.")
        # A logged-in user who is not an admin: no link, and a styled 403.
        signup(guesser, base, "visitor")
        expect(guesser.locator("header nav a", has_text="Audit")).to_have_count(0)
        response = guesser.goto(base + "/admin/audit")
        assert response is not None
        assert response.status == 403
        expect(guesser.locator("h1")).to_have_text("Forbidden")
        expect(guesser.locator("main")).to_contain_text("only administrators")
        shot(guesser, tmp_path, "audit-forbidden")
        page = new_context().new_page()
        signup(page, base, "boss")
        page.click("header nav a:has-text('Audit')")
        page.wait_for_url(base + "/admin/audit")
        rows = page.locator("#audit tbody tr")
        expect(rows.first).to_contain_text("POST /signup")  # newest first: boss's sign-up
        expect(rows.first).to_contain_text("boss")
        failed = page.locator("#audit tbody tr.refused", has_text="POST /login")
        expect(failed).to_contain_text("401")
        expect(failed).to_contain_text("anonymous")
        expect(page.locator("#audit tbody tr", has_text="visitor")).to_have_count(1)
        shot(page, tmp_path, "audit-trail")
