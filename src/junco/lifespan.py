"""ASGI lifespan: startup and shutdown handlers, including those of mounted sub-apps."""

from __future__ import annotations

import inspect
import logging
import traceback
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ._hooks import build_all
from .calling import call_callback
from .exceptions import StoreUnavailable

if TYPE_CHECKING:
    from .app import Junco
    from .types import Receive, Scope, Send

logger = logging.getLogger("junco")


def _apps(app: Junco, seen: set[int] | None = None) -> Iterator[Junco]:
    """The app and every junco app mounted under it, each once, parents first."""
    seen = set() if seen is None else seen
    if id(app) in seen:
        return
    seen.add(id(app))
    yield app
    for mount in app.router.mounts:
        if mount.native:
            yield from _apps(mount.app, seen)


async def run_handler(handler: Callable[..., Any], scope: Scope) -> None:
    """Call a lifespan handler with the scope if it takes an argument."""
    try:
        wants_scope = bool(inspect.signature(handler).parameters)
    except (TypeError, ValueError):  # builtins without a signature
        wants_scope = False
    await (call_callback(handler, scope) if wants_scope else call_callback(handler))


async def startup(app: Junco, scope: Scope) -> None:
    build_all(app)  # a component missing what it requires fails the start
    for a in _apps(app):
        for handler in list(a.startup_handlers):
            await run_handler(handler, scope)


async def shutdown(app: Junco, scope: Scope) -> None:
    for a in reversed(list(_apps(app))):
        for handler in list(a.shutdown_handlers):
            await run_handler(handler, scope)


async def handle_lifespan(app: Junco, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve the ASGI lifespan protocol."""
    if "state" not in scope:
        scope["state"] = app.state
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "lifespan.startup":
            try:
                await startup(app, scope)
            except Exception as exc:
                if isinstance(exc, StoreUnavailable) and not app.debug:
                    # An outage, not a bug: the message says it all.
                    logger.error("startup failed: %s", exc)
                else:
                    logger.exception("startup failed")
                text = "".join(traceback.format_exception(exc)) if app.debug else repr(exc)
                await send({"type": "lifespan.startup.failed", "message": text})
                return
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            try:
                await shutdown(app, scope)
            except Exception as exc:
                logger.exception("shutdown failed")
                await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
                return
            await send({"type": "lifespan.shutdown.complete"})
            return
