"""Microdot's ``microdot.csrf``."""

from . import CSRF

__all__ = ["CSRF"]
