"""/docs in chromium with every request to another origin refused: Swagger UI comes
from the installed package, runs under the showcase's CSP, and tries a request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Route, expect

from junco import Junco, Request
from junco.multipart import FileUpload
from junco.openapi import OpenAPI
from tests.browser.conftest import NewContext
from tests.servers import serve

pytestmark = pytest.mark.e2e


def test_docs_work_offline_under_the_csp(new_context: NewContext, showcase: str) -> None:
    context = new_context()
    elsewhere: list[str] = []

    def only_the_app(route: Route) -> None:
        if route.request.url.startswith(showcase + "/"):
            route.continue_()
        else:  # the network beyond the app is cut off
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_app)
    page = context.new_page()
    problems: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        # The 422 itself is logged as a failed load; anything else is a problem.
        if message.type in ("error", "warning") and "status of 422" not in message.text:
            problems.append(message.text)

    page.on("console", seen)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    response = page.goto(showcase + "/api/v1/docs")
    assert response is not None
    assert "'nonce-" in response.headers["content-security-policy"]
    expect(page.locator(".info .title")).to_contain_text("Showcase notes API")
    expect(page.locator(".info .title")).to_contain_text("OAS 3.1")

    operation = page.locator(".opblock-post", has=page.locator("[data-path='/tokens']"))
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("textarea.body-param__text").fill(json.dumps({"username": ""}))
    operation.get_by_role("button", name="Execute").click()
    live = operation.locator(".live-responses-table tbody .response-col_status").first
    expect(live).to_have_text("422")
    expect(operation.locator(".live-responses-table .microlight").first).to_contain_text(
        "validation_failed"
    )
    assert elsewhere == []
    assert problems == []


def upload_app() -> Junco:
    app = Junco()
    OpenAPI(app, title="Uploads", version="1.0")

    @app.post("/avatar")
    async def set_avatar(request: Request, title: str, avatar: FileUpload) -> dict[str, object]:
        """Set the avatar."""
        data = await avatar.read()
        return {"title": title, "filename": avatar.filename, "bytes": len(data)}

    return app


def test_docs_offer_a_file_picker_for_uploads(new_context: NewContext, tmp_path: Path) -> None:
    """A FileUpload parameter is a binary string: Swagger UI sends a real file with it."""
    picture = tmp_path / "me.png"
    picture.write_bytes(b"\x89PNG" + b"x" * 96)
    with serve(upload_app()) as base:
        page = new_context().new_page()
        page.goto(base + "/docs")
        operation = page.locator(".opblock-post", has=page.locator("[data-path='/avatar']"))
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        operation.locator("input[placeholder='title']").fill("me")
        operation.locator("input[type=file]").set_input_files(str(picture))
        operation.get_by_role("button", name="Execute").click()
        live = operation.locator(".live-responses-table tbody .response-col_status").first
        expect(live).to_have_text("200")
        body = operation.locator(".live-responses-table .microlight").first
        expect(body).to_contain_text('"filename": "me.png"')
        expect(body).to_contain_text('"bytes": 100')
