"""HTTP errors and configuration errors."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import NoReturn


def status_phrase(status_code: int) -> str:
    """Return the standard reason phrase for ``status_code`` (or ``"Unknown"``)."""
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Unknown"


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

    Args:
        status_code: The HTTP status of the response.
        reason: The response body; :func:`error_text` when omitted. It is sent
            as ``text/plain``, so it is never interpreted as HTML.
        headers: Extra headers for the error response.
    """

    def __init__(
        self,
        status_code: int,
        reason: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.reason = reason if reason is not None else error_text(status_code)
        self.headers = dict(headers) if headers else None
        super().__init__(status_code, self.reason)

    @property
    def detail(self) -> str:
        """Starlette's name for :attr:`reason`."""
        return self.reason

    def __repr__(self) -> str:
        return f"HTTPException({self.status_code}, {self.reason!r})"


def abort(
    status_code: int, reason: str | None = None, headers: Mapping[str, str] | None = None
) -> NoReturn:
    """Stop handling the request and answer with ``status_code``.

    Raises:
        HTTPException: always.
    """
    raise HTTPException(status_code, reason, headers)


class ConfigurationError(ValueError, TypeError):
    """The application was set up in a way that cannot work or is unsafe.

    Raised at registration or construction time, never while serving. It is a
    ``ValueError`` and a ``TypeError`` at once, so code written against either
    (a bad value, a wrong kind of argument) keeps catching it.
    """


class ClientDisconnect(Exception):
    """The client went away while the request body was being read."""


class StoreUnavailable(RuntimeError):
    """A store (Redis) did not answer when the app started; the start-up fails."""
