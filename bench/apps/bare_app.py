"""Bare ASGI callable: the floor every framework is compared with.

No routing table, no request object: the dispatcher compares paths directly and writes the
two ASGI messages itself. JSON uses orjson when installed (as junco's ``fast`` extra does),
otherwise the standard library. ``app_mw`` adds the middleware headers inline.
"""

import uuid
from typing import Any

from . import ALLOWED_ORIGIN, MESSAGE, MW_TEXT, SECURITY_HEADERS, TEXT, Receive, Scope, Send

try:
    import orjson

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

    def loads(data: bytes) -> Any:
        return orjson.loads(data)

except ImportError:  # pragma: no cover - orjson is in the dev extra
    import json

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()

    def loads(data: bytes) -> Any:
        return json.loads(data)


TEXT_TYPE = b"text/plain; charset=UTF-8"
JSON_TYPE = b"application/json"
SECURITY = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
ORIGIN = ALLOWED_ORIGIN.encode()


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _middleware_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    headers = [*SECURITY, (b"x-request-id", uuid.uuid4().hex.encode())]
    for name, value in scope["headers"]:
        if name == b"origin":
            if value == ORIGIN:
                headers.append((b"access-control-allow-origin", ORIGIN))
                headers.append((b"vary", b"Origin"))
            break
    return headers


def _build(middleware: bool) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        status = 200
        content_type = JSON_TYPE
        if method == "GET" and path == "/":
            body, content_type = TEXT.encode(), TEXT_TYPE
        elif method == "GET" and path == "/json":
            body = dumps(MESSAGE)
        elif method == "GET" and path.startswith("/users/") and path[7:].isdecimal():
            body = dumps({"id": int(path[7:])})
        elif method == "POST" and path == "/echo":
            try:
                body = dumps(loads(await _read_body(receive)))
            except ValueError:
                status, body, content_type = 400, b"Bad Request", TEXT_TYPE
        elif method == "GET" and path == "/mw":
            body, content_type = MW_TEXT.encode(), TEXT_TYPE
        else:
            status, body, content_type = 404, b"Not Found", TEXT_TYPE
        headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
        if middleware:
            headers += _middleware_headers(scope)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


app = _build(middleware=False)
app_mw = _build(middleware=True)
