"""Microdot's ``microdot.asgi``."""

from . import Microdot, WebSocket, with_websocket

__all__ = ["Microdot", "WebSocket", "with_websocket"]
