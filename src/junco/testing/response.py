"""The test client's response object (see :mod:`junco.testing`).

It follows Microdot's ``TestResponse`` so that ported test suites run
unchanged: ``headers`` compares equal to a plain dict and gives
``Set-Cookie`` as a list; ``body``, ``text``, ``json`` and ``events`` are
``None`` when the response has no such thing.
"""

from __future__ import annotations

import json as _json
from collections.abc import Mapping
from typing import Any, cast

from ..datastructures import Headers
from ..sse.wire import ServerSentEvent, SSEDecoder
from ..types import Message


class TestHeaders(Headers):
    """Response headers as Microdot's test client gives them.

    Case-insensitive like :class:`~junco.datastructures.Headers`; in addition
    ``headers["Set-Cookie"]`` (and ``get``) is the list of every cookie, and
    the headers compare equal to a plain ``dict`` with any spelling of the
    names (a header sent several times compares as a list).
    """

    __test__ = False

    def __getitem__(self, key: str) -> Any:
        if key.lower() == "set-cookie":
            values = self.getlist(key)
            if not values:
                raise KeyError(key)
            return values
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def as_dict(self) -> dict[str, Any]:
        """Lower-cased names; one value as a str, several (or Set-Cookie) as a list."""
        return {
            k: vs if k == "set-cookie" or len(vs) > 1 else vs[0] for k, vs in self._data().items()
        }

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._data() == other._data()
        if isinstance(other, Mapping):
            return self.as_dict() == {str(k).lower(): v for k, v in other.items()}
        return NotImplemented

    __hash__ = None


def _mimetype(headers: Headers) -> str:
    return (headers.get("content-type") or "").partition(";")[0].strip().lower()


class TestResponse:
    """What the app answered: ``status_code``, ``headers``, ``body``, ``text``, ``json``...

    As in Microdot: ``body`` is ``None`` for a HEAD request and when the app
    answered nothing (``Response.already_handled``); ``text`` is ``None``
    unless the body is UTF-8; ``json`` is ``None`` unless the response is
    ``application/json``; ``events`` is ``None`` unless it is
    ``text/event-stream``.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        status_code: int | None,
        headers: Headers,
        body: bytes | None,
        messages: list[Message],
        reason: str | None = None,
    ) -> None:
        # Typed for the usual case; Microdot's rules make status_code, body and
        # text None in corner cases (already handled, HEAD, a binary body),
        # and tests should not have to narrow them before every comparison.
        self.status_code: int = cast(int, status_code)
        self.reason = reason
        self.headers = TestHeaders(headers.items_all())
        self.body: bytes = cast(bytes, body)
        self.messages = messages

    @property
    def text(self) -> str:
        """The body as UTF-8 text, or ``None`` if it is not UTF-8 (or there is none)."""
        if self.body is None:
            return cast(str, None)
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError:
            return cast(str, None)

    @property
    def json(self) -> Any:
        if self.body is None or _mimetype(self.headers) != "application/json":
            return None
        return _json.loads(self.body)

    @property
    def events(self) -> list[ServerSentEvent]:
        """The body decoded as a Server-Sent Events stream (complete events only).

        Each event has attributes (``data``, ``event``, ``id``, ``retry``) and
        also Microdot's keys (``event["data"]``, ``"data_json"``,
        ``"event_id"``...).
        """
        if self.body is None or _mimetype(self.headers) != "text/event-stream":
            return cast(list[ServerSentEvent], None)
        return SSEDecoder().feed(self.body)

    def __repr__(self) -> str:
        return f"<TestResponse {self.status_code} {(self.body or b'')[:60]!r}>"


def _collect(messages: list[Message], head: bool = False) -> TestResponse:
    start = next((m for m in messages if m["type"] == "http.response.start"), None)
    if start is None:
        if not messages:  # Response.already_handled: nothing was sent at all
            return TestResponse(None, Headers(), None, messages)
        raise RuntimeError("the app sent no response")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return TestResponse(
        start["status"],
        Headers.from_asgi(start.get("headers", [])),
        None if head and not body else body,  # a body sent for HEAD stays visible
        messages,
    )
