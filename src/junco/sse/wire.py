"""The Server-Sent Events wire format: a pure encoder and an incremental decoder.

Both follow the WHATWG HTML "event stream" rules: a line ends with CRLF, CR
or LF; a field line is ``name: value``; a line starting with ``:`` is a
comment; an empty line dispatches the event. The encoder splits data on all
three line endings, so no input can smuggle an ``event:``, ``id:`` or
``retry:`` field into the stream, and it refuses event names and ids that
could do the same. No I/O, no awaits.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from .._parsing import json_dumps

_BREAK = re.compile(rb"\r\n|\r|\n")
_BREAK_TEXT = re.compile(r"\r\n|\r|\n")
_FORBIDDEN = ("\r", "\n", "\x00")


def _field(name: str, value: str) -> bytes:
    if any(c in value for c in _FORBIDDEN):
        raise ValueError(f"an SSE {name} must not contain CR, LF or NUL: {value!r}")
    return name.encode() + b": " + value.encode() + b"\n"


def _data_bytes(data: Any) -> bytes:
    if isinstance(data, (dict, list)):
        return json_dumps(data)
    if isinstance(data, str):
        return data.encode("utf-8", "surrogatepass")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    return str(data).encode()


def encode_event(
    data: Any,
    event: str | None = None,
    event_id: str | int | None = None,
    retry: float | None = None,
) -> bytes:
    """Encode one event.

    Args:
        data: ``dict``/``list`` (sent as JSON), ``str``, bytes, or anything
            else (sent as ``str(data)``). Every line break becomes a new
            ``data:`` line, which the client joins back with ``\\n``.
        event: The event name (``message`` when omitted).
        event_id: The id the client sends back as ``Last-Event-ID``.
        retry: The client's reconnection delay, in seconds.

    Raises:
        ValueError: ``event`` or ``event_id`` contains CR, LF or NUL, or
            ``retry`` is negative or not finite.
    """
    out = bytearray()
    if event is not None:
        out += _field("event", event)
    if event_id is not None:
        out += _field("id", str(event_id))
    if retry is not None:
        if not math.isfinite(retry) or retry < 0:
            raise ValueError("retry must be a non-negative number of seconds")
        out += b"retry: %d\n" % round(retry * 1000)
    for line in _BREAK.split(_data_bytes(data)):
        out += b"data: " + line + b"\n"
    out += b"\n"
    return bytes(out)


def encode_comment(text: str) -> bytes:
    """Encode a comment (ignored by clients; useful to keep a connection alive)."""
    lines = _BREAK_TEXT.split(text)
    return b"".join(b": " + line.encode("utf-8", "surrogatepass") + b"\n" for line in lines) + b"\n"


@dataclass(frozen=True, slots=True, eq=False)
class ServerSentEvent:
    """One event as a browser's ``EventSource`` would deliver it.

    Microdot's test client gives events as dicts; ``event["data"]`` (bytes),
    ``"data_json"``, ``"event"``, ``"event_id"`` and ``"retry"`` (seconds)
    work here too, and an event compares equal to such a dict.

    Attributes:
        data: The data lines joined with ``\\n``.
        event: The event name; ``"message"`` when the stream gave none.
        id: The last event id seen on the stream so far (``lastEventId``).
        retry: The reconnection delay in milliseconds, if this event set one.
    """

    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None

    def json(self) -> Any:
        """The data parsed as JSON."""
        return json.loads(self.data)

    def as_microdot(self) -> dict[str, Any]:
        """The event as Microdot's test client shapes it."""
        try:
            data_json = json.loads(self.data)
        except ValueError:
            data_json = None
        return {
            "data": self.data.encode(),
            "data_json": data_json,
            "event": None if self.event == "message" else self.event,
            "event_id": self.id or None,
            "retry": None if self.retry is None else self.retry / 1000,
        }

    def __getitem__(self, key: str) -> Any:
        return self.as_microdot()[key]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ServerSentEvent):
            return (self.data, self.event, self.id, self.retry) == (
                other.data,
                other.event,
                other.id,
                other.retry,
            )
        if isinstance(other, dict):
            return self.as_microdot() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.data, self.event, self.id, self.retry))


class SSEDecoder:
    """Incremental event-stream parser: feed bytes, get complete events.

    Args:
        max_line_length: Longest line accepted, in characters (ValueError above);
            ``None`` for no limit.
    """

    def __init__(self, max_line_length: int | None = None) -> None:
        self.max_line_length = max_line_length
        self.comments: list[str] = []
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._partial = ""
        self._started = False
        self._skip_lf = False
        self._data: list[str] = []
        self._event = ""
        self._last_id = ""
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Parse ``chunk``; return the events it completed.

        Raises:
            ValueError: A line exceeds ``max_line_length``.
        """
        text = self._decoder.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._skip_lf and text:
            self._skip_lf = False
            text = text.removeprefix("\n")
        if text.endswith("\r"):
            self._skip_lf = True  # a LF starting the next chunk ends this same line
        lines = _BREAK_TEXT.split(self._partial + text)
        self._partial = lines.pop()
        limit = self.max_line_length
        if limit is not None and (
            len(self._partial) > limit or any(len(line) > limit for line in lines)
        ):
            raise ValueError("SSE line too long")
        events: list[ServerSentEvent] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            self.comments.append(line[1:].removeprefix(" "))
            return None
        name, colon, value = line.partition(":")
        if colon:
            value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        data, event, retry = self._data, self._event, self._retry
        self._data, self._event, self._retry = [], "", None
        if not data:
            return None
        return ServerSentEvent("\n".join(data), event or "message", self._last_id, retry)


__all__ = ["SSEDecoder", "ServerSentEvent", "encode_comment", "encode_event"]
