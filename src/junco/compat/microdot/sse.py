"""Microdot's ``microdot.sse``."""

from . import SSE, sse_response, with_sse

__all__ = ["SSE", "sse_response", "with_sse"]
