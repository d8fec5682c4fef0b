"""junco: a small, fast, secure-by-default ASGI web framework."""

# Importing an extension registers what it adds (a scope handler, a parameter
# binder) with the core; the core itself imports none of them.
from . import typed as _typed  # noqa: F401 - installs the parameter binder
from .app import Junco
from .coerce import make_response
from .controllers import Controller
from .datastructures import Headers, MultiDict
from .exceptions import ClientDisconnect, ConfigurationError, HTTPException, abort
from .files import FileResponse
from .paths import normalize_path
from .pubsub import Broadcast
from .request import Request, current_request
from .response import Response, redirect, send_file
from .routing import URLPattern
from .security import client_ip, csp_nonce, secure_stack
from .security.auth import BasicAuth, TokenAuth
from .security.cors import CORS
from .security.csrf import CSRF, csrf_field, csrf_token
from .security.login import Login
from .security.passwords import (
    dummy_verify,
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_password,
    verify_password_async,
)
from .security.redirects import is_safe_url
from .security.sessions import Session, SessionData, get_session, with_session
from .sse import SSE, sse_response, with_sse
from .staticfiles import StaticFiles
from .templating import Template, Templates, render_template
from .websocket import WebSocket, WebSocketDisconnect, WebSocketError, with_websocket

__version__ = "0.1.0"

__all__ = [
    "CORS",
    "CSRF",
    "SSE",
    "BasicAuth",
    "Broadcast",
    "ClientDisconnect",
    "ConfigurationError",
    "Controller",
    "FileResponse",
    "HTTPException",
    "Headers",
    "Junco",
    "Login",
    "MultiDict",
    "Request",
    "Response",
    "Session",
    "SessionData",
    "StaticFiles",
    "Template",
    "Templates",
    "TokenAuth",
    "URLPattern",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketError",
    "abort",
    "client_ip",
    "csp_nonce",
    "csrf_field",
    "csrf_token",
    "current_request",
    "dummy_verify",
    "get_session",
    "hash_password",
    "hash_password_async",
    "is_safe_url",
    "make_response",
    "needs_rehash",
    "normalize_path",
    "redirect",
    "render_template",
    "secure_stack",
    "send_file",
    "sse_response",
    "verify_password",
    "verify_password_async",
    "with_session",
    "with_sse",
    "with_websocket",
]
