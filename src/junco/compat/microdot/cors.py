"""Microdot's ``microdot.cors``."""

from . import CORS

__all__ = ["CORS"]
