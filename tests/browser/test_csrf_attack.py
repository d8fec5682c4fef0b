"""A page on another origin auto-submits a form to the showcase: CSRF protection refuses it.

The attacker's page is served by a second uvicorn on another port of the same
host, so the attack is *same-site* but *cross-origin*: the browser sends the
victim's ``SameSite=Lax`` session cookie along, and only CSRF protection stands
in the way. The control experiment runs the same attack against the showcase
built with CSRF off, where it succeeds, so the first test could fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from html import escape

import pytest
from examples.showcase.app import create_app
from playwright.sync_api import Request, Response

from junco import Junco
from junco import Request as JuncoRequest
from tests.browser.conftest import BROWSER_CONFIG, NewContext, signup
from tests.servers import serve

pytestmark = pytest.mark.e2e
TITLE = "planted by a cross-site form"


def attacker_app() -> Junco:
    """A page that posts a note to the showcase named in ``?target=`` as soon as it loads."""
    app = Junco()

    @app.get("/")
    async def trap(request: JuncoRequest) -> tuple[str, dict[str, str]]:
        target = escape(request.args.get("target", ""), quote=True)
        page = (
            "<!doctype html><title>free prizes</title>"
            f'<form id="f" method="post" action="{target}/notes">'
            f'<input name="title" value="{TITLE}"><input name="body" value="gotcha"></form>'
            '<script>document.getElementById("f").submit();</script>'
        )
        return page, {"Content-Type": "text/html; charset=UTF-8"}

    return app


@pytest.fixture(scope="module")
def attacker() -> Iterator[str]:
    with serve(attacker_app()) as url:
        yield url


@pytest.fixture(scope="module")
def unprotected() -> Iterator[str]:
    """The showcase with CSRF checks off: the control experiment."""
    with serve(create_app(replace(BROWSER_CONFIG, csrf=False))) as url:
        yield url


def attack(new_context: NewContext, showcase: str, attacker: str, victim: str) -> tuple[int, str]:
    """Log ``victim`` in, visit the attacker's page; the forged POST's status and site."""
    context = new_context()
    page = context.new_page()
    signup(page, showcase, victim)
    # The two servers differ only by port: another origin, the same site.
    assert showcase.split(":")[:2] == attacker.split(":")[:2]
    assert showcase != attacker

    def forged(response: Response) -> bool:
        return response.request.method == "POST" and response.url == showcase + "/notes"

    with page.expect_response(forged) as caught:
        page.goto(f"{attacker}/?target={showcase}")
    request: Request = caught.value.request
    return caught.value.status, request.all_headers().get("sec-fetch-site", "")


def titles(new_context: NewContext, showcase: str, victim: str) -> list[str]:
    page = new_context().new_page()
    page.goto(showcase + "/login")
    page.fill("input[name=username]", victim)
    page.fill("input[name=password]", "correct horse battery")
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(showcase + "/notes")
    response = page.request.get(showcase + "/api/notes")
    return [n["title"] for n in response.json()["notes"]]


def test_a_cross_origin_form_is_refused(
    new_context: NewContext, showcase: str, attacker: str
) -> None:
    status, site = attack(new_context, showcase, attacker, "victim")
    assert (status, site) == (403, "same-site")
    assert titles(new_context, showcase, "victim") == []


def test_without_csrf_protection_the_same_attack_succeeds(
    new_context: NewContext, unprotected: str, attacker: str
) -> None:
    status, site = attack(new_context, unprotected, attacker, "victim")
    assert (status, site) == (303, "same-site")
    assert titles(new_context, unprotected, "victim") == [TITLE]
