"""Microdot's ``microdot.session``."""

from . import Session, with_session

__all__ = ["Session", "with_session"]
