"""uvicorn's protocols with the bounds ``junco run`` promises.

uvicorn leaves a connection that has not completed a request head open for
good (its keep-alive timer only runs between requests, and stops at the first
byte), and with the httptools parser it buffers a request head of any size.
These subclasses add, for both parsers:

- a head deadline: from the moment a connection opens or a response ends, the
  next request head must be complete within the header timeout, or the
  connection is closed (408 if part of a head had arrived). This catches a
  silent connection and one that drips a byte every few seconds;
- a head size cap: more bytes than the cap without a complete head → 431 and
  close, so memory stays bounded whatever the client sends;
- a stop signal: when the server starts a graceful shutdown, the streams junco
  keeps open (SSE) are told to end at once (:mod:`junco._draining`), and
  WebSockets are closed with 1001 (going away) instead of uvicorn's 1012;
- a prompt TLS close while stopping: closing a TLS connection sends
  ``close_notify`` and then, in asyncio and uvloop alike, waits up to 30 s for
  the client's own ``close_notify``. A client holding an idle keep-alive
  connection (httpx's pool, ``requests``) never reads it, so the connection
  stayed in the server's list and every stop under TLS took the whole
  graceful timeout. Once the server is stopping, a closing TLS connection
  stops reading instead (TLS does not require the closer to wait): the TLS
  layer sees end-of-stream, flushes what it still has to send and closes.

The settings reach worker processes through one environment variable, which
:func:`junco.server.run` sets; without it the defaults apply (gunicorn).
"""

from __future__ import annotations

import asyncio
import os
import socket
from functools import lru_cache
from typing import Any, cast

from uvicorn.protocols.http.h11_impl import H11Protocol as _H11
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from .. import _draining
from .runner import HEADER_TIMEOUT, max_head

ENV_HEAD = "JUNCO_HEAD_LIMITS"
MAX_HEAD = max_head()
"""Bytes of request head (request line and headers) accepted by default."""
GOING_AWAY = 1001


def _refusal(status: int, phrase: str) -> bytes:
    body = phrase.encode()
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=UTF-8\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (status, body, len(body), body)
    )


_TOO_LARGE = _refusal(431, "Request Header Fields Too Large")
_TIMEOUT = _refusal(408, "Request Timeout")


def close_promptly(transport: asyncio.BaseTransport) -> None:
    """Let a closing TLS connection end without waiting for the client's ``close_notify``.

    Shutting down the socket's read side gives the TLS layer an end-of-stream,
    upon which it writes out what it still holds (the response, then our
    ``close_notify``) and closes the socket. A transport that is open, or not
    TLS (it closes at once anyway), is left alone.
    """
    if not transport.is_closing() or transport.get_extra_info("ssl_object") is None:
        return
    raw = transport.get_extra_info("socket")
    if raw is None:
        return
    try:
        # uvloop's socket stand-in refuses shutdown(); a duplicate descriptor
        # reaches the same socket through the standard library.
        with socket.socket(fileno=os.dup(raw.fileno())) as duplicate:
            duplicate.shutdown(socket.SHUT_RD)
    except OSError:
        pass  # already closed underneath


def head_setting(header_timeout: float, max_head: int) -> str:
    """The value of :data:`ENV_HEAD` for these limits."""
    return f"{header_timeout:g}:{max_head}"


@lru_cache(maxsize=8)
def _parse(text: str) -> tuple[float, int]:
    timeout, _, size = text.partition(":")
    return float(timeout), int(size)


def head_limits() -> tuple[float, int]:
    """The header timeout and head size cap for connections in this process."""
    text = os.environ.get(ENV_HEAD)
    return _parse(text) if text else (HEADER_TIMEOUT, MAX_HEAD)


class _Bounded:
    """Mixed into uvicorn's HTTP protocols (which provide the attributes below).

    The deadline is armed when a connection opens, and again when bytes of a
    new head arrive without completing it; a head that arrives whole in one
    read (nearly every request) costs no timer at all. Between requests,
    uvicorn's own keep-alive timer closes an idle connection.
    """

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    cycle: Any
    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _stopping = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._head_timeout, self._max_head = head_limits()
        self._head_timer = self.loop.call_later(self._head_timeout, self._expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        super().data_received(data)  # type: ignore[misc]
        cycle = self.cycle
        if cycle is not before or self.transport.get_protocol() is not cast(Any, self):
            # A head completed, or the connection became a WebSocket.
            self._head_bytes = 0
            if self._head_timer is not None:
                self._disarm()
            return
        if cycle is not None and not cycle.response_complete:
            return  # body bytes of the request being served
        self._head_bytes += len(data)
        if self._head_bytes > self._max_head:
            self._refuse(_TOO_LARGE)
        elif self._head_timer is None:
            self._head_timer = self.loop.call_later(self._head_timeout, self._expired)

    def shutdown(self) -> None:
        self._stopping = True
        super().shutdown()  # type: ignore[misc]
        close_promptly(self.transport)  # idle: closing now; in flight: after its response
        _draining.begin()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if self._stopping:
            close_promptly(self.transport)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _expired(self) -> None:
        self._head_timer = None
        if self._head_bytes:
            self._refuse(_TIMEOUT)
        elif not self.transport.is_closing():
            self.transport.close()

    def _refuse(self, response: bytes) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()


class H11Protocol(_Bounded, _H11):
    """uvicorn's h11 protocol with junco's head deadline and size cap."""


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, closing with 1001 (going away) on shutdown."""

    def shutdown(self) -> None:
        _draining.begin()
        if self.close_sent or not (self.handshake_complete and self.initial_response is None):
            super().shutdown()
            return
        self.stop_keepalive()
        self.queue.put_nowait({"type": "websocket.disconnect", "code": GOING_AWAY})
        self.conn.send_close(GOING_AWAY, "server shutting down")
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()
        close_promptly(self.transport)


def __getattr__(name: str) -> Any:
    # Built on first use, so that importing this module never needs httptools.
    if name == "HttpToolsProtocol":
        return _httptools_protocol()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@lru_cache(maxsize=1)
def _httptools_protocol() -> type[asyncio.Protocol]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _HttpTools

    attributes = {
        "__module__": __name__,
        "__qualname__": "HttpToolsProtocol",
        "__doc__": "uvicorn's httptools protocol with junco's head deadline and size cap.",
    }
    return type("HttpToolsProtocol", (_Bounded, _HttpTools), attributes)
