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
hook that reads the form (a CSRF token in a form field) sees none.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ._dispatch import _after, _before, error_response, scan_headers
from .datastructures import Headers
from .exceptions import ClientDisconnect
from .paths import check_path
from .request import Request, _current
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
        if refusal is not None:
            await _send_quietly(refusal, request, send)
            return
        writer = _Writer(app, plan, request, send)
        try:
            await call_foreign(mount, outer, scope, receive, writer.send)
        except Exception as exc:
            if writer.started:
                raise
            response = await error_response(app, plan, request, exc)
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
