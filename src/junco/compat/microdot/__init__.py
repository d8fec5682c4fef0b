"""Every Microdot name from one place: a port changes only its imports.

Replace ``from microdot`` with ``from junco.compat.microdot`` in each module
(``sed -i 's/from microdot/from junco.compat.microdot/'``): the submodules
mirror Microdot's (``.asgi``, ``.wsgi``, ``.session``, ``.test_client``, ...)
and this package itself exports every name they hold. ``Microdot`` is
:class:`junco.Junco`; ``microdot.wsgi``'s ``Microdot`` is the WSGI-callable
subclass in :mod:`junco.compat.microdot.wsgi`.

Where junco deliberately behaves differently (security decisions, limits),
``docs/porting-from-microdot.md`` lists the difference and the one-line change.
"""

from __future__ import annotations

from functools import wraps

from ...app import Junco as Microdot
from ...exceptions import HTTPException, abort
from ...multipart import FileUpload, FormDataIter, with_form_data
from ...request import Request
from ...response import Response, redirect, send_file
from ...routing import URLPattern
from ...security.auth import BasicAuth, TokenAuth
from ...security.cors import CORS
from ...security.csrf import CSRF
from ...security.login import Login
from ...security.sessions import Session, with_session
from ...sse import SSE, sse_response, with_sse
from ...templating import Template
from ...testing import TestClient, TestResponse
from ...websocket import WebSocket, WebSocketError, with_websocket
from .microdot import AsyncBytesIO, MultiDict, NoCaseDict, iscoroutine, urldecode, urlencode

__all__ = [
    "CORS",
    "CSRF",
    "SSE",
    "AsyncBytesIO",
    "BasicAuth",
    "FileUpload",
    "FormDataIter",
    "HTTPException",
    "Login",
    "Microdot",
    "MultiDict",
    "NoCaseDict",
    "Request",
    "Response",
    "Session",
    "Template",
    "TestClient",
    "TestResponse",
    "TokenAuth",
    "URLPattern",
    "WebSocket",
    "WebSocketError",
    "abort",
    "iscoroutine",
    "redirect",
    "send_file",
    "sse_response",
    "urldecode",
    "urlencode",
    "with_form_data",
    "with_session",
    "with_sse",
    "with_websocket",
    "wraps",
]
