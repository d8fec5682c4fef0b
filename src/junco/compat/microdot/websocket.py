"""Microdot's ``microdot.websocket``."""

from . import WebSocket, WebSocketError, with_websocket

__all__ = ["WebSocket", "WebSocketError", "with_websocket"]
