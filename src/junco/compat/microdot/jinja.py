"""Microdot's ``microdot.jinja``."""

from . import Template

__all__ = ["Template"]
