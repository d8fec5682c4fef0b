"""HTTP errors and configuration errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, NoReturn

#: The machine-readable ``code`` of an error when none is given, by status.
#: Stable across Python versions (whose reason phrases for 413 and 422 changed).
DEFAULT_CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    410: "gone",
    411: "length_required",
    413: "content_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "validation_failed",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")


def status_phrase(status_code: int) -> str:
    """Return the standard reason phrase for ``status_code`` (or ``"Unknown"``)."""
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Unknown"


def default_code(status_code: int) -> str:
    """The snake_case error code for ``status_code`` (``404`` → ``"not_found"``)."""
    code = DEFAULT_CODES.get(status_code)
    if code is None:
        code = re.sub(r"[^a-z0-9]+", "_", status_phrase(status_code).lower()).strip("_")
    return code or "error"


# Microdot's own wording where it has one; others follow its sentence case.
_MICRODOT_TEXTS = {413: "Payload too large"}


def error_text(status_code: int) -> str:
    """The default body of an error response, worded as Microdot words it.

    ``"Not found"``, ``"Bad request"``, ``"Internal server error"``,
    ``"Payload too large"``...: the standard phrase in sentence case.
    """
    text = _MICRODOT_TEXTS.get(status_code)
    if text is None:
        phrase = status_phrase(status_code)
        text = phrase[:1] + phrase[1:].lower()
    return text


class HTTPException(Exception):
    """An error that becomes an HTTP response with the given status.

    junco renders it for the client (see :mod:`junco.errors`): an HTML page
    for browsers, ``{"error": {"status", "code", "message", ...}}`` for API
    clients, ``text/plain`` otherwise. Whatever the format, the text is never
    interpreted as HTML.

    Args:
        status_code: The HTTP status of the response.
        reason: The message; :func:`error_text` when omitted. It is the whole
            body of a ``text/plain`` response, never interpreted as HTML.
        headers: Extra headers for the error response.
        code: A stable machine-readable snake_case code (``"csrf_token_missing"``);
            by default one for the status (``"not_found"``, ...).
        extra: More members for the JSON error object (``{"errors": [...]}``)
            and the page's template; ``status``, ``code`` and ``message`` cannot
            be overridden.

    Raises:
        ValueError: ``code`` is not snake_case.
    """

    def __init__(
        self,
        status_code: int,
        reason: str | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        code: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.status_code = status_code
        self.reason = reason if reason is not None else error_text(status_code)
        self.headers = dict(headers) if headers else None
        if code is None:
            code = default_code(status_code)
        elif not _CODE.fullmatch(code):
            raise ValueError(f"error code {code!r} is not snake_case (a-z, 0-9, _)")
        self.code = code
        self.extra = dict(extra) if extra else None
        super().__init__(status_code, self.reason)

    @property
    def detail(self) -> str:
        """Starlette's name for :attr:`reason`."""
        return self.reason

    def __repr__(self) -> str:
        return f"HTTPException({self.status_code}, {self.reason!r})"


def abort(
    status_code: int,
    reason: str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    code: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> NoReturn:
    """Stop handling the request and answer with ``status_code``.

    The arguments are :class:`HTTPException`'s.

    Raises:
        HTTPException: always.
    """
    raise HTTPException(status_code, reason, headers, code=code, extra=extra)


class ConfigurationError(ValueError, TypeError):
    """The application was set up in a way that cannot work or is unsafe.

    Raised at registration or construction time, never while serving. It is a
    ``ValueError`` and a ``TypeError`` at once, so code written against either
    (a bad value, a wrong kind of argument) keeps catching it.
    """


class ClientDisconnect(Exception):
    """The client went away while the request body was being read."""


class SessionStoreError(Exception):
    """The session store is unreachable; stores raise it, requests get a 503.

    It lives here, not in :mod:`junco.security.sessions`, so that a store backend needs
    nothing but this module (``junco.security.sessions`` re-exports it).
    """


class PubSubError(Exception):
    """Base class of the pub/sub errors (:mod:`junco.pubsub` re-exports them)."""


class BroadcastUnavailable(PubSubError):
    """The backend cannot be reached (Redis is down) or the broadcast is not connected (503)."""


class StoreUnavailable(RuntimeError):
    """A store (Redis) did not answer when the app started; the start-up fails."""
