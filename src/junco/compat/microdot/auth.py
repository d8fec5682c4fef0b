"""Microdot's ``microdot.auth``."""

from . import BasicAuth, TokenAuth

__all__ = ["BasicAuth", "TokenAuth"]
