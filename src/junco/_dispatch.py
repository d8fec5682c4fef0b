"""The HTTP request cycle.

Invariants:
- Every outcome is a ``Response`` built *inside* the cycle: a 404, 405, 413,
  ``HTTPException`` or any other exception is turned into one by the error
  handlers, and then ``after_error_request`` hooks see it. Only a client that
  disconnected while its body was read gets nothing.
- The path is decided once, before routing: a path that is not canonical
  (``junco.paths.path_problem``) is a 400 that reaches no ``before_request``
  hook and no route (``after_error_request`` hooks still decorate it), so
  ``request.path`` is the one path the router and every policy read.
- ``before_request`` hooks run whether or not a route matched (``request.route``
  is ``None`` on a 404), so host, CORS and rate-limit checks cover every path;
  404/405 come after them: raised when an error handler of the app answers the
  status, otherwise copied from the renderer's cache (``errors.route_error``),
  so junk URLs cost what a match costs. Either way ``after_error_request``
  hooks run on them and ``after_request`` hooks do not.
- The body, when declared and small enough, is read before the hooks so they
  can look at forms and JSON; otherwise it is left to ``request.stream``.
- The plain path (static route, no hooks, small body) allocates nothing but
  the request, the response and two ASGI messages.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from . import _hooks
from ._parsing import json_dumps
from .calling import call_callback, call_endpoint, call_hook, is_async_callable
from .coerce import make_response
from .datastructures import REPEATED
from .errors import render_error, route_error
from .exceptions import ClientDisconnect, HTTPException
from .paths import check_path, path_problem, slash_redirect
from .request import Request, _current
from .response import _CT_JSON, _LENGTHS, Response
from .routing import Match, allowed_methods

if TYPE_CHECKING:
    from .app import Junco
    from .types import Receive, Scope, Send

logger = logging.getLogger("junco")
_CHUNKED = -1
_BODY_OR_HOST = frozenset((b"host", b"content-length", b"transfer-encoding", b"content-type"))


def scan_headers(app: Junco, scope: Scope, request: Request | None = None) -> int | None:
    """Check Host and header size; return the declared body length.

    Returns ``None`` for no body, ``-1`` for a body of unknown length. The
    Content-Type seen on the way is kept on ``request`` (saving a second scan).

    This is ``junco.datastructures.pick_headers`` specialised for the hot path
    (its policy for repeats: Host and Content-Type sent twice are ambiguous;
    Content-Length repeats must agree, RFC 9112 section 6.3): the general
    helper and its checks cost ~1000 more CPU instructions per request, 4% of
    the plain path. ``tests/test_datastructures.py`` checks they agree.

    Raises:
        HTTPException: 400 for duplicate/missing Host or a bad Content-Length,
            431 when the headers exceed ``max_header_bytes``.
    """
    hosts = 0
    total = 0
    length: bytes | None = None
    chunked = False
    for name, value in scope["headers"]:
        total += len(name) + len(value)
        if name in _BODY_OR_HOST:
            if name == b"host":
                hosts += 1
                if request is not None:
                    request._raw_host = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"content-type":
                if request is not None:  # sent twice: ambiguous, as pick_headers reads it
                    request._raw_ctype = value if request._raw_ctype is None else REPEATED
            else:
                if length is not None and length != value:
                    raise HTTPException(400, "conflicting Content-Length headers")
                length = value
    if total > app.max_header_bytes:
        raise HTTPException(431)
    if hosts != 1 and (hosts > 1 or scope.get("http_version", "1.1") == "1.1"):
        raise HTTPException(400, "exactly one Host header is required")
    if length is not None:
        if not length.isdigit() or len(length) > 18:
            raise HTTPException(400, "invalid Content-Length")
        n = int(length)
        return n or None
    if chunked or scope.get("http_version") in ("2", "3"):
        return _CHUNKED
    return None


async def handle_http(
    app: Junco, scope: Scope, receive: Receive, send: Send, inner: bool = False
) -> None:
    """Serve one HTTP request: route, hooks, handler, response; errors become responses.

    This is ``Junco.__call__`` itself: an app with no ASGI middleware and no
    mounts serves HTTP right here; anything else goes through ``app._asgi``
    (which comes back with ``inner=True``). The hot path is kept in this one
    coroutine on purpose: each extra await layer costs as much as a header scan.
    """
    if not inner and not (app._plain and scope["type"] == "http"):
        return await app._asgi(scope, receive, send)
    request = Request(app, scope, receive)
    # Not reset afterwards (that costs as much as setting it): the request is
    # marked finished instead, and current_request() refuses finished ones.
    _current.set(request)
    plan = app._root_plan
    if plan is None:
        plan = app.root_plan()
    body = None
    failed = False  # answered with an error of the router: no after_request hooks
    try:
        declared = scan_headers(app, scope, request)
        path = request.path
        table = app.router.static.get(path)
        raw = scope.get("raw_path")
        # The one canonical-path decision is junco.paths.path_problem. It is only
        # called when one of its triggers shows (each clause below is one): a path
        # that hit a static route equals a registered pattern, canonical by
        # construction, so only its raw form can hide something (%2f). 37 is "%":
        # an int membership test is a memchr, b"%" in raw goes through the buffer API.
        if (raw and 37 in raw) or (
            table is None
            and (
                "//" in path
                or "/." in path
                or "\\" in path
                or not path.startswith("/")
                or not path.isprintable()
            )
        ):
            problem = path_problem(path, raw)
            if problem is not None:
                raise HTTPException(400, problem)
        route = table.get(request.method) if table is not None else None
        match = None
        if route is None:
            match, plan = _match(app, request, plan)
            route = match.route
        request.route = route
        if route is not None and declared is not None:
            await request._load_body(None if declared == _CHUNKED else declared)
        response = None
        if plan.sync_before is not None:
            for fn in plan.sync_before:  # the hook policy (junco.calling), inlined
                rv = fn(request)
                if rv is not None:
                    if hasattr(rv, "__await__"):
                        rv = await rv
                        if rv is None:
                            continue
                    response = make_response(rv)
                    break
        elif plan.before:
            response = await run_before(plan, request)
        if response is None:
            if route is None:
                response = _no_route(request, match)
                if response is None:  # a 404 or 405
                    failed = True
                    response = _route_error(plan, request, match)
                    if plan.after_error:
                        response = await after_error(plan, request, response)
            else:
                if not route.is_async:
                    rv = await call_endpoint(route.handler, False, request, **request.url_args)
                elif match is None:
                    rv = await route.handler(request)
                else:
                    rv = await route.handler(request, **request.url_args)
                t = type(rv)
                if plan.after or request._after:
                    response = Response(rv) if t is str or t is dict else make_response(rv)
                elif t is str:  # nobody will look at a Response object: skip it
                    body, ctype = rv.encode(), app.default_ct
                elif t is dict or t is list:
                    body, ctype = json_dumps(rv), _CT_JSON
                else:
                    response = make_response(rv)
        if response is not None and not failed:
            if plan.sync_after is not None and request._after is None:
                for fn in plan.sync_after:  # the hook policy (junco.calling), inlined
                    rv = fn(request, response)
                    if rv is not None:
                        if hasattr(rv, "__await__"):
                            rv = await rv
                            if rv is None:
                                continue
                        response = make_response(rv)
            elif plan.after or request._after:
                response = await run_after(plan, request, response)
    except ClientDisconnect:
        request.finished = True
        return
    except Exception as exc:
        response = await error_response(app, plan, request, exc)
    try:
        extra = None
        if (
            body is None
            and type(response) is Response
            and response._headers is None
            and response.body_iter is None
            and response.status_code == 200
        ):
            # A plain 200 whose headers are at most the middleware's encoded
            # pairs: sent right here (Response.send would cost another await).
            body, ctype, extra = response.body, response._ctype or app.default_ct, response._extra
        if body is not None:
            # response.buffered's plain branch, inlined: a call here costs ~80 ns,
            # 4% of the whole plain path (tests/test_response.py checks they agree).
            n = len(body)
            raw = [
                (b"content-type", ctype),
                (b"content-length", _LENGTHS[n] if n < 1024 else str(n).encode()),
            ]
            if extra is not None:
                raw += extra
            await send({"type": "http.response.start", "status": 200, "headers": raw})
            await send(
                {"type": "http.response.body", "body": b"" if request.method == "HEAD" else body}
            )
        elif response is not None:
            await response.send(request, send)
    except Exception:
        # Headers are out: nothing to do but log and end the stream.
        logger.exception("error while sending the response to %s %s", request.method, request.path)
    finally:
        request.finished = True


def _match(app: Junco, request: Request, plan: _hooks.Plan) -> tuple[Match, _hooks.Plan]:
    """The general lookup (dynamic routes, mounts, 404/405/redirects)."""
    match = app.router.match(request.method, request.path)
    return match, enter(app, request, match, plan)


# -- the steps every protocol shares ------------------------------------------------------
# handle_http runs them inline (its hot path is one coroutine); the WebSocket handshake
# and foreign mounts call them: enter → guard (prepare, before) → handler → run_after,
# and error_response for whatever raises.


def enter(app: Junco, request: Request, match: Match, plan: _hooks.Plan) -> _hooks.Plan:
    """Where the matched route lives: its plan, and the sub-app, prefix and URL arguments."""
    if match.mounts:
        plan = app.plan_for(match.mounts)
        request.subapp = match.mounts[-1].app
        request.url_prefix = "".join(m.prefix for m in match.mounts)
    if match.route is not None and match.args:
        request.url_args = match.args
    return plan


def prepare(app: Junco, request: Request) -> int | None:
    """The header checks and the canonical-path decision (``junco.paths``).

    Returns the declared body length (see :func:`scan_headers`). ``handle_http``
    runs the same checks inline, calling ``path_problem`` only when a cheap
    screen shows a trigger.
    """
    declared = scan_headers(app, request.asgi_scope, request)
    check_path(request.path, request.asgi_scope.get("raw_path"))
    return declared


async def guard(app: Junco, plan: _hooks.Plan, request: Request) -> Response | None:
    """prepare and the ``before_request`` hooks; a response (after hooks run) means refused.

    Errors are rendered by the app's error chain, as for any request.

    Raises:
        ClientDisconnect: the client left while a hook read the body.
    """
    try:
        prepare(app, request)
        response = await run_before(plan, request) if plan.before else None
        if response is not None:
            response = await run_after(plan, request, response)
        return response
    except ClientDisconnect:
        raise
    except Exception as exc:
        return await error_response(app, plan, request, exc)


async def run_before(plan: _hooks.Plan, request: Request) -> Response | None:
    for fn, is_async in plan.before:
        rv = await call_hook(fn, is_async, request)
        if rv is not None:
            return make_response(rv)
    return None


async def run_after(plan: _hooks.Plan, request: Request, response: Response) -> Response:
    # The app's hooks first (innermost first), then the per-request ones, as in Microdot.
    for fn, is_async in plan.after:
        rv = await call_hook(fn, is_async, request, response)
        if rv is not None:
            response = make_response(rv)
    if request._after:
        for fn in request._after:
            rv = await call_callback(fn, request, response)
            if rv is not None:
                response = make_response(rv)
    return response


def _no_route(request: Request, match: Any) -> Response | None:
    """The answer of a lookup that found no route; ``None`` for a 404 or 405."""
    if match.redirect is not None:
        return slash_redirect(request, request.root_path + match.redirect)
    if match.allow and request.method == "OPTIONS":
        allow = allowed_methods(match.allow)
        return Response(headers={"Allow": allow})  # 200 and no body, as Microdot
    return None


#: False: the router's 404/405 are raised and caught like any error (tests compare).
FAST_ROUTE_ERRORS = True


def _route_error(plan: _hooks.Plan, request: Request, match: Any) -> Response:
    """The 404, or 405 with ``Allow``, of a request that matched no route.

    Every junk URL comes here, so when no error handler of the app answers
    the status, nothing is raised: ``route_error`` copies the response its
    renderer made once. The ``after_error_request`` hooks run on it all the
    same (they see only the response, never the exception).

    Raises:
        HTTPException: for an app that handles the status itself.
    """
    allow = allowed_methods(match.allow) if match.allow else None
    status = 405 if allow else 404
    if not FAST_ROUTE_ERRORS or status not in plan.unhandled:
        raise HTTPException(status, headers={"Allow": allow} if allow else None)
    return route_error(request, status, allow, final=not plan.after_error)


async def error_response(
    app: Junco, plan: _hooks.Plan, request: Request, exc: BaseException
) -> Response:
    """Turn ``exc`` into a response and run the ``after_error_request`` hooks."""
    response = await _handle_error(app, plan, request, exc)
    return await after_error(plan, request, response)


async def after_error(plan: _hooks.Plan, request: Request, response: Response) -> Response:
    """Run the ``after_error_request`` hooks on the error ``response``; one failing is logged."""
    for fn, is_async in plan.after_error:
        try:
            rv = await call_hook(fn, is_async, request, response)
        except Exception:
            logger.exception("after_error_request hook failed")
            continue
        if rv is not None:
            response = make_response(rv)
    return response


async def _handle_error(
    app: Junco, plan: _hooks.Plan, request: Request, exc: BaseException
) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    found = _hooks.find_error_handler(plan, exc, status)
    if found is not None:
        handler, takes_exc = found
        try:
            args = (request, exc) if takes_exc else (request,)
            rv = await call_hook(handler, is_async_callable(handler), *args)
            response = make_response(rv)
            if isinstance(exc, HTTPException) and exc.headers:
                # Allow, WWW-Authenticate, ... belong to the status whoever renders it.
                for name, value in exc.headers.items():
                    response.headers.setdefault(name, value)
            return response
        except Exception as inner:
            exc = inner
    if not isinstance(exc, HTTPException):
        logger.exception("unhandled error in %s %s", request.method, request.path, exc_info=exc)
    return render_error(request, exc, app.debug)
