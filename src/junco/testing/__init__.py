"""An in-process test client that drives an app through its real ASGI interface.

``TestClient`` methods are coroutines (as in Microdot); ``client.sync`` gives
the same client with blocking methods for plain synchronous tests. Lifespan
runs with ``async with client`` (or ``with client.sync``).

The package holds the client (:mod:`junco.testing.client`), the response it
returns (:mod:`junco.testing.response`) and its WebSocket session
(:mod:`junco.testing.websocket`); import the names from here.
"""

from .client import SyncTestClient, TestClient
from .response import TestResponse
from .websocket import WebSocketRejected, WebSocketSession

__all__ = [
    "SyncTestClient",
    "TestClient",
    "TestResponse",
    "WebSocketRejected",
    "WebSocketSession",
]
