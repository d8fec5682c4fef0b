"""Microdot's ``microdot.wsgi``: the application class that is also a WSGI callable."""

from __future__ import annotations

from typing import Any

from ...app import Junco
from ...wsgi import WSGIApp
from . import *  # noqa: F403 - microdot.wsgi re-exports the whole of microdot
from . import __all__ as _core_all


class Microdot(Junco):  # type: ignore[no-redef]
    """A junco app that a WSGI server can call (``gunicorn module:app``), as Microdot's.

    Called with ``(environ, start_response)`` it serves WSGI through
    :class:`junco.wsgi.WSGIApp` (created on first use); called with ASGI's
    three arguments it is the ordinary ASGI app. WebSocket routes need an
    ASGI server.
    """

    _wsgi: WSGIApp | None = None

    def __call__(self, *args: Any) -> Any:
        if len(args) == 2:
            return self.wsgi_app(*args)
        return super().__call__(*args)

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        """The WSGI application callable."""
        wsgi = self._wsgi
        if wsgi is None:
            wsgi = self._wsgi = WSGIApp(self)
        return wsgi(environ, start_response)


__all__ = [*_core_all]
