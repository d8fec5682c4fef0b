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


class HTTPException(Exception):
    """An error that becomes an HTTP response with the given status.

    Args:
        status_code: The HTTP status of the response.
        reason: The response body; the standard phrase when omitted. It is sent
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
        self.reason = reason if reason is not None else status_phrase(status_code)
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


class ConfigurationError(ValueError):
    """The application was set up in a way that cannot work or is unsafe."""


class ClientDisconnect(Exception):
    """The client went away while the request body was being read."""


class StoreUnavailable(RuntimeError):
    """A store (Redis) did not answer when the app started; the start-up fails."""
