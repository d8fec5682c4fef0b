"""The two calling policies (junco.calling): endpoints in a thread, hooks inline."""

from __future__ import annotations

import threading
from typing import Any

from junco import Junco, Request, Response
from tests.conftest import Sync


def test_sync_endpoints_run_in_a_worker_thread_and_sync_hooks_inline(sync: Sync) -> None:
    app = Junco()
    threads: dict[str, int] = {}

    @app.before_request
    def before(request: Request) -> None:
        threads["before"] = threading.get_ident()

    @app.after_request
    def after(request: Request, response: Response) -> None:
        threads["after"] = threading.get_ident()

    @app.get("/")
    def index(request: Request) -> str:
        threads["endpoint"] = threading.get_ident()

        @request.after_request
        def per_request(request: Request, response: Response) -> None:
            threads["per_request"] = threading.get_ident()

        return "ok"

    @app.get("/loop")
    async def loop(request: Request) -> str:
        threads["loop"] = threading.get_ident()
        return "ok"

    client = sync(app)
    assert client.get("/loop").status_code == 200
    assert client.get("/").status_code == 200
    inline = {threads["loop"]}
    assert {threads["before"], threads["after"], threads["per_request"]} == inline
    assert threads["endpoint"] not in inline


def test_a_sync_hook_that_returns_an_awaitable_has_it_awaited(sync: Sync) -> None:
    # One hook policy everywhere: before, after, per-request and error handlers alike.
    app = Junco()

    async def refuse(request: Request) -> Any:
        return "refused", 403

    async def tag(request: Request, response: Response) -> None:
        response.headers["X-Tag"] = "yes"

    app.before_request(lambda request: refuse(request) if request.path == "/no" else None)
    app.after_request(lambda request, response: tag(request, response))
    app.after_error_request(lambda request, response: tag(request, response))

    async def not_found(request: Request) -> Any:
        return "nothing here", 404

    app.errorhandler(404)(lambda request: not_found(request))

    @app.get("/yes")
    async def yes(request: Request) -> str:
        return "ok"

    client = sync(app)
    refused = client.get("/no")
    assert (refused.status_code, refused.text, refused.headers["X-Tag"]) == (403, "refused", "yes")
    ok = client.get("/yes")
    assert (ok.status_code, ok.headers["X-Tag"]) == (200, "yes")
    missing = client.get("/missing")
    assert (missing.status_code, missing.text, missing.headers["X-Tag"]) == (
        404,
        "nothing here",
        "yes",
    )
