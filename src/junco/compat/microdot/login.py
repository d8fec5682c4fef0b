"""Microdot's ``microdot.login``."""

from . import Login

__all__ = ["Login"]
