"""Microdot's ``microdot.helpers``."""

from . import wraps

__all__ = ["wraps"]
