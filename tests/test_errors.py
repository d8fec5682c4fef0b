"""Error handlers, ``abort``, ``HTTPException``, debug tracebacks and error logging."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest

from junco import HTTPException, Junco, Request, Response, abort
from junco.exceptions import ConfigurationError, status_phrase
from junco.testing import TestClient, TestResponse


def fetch(app: Junco, path: str, method: str = "GET", **kw: Any) -> TestResponse:
    """One request through a fresh test client."""
    return asyncio.run(TestClient(app).request(method, path, **kw))


class AppError(Exception):
    pass


class NotFoundError(AppError):
    pass


class DeepNotFoundError(NotFoundError):
    pass


def raising(exc: BaseException, debug: bool = False) -> Junco:
    """An app whose ``/`` handler raises ``exc``."""
    app = Junco(debug=debug)

    @app.get("/")
    async def h(request: Request) -> str:
        raise exc

    return app


def junco_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "junco" and r.levelno >= logging.ERROR]


# -- HTTPException and abort ----------------------------------------------------------


def test_abort_with_reason() -> None:
    app = Junco()

    @app.get("/")
    async def h(request: Request) -> str:
        abort(403, "no entry")

    r = fetch(app, "/")
    assert (r.status_code, r.text) == (403, "no entry")
    assert r.headers["content-type"] == "text/plain; charset=UTF-8"


def test_abort_without_reason_uses_phrase() -> None:
    app = Junco()

    @app.get("/")
    def h(request: Request) -> str:
        abort(409)

    r = fetch(app, "/")
    assert (r.status_code, r.text) == (409, "Conflict")


def test_http_exception_with_headers() -> None:
    exc = HTTPException(401, "log in", {"WWW-Authenticate": 'Basic realm="x"'})
    r = fetch(raising(exc), "/")
    assert r.status_code == 401
    assert r.text == "log in"
    assert r.headers["www-authenticate"] == 'Basic realm="x"'


def test_abort_with_headers() -> None:
    app = Junco()

    @app.get("/")
    async def h(request: Request) -> str:
        abort(429, headers={"Retry-After": "30"})

    r = fetch(app, "/")
    assert (r.status_code, r.text, r.headers["retry-after"]) == (429, "Too many requests", "30")


def test_http_exception_reason_is_plain_text_not_html() -> None:
    r = fetch(raising(HTTPException(400, "<script>x</script>")), "/")
    assert r.headers["content-type"] == "text/plain; charset=UTF-8"
    assert r.text == "<script>x</script>"


def test_http_exception_is_not_logged_as_error(caplog: pytest.LogCaptureFixture) -> None:
    assert fetch(raising(HTTPException(404)), "/").status_code == 404
    assert junco_errors(caplog) == []


def test_http_exception_attributes() -> None:
    exc = HTTPException(404)
    assert (exc.status_code, exc.reason, exc.detail, exc.headers) == (
        404,
        "Not found",
        "Not found",
        None,
    )
    assert repr(exc) == "HTTPException(404, 'Not found')"
    assert status_phrase(799) == "Unknown"


# -- unhandled exceptions -------------------------------------------------------------


def test_unhandled_exception_is_generic_500(caplog: pytest.LogCaptureFixture) -> None:
    r = fetch(raising(ValueError("secret detail")), "/")
    assert r.status_code == 500
    assert r.text == "Internal server error"
    assert "secret" not in r.text
    assert "Traceback" not in r.text
    errors = junco_errors(caplog)
    assert len(errors) == 1
    assert errors[0].getMessage() == "unhandled error in GET /"
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], ValueError)


def test_unhandled_exception_in_sync_handler_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = Junco()

    @app.post("/x")
    def h(request: Request) -> str:
        raise KeyError("k")

    r = fetch(app, "/x", "POST")
    assert (r.status_code, r.text) == (500, "Internal server error")
    assert [e.getMessage() for e in junco_errors(caplog)] == ["unhandled error in POST /x"]


def test_debug_shows_traceback() -> None:
    r = fetch(raising(ValueError("visible detail"), debug=True), "/")
    assert r.status_code == 500
    assert r.text.startswith("Traceback (most recent call last):")
    assert "ValueError: visible detail" in r.text


# -- status error handlers ------------------------------------------------------------


def test_errorhandler_404() -> None:
    app = Junco()

    @app.errorhandler(404)
    async def not_found(request: Request) -> Any:
        return {"error": "not found", "path": request.path}, 404

    r = fetch(app, "/nope")
    assert r.status_code == 404
    assert r.json == {"error": "not found", "path": "/nope"}


def test_errorhandler_404_for_abort() -> None:
    app = Junco()

    @app.errorhandler(404)
    def not_found(request: Request) -> Any:
        return "custom missing", 404

    @app.get("/item")
    async def item(request: Request) -> str:
        abort(404)

    r = fetch(app, "/item")
    assert (r.status_code, r.text) == (404, "custom missing")


def test_errorhandler_405_and_413() -> None:
    app = Junco(max_content_length=2)

    @app.errorhandler(405)
    def not_allowed(request: Request) -> Any:
        return "nope", 405, {"Allow": "POST"}

    @app.errorhandler(413)
    def too_big(request: Request) -> Any:
        return "too big", 413

    @app.post("/")
    async def h(request: Request) -> bytes:
        return request.body

    r = fetch(app, "/")
    assert (r.status_code, r.text, r.headers["allow"]) == (405, "nope", "POST")
    r = fetch(app, "/", "POST", body=b"abc")
    assert (r.status_code, r.text) == (413, "too big")


def test_errorhandler_500_for_unhandled_exception() -> None:
    app = raising(RuntimeError("boom"))
    got: list[Any] = []

    @app.errorhandler(500)
    def server_error(request: Request) -> Any:
        got.append(request.path)
        return "sorry", 500

    r = fetch(app, "/")
    assert (r.status_code, r.text) == (500, "sorry")
    assert got == ["/"]


def test_errorhandler_500_for_abort_500() -> None:
    app = raising(HTTPException(500, "explicit"))

    @app.errorhandler(500)
    async def server_error(request: Request) -> Any:
        return "handled", 500

    assert fetch(app, "/").text == "handled"


def test_error_handler_return_value_is_coerced() -> None:
    app = Junco()

    @app.errorhandler(404)
    def not_found(request: Request) -> None:
        return None

    assert fetch(app, "/x").status_code == 204


# -- exception-class error handlers ---------------------------------------------------


def test_errorhandler_exception_class_gets_exception() -> None:
    app = raising(NotFoundError("item 7"))

    @app.errorhandler(NotFoundError)
    async def handle(request: Request, exc: NotFoundError) -> Any:
        return {"missing": str(exc)}, 404

    r = fetch(app, "/")
    assert r.status_code == 404
    assert r.json == {"missing": "item 7"}


def test_errorhandler_base_class_catches_subclass() -> None:
    app = raising(DeepNotFoundError("deep"))

    @app.errorhandler(AppError)
    def handle(request: Request, exc: AppError) -> Any:
        return f"app error {type(exc).__name__}", 400

    assert fetch(app, "/").text == "app error DeepNotFoundError"


def test_most_specific_class_along_mro_wins() -> None:
    def build(exc: Exception) -> Junco:
        app = raising(exc)

        @app.errorhandler(Exception)
        def general(request: Request, e: Exception) -> Any:
            return "Exception", 500

        @app.errorhandler(AppError)
        def app_error(request: Request, e: Exception) -> Any:
            return "AppError", 400

        @app.errorhandler(NotFoundError)
        def not_found(request: Request, e: Exception) -> Any:
            return "NotFoundError", 404

        return app

    assert fetch(build(DeepNotFoundError()), "/").text == "NotFoundError"
    assert fetch(build(NotFoundError()), "/").text == "NotFoundError"
    assert fetch(build(AppError()), "/").text == "AppError"
    assert fetch(build(KeyError()), "/").text == "Exception"


def test_class_handler_wins_over_500_handler_for_plain_exceptions() -> None:
    app = raising(ValueError("v"))

    @app.errorhandler(500)
    def by_status(request: Request) -> Any:
        return "status", 500

    @app.errorhandler(ValueError)
    def by_class(request: Request, exc: ValueError) -> Any:
        return "class", 422

    r = fetch(app, "/")
    assert (r.status_code, r.text) == (422, "class")


def test_500_handler_when_no_class_matches() -> None:
    app = raising(KeyError("k"))

    @app.errorhandler(500)
    def by_status(request: Request) -> Any:
        return "status", 500

    @app.errorhandler(ValueError)
    def by_class(request: Request, exc: ValueError) -> Any:
        return "class", 422

    assert fetch(app, "/").text == "status"


def test_status_handler_wins_over_http_exception_class_handler() -> None:
    app = raising(HTTPException(404))

    @app.errorhandler(HTTPException)
    def by_class(request: Request, exc: HTTPException) -> Any:
        return f"class {exc.status_code}", exc.status_code

    @app.errorhandler(404)
    def by_status(request: Request) -> Any:
        return "status", 404

    assert fetch(app, "/").text == "status"


def test_http_exception_class_handler_used_when_no_status_handler() -> None:
    app = raising(HTTPException(403, "forbidden thing"))

    @app.errorhandler(HTTPException)
    def by_class(request: Request, exc: HTTPException) -> Any:
        return {"status": exc.status_code, "reason": exc.reason}, exc.status_code

    @app.errorhandler(404)
    def by_status(request: Request) -> Any:
        return "status", 404

    r = fetch(app, "/")
    assert r.status_code == 403
    assert r.json == {"status": 403, "reason": "forbidden thing"}
    assert fetch(app, "/missing").text == "status"


def test_http_exception_class_handler_catches_router_404() -> None:
    app = Junco()

    @app.errorhandler(HTTPException)
    def by_class(request: Request, exc: HTTPException) -> Any:
        return f"handled {exc.status_code}", exc.status_code

    r = fetch(app, "/missing")
    assert (r.status_code, r.text) == (404, "handled 404")


# -- error handlers that fail ---------------------------------------------------------


def test_error_handler_that_raises_gives_generic_500(caplog: pytest.LogCaptureFixture) -> None:
    app = raising(AppError("first"))

    @app.errorhandler(AppError)
    def broken(request: Request, exc: AppError) -> Any:
        raise RuntimeError("handler bug")

    r = fetch(app, "/")
    assert (r.status_code, r.text) == (500, "Internal server error")
    errors = junco_errors(caplog)
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], RuntimeError)


def test_404_handler_that_raises_gives_generic_500() -> None:
    app = Junco()

    @app.errorhandler(404)
    async def broken(request: Request) -> Any:
        raise RuntimeError("handler bug")

    r = fetch(app, "/missing")
    assert (r.status_code, r.text) == (500, "Internal server error")


def test_error_handler_that_aborts_gives_that_status() -> None:
    app = raising(AppError())

    @app.errorhandler(AppError)
    def convert(request: Request, exc: AppError) -> Any:
        abort(400, "converted")

    r = fetch(app, "/")
    assert (r.status_code, r.text) == (400, "converted")


def test_error_handler_returning_bad_value_gives_generic_500() -> None:
    app = Junco()

    @app.errorhandler(404)
    def bad(request: Request) -> Any:
        return object()

    r = fetch(app, "/missing")
    assert (r.status_code, r.text) == (500, "Internal server error")


def test_after_error_request_sees_handled_error_response() -> None:
    app = raising(AppError())

    @app.errorhandler(AppError)
    def handle(request: Request, exc: AppError) -> Any:
        return "handled", 400

    @app.after_error_request
    def mark(request: Request, response: Response) -> None:
        response.headers["X-Seen"] = response.body.decode()

    r = fetch(app, "/")
    assert (r.status_code, r.text, r.headers["x-seen"]) == (400, "handled", "handled")


def test_error_handlers_are_per_app() -> None:
    a, b = Junco(), Junco()

    @a.errorhandler(404)
    def custom(request: Request) -> Any:
        return "custom", 404

    assert fetch(a, "/x").text == "custom"
    assert fetch(b, "/x").text == "Not found"


def test_debug_is_per_app() -> None:
    debug = raising(ValueError("shown"), debug=True)
    quiet = raising(ValueError("hidden"))
    assert "ValueError: shown" in fetch(debug, "/").text
    assert fetch(quiet, "/").text == "Internal server error"


# -- configuration errors: one type -------------------------------------------------------


def _misconfigurations() -> dict[str, Any]:
    from junco.controllers import methods
    from junco.security import AllowedHosts, RateLimit, SecurityHeaders
    from junco.security.cors import CORS
    from junco.security.csrf import CSRF
    from junco.security.passwords import PasswordHasher
    from junco.sse import with_sse
    from junco.websocket import with_websocket

    return {
        "mount-prefix": lambda: Junco().mount(Junco(), "nope"),
        "middleware-options": lambda: Junco().add_middleware(object(), x=1),
        "middleware-no-hooks": lambda: Junco().add_middleware(object()),
        "websocket-size": lambda: with_websocket(max_message_size=0),
        "websocket-origins-str": lambda: with_websocket(allowed_origins="https://a.example"),
        "sse-keepalive": lambda: with_sse(keepalive=0),
        "methods": lambda: methods("GET POST"),
        "hasher": lambda: PasswordHasher(algorithm=cast(Any, "md5")),
        "hosts-empty": lambda: AllowedHosts(Junco(), hosts=[]),
        "hosts-positional": lambda: AllowedHosts(["example.com"]),
        "rate": lambda: RateLimit(Junco(), default="lots"),
        "frame-options": lambda: SecurityHeaders(Junco(), frame_options="ALLOW"),
        "cors-star-credentials": lambda: CORS(Junco(), "*", allow_credentials=True),
        "csrf-origin": lambda: CSRF(Junco(), trusted_origins=["not an origin"]),
    }


@pytest.mark.parametrize("name", sorted(_misconfigurations()))
def test_configuration_mistakes_raise_configuration_error(name: str) -> None:
    # One type for every setup mistake; it is also a ValueError and a TypeError,
    # so older ``except ValueError`` / ``except TypeError`` code keeps working.
    with pytest.raises(ConfigurationError) as info:
        _misconfigurations()[name]()
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, TypeError)
