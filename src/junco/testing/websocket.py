"""The test client's in-process WebSocket session (see :mod:`junco.testing`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..datastructures import Headers
from ..types import ASGIApp, Message
from ..websocket import WebSocketDisconnect
from .response import TestResponse

# -- WebSocket -------------------------------------------------------------------------


class WebSocketRejected(Exception):
    """The app refused the WebSocket handshake.

    Attributes:
        response: What the client got: the app's HTTP response, or a bare
            403 when the app closed before accepting (as servers answer).
        status_code: ``response.status_code``.
        close_code: The code of the app's ``websocket.close``, if it refused
            that way.
    """

    def __init__(self, response: TestResponse, close_code: int | None = None) -> None:
        super().__init__(f"WebSocket handshake refused: {response.status_code}")
        self.response = response
        self.status_code = response.status_code
        self.close_code = close_code


class WebSocketSession:
    """A client WebSocket connected to an app in-process (see ``TestClient.websocket``).

    It checks the app's ASGI messages as a strict server would: a message out
    of order raises ``RuntimeError`` in the app; a send after the client left
    raises ``OSError`` until the app has received the disconnect.

    Attributes:
        subprotocol: The subprotocol the app accepted.
        accept_headers: Extra headers the app sent with its accept.
        close_code: How the connection ended (the app's code if it closed
            first, else the client's).
    """

    __test__ = False

    def __init__(self, app: ASGIApp, scope: dict[str, Any], timeout: float) -> None:
        self.app = app
        self.scope = scope
        self.timeout = timeout
        self.subprotocol: str | None = None
        self.accept_headers = Headers()
        self.close_code: int | None = None
        self.close_reason = ""
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Future[None] | None = None
        self._client = "connecting"  # connecting, open, closed
        self._server = "handshake"  # handshake, response, open, closed
        self._client_left = False
        self._app_saw_disconnect = False

    async def __aenter__(self) -> WebSocketSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Perform the handshake.

        Raises:
            WebSocketRejected: The app answered with an HTTP response or closed.
        """
        await self._to_app.put({"type": "websocket.connect"})
        self._task = asyncio.ensure_future(self.app(self.scope, self._app_receive, self._app_send))
        first = await self._next()
        if first["type"] == "websocket.accept":
            self._client = "open"
            self.subprotocol = first.get("subprotocol")
            self.accept_headers = Headers.from_asgi(first.get("headers") or [])
            return
        self._client = "closed"
        if first["type"] == "websocket.close":
            self.close_code = first.get("code", 1000)
            await self._finish()
            raise WebSocketRejected(TestResponse(403, Headers(), b"", [first]), self.close_code)
        messages = [first]
        while messages[-1]["type"] != "websocket.http.response.body" or messages[-1].get(
            "more_body"
        ):
            messages.append(await self._next())
        await self._finish()
        body = b"".join(m.get("body", b"") for m in messages[1:])
        headers = Headers.from_asgi(first.get("headers", []))
        raise WebSocketRejected(TestResponse(first["status"], headers, body, messages))

    async def send(self, data: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message to the app.

        Raises:
            WebSocketDisconnect: The connection is closed.
        """
        if self._client != "open" or self._server == "closed":
            raise WebSocketDisconnect(self.close_code or 1006)
        key = "text" if isinstance(data, str) else "bytes"
        await self._to_app.put({"type": "websocket.receive", key: data})

    async def receive(self) -> str | bytes:
        """The app's next message.

        Raises:
            WebSocketDisconnect: The app closed the connection (``code`` is its code).
            TimeoutError: Nothing came within ``timeout`` seconds.
        """
        if self._client == "connecting":
            raise RuntimeError("connect before receiving")
        if self._client == "closed" and self._from_app.empty():
            raise WebSocketDisconnect(self.close_code or 1006, self.close_reason)
        message = await self._next()
        if message["type"] == "websocket.close":
            self._client = "closed"
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason") or "")
        text = message.get("text")
        return text if text is not None else bytes(message.get("bytes") or b"")

    async def close(self, code: int = 1000) -> None:
        """Leave (the app receives ``websocket.disconnect``) and wait for the app to end."""
        if self._task is None:
            return
        if self._client == "open":
            self._client = "closed"
            if self.close_code is None:
                self.close_code = code
            self._client_left = True
            await self._to_app.put({"type": "websocket.disconnect", "code": code})
        await self._finish()

    # -- the server side -----------------------------------------------------------------

    async def _app_receive(self) -> Message:
        if self._server == "closed" and self._to_app.empty():
            return {"type": "websocket.disconnect", "code": self.close_code or 1005}
        message = await self._to_app.get()
        if message["type"] == "websocket.disconnect":
            self._app_saw_disconnect = True
            self._server = "closed"
        return message

    async def _app_send(self, message: Message) -> None:
        kind = message["type"]
        allowed = {
            "handshake": ("websocket.accept", "websocket.close", "websocket.http.response.start"),
            "response": ("websocket.http.response.body",),
            "open": ("websocket.send", "websocket.close"),
            "closed": (),
        }[self._server]
        if self._client_left and not self._app_saw_disconnect:
            raise OSError("the client has disconnected")
        if kind not in allowed:
            raise RuntimeError(f"unexpected ASGI message {kind!r} in state {self._server!r}")
        if kind == "websocket.accept":
            self._server = "open"
        elif kind == "websocket.http.response.start":
            self._server = "response"
        elif kind == "websocket.close" or (
            kind == "websocket.http.response.body" and not message.get("more_body")
        ):
            self._server = "closed"
        if kind == "websocket.close" and self._client != "connecting" and self.close_code is None:
            self.close_code = message.get("code", 1000)
            self.close_reason = message.get("reason") or ""
        await self._from_app.put(message)

    async def _next(self) -> Message:
        if not self._from_app.empty():
            return self._from_app.get_nowait()
        task = self._task
        if task is None:
            raise RuntimeError("not connected")
        getter = asyncio.ensure_future(self._from_app.get())
        waiting: set[asyncio.Future[Any]] = {getter, task}
        await asyncio.wait(waiting, timeout=self.timeout, return_when="FIRST_COMPLETED")
        if getter.done():
            return getter.result()
        getter.cancel()
        if not task.done():
            raise TimeoutError(f"the app sent nothing for {self.timeout} seconds")
        task.result()  # the app's exception, if it raised
        raise RuntimeError("the app returned without answering")

    async def _finish(self) -> None:
        """Wait for the app to return; re-raise its exception."""
        task = self._task
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=self.timeout)
        if not done:
            task.cancel()
            await asyncio.wait({task})
            raise TimeoutError(f"the app did not end within {self.timeout} seconds")
        task.result()


class _GeneratorClient:
    """Microdot's test WebSocket client: a generator plays the browser.

    The generator's first value is the first message sent. Each message the
    app sends goes into the generator at once, and what it yields next is the
    next message sent. When the generator ends the client leaves. (Microdot
    also sends ``None`` in when its server reads twice without writing; an
    ASGI app reads ahead, so here the client waits for the app's next message.)
    """

    def __init__(self, client: Callable[[], Any]) -> None:
        self.gen = client()
        self.buffer: list[str | bytes] = []
        self.ended = False
        self.started = False
        self.changed = asyncio.Event()

    async def step(self, value: str | bytes | None) -> None:
        self.started = True
        gen = self.gen
        try:
            item = await gen.asend(value) if hasattr(gen, "asend") else gen.send(value)
        except (StopIteration, StopAsyncIteration):
            self.ended = True
        else:
            self.buffer.append(item)
        self.changed.set()

    async def receive(self) -> Message:
        if not self.started:
            await self.step(None)
        while not self.buffer and not self.ended:
            self.changed.clear()
            await self.changed.wait()
        if self.buffer:
            item = self.buffer.pop(0)
            key = "text" if isinstance(item, str) else "bytes"
            return {"type": "websocket.receive", key: item}
        return {"type": "websocket.disconnect", "code": 1000}


async def drive_generator(
    app: ASGIApp,
    scope: dict[str, Any],
    client: Callable[[], Any],
    timeout: float,  # noqa: ASYNC109 - the same bound as WebSocketSession's
) -> TestResponse:
    """Run ``client`` (a generator function) against the app's WebSocket route.

    Returns an empty :class:`TestResponse` once the app accepted and ended, or
    the app's HTTP refusal.
    """
    peer = _GeneratorClient(client)
    messages: list[Message] = []
    connected = False

    async def receive() -> Message:
        nonlocal connected
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        return await peer.receive()

    async def send(message: Message) -> None:
        messages.append(message)
        kind = message["type"]
        if kind == "websocket.send" and not peer.ended:
            text = message.get("text")
            await peer.step(text if text is not None else bytes(message.get("bytes") or b""))
        elif kind == "websocket.send":
            raise OSError("the client has disconnected")

    await asyncio.wait_for(app(scope, receive, send), timeout)
    if messages and messages[0]["type"] == "websocket.http.response.start":
        first = messages[0]
        body = b"".join(m.get("body", b"") for m in messages[1:])
        return TestResponse(
            first["status"], Headers.from_asgi(first.get("headers", [])), body, messages
        )
    return TestResponse(None, Headers(), None, messages)
