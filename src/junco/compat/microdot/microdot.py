"""Microdot's ``microdot.microdot``."""

from . import (
    AsyncBytesIO,
    HTTPException,
    Microdot,
    MultiDict,
    NoCaseDict,
    Request,
    Response,
    URLPattern,
    abort,
    iscoroutine,
    redirect,
    send_file,
    urldecode,
    urlencode,
)

__all__ = [
    "AsyncBytesIO",
    "HTTPException",
    "Microdot",
    "MultiDict",
    "NoCaseDict",
    "Request",
    "Response",
    "URLPattern",
    "abort",
    "iscoroutine",
    "redirect",
    "send_file",
    "urldecode",
    "urlencode",
]
