"""Foreign ASGI apps mounted with ``app.mount(asgi_app, "/x")``, inside the app's policy.

A foreign app writes its own response, so it cannot be handed a ``Response``
like a junco handler. It still gets the same policy as a native route:

- Before: the header checks and the ``before_request`` hooks of the app
  (hosts, CSRF, sessions, rate limits, ...). A hook's response, or an error
  rendered by the app's error chain (``after_error_request`` hooks included),
  is sent instead of calling the foreign app. WebSocket handshakes to a
  foreign app pass the same guard and are refused with the same response.
- After: the ``http.response.start`` the foreign app sends becomes a
  ``Response`` (status, headers and a placeholder streamed body) that the
  ``after_request`` hooks see and may change (security headers, request id,
  CORS, cookies); the changed status and headers go out and the body passes
  through untouched. A hook that returns another response replaces it: that
  one is sent and the foreign app's body is dropped.
- An exception from the foreign app before its response started is an error
  response through the chain; after, it propagates to the server, which
  closes the connection.

junco never reads the request body here: it belongs to the foreign app, so a
hook that reads the form (a CSRF token in a form field) sees none. The app's
``max_content_length`` still holds: a declared ``Content-Length`` over it is a
413 before the foreign app is called; a body of unknown length (chunked,
HTTP/2) is counted as the foreign app receives it, and the message that
crosses the limit raises the 413 instead of reaching it. Whatever the app
then does (most let the error propagate; some answer a 500 of their own),
the client gets the 413, as long as the app's response had not started.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ._dispatch import _after, _before, error_response, scan_headers
from .datastructures import Headers
from .exceptions import ClientDisconnect, HTTPException
from .paths import check_path
from .request import Request, _current, _too_large
from .response import Response

if TYPE_CHECKING:
    from . import _hooks
    from .app import Junco
    from .routing import Match, Mount
    from .types import Message, Receive, Scope, Send

logger = logging.getLogger("junco")


class _ForeignBody:
    """The body of a foreign app's response: streamed, never read by junco."""

    def __aiter__(self) -> _ForeignBody:
        return self

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration


def plan_of(app: Junco, request: Request, match: Match) -> _hooks.Plan:
    """The hooks that apply to ``match``; marks the sub-app it was reached through."""
    if not match.mounts:
        return app.root_plan()
    request.subapp = match.mounts[-1].app
    request.url_prefix = "".join(m.prefix for m in match.mounts)
    return app.plan_for(match.mounts)


async def guard(app: Junco, plan: _hooks.Plan, request: Request) -> Response | None:
    """Header checks and ``before_request`` hooks; a response means refused.

    Raises:
        ClientDisconnect: the client left while a hook read the body.
    """
    try:
        scan_headers(app, request.asgi_scope, request)
        check_path(request.path, request.asgi_scope.get("raw_path"))  # junco.paths
        response = await _before(plan, request) if plan.before else None
        if response is not None:
            response = await _after(plan, request, response)
        return response
    except ClientDisconnect:
        raise
    except Exception as exc:
        return await error_response(app, plan, request, exc)


async def serve_foreign(
    app: Junco, match: Match, scope: Scope, receive: Receive, send: Send
) -> None:
    """Serve an HTTP request whose path belongs to a foreign ASGI app."""
    assert match.foreign is not None
    mount, outer = match.foreign
    request = Request(app, scope, receive)
    _current.set(request)
    plan = plan_of(app, request, match)
    try:
        refusal = await guard(app, plan, request)
        writer = _Writer(app, plan, request, send)
        body: _BodyLimit | None = None
        if refusal is None:
            try:
                body = _body_limit(request, receive, writer)
            except HTTPException as exc:
                refusal = await error_response(app, plan, request, exc)
        if refusal is not None:
            await _send_quietly(refusal, request, send)
            return
        error: Exception | None = None
        try:
            await call_foreign(mount, outer, scope, receive if body is None else body, writer.send)
        except Exception as exc:
            if writer.started:
                raise
            error = exc
        if body is not None and body.over and not writer.started:
            error = _too_large(body.limit)  # whatever the app made of it
        if error is not None:
            response = await error_response(app, plan, request, error)
            await _send_quietly(response, request, send)
    except ClientDisconnect:
        return
    finally:
        request.finished = True


async def call_foreign(
    mount: Mount, prefix: str, scope: Scope, receive: Receive, send: Send
) -> None:
    """Call a foreign app with ``root_path`` extended by the mount's prefix."""
    sub = dict(scope)
    sub["root_path"] = scope.get("root_path", "") + prefix + mount.prefix
    # ASGI: ``path`` is the full path and includes ``root_path``.
    await mount.app(sub, receive, send)


def _body_limit(request: Request, receive: Receive, writer: _Writer) -> _BodyLimit | None:
    """A counting ``receive`` for a body of unknown length; None when none is needed.

    Raises:
        HTTPException: 413 when the declared ``Content-Length`` is over the limit.
    """
    limit = request.app.max_content_length
    declared = request.content_length  # checked by the header scan already
    if declared is not None:
        if declared > limit:
            raise _too_large(limit)
        return None  # the server delivers no more than was declared
    if "transfer-encoding" in request.headers or request.http_version in ("2", "3"):
        return _BodyLimit(receive, limit, writer)
    return None


class _BodyLimit:
    """The foreign app's ``receive`` for a body of unknown length: counted as it streams."""

    __slots__ = ("limit", "over", "receive_", "received", "writer")

    def __init__(self, receive: Receive, limit: int, writer: _Writer) -> None:
        self.receive_ = receive
        self.limit = limit
        self.writer = writer
        self.received = 0
        self.over = False

    async def __call__(self) -> Message:
        if self.over:
            raise _too_large(self.limit)
        message = await self.receive_()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.over = True
                if not self.writer.started:
                    self.writer.dropping = True  # the 413 goes out, not what the app says
                raise _too_large(self.limit)
        return message


def replay(first: Message, receive: Receive) -> Receive:
    """``receive`` that hands out ``first`` once before the real messages."""
    pending = [first]

    async def receive_again() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return receive_again


class _Writer:
    """The ``send`` given to a foreign app: runs the after hooks on its response head."""

    __slots__ = ("app", "dropping", "plan", "request", "send_", "started")

    def __init__(self, app: Junco, plan: _hooks.Plan, request: Request, send: Send) -> None:
        self.app = app
        self.plan = plan
        self.request = request
        self.send_ = send
        self.started = False
        self.dropping = False

    async def send(self, message: Message) -> None:
        if self.dropping:
            return
        if message["type"] == "http.response.start" and not self.started:
            self.started = True
            request = self.request
            if self.plan.after or request._after:
                head = Response(
                    status_code=message["status"],
                    headers=Headers.from_asgi(message.get("headers") or ()),
                )
                head.body_iter = _ForeignBody()
                try:
                    out = await _after(self.plan, request, head)
                except Exception as exc:
                    out = await error_response(self.app, self.plan, request, exc)
                if out is not head:  # replaced: send that one, drop the app's body
                    self.dropping = True
                    await out.send(request, self.send_)
                    return
                message = {
                    **message,
                    "status": head.status_code,
                    "headers": head.headers.to_asgi(),
                }
        await self.send_(message)


async def _send_quietly(response: Response, request: Request, send: Send) -> None:
    try:
        await response.send(request, send)
    except Exception:
        logger.exception("error while sending the response to %s %s", request.method, request.path)
